package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/valyala/fasthttp"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// ContentSettings configures the body checks of one route.
type ContentSettings struct {
	// ContentTypes lists the accepted media types, e.g. "application/json"
	// or "text/*". Parameters such as charset are ignored and case does not
	// matter. A request with another type, or with none, gets 415. Empty
	// means any type.
	ContentTypes []string
	// SchemaFile is a JSON Schema file (drafts 4 to 2020-12) that JSON
	// bodies must match; a body that does not gets 400 naming the failing
	// instance path. Empty means no schema.
	SchemaFile string
}

// ContentGuard checks a request's content type and, for JSON bodies, that
// the body is well-formed JSON and matches the route's schema. A GET,
// HEAD, DELETE or OPTIONS request with no body and no Content-Type passes,
// since it has no content to check. A body is
// JSON when its media type is application/json or ends in "+json"
// (RFC 6839 §3.1).
//
// Checking the content type and the JSON syntax does not allocate.
// Schema validation decodes the body and allocates in proportion to it.
type ContentGuard struct {
	types  [][]byte // "text/*" is kept as "text/"
	schema *jsonschema.Schema
	// schemaRequiresJSON is set with a schema: a body the schema cannot
	// read is rejected with 415 instead of passing unchecked.
	schemaRequiresJSON bool
	accept             string // accepted types for error messages
}

// NewContentGuard returns the guard that set describes. It fails when a
// media type is malformed or the schema file cannot be read or compiled.
func NewContentGuard(set ContentSettings) (*ContentGuard, error) {
	g := &ContentGuard{accept: strings.Join(set.ContentTypes, ", ")}
	for _, t := range set.ContentTypes {
		t = strings.ToLower(strings.TrimSpace(t))
		slash := strings.IndexByte(t, '/')
		if slash <= 0 || slash == len(t)-1 || strings.ContainsAny(t, " ;,") {
			return nil, fmt.Errorf("content type %q is not a media type; write type/subtype, e.g. application/json", t)
		}
		t = strings.TrimSuffix(t, "*")
		g.types = append(g.types, []byte(t))
	}
	if set.SchemaFile != "" {
		schema, err := compileSchema(set.SchemaFile)
		if err != nil {
			return nil, err
		}
		g.schema = schema
		g.schemaRequiresJSON = true
	}
	return g, nil
}

// compileSchema compiles a JSON Schema file. Remote references are not
// loaded: jsonschema/v6's default loader reads only file URLs.
func compileSchema(path string) (*jsonschema.Schema, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("JSON schema file %s: %w", path, err)
	}
	schema, err := jsonschema.NewCompiler().Compile(abs)
	if err != nil {
		return nil, fmt.Errorf("compile JSON schema file %s: %w", path, err)
	}
	return schema, nil
}

// Check implements Guard.
func (g *ContentGuard) Check(ctx *fasthttp.RequestCtx) *Error {
	mediaType := mediaTypeOf(ctx.Request.Header.ContentType())
	if len(mediaType) == 0 && len(ctx.Request.Body()) == 0 && !expectsBody(ctx) {
		return nil // a GET, HEAD, DELETE or OPTIONS request without content
	}
	if len(g.types) > 0 && !g.accepts(mediaType) {
		return &Error{Status: fasthttp.StatusUnsupportedMediaType, Message: g.unsupportedMessage(mediaType)}
	}
	if !isJSONMediaType(mediaType) {
		if g.schemaRequiresJSON {
			return &Error{Status: fasthttp.StatusUnsupportedMediaType, Message: "this route takes a JSON body; send Content-Type: application/json"}
		}
		return nil
	}
	body := ctx.Request.Body()
	if !json.Valid(body) {
		return &Error{Status: fasthttp.StatusBadRequest, Message: jsonSyntaxMessage(body)}
	}
	if g.schema != nil {
		return g.validate(body)
	}
	return nil
}

