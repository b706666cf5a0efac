package awsapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// The JSON 1.1 error shapes sso-admin and Identity Store share, with the
// HTTP status each service's model gives them.
func jsonValidation(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "ValidationException", Message: msg, Sender: true}
}
func jsonNotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "ResourceNotFoundException", Message: msg, Sender: true}
}
func jsonConflict(msg string) *Error {
	return &Error{Status: http.StatusConflict, Code: "ConflictException", Message: msg, Sender: true}
}
func jsonThrottling() *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: "ThrottlingException", Message: "Rate exceeded", Sender: true}
}
func jsonAccessDenied(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "AccessDeniedException", Message: msg, Sender: true}
}
func jsonSerialization(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "SerializationException", Message: msg, Sender: true}
}

// jsonOp handles one operation's body, under the call's context, and
// returns the response shape.
type jsonOp func(ctx context.Context, body []byte) (any, error)

// JSONService is one AWS JSON 1.1 service behind the Server (which has
// verified the signature): a POST of application/x-amz-json-1.1 whose
// X-Amz-Target is "<Prefix>.<Operation>".
type JSONService struct {
	Prefix string
	ops    map[string]jsonOp
	// Faults injects throttling and errors into the next calls.
	Faults *Faults
}

var _ Handler = (*JSONService)(nil)

func newJSONService(prefix string) *JSONService {
	return &JSONService{Prefix: prefix, ops: map[string]jsonOp{}, Faults: &Faults{}}
}

// ServeAWS runs the operation the target names and writes its JSON
// response, or its error in the protocol's shape (__type).
func (s *JSONService) ServeAWS(w http.ResponseWriter, c *Call) {
	out, err := s.serve(c)
	if err != nil {
		WriteError(w, ProtocolJSON, c.RequestID, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(out)
}

func (s *JSONService) serve(c *Call) (any, error) {
	if ct := c.HTTP.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-amz-json-1.1") {
		return nil, jsonSerialization("Content-Type must be application/x-amz-json-1.1")
	}
	target := c.HTTP.Header.Get("X-Amz-Target")
	prefix, op, ok := strings.Cut(target, ".")
	handler := s.ops[op]
	if !ok || prefix != s.Prefix || handler == nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: "UnknownOperationException", Message: "unknown operation " + target, Sender: true}
	}
	if err := s.Faults.before(op); err != nil {
		return nil, err
	}
	return handler(c.HTTP.Context(), c.Body)
}

// decodeInput reads a JSON body into in; malformed JSON is the protocol's
// SerializationException.
func decodeInput(body []byte, in any) error {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, in); err != nil {
		return jsonSerialization("malformed request body")
	}
	return nil
}

// handle registers an operation whose input decodes into I.
func handle[I any](s *JSONService, op string, fn func(I) (any, error)) {
	handleContext(s, op, func(_ context.Context, in I) (any, error) { return fn(in) })
}

// handleContext registers an operation that needs the call's context (one
// that calls out while the call is open).
func handleContext[I any](s *JSONService, op string, fn func(context.Context, I) (any, error)) {
	s.ops[op] = func(ctx context.Context, body []byte) (any, error) {
		var in I
		if err := decodeInput(body, &in); err != nil {
			return nil, err
		}
		return fn(ctx, in)
	}
}

// Faults injects the failures callers must survive: throttling and any
// error shape on chosen operations, for the next n calls.
type Faults struct {
	mu       sync.Mutex
	throttle int
	failures map[string][]*Error
}

// Throttle makes the next n calls, of any operation, fail with
// ThrottlingException.
func (f *Faults) Throttle(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle = n
}

// Fail makes the next n calls of op fail with e.
func (f *Faults) Fail(op string, n int, e *Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures == nil {
		f.failures = map[string][]*Error{}
	}
	for range n {
		f.failures[op] = append(f.failures[op], e)
	}
}

func (f *Faults) before(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttle > 0 {
		f.throttle--
		return jsonThrottling()
	}
	if q := f.failures[op]; len(q) > 0 {
		f.failures[op] = q[1:]
		return q[0]
	}
	return nil
}

// page slices items for the NextToken/MaxResults pagination AWS's list
// operations share: the token is an opaque offset.
func page[T any](items []T, maxResults *int, token *string) ([]T, *string, error) {
	limit := 100
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 100 {
			return nil, nil, jsonValidation("MaxResults must be between 1 and 100")
		}
		limit = *maxResults
	}
	start := 0
	if token != nil && *token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(*token)
		n, cerr := strconv.Atoi(string(raw))
		if err != nil || cerr != nil || n < 0 || n > len(items) {
			return nil, nil, jsonValidation("invalid NextToken")
		}
		start = n
	}
	end := min(start+limit, len(items))
	var next *string
	if end < len(items) {
		t := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		next = &t
	}
	return items[start:end], next, nil
}
