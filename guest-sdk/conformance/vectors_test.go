package conformance_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// vector is one conformance case; README.md describes the format.
type vector struct {
	Name       string        `json:"name"`
	Hook       string        `json:"hook"`
	Config     *byteSpec     `json:"config"`
	Input      byteSpec      `json:"input"`
	Headers    [][2]byteSpec `json:"headers"`
	Inputs     []namedInput  `json:"inputs"`
	Successors []string      `json:"successors"`
	Expect     expectation   `json:"expect"`

	file string
}

type namedInput struct {
	Name        string   `json:"name"`
	ContentType byteSpec `json:"content_type"`
	Data        byteSpec `json:"data"`
}

type expectation struct {
	// Result is "ok", "unchanged", "respond" or "fail".
	Result   string       `json:"result"`
	Status   int          `json:"status"`
	Output   *byteSpec    `json:"output"`
	Headers  []headerEdit `json:"headers"`
	Selected []string     `json:"selected"`
	Logs     []logLine    `json:"logs"`
}

type headerEdit struct {
	Set    *[2]byteSpec `json:"set"`
	Delete *byteSpec    `json:"delete"`
}

type logLine struct {
	Level   string `json:"level"`
	Message string `json:"message"`
}

func (l logLine) String() string { return l.Level + " " + fmt.Sprintf("%q", l.Message) }

// byteSpec is a byte string written in JSON as a string (its UTF-8
// bytes), {"hex": "..."}, {"repeat": "...", "times": n} or
// {"concat": [spec, ...]}, so that vectors can hold binary and large
// inputs in a readable file.
type byteSpec []byte

func (b *byteSpec) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*b = []byte(s)
		return nil
	}
	var form struct {
		Hex    *string    `json:"hex"`
		Repeat *string    `json:"repeat"`
		Times  int        `json:"times"`
		Concat []byteSpec `json:"concat"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&form); err != nil {
		return fmt.Errorf("byte string %s: %w", data, err)
	}
	switch {
	case form.Hex != nil:
		p, err := hex.DecodeString(*form.Hex)
		if err != nil {
			return fmt.Errorf("byte string %s: %w", data, err)
		}
		*b = p
	case form.Repeat != nil:
		if form.Times < 0 {
			return fmt.Errorf("byte string %s: times is negative", data)
		}
		*b = bytes.Repeat([]byte(*form.Repeat), form.Times)
	case form.Concat != nil:
		var p []byte
		for _, part := range form.Concat {
			p = append(p, part...)
		}
		*b = p
	default:
		return fmt.Errorf("byte string %s: want a string, hex, repeat or concat", data)
	}
	return nil
}

// loadVectors reads every vectors/*.json file, in file name order.
func loadVectors(dir string) ([]vector, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no vector files in %s", dir)
	}
	sort.Strings(files)
	var all []vector
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var vectors []vector
		if err := dec.Decode(&vectors); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for i := range vectors {
			vectors[i].file = filepath.Base(file)
		}
		all = append(all, vectors...)
	}
	return all, nil
}

// configKey returns the vector's plugin configuration as a map key.
func (v *vector) configKey() string {
	if v.Config == nil {
		return ""
	}
	return string(*v.Config)
}
