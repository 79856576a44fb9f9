package config

import (
	"slices"
	"testing"
)

func TestExpandEnv(t *testing.T) {
	env := map[string]string{"HOST": "10.0.0.1", "EMPTY": ""}
	lookup := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	cases := []struct {
		name, in, want string
		problems       []string
	}{
		{"no reference", "http://127.0.0.1:80/", "http://127.0.0.1:80/", nil},
		{"set variable", "http://${HOST}:80/", "http://10.0.0.1:80/", nil},
		{"default unused", "${HOST:-127.0.0.1}", "10.0.0.1", nil},
		{"default for unset", "${PORT:-6006}", "6006", nil},
		{"default for empty", "${EMPTY:-x}", "x", nil},
		{"empty default", "${UNSET:-}", "", nil},
		{"set but empty", "a${EMPTY}b", "ab", nil},
		{"two references", "${HOST}:${PORT:-1}", "10.0.0.1:1", nil},
		{"escaped", "$${HOST} costs $5", "${HOST} costs $5", nil},
		{"unset", "${UNSET}", "", []string{"environment variable UNSET is not set; set it or write ${UNSET:-default}"}},
		{"bad name", "${1X}", "", []string{`"${1X}" is not a valid variable reference; write ${NAME} or ${NAME:-default}, NAME being letters, digits and _`}},
		{"unterminated", "${HOST", "${HOST", []string{`"${HOST" has an unterminated "${"; close it with "}", or write "$${" for a literal "${"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := expandEnv(tc.in, lookup)
			if got != tc.want {
				t.Errorf("expandEnv(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if !slices.Equal(problems, tc.problems) {
				t.Errorf("problems %q, want %q", problems, tc.problems)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
	}{
		{"512", 512},
		{"512B", 512},
		{"64KiB", 64 << 10},
		{"16MiB", 16 << 20},
		{"16mib", 16 << 20},
		{"1 GiB", 1 << 30},
		{"10MB", 10_000_000},
		{"2KB", 2000},
	}
	for _, tc := range cases {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "MiB", "1.5MiB", "16XB", "99999999999GiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded, want an error", bad)
		}
	}
}

func TestIndexPositionsArrays(t *testing.T) {
	src := []byte(`a = 1
[t]
  "quoted.key" = """multi
line""" # comment
  inline = { x = 1, y = [2, 3] }
[[t.arr]]
  k = 'v'
[[t.arr]]
  k = "w"
  [t.arr.sub]
  z = 1979-05-27 07:32:00
  after = [
    "p",  # first
    "q",
  ]
`)
	x := indexPositions(src)
	cases := []struct {
		path []string
		want Position
	}{
		{[]string{"a"}, Position{1, 1}},
		{[]string{"t"}, Position{2, 1}},
		{[]string{"t", "quoted.key"}, Position{3, 3}},
		{[]string{"t", "inline"}, Position{5, 3}},
		{[]string{"t", "inline", "y"}, Position{5, 21}},
		{[]string{"t", "inline", "y", "1"}, Position{5, 29}},
		{[]string{"t", "arr", "0"}, Position{6, 1}},
		{[]string{"t", "arr", "0", "k"}, Position{7, 3}},
		{[]string{"t", "arr", "1", "k"}, Position{9, 3}},
		{[]string{"t", "arr", "1", "sub", "z"}, Position{11, 3}},
		{[]string{"t", "arr", "1", "sub", "after", "1"}, Position{14, 5}},
	}
	for _, tc := range cases {
		if got, ok := x.lookup(tc.path); !ok || got != tc.want {
			t.Errorf("position of %q = %v (found %v), want %v", tc.path, got, ok, tc.want)
		}
	}
}
