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
// applied. A File built any other way is not ready for Compile. Each
// field's key, type, default and meaning are listed in
// docs/configuration.md.
type File struct {
	Server Server `toml:"server"`
	Admin  Admin  `toml:"admin"`
	Log    Log    `toml:"log"`
	// Services, Plugins and Flows are keyed by the NAME in their table
	// headers, such as [services.llm].
	Services map[string]Service `toml:"services"`
	Plugins  map[string]Plugin  `toml:"plugins"`
	Flows    map[string]Flow    `toml:"flows"`
	Routes   []Route            `toml:"routes"`
	// Auth holds the credentials that routes with an auth table accept.
	Auth Auth `toml:"auth"`

	// name is the file's path, for error messages.
	name string
	// dir is the directory relative plugin paths start from.
	dir string
	// pos locates keys in the source, for errors found after Load.
	pos *positionIndex
}

// Server is the [server] table: the main listener.
type Server struct {
	// Listen is the host:port to serve on; port 0 picks a free port.
	Listen string `toml:"listen" default:"0.0.0.0:8000"`
	// MaxBodyBytes caps a request body; a larger one gets 413.
	MaxBodyBytes Size `toml:"max_body_bytes" default:"10MiB"`
	// MaxHeaderBytes caps the request line and headers; larger ones get
	// 431.
	MaxHeaderBytes Size `toml:"max_header_bytes" default:"16KiB"`
	// MaxConcurrentRequests caps requests in flight; past it a request
	// gets 503 with Retry-After.
	MaxConcurrentRequests int `toml:"max_concurrent_requests" default:"10000"`
	// ReadTimeout, WriteTimeout and IdleTimeout bound reading a request,
	// writing a response and an idle keep-alive connection.
	ReadTimeout  Duration `toml:"read_timeout" default:"30s"`
	WriteTimeout Duration `toml:"write_timeout" default:"30s"`
	IdleTimeout  Duration `toml:"idle_timeout" default:"120s"`
	// RequestTimeout is the deadline of one request's whole flow.
	RequestTimeout Duration `toml:"request_timeout" default:"60s"`
	// ShutdownGrace bounds draining in-flight requests at shutdown.
	ShutdownGrace Duration `toml:"shutdown_grace" default:"30s"`
	// TLSCertFile and TLSKeyFile are PEM files; when both are set the
	// listener serves HTTPS. Relative paths start from the file's directory.
	TLSCertFile string `toml:"tls_cert_file"`
	TLSKeyFile  string `toml:"tls_key_file"`
}

// Admin is the [admin] table: the listener of metrics, health and admin
// endpoints.
type Admin struct {
	// Listen is the admin listener's host:port; "" or "off" turns it off.
	Listen string `toml:"listen" default:"127.0.0.1:8001"`
}

// Log is the [log] table.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `toml:"level" default:"info"`
	// Format is json or text.
	Format string `toml:"format" default:"json"`
	// Access writes one line per request when true.
	Access bool `toml:"access" default:"false"`
}

// Service is one [services.NAME] table: a microservice, as in OPEA's
// MicroService.
type Service struct {
	// Type is an OPEA service type name, as runtime.ParseServiceType reads.
	Type string `toml:"type" default:"undefined"`
	// URL is the service's http or https address; empty only with Builtin.
	URL string `toml:"url"`
	// Builtin names a bundled service started in process ("echo").
	Builtin string `toml:"builtin"`
	// Replicas are more addresses of the service, load balanced with URL.
	Replicas []string `toml:"replicas"`
	// Timeout bounds one attempt; DialTimeout one connect; IdleTimeout
	// closes pooled connections unused that long.
	Timeout     Duration `toml:"timeout" default:"30s"`
	DialTimeout Duration `toml:"dial_timeout" default:"2s"`
	IdleTimeout Duration `toml:"idle_timeout" default:"4s"`
	// Retries is the number of extra attempts after a connect error, a
	// timeout, 502, 503 or 504.
	Retries int `toml:"retries" default:"0"`
	// Idempotent false forbids retrying a call once its request was sent.
	Idempotent bool `toml:"idempotent" default:"true"`
	// Optional lets a flow go on when the service fails.
	Optional bool `toml:"optional" default:"false"`
	// MaxConns caps pooled keep-alive connections per replica.
	MaxConns int `toml:"max_conns" default:"512"`
	// MaxResponseBytes caps a response body from the service.
	MaxResponseBytes Size `toml:"max_response_bytes" default:"64MiB"`
	// Stream marks a service that may respond with text/event-stream.
	Stream bool `toml:"stream" default:"false"`
	// APIKey is sent as a bearer token when not empty.
	APIKey string `toml:"api_key"`
	// TLSCAFile is a PEM file of the CAs that https replicas must chain
	// to; TLSCertFile and TLSKeyFile are a client certificate for mutual
	// TLS. Empty means the system roots and no client certificate.
	TLSCAFile   string  `toml:"tls_ca_file"`
	TLSCertFile string  `toml:"tls_cert_file"`
	TLSKeyFile  string  `toml:"tls_key_file"`
	Breaker     Breaker `toml:"breaker"`
	Health      Health  `toml:"health"`
}

