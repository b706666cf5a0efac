package httpapi

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/openapi"
	"github.com/elevate-pam/elevate/pkg/openapi/openapitest"
)

// Every route of pkg/manifest is an operation of the OpenAPI document, with
// the function that serves it (x-elevate-function) and no security exactly
// when it is public; and the document has no operation the API lacks.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	s, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	inManifest := map[string]manifest.Route{}
	for _, r := range manifest.All {
		inManifest[r.RouteKey()] = r
	}
	inDoc := map[string]bool{}
	for path, item := range s.Doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			inDoc[key] = true
			r, ok := inManifest[key]
			if !ok {
				t.Errorf("the document has %s, which no route of pkg/manifest serves", key)
				continue
			}
			if fn, _ := op.Extensions["x-elevate-function"].(string); fn != r.Function {
				t.Errorf("%s: x-elevate-function %q, the manifest says %q", key, fn, r.Function)
			}
			public := op.Security != nil && len(*op.Security) == 0
			if public != r.Public {
				t.Errorf("%s: public in the document %v, in the manifest %v", key, public, r.Public)
			}
			if _, ok := allEndpoints[key]; !ok {
				t.Errorf("%s has no endpoint", key)
			}
		}
	}
	for key := range inManifest {
		if !inDoc[key] {
			t.Errorf("route %s is not in the OpenAPI document", key)
		}
	}
	if len(s.Doc.Security) != 1 || s.Doc.Security[0]["bearer"] == nil {
		t.Errorf("the document's default security is %v, want the bearer JWT", s.Doc.Security)
	}
}

// The problem codes the document lists for each status are exactly those
// the API can return with it (the source scan of problemcodes_test.go), plus
// the reasons authorize gives, which the credentials route returns as 409
// codes.
func TestOpenAPIListsEveryProblemCode(t *testing.T) {
	s, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int][]string{}
	for code, kinds := range problemCodes(t) {
		for _, k := range kinds {
			p, _ := ProblemFor(k)
			want[p.Status] = append(want[p.Status], code)
		}
	}
	for _, r := range []elevate.Reason{elevate.ReasonDisabled, elevate.ReasonSystemAccount, elevate.ReasonNoPolicy, elevate.ReasonApprovalRequired, elevate.ReasonNotYetActive, elevate.ReasonPolicyChanged} {
		want[http.StatusConflict] = append(want[http.StatusConflict], string(r))
	}
	for status, codes := range want {
		sort.Strings(codes)
		codes = slices.Compact(codes)
		ref := s.Doc.Components.Schemas["Problem"+strconv.Itoa(status)]
		if ref == nil || ref.Value == nil || ref.Value.Properties["code"] == nil {
			t.Errorf("the document has no Problem%d with a code", status)
			continue
		}
		var got []string
		for _, v := range ref.Value.Properties["code"].Value.Enum {
			got = append(got, v.(string))
		}
		sort.Strings(got)
		if !slices.Equal(got, codes) {
			t.Errorf("Problem%d codes in the document %v, the API returns %v", status, got, codes)
		}
	}
}

// GET /v1/openapi.json answers the document, byte for byte, without a token.
func TestOpenAPIServed(t *testing.T) {
	h := New(manifest.Authorize, Deps{Service: &app.Service{}})
	resp, err := h(t.Context(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /v1/openapi.json", RawPath: "/v1/openapi.json",
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/v1/openapi.json"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Headers["Content-Type"] != "application/json" || resp.Body != string(openapi.Document) {
		t.Errorf("status %d, content type %q, %d bytes (the document has %d)", resp.StatusCode, resp.Headers["Content-Type"], len(resp.Body), len(openapi.Document))
	}
}
