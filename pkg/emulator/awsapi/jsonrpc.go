// Package awsapi serves in-process AWS endpoints that have no emulator on
// these machines (STS, IAM, IAM Identity Center's sso-admin, Identity
// Store), in each service's real wire protocol, so the code under test
// reaches them only through the real aws-sdk-go-v2 clients.
package awsapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// maxJSONBody bounds a request body; AWS refuses far smaller ones for every
// operation served here.
const maxJSONBody = 1 << 20

// Error is an AWS error as the JSON protocols carry it: the shape name in
// __type (and X-Amzn-ErrorType), a message, and the HTTP status the
// service's model gives that shape.
type Error struct {
	Status  int
	Type    string
	Message string
	// Reason is the optional machine-readable reason some shapes carry.
	Reason string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// The error shapes shared by sso-admin and Identity Store, with their
// modelled status codes.
func validationError(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "ValidationException", Message: msg}
}
func notFoundError(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Type: "ResourceNotFoundException", Message: msg}
}
func conflictError(msg string) *Error {
	return &Error{Status: http.StatusConflict, Type: "ConflictException", Message: msg}
}
func throttlingError() *Error {
	return &Error{Status: http.StatusTooManyRequests, Type: "ThrottlingException", Message: "Rate exceeded"}
}
func accessDeniedError(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Type: "AccessDeniedException", Message: msg}
}

// jsonOp handles one operation's body and returns the response shape.
type jsonOp func(body []byte) (any, error)

// JSONService serves one AWS JSON 1.1 service: POST / with X-Amz-Target
// "<Prefix>.<Operation>" and Content-Type application/x-amz-json-1.1.
// Signature verification is the enclosing server's job (sigv4.go).
type JSONService struct {
	Prefix string
	ops    map[string]jsonOp
	Faults *Faults
}

func newJSONService(prefix string) *JSONService {
	return &JSONService{Prefix: prefix, ops: map[string]jsonOp{}, Faults: &Faults{}}
}

// ServeHTTP decodes the target, runs the operation and writes its JSON
// response or its AWS error shape.
func (s *JSONService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("X-Amzn-RequestId", reqID)
	out, err := s.serve(r)
	if err != nil {
		var ae *Error
		if !errors.As(err, &ae) {
			ae = &Error{Status: http.StatusInternalServerError, Type: "InternalServerException", Message: "internal error"}
		}
		body := map[string]string{"__type": ae.Type, "Message": ae.Message}
		if ae.Reason != "" {
			body["Reason"] = ae.Reason
		}
		w.Header().Set("X-Amzn-ErrorType", ae.Type)
		writeJSON(w, ae.Status, body)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *JSONService) serve(r *http.Request) (any, error) {
	if r.Method != http.MethodPost {
		return nil, &Error{Status: http.StatusMethodNotAllowed, Type: "UnknownOperationException", Message: "only POST is served"}
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-amz-json-1.1") {
		return nil, &Error{Status: http.StatusBadRequest, Type: "SerializationException", Message: "Content-Type must be application/x-amz-json-1.1"}
	}
	prefix, op, ok := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	handler := s.ops[op]
	if !ok || prefix != s.Prefix || handler == nil {
		return nil, &Error{Status: http.StatusBadRequest, Type: "UnknownOperationException", Message: "unknown operation " + r.Header.Get("X-Amz-Target")}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil || len(body) > maxJSONBody {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Type: "SerializationException", Message: "request body too large or unreadable"}
	}
	if err := s.Faults.before(op); err != nil {
		return nil, err
	}
	return handler(body)
}

// Route serves several JSON 1.1 services on one endpoint, by the prefix of
// X-Amz-Target, as AWS's regional endpoints are told apart by host.
func Route(services ...*JSONService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix, _, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		for _, s := range services {
			if s.Prefix == prefix {
				s.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("X-Amzn-ErrorType", "UnknownOperationException")
		writeJSON(w, http.StatusBadRequest, map[string]string{"__type": "UnknownOperationException", "Message": "unknown target"})
	})
}

// decodeInput reads a JSON body into in; malformed JSON is the protocol's
// SerializationException.
func decodeInput(body []byte, in any) error {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, in); err != nil {
		return &Error{Status: http.StatusBadRequest, Type: "SerializationException", Message: "malformed request body"}
	}
	return nil
}

// handle registers an operation whose input decodes into I.
func handle[I any](s *JSONService, op string, fn func(I) (any, error)) {
	s.ops[op] = func(body []byte) (any, error) {
		var in I
		if err := decodeInput(body, &in); err != nil {
			return nil, err
		}
		return fn(in)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
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
		return throttlingError()
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
			return nil, nil, validationError("MaxResults must be between 1 and 100")
		}
		limit = *maxResults
	}
	start := 0
	if token != nil && *token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(*token)
		n, cerr := strconv.Atoi(string(raw))
		if err != nil || cerr != nil || n < 0 || n > len(items) {
			return nil, nil, validationError("invalid NextToken")
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