// Breaker is a [services.NAME.breaker] table: one circuit breaker per
// replica, as runtime.BreakerSettings describes.
type Breaker struct {
	// Enabled false turns the breaker off.
	Enabled bool `toml:"enabled" default:"true"`
	// ConsecutiveFailures in a row open the breaker.
	ConsecutiveFailures int `toml:"consecutive_failures" default:"5"`
	// FailureRatio, in (0, 1], opens the breaker once MinRequests calls
	// were seen in the current Interval.
	FailureRatio float64 `toml:"failure_ratio" default:"0.5"`
	MinRequests  int     `toml:"min_requests" default:"20"`
	// OpenTimeout is how long the breaker stays open before probing.
	OpenTimeout Duration `toml:"open_timeout" default:"10s"`
	// HalfOpenRequests is the number of probe calls while half-open.
	HalfOpenRequests int `toml:"half_open_requests" default:"3"`
	// Interval clears the closed breaker's counts this often.
	Interval Duration `toml:"interval" default:"60s"`
}

// Health is a [services.NAME.health] table: active health checks of each
// replica. Checks run only when the table is present.
type Health struct {
	// Path is requested with GET; a 2xx response passes.
	Path string `toml:"path" default:"/health"`
	// Interval separates two probes of a replica; Timeout bounds one.
	Interval Duration `toml:"interval" default:"5s"`
	Timeout  Duration `toml:"timeout" default:"1s"`
	// Unhealthy failed probes in a row mark a replica unhealthy, and
	// Healthy passing ones mark it healthy again.
	Unhealthy int `toml:"unhealthy" default:"2"`
	Healthy   int `toml:"healthy" default:"2"`

	// enabled reports that the file has the table.
	enabled bool
}

// Plugin is one [plugins.NAME] table: a sandboxed Wasm module.
type Plugin struct {
	// Path is the .wasm file, relative to the configuration's directory.
	Path string `toml:"path"`
	// MaxMemory caps one instance's linear memory, from 64KiB to 4GiB.
	MaxMemory Size `toml:"max_memory" default:"128MiB"`
	// Timeout bounds one call; past it the instance is replaced.
	Timeout Duration `toml:"timeout" default:"1s"`
	// Instances is the number of instances kept ready; 0 means GOMAXPROCS.
	Instances int `toml:"instances" default:"0"`
	// Config reaches the plugin's init hook as a JSON object.
	Config map[string]any `toml:"config"`

	// resolved is Path made absolute against the file's directory.
	resolved string
}

// Flow is one [flows.NAME] table: a DAG of nodes.
type Flow struct {
	// Output names the node whose result is the response; empty means
	// the only leaf.
	Output string `toml:"output"`
	Nodes  []Node `toml:"nodes"`
	// Chain is a shorthand for nodes and their after lists, such as
	// "embedding >> retriever >> (rerank, web) >> llm"; see chain.go.
	Chain string `toml:"chain"`
	// AggregateMode is how a node combines several predecessors' outputs:
	// "keyed" (an object keyed by predecessor name) or "merge" (their
	// objects merged key by key, later predecessors winning, as OPEA does).
	AggregateMode string `toml:"aggregate_mode" default:"keyed"`
}

