package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads, decodes and validates the configuration file at path. Plugin
// paths that are relative start from the file's directory.
//
// # Errors
//
// The error, when not nil, is an ErrorList with every problem found, each
// formatted as FILE:LINE:COL: message where the position is known. A TOML
// syntax error or a key of the wrong type stops Load before the checks
// of meaning, so fixing those may reveal more problems.
func Load(path string) (*File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrorList{{File: path, Message: fmt.Sprintf("cannot read the configuration: %v", unwrapPathError(err))}}
	}
	return parse(path, filepath.Dir(path), src, os.LookupEnv)
}

// Default decodes and validates the embedded default configuration: the
// echo megaservice.
func Default() (*File, error) {
	return parse(DefaultName, ".", defaultTOML, os.LookupEnv)
}

// Parse decodes and validates src as Load does, naming it name in errors
// and resolving relative plugin paths against dir.
func Parse(name, dir string, src []byte) (*File, error) {
	return parse(name, dir, src, os.LookupEnv)
}

func parse(name, dir string, src []byte, lookup func(string) (string, bool)) (*File, error) {
	out := &problems{file: name}
	var tree map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(src)).Decode(&tree); err != nil {
		out.list = append(out.list, syntaxError(name, src, err))
		return nil, out.err()
	}
	pos := indexPositions(src)

	checker := &typeChecker{pos: pos, tree: tree, out: out}
	checker.checkTable(tree, reflect.TypeFor[File](), nil)
	if checker.typeErrors > 0 {
		return nil, out.err()
	}

	f := &File{name: name, dir: dir, pos: pos}
	if _, err := toml.NewDecoder(bytes.NewReader(src)).Decode(f); err != nil {
		// The type check above should have caught every decoding error.
		out.list = append(out.list, syntaxError(name, src, err))
		return nil, out.err()
	}
	settle := &settler{pos: pos, tree: tree, out: out, lookup: lookup}
	settle.table(reflect.ValueOf(f).Elem(), nil)
	expandChains(f, out)
	v := &validator{f: f, pos: pos, out: out}
	v.validate()
	if err := out.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// syntaxError turns a BurntSushi/toml error into an Error with the line
// and column of its byte offset.
func syntaxError(name string, src []byte, err error) *Error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Error{File: name, Message: err.Error()}
	}
	line, col := 1, 1
	for i := 0; i < pe.Position.Start && i < len(src); i++ {
		if src[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	msg := "invalid TOML: " + pe.Message
	if strings.Contains(pe.Message, "has already been defined") {
		msg = strings.TrimSuffix(msg, ".") + "; merge the two into one table or rename one"
	}
	if pe.Position.Start == 0 && pe.Position.Line > 1 {
		line, col = pe.Position.Line, 1
	}
	return &Error{File: name, Pos: Position{Line: line, Col: col}, Message: msg}
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
