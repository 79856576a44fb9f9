package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docRow is one key as docs/configuration.md documents it.
type docRow struct {
	key, typ, def string
}

// schemaTables returns, for each table heading the documentation must
// have, the rows the structs define, in field order.
func schemaTables() (headings []string, rows map[string][]docRow) {
	rows = map[string][]docRow{}
	var walk func(t reflect.Type, heading string)
	walk = func(t reflect.Type, heading string) {
		headings = append(headings, heading)
		for _, f := range fieldsOf(t) {
			if heading != "" {
				rows[heading] = append(rows[heading], docRow{f.key, typeName(f.typ), docDefault(f)})
			}
			if !isTable(f.typ) {
				continue
			}
			name := strings.Trim(heading, "[]")
			if name != "" {
				name += "."
			}
			name += f.key
			switch f.typ.Kind() {
			case reflect.Struct:
				walk(f.typ, "["+name+"]")
			case reflect.Map:
				walk(f.typ.Elem(), "["+name+".NAME]")
			case reflect.Slice:
				walk(f.typ.Elem(), "[["+name+"]]")
			}
		}
	}
	walk(reflect.TypeFor[File](), "")
	return headings[1:], rows
}

// docDefault writes a default tag as the documentation shows it.
func docDefault(f field) string {
	if !f.hasDef {
		return "none"
	}
	switch {
	case f.typ == durationType || f.typ == sizeType || f.typ.Kind() == reflect.String:
		return fmt.Sprintf("`%q`", f.def)
	case f.typ.Kind() == reflect.Slice:
		return fmt.Sprintf("`[%q]`", f.def)
	}
	return "`" + f.def + "`"
}

var (
	docHeading = regexp.MustCompile("^### `(.+)`$")
	docRowLine = regexp.MustCompile("^\\| `([a-z0-9_]+)` \\| ([a-z ]+) \\| (.+?) \\| (.+) \\|$")
)

// readDocTables parses the key tables of docs/configuration.md.
func readDocTables(t *testing.T) (headings []string, rows map[string][]docRow) {
	t.Helper()
	text, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows = map[string][]docRow{}
	current := ""
	for i, line := range strings.Split(string(text), "\n") {
		if m := docHeading.FindStringSubmatch(line); m != nil {
			current = m[1]
			headings = append(headings, current)
			continue
		}
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		m := docRowLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("configuration.md:%d: a key row must read | `key` | type | default | meaning |: %s", i+1, line)
			continue
		}
		if strings.TrimSpace(m[4]) == "" {
			t.Errorf("configuration.md:%d: key %q has no meaning", i+1, m[1])
		}
		rows[current] = append(rows[current], docRow{m[1], m[2], m[3]})
	}
	return headings, rows
}

func TestDocsMatchSchema(t *testing.T) {
	wantHeadings, wantRows := schemaTables()
	gotHeadings, gotRows := readDocTables(t)
	if !slices.Equal(gotHeadings, wantHeadings) {
		t.Errorf("table headings:\n got %q\nwant %q", gotHeadings, wantHeadings)
	}
	for _, h := range wantHeadings {
		got, want := gotRows[h], wantRows[h]
		if !slices.Equal(got, want) {
			t.Errorf("keys of %s:\n got %v\nwant %v", h, got, want)
		}
	}
}

// TestDefaultTagsParse applies every default tag, which panics on one that
// does not parse as its field's type.
func TestDefaultTagsParse(t *testing.T) {
	src := "[services.s]\nurl = \"http://127.0.0.1:1/\"\n[services.s.health]\n" +
		"[flows.f]\n[[flows.f.nodes]]\nservice = \"s\"\n[[routes]]\npath = \"/\"\nflow = \"f\"\n"
	f, err := Parse("defaults.toml", t.TempDir(), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Routes[0].Methods; !slices.Equal(got, []string{"POST"}) {
		t.Errorf("default methods %q", got)
	}
	if h := f.Services["s"].Health; !h.enabled || h.Path != "/health" || h.Interval.Duration.String() != "5s" {
		t.Errorf("health defaults %+v", h)
	}
}