// Node is one [[flows.NAME.nodes]] entry.
type Node struct {
	// Service names the [services.NAME] the node calls.
	Service string `toml:"service"`
	// Name identifies the node in its flow; empty means Service.
	Name string `toml:"name"`
	// After names the node's predecessors; empty makes it a start node.
	After []string `toml:"after"`
	// Optional lets the flow go on when the node fails.
	Optional bool `toml:"optional" default:"false"`
	// Request, Response, Events, Aggregate and Route name the plugins of
	// the node's hooks, as runtime.NodeSpec describes them; empty means
	// none.
	Request   string `toml:"request"`
	Response  string `toml:"response"`
	Events    string `toml:"events"`
	Aggregate string `toml:"aggregate"`
	Route     string `toml:"route"`
	// AggregateMode overrides the flow's aggregate_mode for this node;
	// empty means the flow's.
	AggregateMode string `toml:"aggregate_mode"`
	// StreamSentences post-processes the streaming predecessor's output
	// sentence by sentence, as runtime.NodeSpec describes it.
	StreamSentences bool `toml:"stream_sentences" default:"false"`
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
	// Path is matched exactly.
	Path string `toml:"path"`
	// Methods are upper-case HTTP methods once Load returns.
	Methods []string `toml:"methods" default:"POST"`
	// Flow names the [flows.NAME] that handles the route.
	Flow string `toml:"flow"`
	// API gives the route a client-facing API around its flow: "openai"
	// for OpenAI's chat completions; empty passes bodies unchanged.
	API string `toml:"api"`
	// StreamFormat is how a route with an API streams: "openai" chunks or
	// OPEA's "data: b'...'" events.
	StreamFormat string `toml:"stream_format" default:"openai"`
	// Auth, RateLimit and Content are the route's guards, checked in this
	// order before the flow runs; each is on only when its table is present.
	Auth      RouteAuth `toml:"auth"`
	RateLimit RateLimit `toml:"rate_limit"`
	Content   Content   `toml:"content"`
}

// Auth is the [auth] table: the API keys and the JWT verifier that routes
// share.
type Auth struct {
	// APIKeys lists keys by the SHA-256 hash of their text.
	APIKeys []APIKey `toml:"api_keys"`
	// APIKeyFile holds more keys, one "NAME HASH" or "HASH" per line.
	APIKeyFile string `toml:"api_key_file"`
	JWT        JWT    `toml:"jwt"`
}

// APIKey is one [[auth.api_keys]] entry.
type APIKey struct {
	// Name identifies the key in route policies, rate limits and logs.
	Name string `toml:"name"`
	// SHA256 is the hex SHA-256 hash of the key as clients send it.
	SHA256 string `toml:"sha256"`
}

// JWT is the [auth.jwt] table: how bearer JWTs are verified. It is on when
// one of its key files is set.
type JWT struct {
	// Algorithms lists the accepted "alg" values among HS256, RS256 and
	// ES256; empty means each one a key is loaded for.
	Algorithms []string `toml:"algorithms"`
	// KeyFile is PEM public keys or certificates, JWKSFile a JSON Web Key
	// Set, SecretFile the HS256 secret of at least 32 bytes.
	KeyFile    string `toml:"key_file"`
	JWKSFile   string `toml:"jwks_file"`
	SecretFile string `toml:"secret_file"`
	// Issuer, when set, must equal the token's "iss" claim.
	Issuer string `toml:"issuer"`
	// Audience, when set, must contain one of the token's audiences.
	Audience []string `toml:"audience"`
	// ClockSkew is the leeway when checking "exp" and "nbf".
	ClockSkew Duration `toml:"clock_skew" default:"30s"`
}

// RouteAuth is a [routes.auth] table: the route accepts the credentials
// of [auth] and rejects requests without them (401) or with credentials it
// does not list (403).
type RouteAuth struct {
	// Keys names the API keys the route accepts; empty means every key.
	Keys []string `toml:"keys"`
	// KeyHeader is the header carrying the API key as its whole value;
	// empty means "Authorization: Bearer KEY".
	KeyHeader string `toml:"key_header"`
	// Claims maps a claim name to the values a JWT must carry for the
	// route, one of them matching.
	Claims map[string][]string `toml:"claims"`

	// enabled reports that the route has the table.
	enabled bool
}

// RateLimit is a [routes.rate_limit] table: a token bucket per client,
// keyed by API key name or JWT subject, else by client IP address.
type RateLimit struct {
	// Rate is the sustained requests per second of one client.
	Rate float64 `toml:"rate"`
	// Burst is the requests a client may send at once; 0 means Rate
	// rounded up.
	Burst int `toml:"burst" default:"0"`
	// TrustedProxies are the addresses or CIDR prefixes of proxies whose
	// X-Forwarded-For header names the client.
	TrustedProxies []string `toml:"trusted_proxies"`
	// MaxClients bounds the clients tracked at once.
	MaxClients int `toml:"max_clients" default:"100000"`

	// enabled reports that the route has the table.
	enabled bool
}

// Content is a [routes.content] table: checks of the request body.
type Content struct {
	// Types lists the accepted media types, such as "application/json" or
	// "text/*"; empty means any.
	Types []string `toml:"types"`
	// SchemaFile is a JSON Schema that JSON bodies must match.
	SchemaFile string `toml:"schema_file"`

	// enabled reports that the route has the table.
	enabled bool
}

// Name returns the path the file was loaded from.
func (f *File) Name() string { return f.name }
