// Package config decodes megaflow's TOML configuration, validates it and
// compiles it into the runtime's immutable objects.
package config

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/BurntSushi/toml"
)

//go:embed default.toml
var defaultTOML []byte

// DefaultName is how errors name the embedded default configuration.
const DefaultName = "default.toml (embedded)"

// File is the whole configuration file.
type File struct {
	Server   Server             `toml:"server"`
	Services map[string]Service `toml:"services"`
	Flows    map[string]Flow    `toml:"flows"`
	Routes   []Route            `toml:"routes"`

	// name is the file's path, for error messages.
	name string
	meta toml.MetaData
}

// Server is the [server] table.
type Server struct {
	Listen         string   `toml:"listen"`
	MaxBodyBytes   int      `toml:"max_body_bytes"`
	RequestTimeout Duration `toml:"request_timeout"`
}

// Service is one [services.NAME] table.
type Service struct {
	Type    string   `toml:"type"`
	URL     string   `toml:"url"`
	Builtin string   `toml:"builtin"`
	Timeout Duration `toml:"timeout"`
}

// Flow is one [flows.NAME] table.
type Flow struct {
	Output string `toml:"output"`
	Nodes  []Node `toml:"nodes"`
}

// Node is one [[flows.NAME.nodes]] entry.
type Node struct {
	Name    string   `toml:"name"`
	Service string   `toml:"service"`
	After   []string `toml:"after"`
}

// Route is one [[routes]] entry.
type Route struct {
	Path    string   `toml:"path"`
	Methods []string `toml:"methods"`
	Flow    string   `toml:"flow"`
}

// Duration is a TOML string with a unit, such as "250ms" or "2s".
type Duration struct{ time.Duration }

// UnmarshalText parses a duration; a bare number is rejected because its
// unit would be a guess.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("invalid duration %q; write a number with a unit, such as \"250ms\" or \"5s\"", text)
	}
	d.Duration = v
	return nil
}

// Load reads and decodes the file at path.
func Load(path string) (*File, error) {
	var f File
	meta, err := toml.DecodeFile(path, &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.name, f.meta = path, meta
	return &f, nil
}

// Default decodes the embedded default configuration.
func Default() (*File, error) {
	var f File
	meta, err := toml.Decode(string(defaultTOML), &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", DefaultName, err)
	}
	f.name, f.meta = DefaultName, meta
	return &f, nil
}

// Name returns the path the file was loaded from.
func (f *File) Name() string { return f.name }
