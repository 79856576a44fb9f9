package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// tomlSources returns every TOML text the tests use that parses: the
// examples, testdata and the broken files.
func tomlSources(t testing.TB) map[string]string {
	sources := map[string]string{}
	paths, _ := filepath.Glob("examples/*.toml")
	more, _ := filepath.Glob("testdata/*.toml")
	for _, p := range append(paths, more...) {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sources[p] = string(src)
	}
	for _, tc := range brokenFiles {
		var tree map[string]any
		if _, err := toml.Decode(tc.src, &tree); err == nil {
			sources[tc.name] = tc.src
		}
	}
	return sources
}

// TestIndexCoversEveryKey checks the position index against the keys
// BurntSushi/toml reports: each must have a position, once array indexes
// are left out of the index's paths.
func TestIndexCoversEveryKey(t *testing.T) {
	for name, src := range tomlSources(t) {
		meta, err := toml.Decode(src, &map[string]any{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		indexed := map[string]bool{}
		for k := range indexPositions([]byte(src)).pos {
			var keys []string
			for _, part := range strings.Split(k, "\x1f") {
				if _, err := strconv.Atoi(part); err != nil {
					keys = append(keys, part)
				}
			}
			indexed[strings.Join(keys, "\x1f")] = true
		}
		for _, key := range meta.Keys() {
			var keys []string
			for _, part := range key {
				// Keys that are numbers are rare; the index cannot tell them
				// from array indexes, so they are left out of the comparison.
				if _, err := strconv.Atoi(part); err != nil {
					keys = append(keys, part)
				}
			}
			if !indexed[strings.Join(keys, "\x1f")] {
				t.Errorf("%s: key %s has no position", name, key)
			}
		}
	}
}

// FuzzIndexPositions checks that the scanner ends without a panic on any
// text the TOML parser accepts.
func FuzzIndexPositions(f *testing.F) {
	for _, src := range tomlSources(f) {
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		var tree map[string]any
		if _, err := toml.Decode(src, &tree); err != nil {
			return
		}
		indexPositions([]byte(src))
	})
}
