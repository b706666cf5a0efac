// Package openapitest holds HTTP calls to the API's OpenAPI description
// (pkg/openapi): the local-stack and end-to-end tests put a Checker in front
// of the local gateway (local.Options.Middleware), so every request they
// make, from Go clients, the CLI or Chromium, and every answer, is validated
// with kin-openapi's openapi3filter. A violation fails the test that made
// the call, at its cleanup.
//
// The rules, for one call:
//   - its method and path must be an operation of the document;
//   - the answer's status must be one the operation documents, with the
//     documented content type, headers and body schema (a documented answer
//     without content must have an empty body);
//   - a request the document forbids (a missing or unknown field, a wrong
//     type, a missing token, another media type) must be refused with a 4xx:
//     the API accepting it means the document and the handlers disagree.
//
// Requests the tests send malformed on purpose are therefore fine as long
// as the API refuses them the documented way.
package openapitest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/elevate-pam/elevate/pkg/openapi"
)

func init() {
	// The email-link pages are HTML: read as text, like text/plain.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// Spec is a loaded, validated document and its router.
type Spec struct {
	Doc    *openapi3.T
	router routers.Router
}

var (
	loadOnce sync.Once
	loaded   *Spec
	loadErr  error
)

// Load parses and validates pkg/openapi's document once per binary.
func Load() (*Spec, error) {
	loadOnce.Do(func() { loaded, loadErr = Parse(openapi.Document) })
	return loaded, loadErr
}

// Parse loads a document, checks it with kin-openapi's own Validate and
// builds its router. The servers are dropped from the loaded copy so the
// paths match whatever host the test's stack listens on.
func Parse(doc []byte) (*Spec, error) {
	l := openapi3.NewLoader()
	d, err := l.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("openapitest: load: %w", err)
	}
	if err := d.Validate(l.Context); err != nil {
		return nil, fmt.Errorf("openapitest: the document is not valid: %w", err)
	}
	// The router reads the servers when it matches: this copy has none.
	d.Servers = nil
	r, err := legacy.NewRouter(d)
	if err != nil {
		return nil, fmt.Errorf("openapitest: router: %w", err)
	}
	return &Spec{Doc: d, router: r}, nil
}

// Call is one HTTP exchange as it crossed the wire.
type Call struct {
	Method      string
	URL         *url.URL // path and query
	Header      http.Header
	Body        []byte
	Status      int
	RespHeader  http.Header
	RespBody    []byte
	requestHost string
}

func (c Call) String() string { return c.Method + " " + c.URL.Path }

// ErrUndocumented is the violation of a call to a route the document lacks.
var ErrUndocumented = errors.New("undocumented route")

// Check validates one call against the document and returns every
// violation (nil when there is none).
func (s *Spec) Check(ctx context.Context, c Call) error {
	req := &http.Request{Method: c.Method, URL: c.URL, Header: c.Header, Host: c.requestHost,
		Body: io.NopCloser(bytes.NewReader(c.Body)), ContentLength: int64(len(c.Body))}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s (answered %d)", ErrUndocumented, c.Method, c.URL.Path, c.Status)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true},
	}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	var errs []error
	if reqErr != nil && c.Status < 400 {
		errs = append(errs, fmt.Errorf("%s answered %d to a request the document forbids: %s", c, c.Status, brief(reqErr)))
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 c.Status,
		Header:                 c.RespHeader,
		Body:                   io.NopCloser(bytes.NewReader(c.RespBody)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		errs = append(errs, fmt.Errorf("%s answered %d, not as documented: %s (body %.300q)", c, c.Status, brief(err), c.RespBody))
	} else if r := route.Operation.Responses.Status(c.Status); r != nil && r.Value != nil && len(r.Value.Content) == 0 && len(c.RespBody) > 0 {
		errs = append(errs, fmt.Errorf("%s answered %d with a body the document does not describe: %.300q", c, c.Status, c.RespBody))
	}
	return errors.Join(errs...)
}

// bearerPresent is the request side of the bearer scheme: a token must be
// sent. Whether it is valid is the gateway's to say (401, documented).
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecurityScheme == nil || in.SecurityScheme.Type != "http" || !strings.EqualFold(in.SecurityScheme.Scheme, "bearer") {
		return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
	}
	if strings.TrimSpace(in.RequestValidationInput.Request.Header.Get("Authorization")) == "" {
		return errors.New("no Authorization header")
	}
	return nil
}

// Checker validates every call through its Middleware for one test and
// reports the violations at the test's cleanup.
type Checker struct {
	spec *Spec

	mu         sync.Mutex
	wg         sync.WaitGroup
	calls      int
	violations []string
	probes     map[string]int // "METHOD path" -> undocumented calls still expected
	probed     []string
	ignore     []func(*http.Request) bool
}

// New returns a Checker whose violations fail t when it cleans up. Create it
// before the stack, so its cleanup runs after the stack has stopped.
func New(t testing.TB) *Checker {
	t.Helper()
	c, err := NewChecker()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Report(t) })
	return c
}

// NewChecker returns a Checker that reports only when asked (Report).
func NewChecker() (*Checker, error) {
	s, err := Load()
	if err != nil {
		return nil, err
	}
	return &Checker{spec: s, probes: map[string]int{}}, nil
}

// ExpectUndocumented says the test calls method path, a route the document
// lacks, on purpose (to see it refused): that call is not a violation, but
// it must happen and be answered 4xx, or Report fails the test.
func (c *Checker) ExpectUndocumented(method, path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.probes[method+" "+path]++
}

// Ignore leaves calls for which f is true unchecked: a browser's own
// requests (GET /favicon.ico) are not calls to the API.
func (c *Checker) Ignore(f func(*http.Request) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ignore = append(c.ignore, f)
}

