package local

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/elevate-pam/elevate/pkg/manifest"
)

const testIssuer = "http://127.0.0.1:8080/_local"

func newTestAuthority(t *testing.T) *Authority {
	t.Helper()
	a, err := NewAuthority(testIssuer, DefaultAudience)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// recorder is an API function that remembers the last event it got.
type recorder struct {
	calls int
	last  events.APIGatewayV2HTTPRequest
	resp  events.APIGatewayV2HTTPResponse
	err   error
}

func (r *recorder) handle(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	r.calls++
	r.last = ev
	return r.resp, r.err
}

func newTestGateway(a *Authority, rec *recorder) *Gateway {
	fns := map[string]HTTPHandler{}
	for _, f := range manifest.APIFunctions {
		fns[f] = rec.handle
	}
	return &Gateway{Functions: fns, Verifier: a, now: func() time.Time { return time.Unix(1700000000, 0) }}
}

func TestGatewayEvent(t *testing.T) {
	a := newTestAuthority(t)
	tok, _, err := a.Mint("Alice@Example.com", []string{"ops", "elevate-admins"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		method string
		target string
		header map[string][]string
		body   string
		check  func(t *testing.T, ev events.APIGatewayV2HTTPRequest)
	}{
		{
			name: "route key, path parameters, claims", method: "POST", target: "/v1/requests/r1/approve",
			header: map[string][]string{"Authorization": {"Bearer " + tok}, "Content-Type": {"application/json"}},
			body:   `{"comment":"ok"}`,
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				eq(t, "version", ev.Version, "2.0")
				eq(t, "routeKey", ev.RouteKey, "POST /v1/requests/{id}/approve")
				eq(t, "ctx.routeKey", ev.RequestContext.RouteKey, ev.RouteKey)
				eq(t, "rawPath", ev.RawPath, "/v1/requests/r1/approve")
				eq(t, "id", ev.PathParameters["id"], "r1")
				eq(t, "body", ev.Body, `{"comment":"ok"}`)
				eq(t, "base64", ev.IsBase64Encoded, false)
				eq(t, "stage", ev.RequestContext.Stage, "$default")
				eq(t, "method", ev.RequestContext.HTTP.Method, "POST")
				eq(t, "path", ev.RequestContext.HTTP.Path, "/v1/requests/r1/approve")
				eq(t, "sourceIp", ev.RequestContext.HTTP.SourceIP, "192.0.2.1")
				eq(t, "timeEpoch", ev.RequestContext.TimeEpoch, int64(1700000000000))
				if ev.RequestContext.RequestID == "" {
					t.Error("requestId is empty")
				}
				c := ev.RequestContext.Authorizer.JWT.Claims
				eq(t, "email", c["email"], "alice@example.com")
				eq(t, "groups", c["cognito:groups"], "[ops elevate-admins]")
				eq(t, "iss", c["iss"], testIssuer)
				if c["exp"] == "" || strings.ContainsAny(c["exp"], "e.") {
					t.Errorf("exp claim = %q, want integer seconds", c["exp"])
				}
			},
		},
		{
			name: "headers lower-cased, multi-values joined, cookies split", method: "GET", target: "/v1/requests?status=Pending&type=Lockbox&status=Approved",
			header: map[string][]string{"Authorization": {tok}, "X-Multi": {"a", "b"}, "Cookie": {"a=1; b=2"}},
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				eq(t, "x-multi", ev.Headers["x-multi"], "a,b")
				if _, ok := ev.Headers["cookie"]; ok {
					t.Error("cookie header should move to cookies")
				}
				eq(t, "cookies", strings.Join(ev.Cookies, "|"), "a=1|b=2")
				eq(t, "rawQueryString", ev.RawQueryString, "status=Pending&type=Lockbox&status=Approved")
				eq(t, "status", ev.QueryStringParameters["status"], "Pending,Approved")
				eq(t, "type", ev.QueryStringParameters["type"], "Lockbox")
				if ev.PathParameters != nil {
					t.Errorf("pathParameters = %v, want none", ev.PathParameters)
				}
			},
		},
		{
			name: "public route has no authorizer", method: "GET", target: "/v1/links/abc.def",
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				eq(t, "token", ev.PathParameters["token"], "abc.def")
				if ev.RequestContext.Authorizer != nil {
					t.Error("public route got an authorizer context")
				}
				if ev.QueryStringParameters != nil {
					t.Errorf("query = %v, want nil", ev.QueryStringParameters)
				}
			},
		},
		{
			name: "form body stays text", method: "POST", target: "/v1/links/tok",
			header: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}},
			body:   "decision=approve&comment=ok",
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				eq(t, "body", ev.Body, "decision=approve&comment=ok")
				eq(t, "base64", ev.IsBase64Encoded, false)
			},
		},
		{
			name: "binary body is base64", method: "POST", target: "/v1/links/tok",
			header: map[string][]string{"Content-Type": {"application/octet-stream"}},
			body:   "\x00\x01\xff",
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				eq(t, "base64", ev.IsBase64Encoded, true)
				eq(t, "body", ev.Body, base64.StdEncoding.EncodeToString([]byte("\x00\x01\xff")))
			},
		},
		{
			name: "encoded path parameter arrives decoded", method: "PUT", target: "/v1/groups/ops/members/bob%40example.com",
			header: map[string][]string{"Authorization": {"bearer " + tok}},
			check: func(t *testing.T, ev events.APIGatewayV2HTTPRequest) {
				eq(t, "principal", ev.PathParameters["principal"], "bob@example.com")
				eq(t, "name", ev.PathParameters["name"], "ops")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{resp: events.APIGatewayV2HTTPResponse{StatusCode: 200}}
			g := newTestGateway(a, rec)
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			for k, vs := range tc.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			w := httptest.NewRecorder()
			g.ServeHTTP(w, req)
			if w.Code != 200 || rec.calls != 1 {
				t.Fatalf("status %d, calls %d, body %s", w.Code, rec.calls, w.Body)
			}
			tc.check(t, rec.last)
		})
	}
}

