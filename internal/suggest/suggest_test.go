package suggest

import "testing"

func TestHint(t *testing.T) {
	cases := []struct {
		name  string
		known []string
		want  string
	}{
		{"lisen", []string{"listen", "flows"}, `; did you mean "listen"?`},
		{"EMBEDING", []string{"embedding"}, `; did you mean "embedding"?`},
		{"zzzzzz", []string{"listen"}, ""},
		{"a", []string{"b"}, ""},
	}
	for _, tc := range cases {
		if got := Hint(tc.name, tc.known); got != tc.want {
			t.Errorf("Hint(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	if d := EditDistance("kitten", "sitting"); d != 3 {
		t.Errorf("kitten/sitting: %d", d)
	}
	if d := EditDistance("", "abc"); d != 3 {
		t.Errorf("empty/abc: %d", d)
	}
}
