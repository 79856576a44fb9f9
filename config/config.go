// Package config decodes megaflow's TOML configuration, validates it and
// compiles it into the runtime's immutable objects.
//
// Load reads a file in these steps: parse the TOML, check every key and
// type against the structs below, decode into them with BurntSushi/toml,
// substitute ${VAR} references in string values, parse durations and
// sizes, apply defaults, and check the meaning of the whole file. Every
// problem is reported at once as an ErrorList, each with its position.
//
// Each struct field's toml tag gives its key, and its default tag gives
// the value used when the key is absent. The settler in settle.go is the
// only code that applies defaults. docs/configuration.md documents every
// key, and a test keeps it in line with these structs.
package config

import (
	_ "embed"
)

//go:embed default.toml
var defaultTOML []byte

// DefaultName is the file name errors give the embedded default
// configuration.
const DefaultName = "default.toml (embedded)"

// File is the whole configuration file. Load and Default return it with
// ${VAR} references substituted, durations and sizes parsed and defaults
// applied; a File built any other way is not ready for Compile.
type File struct {
	Server   Server             `toml:"server"`
	Admin    Admin              `toml:"admin"`
	Log      Log                `toml:"log"`
	Services map[string]Service `toml:"services"`
	Plugins  map[string]Plugin  `toml:"plugins"`
	Flows    map[string]Flow    `toml:"flows"`
	Routes   []Route            `toml:"routes"`

	// name is the file's path, for error messages.
	name string
	// dir is the directory relative plugin paths start from.
	dir string
	// pos locates keys in the source, for errors found after Load.
	pos *positionIndex
}

// Server is the [server] table: the main listener.
type Server struct {
	Listen                string   `toml:"listen" default:"0.0.0.0:8000"`
	MaxBodyBytes          Size     `toml:"max_body_bytes" default:"10MiB"`
	MaxConcurrentRequests int      `toml:"max_concurrent_requests" default:"10000"`
	ReadTimeout           Duration `toml:"read_timeout" default:"30s"`
	WriteTimeout          Duration `toml:"write_timeout" default:"30s"`
	IdleTimeout           Duration `toml:"idle_timeout" default:"120s"`
	RequestTimeout        Duration `toml:"request_timeout" default:"60s"`
	ShutdownGrace         Duration `toml:"shutdown_grace" default:"30s"`
}

// Admin is the [admin] table: the listener of metrics, health and admin
// endpoints.
type Admin struct {
	Listen string `toml:"listen" default:"127.0.0.1:8001"`
}

// Log is the [log] table.
type Log struct {
	Level  string `toml:"level" default:"info"`
	Format string `toml:"format" default:"json"`
	Access bool   `toml:"access" default:"false"`
}

// Service is one [services.NAME] table: a microservice, as in OPEA's
// MicroService.
type Service struct {
	Type             string   `toml:"type" default:"undefined"`
	URL              string   `toml:"url"`
	Builtin          string   `toml:"builtin"`
	Replicas         []string `toml:"replicas"`
	Timeout          Duration `toml:"timeout" default:"30s"`
	DialTimeout      Duration `toml:"dial_timeout" default:"2s"`
	IdleTimeout      Duration `toml:"idle_timeout" default:"90s"`
	Retries          int      `toml:"retries" default:"0"`
	Idempotent       bool     `toml:"idempotent" default:"true"`
	Optional         bool     `toml:"optional" default:"false"`
	MaxConns         int      `toml:"max_conns" default:"512"`
	MaxResponseBytes Size     `toml:"max_response_bytes" default:"64MiB"`
	Stream           bool     `toml:"stream" default:"false"`
	APIKey           string   `toml:"api_key"`
	Breaker          Breaker  `toml:"breaker"`
	Health           Health   `toml:"health"`
}

// Breaker is a [services.NAME.breaker] table: one circuit breaker per
// replica.
type Breaker struct {
	Enabled             bool     `toml:"enabled" default:"true"`
	ConsecutiveFailures int      `toml:"consecutive_failures" default:"5"`
	FailureRatio        float64  `toml:"failure_ratio" default:"0.5"`
	MinRequests         int      `toml:"min_requests" default:"20"`
	OpenTimeout         Duration `toml:"open_timeout" default:"10s"`
	HalfOpenRequests    int      `toml:"half_open_requests" default:"3"`
	Interval            Duration `toml:"interval" default:"60s"`
}

// Health is a [services.NAME.health] table: active health checks of each
// replica. Checks run only when the table is present.
type Health struct {
	Path      string   `toml:"path" default:"/health"`
	Interval  Duration `toml:"interval" default:"5s"`
	Timeout   Duration `toml:"timeout" default:"1s"`
	Unhealthy int      `toml:"unhealthy" default:"2"`
	Healthy   int      `toml:"healthy" default:"2"`

	// enabled reports that the file has the table.
	enabled bool
}

// Plugin is one [plugins.NAME] table: a sandboxed Wasm module.
type Plugin struct {
	Path      string         `toml:"path"`
	MaxMemory Size           `toml:"max_memory" default:"128MiB"`
	Timeout   Duration       `toml:"timeout" default:"100ms"`
	Instances int            `toml:"instances" default:"0"`
	Config    map[string]any `toml:"config"`

	// resolved is Path made absolute against the file's directory.
	resolved string
}

// Flow is one [flows.NAME] table: a DAG of nodes.
type Flow struct {
	Output string `toml:"output"`
	Nodes  []Node `toml:"nodes"`
}

// Node is one [[flows.NAME.nodes]] entry.
type Node struct {
	Service   string   `toml:"service"`
	Name      string   `toml:"name"`
	After     []string `toml:"after"`
	Optional  bool     `toml:"optional" default:"false"`
	Request   string   `toml:"request"`
	Response  string   `toml:"response"`
	Events    string   `toml:"events"`
	Aggregate string   `toml:"aggregate"`
	Route     string   `toml:"route"`
}

// NodeName returns the node's name: its name key, or else its service.
func (n *Node) NodeName() string {
	if n.Name != "" {
		return n.Name
	}
	return n.Service
}

// Route is one [[routes]] entry.
type Route struct {
	Path    string   `toml:"path"`
	Methods []string `toml:"methods" default:"POST"`
	Flow    string   `toml:"flow"`
}

// Name returns the path the file was loaded from.
func (f *File) Name() string { return f.name }
