package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// minimal is the valid tail most broken files share: one service, one
// flow and one route.
const minimal = `
[services.a]
url = "http://127.0.0.1:9000/"

[flows.f]
  [[flows.f.nodes]]
  service = "a"

[[routes]]
path = "/x"
flow = "f"
`

// brokenFiles lists configuration files with mistakes and the exact
// errors, as LINE:COL: message, that Load must report for each.
var brokenFiles = []struct {
	name string
	src  string
	want []string
}{
	{
		name: "syntax error",
		src: `[server
listen = "0.0.0.0:8000"
`,
		want: []string{
			"1:8: invalid TOML: expected '.' or ']' to end table name, but got '\\n' instead",
		},
	},
	{
		name: "unknown table",
		src: `[servces.a]
url = "http://127.0.0.1:9000/"
`,
		want: []string{
			"1:1: unknown table [servces]; did you mean [services]?",
		},
	},
	{
		name: "unknown server key",
		src: `[server]
listen = "0.0.0.0:8000"
listen_addr = "x"
listn = "0.0.0.0:8001"
`,
		want: []string{
			"3:1: server: unknown key \"listen_addr\"; valid keys are listen, max_body_bytes, max_header_bytes, max_concurrent_requests, read_timeout, write_timeout, idle_timeout, request_timeout, shutdown_grace, tls_cert_file, tls_key_file",
			"4:1: server: unknown key \"listn\"; did you mean \"listen\"?",
		},
	},
	{
		name: "unknown service key",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
timout = "2s"
`,
		want: []string{
			"3:1: service \"a\": unknown key \"timout\"; did you mean \"timeout\"?",
		},
	},
	{
		name: "unknown key far off",
		src: `[log]
colour = true
`,
		want: []string{
			"2:1: log: unknown key \"colour\"; valid keys are level, format, access",
		},
	},
	{
		name: "unknown breaker key",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
  [services.a.breaker]
  open_timout = "1s"
`,
		want: []string{
			"4:3: service \"a\": unknown key \"open_timout\"; did you mean \"open_timeout\"?",
		},
	},
	{
		name: "string for integer",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
max_conns = "512"
`,
		want: []string{
			"3:1: service \"a\": max_conns must be an integer, not the string \"512\"",
		},
	},
	{
		name: "string for boolean",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
stream = "yes"
`,
		want: []string{
			"3:1: service \"a\": stream must be true or false, not the string \"yes\"",
		},
	},
	{
		name: "duration without unit",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
timeout = "5"
`,
		want: []string{
			"3:1: service \"a\": timeout \"5\" has no unit; write \"5s\"",
		},
	},
	{
		name: "duration as integer",
		src: `[server]
request_timeout = 60
`,
		want: []string{
			"2:1: server: request_timeout must be a string with a unit; write \"60s\"",
		},
	},
	{
		name: "invalid duration",
		src: `[server]
read_timeout = "5 seconds"
`,
		want: []string{
			"2:1: server: read_timeout \"5 seconds\" is not a duration; write a number with a unit (ns, us, ms, s, m, h), such as \"250ms\" or \"1m30s\"",
		},
	},
	{
		name: "duration in days",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[services.a.breaker]
interval = "1d"
`,
		want: []string{
			"4:1: service \"a\": breaker.interval \"1d\" uses days, which Go durations lack; write \"24h\"",
		},
	},
	{
		name: "size with unknown unit",
		src: `[server]
max_body_bytes = "10MBs"
`,
		want: []string{
			"2:1: server: max_body_bytes \"10MBs\" has an unknown unit \"MBs\"; use B, KiB, MiB, GiB, KB, MB or GB",
		},
	},
	{
		name: "zero duration",
		src: `[server]
shutdown_grace = "0s"
`,
		want: []string{
			"2:1: server: shutdown_grace must be longer than 0s; write, for example, \"1s\"",
		},
	},
	{
		name: "url without scheme",
		src: `[services.a]
url = "127.0.0.1:9000/embed"
`,
		want: []string{
			"2:1: service \"a\": url \"127.0.0.1:9000/embed\" has no scheme; write \"http://127.0.0.1:9000/embed\"",
		},
	},
	{
		name: "url without host",
		src: `[services.a]
url = "http:///embed"
`,
		want: []string{
			"2:1: service \"a\": url \"http:///embed\" has no host; write, for example, \"http://127.0.0.1:8080/embed\"",
		},
	},
	{
		name: "url port out of range",
		src: `[services.a]
url = "http://127.0.0.1:70000/embed"
`,
		want: []string{
			"2:1: service \"a\": url \"http://127.0.0.1:70000/embed\" has port 70000, out of range; use 1 to 65535",
		},
	},
	{
		name: "replica url scheme",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
replicas = ["http://127.0.0.1:9001/", "ftp://127.0.0.1:9002/"]
`,
		want: []string{
			"3:39: service \"a\": replicas[1] \"ftp://127.0.0.1:9002/\" has scheme \"ftp\"; use http or https",
		},
	},
	{
		name: "listen port out of range",
		src: `[server]
listen = "0.0.0.0:70000"
`,
		want: []string{
			"2:1: server: listen \"0.0.0.0:70000\" has port 70000, out of range; use 1 to 65535, or 0 for a free port",
		},
	},
	{
		name: "listen without port",
		src: `[server]
listen = "8000"
`,
		want: []string{
			"2:1: server: listen \"8000\" is not host:port; write, for example, \"0.0.0.0:8000\" or \"127.0.0.1:8001\"",
		},
	},
	{
		name: "admin on server port",
		src: `[server]
listen = "127.0.0.1:8000"
[admin]
listen = "127.0.0.1:8000"
`,
		want: []string{
			"4:1: admin: listen \"127.0.0.1:8000\" is also server.listen; give the admin listener its own port, or write \"off\" to turn it off",
		},
	},
	{
		name: "unknown service type",
		src: `[services.a]
type = "embeding"
url = "http://127.0.0.1:9000/"
`,
		want: []string{
			"2:1: service \"a\": type \"embeding\" is unknown; did you mean \"embedding\"?",
		},
	},
	{
		name: "service without url",
		src: `[services.a]
type = "llm"
`,
		want: []string{
			"1:1: service \"a\" has no url; set url = \"http://HOST:PORT/PATH\", or builtin = \"echo\"",
		},
	},
	{
		name: "builtin with url",
		src: `[services.a]
builtin = "echo"
url = "http://127.0.0.1:9000/"
`,
		want: []string{
			"3:1: service \"a\": url is set, but builtin \"echo\" starts its own server on a free port; remove url or builtin",
		},
	},
	{
		name: "negative retries",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
retries = -1
`,
		want: []string{
			"3:1: service \"a\": retries is -1; it must be 0 or more",
		},
	},
	{
		name: "breaker ratio above one",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[services.a.breaker]
failure_ratio = 1.5
`,
		want: []string{
			"4:1: service \"a\": breaker.failure_ratio is 1.5; it must be more than 0 and at most 1",
		},
	},
	{
		name: "health timeout over interval",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[services.a.health]
path = "health"
interval = "1s"
timeout = "2s"
`,
		want: []string{
			"4:1: service \"a\": health.path \"health\" must start with \"/\"; write \"/health\"",
			"6:1: service \"a\": health.timeout 2s is longer than health.interval 1s; probes would overlap, so shorten the timeout",
		},
	},
	{
		name: "log level unknown",
		src: `[log]
level = "warning"
format = "yaml"
`,
		want: []string{
			"2:1: log: level \"warning\" is unknown; use one of debug, info, warn, error",
			"3:1: log: format \"yaml\" is unknown; use one of json, text",
		},
	},
	{
		name: "node with unknown service",
		src: `[services.embedding]
url = "http://127.0.0.1:9000/"
[flows.f]
  [[flows.f.nodes]]
  service = "embeding"
`,
		want: []string{
			"5:3: flow \"f\" node \"embeding\": service \"embeding\" is not defined; did you mean \"embedding\"?",
		},
	},
	{
		name: "node with unknown plugin",
		src: `
[services.a]
url = "http://127.0.0.1:9000/"

[flows.f]
  [[flows.f.nodes]]
  service = "a"
  request = "to_tei"

[[routes]]
path = "/x"
flow = "f"
`,
		want: []string{
			"8:3: flow \"f\" node \"a\": request plugin \"to_tei\" is not defined; the file defines no plugins",
		},
	},
	{
		name: "cycle",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[flows.f]
  [[flows.f.nodes]]
  name = "start"
  service = "a"
  [[flows.f.nodes]]
  name = "x"
  service = "a"
  after = ["start", "z"]
  [[flows.f.nodes]]
  name = "y"
  service = "a"
  after = ["x"]
  [[flows.f.nodes]]
  name = "z"
  service = "a"
  after = ["y"]
`,
		want: []string{
			"10:3: flow \"f\" has a cycle: x → y → z → x; remove one of these \"after\" entries",
		},
	},
	{
		name: "node after itself",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[flows.f]
  [[flows.f.nodes]]
  service = "a"
  after = ["a"]
`,
		want: []string{
			"6:12: flow \"f\" node \"a\" comes after itself, a cycle: a → a; remove \"a\" from after",
		},
	},
	{
		name: "after unknown node",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[flows.f]
  [[flows.f.nodes]]
  service = "a"
  [[flows.f.nodes]]
  name = "b"
  service = "a"
  after = ["aa", "c"]
`,
		want: []string{
			"9:12: flow \"f\" node \"b\": after names unknown node \"aa\"; did you mean \"a\"?",
			"9:18: flow \"f\" node \"b\": after names unknown node \"c\"; the nodes of this flow are a, b",
		},
	},
	{
		name: "duplicate node names",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[flows.f]
  [[flows.f.nodes]]
  service = "a"
  [[flows.f.nodes]]
  service = "a"
  after = ["a"]
`,
		want: []string{
			"7:3: flow \"f\": node name \"a\" is used twice, first at line 4; give one of them a distinct name = \"...\"",
		},
	},
	{
		name: "two leaves without output",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[flows.f]
  [[flows.f.nodes]]
  service = "a"
  [[flows.f.nodes]]
  name = "b"
  service = "a"
`,
		want: []string{
			"3:1: flow \"f\" has 2 leaves (a, b) and no output; set output to the node whose result is the response",
		},
	},
	{
		name: "output names unknown node",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[flows.f]
output = "b"
  [[flows.f.nodes]]
  service = "a"
`,
		want: []string{
			"4:1: flow \"f\": output names unknown node \"b\"; the nodes of this flow are a",
		},
	},
	{
		name: "flow without nodes",
		src: `[flows.f]
output = "a"
`,
		want: []string{
			"1:1: flow \"f\" has no nodes; add a [[flows.f.nodes]] table with a service",
		},
	},
	{
		name: "route names unknown flow",
		src: `
[services.a]
url = "http://127.0.0.1:9000/"

[flows.f]
  [[flows.f.nodes]]
  service = "a"

[[routes]]
path = "/x"
flow = "f"

[[routes]]
path = "/y"
flow = "g"
`,
		want: []string{
			"15:1: route \"/y\": flow \"g\" is not defined; the flows are f",
		},
	},
	{
		name: "two routes on one method and path",
		src: `
[services.a]
url = "http://127.0.0.1:9000/"

[flows.f]
  [[flows.f.nodes]]
  service = "a"

[[routes]]
path = "/x"
flow = "f"

[[routes]]
path = "/x"
methods = ["GET", "post"]
flow = "f"
`,
		want: []string{
			"15:19: route \"/x\": POST /x is already served by route 1 at line 9; keep one of the two",
		},
	},
	{
		name: "route method unknown",
		src: `
[services.a]
url = "http://127.0.0.1:9000/"

[flows.f]
  [[flows.f.nodes]]
  service = "a"

[[routes]]
path = "x"
methods = ["FETCH"]
flow = "f"
`,
		want: []string{
			"10:1: route \"x\": path must start with \"/\"; write \"/x\"",
			"11:12: route \"x\": method \"FETCH\" is unknown; use one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
		},
	},
	{
		name: "routes not an array of tables",
		src: `routes = "/x"
`,
		want: []string{
			"1:1: routes must be an array of tables, written [[routes]], not the string \"/x\"",
		},
	},
	{
		name: "plugin file missing",
		src: `[plugins.p]
path = "build/p.wasm"
`,
		want: []string{
			"2:1: plugin \"p\": path \"build/p.wasm\" does not exist; build the plugin or fix the path, which is relative to the configuration file's directory",
		},
	},
	{
		name: "plugin file not wasm",
		src: `[plugins.p]
path = "not.wasm"
max_memory = "1KiB"
`,
		want: []string{
			"2:1: plugin \"p\": path \"not.wasm\" is not a WebAssembly module: it does not start with \"\\0asm\"; point path at a .wasm file",
			"3:1: plugin \"p\": max_memory is 1024 bytes; it must be from 64KiB to 4GiB, the range of 32-bit Wasm memory",
		},
	},
	{
		name: "environment variable missing",
		src: `[services.a]
url = "http://${MEGAFLOW_TEST_UNSET}:9000/"
api_key = "${MEGAFLOW_TEST_SET}"
`,
		want: []string{
			"2:1: service \"a\": url: environment variable MEGAFLOW_TEST_UNSET is not set; set it or write ${MEGAFLOW_TEST_UNSET:-default}",
		},
	},
	{
		name: "unterminated variable reference",
		src: `[services.a]
url = "http://${MEGAFLOW_TEST_SET:-127.0.0.1:9000/"
`,
		want: []string{
			"2:1: service \"a\": url: \"http://${MEGAFLOW_TEST_SET:-127.0.0.1:9000/\" has an unterminated \"${\"; close it with \"}\", or write \"$${\" for a literal \"${\"",
		},
	},
	{
		name: "route plugin on a leaf",
		src: `
[services.a]
url = "http://127.0.0.1:9000/"

[flows.f]
  [[flows.f.nodes]]
  service = "a"
  route = "r"

[[routes]]
path = "/x"
flow = "f"
[plugins.r]
path = "missing.wasm"
`,
		want: []string{
			"8:3: flow \"f\" node \"a\": route \"r\" would never run, because it picks which successors run and no node comes after this one; remove route or add successors",
			"14:1: plugin \"r\": path \"missing.wasm\" does not exist; build the plugin or fix the path, which is relative to the configuration file's directory",
		},
	},
	{
		name: "duplicate service table",
		src: `[services.a]
url = "http://127.0.0.1:9000/"

[services.a]
url = "http://127.0.0.1:9001/"
`,
		want: []string{
			"4:2: invalid TOML: Key 'services.a' has already been defined; merge the two into one table or rename one",
		},
	},
	{
		name: "plugin wasm version 2",
		src: `[plugins.p]
path = "v2.wasm"
`,
		want: []string{
			"2:1: plugin \"p\": path \"v2.wasm\" has WebAssembly binary version 2, but only version 1 is supported; rebuild the plugin",
		},
	},
	{
		name: "plugin wasm truncated",
		src: `[plugins.p]
path = "truncated.wasm"
`,
		want: []string{
			"2:1: plugin \"p\": path \"truncated.wasm\" is not a valid WebAssembly module: section type: read 0-th type: could not read parameter count: EOF",
		},
	},
	{
		name: "route auth without credentials",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[flows.f]
  [[flows.f.nodes]]
  service = "a"
[[routes]]
path = "/x"
flow = "f"
  [routes.auth]
  keys = ["alice"]
`,
		want: []string{
			"9:3: route \"/x\" has an auth table, but [auth] defines no API keys and no JWT key; add [[auth.api_keys]], api_key_file or [auth.jwt]",
		},
	},
	{
		name: "api key hash invalid",
		src: `[auth]
  [[auth.api_keys]]
  name = "alice"
  sha256 = "abc"
`,
		want: []string{
			"4:3: auth: api_keys[0].sha256: API key hash has 3 characters; write the 64 hex digits of the key's SHA-256 hash; compute it with: printf %s KEY | sha256sum",
		},
	},
	{
		name: "route auth names unknown key",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[flows.f]
  [[flows.f.nodes]]
  service = "a"
[[routes]]
path = "/x"
flow = "f"
  [routes.auth]
  keys = ["alcie"]
  claims = { scope = ["chat"] }
[auth]
  [[auth.api_keys]]
  name = "alice"
  sha256 = "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90"
`,
		want: []string{
			"10:11: route \"/x\": auth.keys names unknown API key \"alcie\"; the named API keys are alice",
			"11:3: route \"/x\": auth.claims needs [auth.jwt] with a key; add it or remove claims",
		},
	},
	{
		name: "rate limit without rate",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[flows.f]
  [[flows.f.nodes]]
  service = "a"
[[routes]]
path = "/x"
flow = "f"
  [routes.rate_limit]
  burst = 5
  trusted_proxies = ["10.0.0.0/33"]
`,
		want: []string{
			"9:3: route \"/x\": rate_limit.rate is 0; set it to the requests per second one client may send, such as 10",
			"11:22: route \"/x\": trusted proxy \"10.0.0.0/33\" is not an IP address or CIDR prefix; write, for example, \"10.0.0.0/8\"",
		},
	},
	{
		name: "content type and schema",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
[flows.f]
  [[flows.f.nodes]]
  service = "a"
[[routes]]
path = "/x"
flow = "f"
  [routes.content]
  types = ["json"]
  schema_file = "schema.json"
`,
		want: []string{
			"10:12: route \"/x\": content type \"json\" is not a media type; write type/subtype, such as \"application/json\" or \"text/*\"",
			"11:3: route \"/x\": content.schema_file \"schema.json\" does not exist; fix the path, which is relative to the configuration file's directory",
		},
	},
	{
		name: "tls certificate without key",
		src: `[server]
tls_cert_file = "not.wasm"
`,
		want: []string{
			"2:1: server: tls_cert_file is set without tls_key_file; set both or neither",
		},
	},
	{
		name: "service tls over http",
		src: `[services.a]
url = "http://127.0.0.1:9000/"
tls_ca_file = "not.wasm"
`,
		want: []string{
			"1:1: service \"a\" sets TLS files, but no url or replica starts with https://; use https or remove the tls_* keys",
		},
	},
	{
		name: "jwt without key",
		src: `[auth.jwt]
algorithms = ["HS512"]
issuer = "me"
`,
		want: []string{
			"1:1: auth: [auth.jwt] has no key; set key_file, jwks_file or secret_file",
			"2:15: auth: jwt algorithm \"HS512\" is not supported; use one of HS256, RS256, ES256",
		},
	},
}

func TestLoadBrokenFiles(t *testing.T) {
	t.Setenv("MEGAFLOW_TEST_SET", "set")
	for _, tc := range brokenFiles {
		t.Run(tc.name, func(t *testing.T) {
			got := loadErrors(t, tc.src)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("error %d:\n got: %s\nwant: %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// loadErrors writes src to c.toml in a fresh directory, loads it and
// returns each error without the file name.
func loadErrors(t *testing.T, src string) []string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	fixtures := map[string]string{
		"not.wasm":       "#!/bin/sh\n",
		"v2.wasm":        "\x00asm\x02\x00\x00\x00",
		"truncated.wasm": "\x00asm\x01\x00\x00\x00\x01\x05\x01\x60",
	}
	for name, content := range fixtures {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Load(path)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Load returned %v, want an ErrorList", err)
	}
	out := make([]string, len(list))
	for i, e := range list {
		if e.File != path {
			t.Errorf("error %d names file %q, want %q", i, e.File, path)
		}
		out[i] = strings.TrimPrefix(e.Error(), path+":")
	}
	return out
}
