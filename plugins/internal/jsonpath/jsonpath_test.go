package jsonpath

import "testing"

func TestGet(t *testing.T) {
	doc := []byte(` {"a": {"b": [10, {"c": "x,]}"}, [1, 2]], "e\"k": true}, "m": [], "s": "v", "n": -1.5e3 } `)
	cases := []struct {
		path, want string
		found      bool
	}{
		{"", string(doc[1 : len(doc)-1]), true},
		{"a.b.0", "10", true},
		{"a.b.1.c", `"x,]}"`, true},
		{"a.b.-1", "[1, 2]", true},
		{"a.b.-1.1", "2", true},
		{"a.b.-4", "", false},
		{"a.b.3", "", false},
		{`a.e"k`, "true", true},
		{"m", "[]", true},
		{"m.0", "", false},
		{"s", `"v"`, true},
		{"n", "-1.5e3", true},
		{"s.x", "", false},
		{"missing", "", false},
		{"a.b.x", "", false},
	}
	for _, c := range cases {
		got, found := Get(doc, c.path)
		if found != c.found || string(got) != c.want {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", c.path, got, found, c.want, c.found)
		}
	}
}

func TestIsEmpty(t *testing.T) {
	for _, v := range []string{"null", "false", "0", `""`, "[]", "{ }", " [ ] "} {
		if !IsEmpty([]byte(v)) {
			t.Errorf("IsEmpty(%s) = false", v)
		}
	}
	for _, v := range []string{"1", `"a"`, "[0]", `{"a":1}`, "true"} {
		if IsEmpty([]byte(v)) {
			t.Errorf("IsEmpty(%s) = true", v)
		}
	}
}