// accepts reports whether mediaType is listed, ignoring case.
func (g *ContentGuard) accepts(mediaType []byte) bool {
	for _, t := range g.types {
		if t[len(t)-1] == '/' {
			if len(mediaType) > len(t) && bytes.EqualFold(mediaType[:len(t)], t) {
				return true
			}
		} else if bytes.EqualFold(mediaType, t) {
			return true
		}
	}
	return false
}

func (g *ContentGuard) unsupportedMessage(mediaType []byte) string {
	if len(mediaType) == 0 {
		return "missing Content-Type; this route accepts " + g.accept
	}
	return "content type " + strconv.Quote(string(mediaType)) + " is not accepted; this route accepts " + g.accept
}

// validate checks a well-formed JSON body against the schema.
func (g *ContentGuard) validate(body []byte) *Error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return &Error{Status: fasthttp.StatusBadRequest, Message: "request body is not valid JSON: " + err.Error()}
	}
	err = g.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &Error{Status: fasthttp.StatusBadRequest, Message: "request body does not match the JSON schema", Err: err}
	}
	return &Error{Status: fasthttp.StatusBadRequest, Message: schemaFailureMessage(ve), Err: err}
}

// schemaPrinter formats schema errors in English.
var schemaPrinter = message.NewPrinter(language.English)

// schemaFailureMessage names the first failing instance path, as a JSON
// Pointer (RFC 6901), and what failed there.
func schemaFailureMessage(ve *jsonschema.ValidationError) string {
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	return "request body does not match the JSON schema at " + jsonPointer(leaf.InstanceLocation) +
		": " + leaf.ErrorKind.LocalizedString(schemaPrinter)
}

// jsonPointer writes path as a JSON Pointer: "" for the whole document.
func jsonPointer(path []string) string {
	if len(path) == 0 {
		return `"" (the whole body)`
	}
	var b strings.Builder
	for _, token := range path {
		b.WriteByte('/')
		token = strings.ReplaceAll(token, "~", "~0")
		b.WriteString(strings.ReplaceAll(token, "/", "~1"))
	}
	return b.String()
}

// jsonSyntaxMessage describes why body is not JSON, with the byte offset
// of the error counted from 0. It runs only after json.Valid failed.
func jsonSyntaxMessage(body []byte) string {
	var raw json.RawMessage
	err := json.Unmarshal(body, &raw)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// encoding/json reports the number of bytes read when the error
		// was found, which is one past the offending byte except at the
		// end of input.
		offset := se.Offset
		if offset > 0 && offset <= int64(len(body)) && !strings.Contains(se.Error(), "end of JSON input") {
			offset--
		}
		return "request body is not valid JSON at byte offset " + strconv.FormatInt(offset, 10) + ": " + se.Error()
	}
	if err != nil {
		return "request body is not valid JSON: " + err.Error()
	}
	return "request body is not valid JSON"
}

// mediaTypeOf returns the media type of a Content-Type value, without
// parameters or surrounding spaces. Case is kept, so compare it with
// bytes.EqualFold.
func mediaTypeOf(contentType []byte) []byte {
	if i := bytes.IndexByte(contentType, ';'); i >= 0 {
		contentType = contentType[:i]
	}
	return bytes.TrimSpace(contentType)
}

// expectsBody reports whether the request's method normally carries
// content: POST, PUT or PATCH.
func expectsBody(ctx *fasthttp.RequestCtx) bool {
	return ctx.IsPost() || ctx.IsPut() || ctx.IsPatch()
}

// isJSONMediaType reports whether a media type is JSON.
func isJSONMediaType(t []byte) bool {
	const jsonType, jsonSuffix = "application/json", "+json"
	if len(t) == len(jsonType) {
		return bytes.EqualFold(t, []byte(jsonType))
	}
	return len(t) > len(jsonSuffix) && bytes.EqualFold(t[len(t)-len(jsonSuffix):], []byte(jsonSuffix))
}