func TestGatewayResponse(t *testing.T) {
	a := newTestAuthority(t)
	rec := &recorder{resp: events.APIGatewayV2HTTPResponse{
		StatusCode:        201,
		Headers:           map[string]string{"content-type": "text/html; charset=utf-8", "x-one": "1"},
		MultiValueHeaders: map[string][]string{"x-many": {"a", "b"}},
		Cookies:           []string{"s=1; HttpOnly", "t=2"},
		Body:              base64.StdEncoding.EncodeToString([]byte("<p>hi</p>")),
		IsBase64Encoded:   true,
	}}
	g := newTestGateway(a, rec)
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	res := w.Result()
	eq(t, "status", res.StatusCode, 201)
	eq(t, "content-type", res.Header.Get("Content-Type"), "text/html; charset=utf-8")
	eq(t, "x-one", res.Header.Get("X-One"), "1")
	eq(t, "x-many", strings.Join(res.Header.Values("X-Many"), ","), "a,b")
	eq(t, "cookies", strings.Join(res.Header.Values("Set-Cookie"), "|"), "s=1; HttpOnly|t=2")
	b, _ := io.ReadAll(res.Body)
	eq(t, "body", string(b), "<p>hi</p>")
}

func TestGatewayErrors(t *testing.T) {
	a := newTestAuthority(t)
	cases := []struct {
		name     string
		method   string
		target   string
		err      error
		wantCode int
		wantMsg  string
		calls    int
	}{
		{"unknown path", "GET", "/nope", nil, 404, "Not Found", 0},
		{"wrong method", "DELETE", "/healthz", nil, 404, "Not Found", 0},
		{"handler error hides detail", "GET", "/healthz", errors.New("secret table name"), 500, "Internal Server Error", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{err: tc.err, resp: events.APIGatewayV2HTTPResponse{StatusCode: 200}}
			g := newTestGateway(a, rec)
			w := httptest.NewRecorder()
			g.ServeHTTP(w, httptest.NewRequest(tc.method, tc.target, nil))
			eq(t, "status", w.Code, tc.wantCode)
			eq(t, "body", w.Body.String(), `{"message":"`+tc.wantMsg+`"}`)
			eq(t, "calls", rec.calls, tc.calls)
		})
	}
}

