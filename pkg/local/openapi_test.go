package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/httpapi"
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/openapi/openapitest"
)

// checkers are the OpenAPI checkers of the running test stacks.
var checkers sync.Map // *Stack -> *openapitest.Checker

// withOpenAPI puts an OpenAPI checker in front of the stack's API: every
// call the test makes through the gateway, and every answer, is validated
// against pkg/openapi/openapi.json, and a violation fails the test at its
// cleanup (which runs after the stack's, registered later, has stopped it).
func withOpenAPI(t *testing.T, o Options) (Options, *openapitest.Checker) {
	t.Helper()
	c := openapitest.New(t)
	o.Middleware = c.Middleware
	return o, c
}

// checked remembers st's checker for tests that probe undocumented routes.
func checked(st *Stack, c *openapitest.Checker) *Stack {
	if st != nil {
		checkers.Store(st, c)
	}
	return st
}

// checkerOf is the checker in front of st.
func checkerOf(t *testing.T, st *Stack) *openapitest.Checker {
	t.Helper()
	c, ok := checkers.Load(st)
	if !ok {
		t.Fatal("the stack has no OpenAPI checker")
	}
	return c.(*openapitest.Checker)
}

// TestOpenAPICheckerCatchesAWrongHandler: the checker sits where the stack
// tests put it, in front of the gateway. The real handler passes; the same
// handler made to drop a required field, add one, or answer a status the
// document lacks is a violation, which fails the test that made the call.
func TestOpenAPICheckerCatchesAWrongHandler(t *testing.T) {
	right := httpapi.New(manifest.Authorize, httpapi.Deps{Service: &app.Service{}})
	cases := []struct {
		name   string
		mutate func(*events.APIGatewayV2HTTPResponse)
		want   string
	}{
		{"as the handler answers", func(*events.APIGatewayV2HTTPResponse) {}, ""},
		{"a required field dropped", func(r *events.APIGatewayV2HTTPResponse) { r.Body = `{}` }, "status"},
		{"a field the document lacks", func(r *events.APIGatewayV2HTTPResponse) { r.Body = `{"status":"ok","version":"1.2"}` }, "version"},
		{"an undocumented status", func(r *events.APIGatewayV2HTTPResponse) { r.StatusCode = http.StatusAccepted }, "status is not supported"},
		{"a problem instead of the answer", func(r *events.APIGatewayV2HTTPResponse) {
			r.StatusCode, r.Headers["Content-Type"], r.Body = 503, "application/problem+json", `{"type":"https://elevate.dev/problems/unavailable","title":"Service Unavailable","status":503,"detail":"later","code":"unavailable"}`
		}, "answered 503, not as documented"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wrong := func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				resp, err := right(ctx, ev)
				tc.mutate(&resp)
				return resp, err
			}
			c, err := openapitest.NewChecker()
			if err != nil {
				t.Fatal(err)
			}
			gw := &Gateway{Functions: map[string]HTTPHandler{manifest.Authorize: wrong}}
			srv := httptest.NewServer(c.Middleware(gw))
			defer srv.Close()
			for _, path := range []string{"/healthz", "/v1/openapi.json"} {
				resp, err := http.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			vs := c.Violations()
			switch {
			case tc.want == "" && len(vs) != 0:
				t.Errorf("violations of the real handler: %q", vs)
			case tc.want != "" && (len(vs) != 2 || !strings.Contains(vs[0]+vs[1], tc.want)):
				t.Errorf("violations %q, want two naming %q", vs, tc.want)
			}
		})
	}
}
