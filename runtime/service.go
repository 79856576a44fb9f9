package runtime

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ServiceType is the kind of a microservice, as in OPEA's ServiceType enum.
// It labels nodes in graphs and metrics, and decides which LLM or retrieval
// parameters a node receives; it never changes how the service is called.
type ServiceType uint8

// The service types known to OPEA GenAIComps, in its order, plus the ones it
// added later. TypeUndefined is the zero value.
const (
	TypeUndefined ServiceType = iota
	TypeGateway
	TypeEmbedding
	TypeRetriever
	TypeRerank
	TypeLLM
	TypeASR
	TypeTTS
	TypeGuardrail
	TypeVectorStore
	TypeDataPrep
	TypeRagas
	TypeLVM
	TypeKnowledgeGraph
	TypeWebRetriever
	TypeImage2Image
	TypeText2Image
	TypeText2SQL
	TypeText2Cypher
	TypeText2Graph
	TypeText2KG
	TypeImage2Video
	TypeAnimation
	TypeTranslation
	TypeFaceGen
	TypeAgent
	TypeFineTuning
	TypePromptRegistry
	TypeChatHistory
	TypeStructuredOutput
	TypeDocSum
	TypeCodeGen
	TypeFeedback
	typeCount
)

var serviceTypeNames = [typeCount]string{
	TypeUndefined:        "undefined",
	TypeGateway:          "gateway",
	TypeEmbedding:        "embedding",
	TypeRetriever:        "retriever",
	TypeRerank:           "rerank",
	TypeLLM:              "llm",
	TypeASR:              "asr",
	TypeTTS:              "tts",
	TypeGuardrail:        "guardrail",
	TypeVectorStore:      "vectorstore",
	TypeDataPrep:         "dataprep",
	TypeRagas:            "ragas",
	TypeLVM:              "lvm",
	TypeKnowledgeGraph:   "knowledge_graph",
	TypeWebRetriever:     "web_retriever",
	TypeImage2Image:      "image2image",
	TypeText2Image:       "text2image",
	TypeText2SQL:         "text2sql",
	TypeText2Cypher:      "text2cypher",
	TypeText2Graph:       "text2graph",
	TypeText2KG:          "text2kg",
	TypeImage2Video:      "image2video",
	TypeAnimation:        "animation",
	TypeTranslation:      "translation",
	TypeFaceGen:          "facegen",
	TypeAgent:            "agent",
	TypeFineTuning:       "finetuning",
	TypePromptRegistry:   "prompt_registry",
	TypeChatHistory:      "chat_history",
	TypeStructuredOutput: "structured_output",
	TypeDocSum:           "docsum",
	TypeCodeGen:          "codegen",
	TypeFeedback:         "feedback",
}

// String returns the lower-case name used in configuration files.
func (t ServiceType) String() string {
	if t < typeCount {
		return serviceTypeNames[t]
	}
	return "ServiceType(" + strconv.Itoa(int(t)) + ")"
}

// ServiceTypes returns every known type name, in enum order.
func ServiceTypes() []string {
	return append([]string(nil), serviceTypeNames[:]...)
}

// ParseServiceType returns the type named s. Matching ignores case and treats
// '-' like '_', so "Knowledge-Graph" and "KNOWLEDGE_GRAPH" both parse; OPEA's
// upper-case enum names are accepted as written.
func ParseServiceType(s string) (ServiceType, error) {
	norm := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_")
	for i, name := range serviceTypeNames {
		if norm == name {
			return ServiceType(i), nil
		}
	}
	return TypeUndefined, fmt.Errorf("unknown service type %q; use one of %s", s, strings.Join(serviceTypeNames[:], ", "))
}

// MicroService is one service a flow calls, as in OPEA's MicroService. A
// remote service is reached over HTTP at URL; a local one runs Handler in
// process (useful for tests, benchmarks and Go-embedded pipelines).
type MicroService struct {
	// Name identifies the service; results are keyed by it unless a node
	// sets its own name.
	Name string
	// Type is the OPEA service type. Zero means TypeUndefined.
	Type ServiceType

	// URL is the full address of a remote service, scheme, host, port and
	// endpoint path included. When empty, Host, Port and Endpoint make it.
	URL string
	// Host, Port and Endpoint are OPEA's way to give the address; they are
	// used only when URL is empty. Endpoint defaults to "/".
	Host     string
	Port     int
	Endpoint string
	// Remote is true for a service reached over HTTP. A service with a
	// Handler and Remote false runs in process.
	Remote bool
	// Handler runs a local service in process. Ignored when Remote is true.
	Handler Executor

	// Timeout bounds one attempt of a remote call. Zero means 30 s. The
	// flow's deadline still applies when it is earlier.
	Timeout time.Duration
	// Stream marks a service that may answer text/event-stream; its events
	// are passed to the client as they arrive.
	Stream bool
	// Optional lets a flow go on when this service fails: its node is left
	// out of the results and its successors get the remaining inputs.
	Optional bool
	// MaxConns caps pooled keep-alive connections to each replica. Zero
	// means 512.
	MaxConns int
	// APIKey, when set, is sent as "Authorization: Bearer APIKey" with
	// every call; when empty no Authorization header is sent.
	APIKey string
}

// DefaultServiceTimeout is the per-attempt timeout of a remote service that
// sets none.
const DefaultServiceTimeout = 30 * time.Second

// EndpointURL returns the service's address, built from Host, Port and
// Endpoint when URL is empty, and checks that it is an absolute http or
// https URL.
func (s *MicroService) EndpointURL() (string, error) {
	raw := s.URL
	if raw == "" {
		if s.Host == "" {
			return "", fmt.Errorf("service %q: no url and no host; set url = \"http://HOST:PORT/PATH\"", s.Name)
		}
		endpoint := s.Endpoint
		if endpoint == "" {
			endpoint = "/"
		} else if !strings.HasPrefix(endpoint, "/") {
			endpoint = "/" + endpoint
		}
		hostPort := s.Host
		if s.Port != 0 {
			hostPort = net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
		}
		raw = "http://" + hostPort + endpoint
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("service %q: invalid url %q: %v", s.Name, raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("service %q: url %q must start with http:// or https://", s.Name, raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("service %q: url %q has no host", s.Name, raw)
	}
	return raw, nil
}
