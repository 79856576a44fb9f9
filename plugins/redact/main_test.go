package main

import (
	"strings"
	"testing"

	"github.com/megaflow/megaflow/host"
	"github.com/megaflow/megaflow/plugins/internal/plugintest"
)

func TestMain(m *testing.M) { plugintest.Main(m) }

func TestRedact(t *testing.T) {
	p := plugintest.Load(t, ``)
	cases := []struct{ name, input, want string }{
		{"email", `{"content":"write to jane.doe+x@mail.example.co.uk now"}`, `{"content":"write to [email] now"}`},
		{"us phone", "call (555) 123-4567 or 555.123.4567", "call [phone] or [phone]"},
		{"international phone", "ring +442079460958 or +1 555 123 4567", "ring [phone] or [phone]"},
		{"card", "card 4111 1111 1111 1111 and 4111-1111-1111-1111", "card [card] and [card]"},
		{"digits failing Luhn are kept", "order 1234 5678 9012 3456", "order 1234 5678 9012 3456"},
		{"nothing to mask", "the answer is 42", "the answer is 42"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := plugintest.Response(t, p, c.input)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("redact(%q) = %q, want %q", c.input, got, c.want)
			}
		})
	}
}

func TestRedactHooks(t *testing.T) {
	p := plugintest.Load(t, `{"kinds":["email"],"replacement":"***"}`)
	var out host.RequestOutput
	if err := p.Request(plugintest.Ctx(t), []byte("from a@b.io, tel 555-123-4567"), nil, &out); err != nil {
		t.Fatal(err)
	}
	if string(out.Body) != "from ***, tel 555-123-4567" {
		t.Errorf("request hook output %q", out.Body)
	}
	event, err := p.Event(plugintest.Ctx(t), []byte("data: x@y.org\n\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(event) != "data: ***\n\n" {
		t.Errorf("event hook output %q", event)
	}
	event, err = p.Event(plugintest.Ctx(t), []byte("data: clean\n\n"), nil)
	if err != nil || string(event) != "data: clean\n\n" {
		t.Errorf("clean event: %q, %v; want it passed through", event, err)
	}
}

func TestRedactRejectsUnknownKind(t *testing.T) {
	if err := plugintest.LoadError(t, `{"kinds":["ssn"]}`); !strings.Contains(err.Error(), `"ssn"`) {
		t.Errorf("error %q does not name the kind", err)
	}
}