func TestGatewayRefusesTokens(t *testing.T) {
	a := newTestAuthority(t)
	other := newTestAuthority(t)
	now := time.Now().Unix()
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": testIssuer, "aud": DefaultAudience, "email": "alice@example.com", "sub": "alice@example.com", "iat": now, "exp": now + 3600}
	}
	with := func(k string, v any) string {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		tok, err := a.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	forged, err := other.Sign(good())
	if err != nil {
		t.Fatal(err)
	}
	hs, err := jwt.NewWithClaims(jwt.SigningMethodHS256, good()).SignedString([]byte("a-guessable-shared-secret-value!"))
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	valid := with("x", "y")
	cases := []struct {
		name string
		auth string
	}{
		{"no token", ""},
		{"bearer without token", "Bearer "},
		{"garbage", "Bearer not.a.jwt"},
		{"signed by another key", "Bearer " + forged},
		{"HS256", "Bearer " + hs},
		{"alg none", "Bearer " + none},
		{"tampered payload", "Bearer " + tamper(t, valid)},
		{"wrong issuer", "Bearer " + with("iss", "http://evil.example/")},
		{"no issuer", "Bearer " + with("iss", nil)},
		{"wrong audience", "Bearer " + with("aud", "someone-else")},
		{"no audience", "Bearer " + with("aud", nil)},
		{"expired", "Bearer " + with("exp", now-1)},
		{"no exp", "Bearer " + with("exp", nil)},
		{"not yet valid", "Bearer " + with("nbf", now+600)},
		{"issued in the future", "Bearer " + with("iat", now+600)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{resp: events.APIGatewayV2HTTPResponse{StatusCode: 200}}
			g := newTestGateway(a, rec)
			req := httptest.NewRequest("POST", "/v1/authorize", strings.NewReader(`{}`))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			g.ServeHTTP(w, req)
			eq(t, "status", w.Code, 401)
			eq(t, "body", w.Body.String(), `{"message":"Unauthorized"}`)
			eq(t, "handler calls", rec.calls, 0)
		})
	}
	t.Run("control: valid token passes", func(t *testing.T) {
		rec := &recorder{resp: events.APIGatewayV2HTTPResponse{StatusCode: 200}}
		g := newTestGateway(a, rec)
		req := httptest.NewRequest("POST", "/v1/authorize", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+valid)
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		eq(t, "status", w.Code, 200)
		eq(t, "handler calls", rec.calls, 1)
	})
}

// tamper swaps the email in a token's payload, keeping the signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["email"] = "mallory@example.com"
	raw, _ = json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestTokenHandler(t *testing.T) {
	a := newTestAuthority(t)
	h := a.TokenHandler()
	cases := []struct {
		name   string
		method string
		body   string
		want   int
	}{
		{"ok", "POST", `{"principal":"bob@example.com","groups":["ops"]}`, 200},
		{"ok without groups", "POST", `{"principal":"bob@example.com"}`, 200},
		{"GET", "GET", ``, 405},
		{"empty body", "POST", ``, 400},
		{"not an object", "POST", `[]`, 400},
		{"unknown field", "POST", `{"principal":"bob@example.com","admin":true}`, 400},
		{"wrong type", "POST", `{"principal":"bob@example.com","groups":"ops"}`, 400},
		{"missing principal", "POST", `{"groups":["ops"]}`, 400},
		{"not an email", "POST", `{"principal":"bob"}`, 400},
		{"blank group", "POST", `{"principal":"bob@example.com","groups":[" "]}`, 400},
		{"trailing data", "POST", `{"principal":"bob@example.com"} {}`, 400},
		{"too big", "POST", `{"principal":"bob@example.com","groups":["` + strings.Repeat("g", 70<<10) + `"]}`, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tc.method, TokenPath, strings.NewReader(tc.body)))
			eq(t, "status", w.Code, tc.want)
			if tc.want != 200 {
				eq(t, "content-type", w.Header().Get("Content-Type"), "application/problem+json")
				return
			}
			var out tokenResponse
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			claims, err := a.Verify(out.Token)
			if err != nil {
				t.Fatalf("minted token does not verify: %v", err)
			}
			eq(t, "email", claims["email"], "bob@example.com")
			eq(t, "sub", claims["sub"], "bob@example.com")
			eq(t, "aud", claims["aud"], DefaultAudience)
			exp, err := time.Parse(time.RFC3339, out.ExpiresAt)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Until(exp); d < 11*time.Hour || d > 13*time.Hour {
				t.Errorf("expiresAt %v is not about 12 h away", exp)
			}
		})
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