// Middleware validates every call next serves. It passes requests and
// answers through unchanged and checks them after the answer is written.
func (c *Checker) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Counted before the answer can reach the client, so a Wait after
		// it returns covers this call.
		c.wg.Add(1)
		c.mu.Lock()
		ignored := false
		for _, f := range c.ignore {
			ignored = ignored || f(r)
		}
		c.mu.Unlock()
		if ignored {
			c.wg.Done()
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err != nil {
			c.violation(fmt.Sprintf("%s %s: reading the request body: %v", r.Method, r.URL.Path, err))
		}
		call := Call{Method: r.Method, URL: &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
			Header: r.Header.Clone(), Body: body, requestHost: r.Host}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		call.Status, call.RespBody = rec.status, rec.body.Bytes()
		call.RespHeader = rec.header
		if call.RespHeader == nil {
			call.RespHeader = w.Header().Clone()
		}
		// Checked off the request's goroutine: the client has its answer
		// as soon as the handler returns.
		go func() {
			defer c.wg.Done()
			c.Check(call)
		}()
	})
}

// Check validates one call and records its violations.
func (c *Checker) Check(call Call) {
	err := c.spec.Check(context.Background(), call)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if errors.Is(err, ErrUndocumented) {
		key := call.Method + " " + call.URL.Path
		if c.probes[key] > 0 && call.Status >= 400 && call.Status < 500 {
			c.probes[key]--
			c.probed = append(c.probed, key)
			return
		}
	}
	if err != nil {
		c.violations = append(c.violations, err.Error())
	}
}

func (c *Checker) violation(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.violations = append(c.violations, s)
}

// Wait returns once every call served so far is checked.
func (c *Checker) Wait() { c.wg.Wait() }

// Calls is how many calls were checked.
func (c *Checker) Calls() int {
	c.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// Violations are the violations so far, and the expected undocumented calls
// that did not happen.
func (c *Checker) Violations() []string {
	c.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]string(nil), c.violations...)
	for key, n := range c.probes {
		if n > 0 {
			out = append(out, fmt.Sprintf("expected %d more undocumented call(s) %s refused with a 4xx; the checker did not see them", n, key))
		}
	}
	return out
}

// Report fails t with each violation.
func (c *Checker) Report(t testing.TB) {
	t.Helper()
	vs := c.Violations()
	for _, v := range vs {
		t.Errorf("OpenAPI: %s", v)
	}
	if len(vs) > 0 {
		t.Logf("OpenAPI: %d violation(s) in %d call(s); the document is pkg/openapi/openapi.json", len(vs), c.Calls())
	} else {
		t.Logf("OpenAPI: %d call(s) validated", c.Calls())
	}
}

// recorder copies the answer as it passes through.
type recorder struct {
	http.ResponseWriter
	status int
	header http.Header
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.wrote, r.status = true, status
		r.header = r.ResponseWriter.Header().Clone()
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(b)
	r.body.Write(b[:n]) // what reached the client: nothing after a 204
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// FromLambda is the call an API Gateway payload 2.0 event and its Lambda
// answer make on the wire. An event API Gateway authorized (JWT claims)
// stands for a request that carried a bearer token.
func FromLambda(ev events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) (Call, error) {
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	u := &url.URL{RawQuery: ev.RawQueryString}
	p, err := url.PathUnescape(path)
	if err != nil {
		return Call{}, err
	}
	u.Path = p
	if p != path {
		u.RawPath = path
	}
	h := http.Header{}
	for k, v := range ev.Headers {
		h.Set(k, v)
	}
	if a := ev.RequestContext.Authorizer; a != nil && a.JWT != nil && h.Get("Authorization") == "" {
		h.Set("Authorization", "Bearer verified-by-api-gateway")
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return Call{}, err
		}
	}
	rh := http.Header{}
	for k, v := range resp.Headers {
		rh.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			rh.Add(k, v)
		}
	}
	rbody := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if rbody, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return Call{}, err
		}
	}
	if rh.Get("Content-Type") == "" && len(rbody) > 0 {
		// API Gateway's default for a proxy answer without one.
		rh.Set("Content-Type", "application/json")
	}
	return Call{Method: ev.RequestContext.HTTP.Method, URL: u, Header: h, Body: body, Status: resp.StatusCode, RespHeader: rh, RespBody: rbody}, nil
}

// brief renders a validation error without the schema and value dumps
// kin-openapi adds: the reason and where it is.
func brief(err error) string {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		parts := make([]string, 0, len(me))
		for _, e := range me {
			parts = append(parts, brief(e))
		}
		return strings.Join(parts, "; ")
	}
	var se *openapi3.SchemaError
	var re *openapi3filter.RequestError
	var pe *openapi3filter.ResponseError
	var sr *openapi3filter.SecurityRequirementsError
	switch {
	case errors.As(err, &re):
		s := re.Reason
		if re.Parameter != nil {
			s = "parameter " + re.Parameter.Name + " (" + re.Parameter.In + "): " + s
		}
		if re.Err != nil {
			s = strings.TrimPrefix(s+": "+brief(re.Err), ": ")
		}
		return s
	case errors.As(err, &pe):
		if pe.Err != nil {
			return strings.TrimPrefix(pe.Reason+": "+brief(pe.Err), ": ")
		}
		return pe.Reason
	case errors.As(err, &se):
		ptr := "/" + strings.Join(se.JSONPointer(), "/")
		return "at " + ptr + ": " + se.Reason
	case errors.As(err, &sr):
		return "security: " + sr.Error()
	}
	return err.Error()
}
