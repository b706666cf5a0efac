// Package local is Elevate's local runtime: an HTTP gateway that turns
// requests into API Gateway v2 events for the very handlers the Lambdas run, a
// local JWT issuer standing in for the identity provider, a DynamoDB stream
// poller standing in for Lambda's event source mapping, and Start, which runs
// all of it against DynamoDB Local, the SES v2 emulator and an in-process S3.
package local

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/manifest"
)

// HTTPHandler is the shape of an API Lambda's handler (httpapi.Handler).
type HTTPHandler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// TokenVerifier checks a bearer token and returns its claims as strings.
type TokenVerifier interface {
	Verify(raw string) (map[string]string, error)
}

// API Gateway's payload limit; the handlers enforce their own, smaller one.
const maxPayload = 10 << 20

// Fake identifiers of the stage the events claim to come from.
const (
	localAccountID = "000000000000"
	localAPIID     = "elevatelocal"
)

// Gateway serves HTTP like an API Gateway HTTP API with a JWT authorizer on
// every non-public route of manifest.All.
type Gateway struct {
	Functions map[string]HTTPHandler // keyed by routes function name
	Verifier  TokenVerifier
	Log       *slog.Logger
	// Timeouts overrides a function's timeout (budget.Timeouts by default),
	// so tests can stall a dependency past it in seconds.
	Timeouts map[string]time.Duration
	now      func() time.Time
}

func (g *Gateway) log() *slog.Logger {
	if g.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Log
}

func (g *Gateway) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

// ServeHTTP routes, authorizes, converts and dispatches one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, params, ok := manifest.Match(r.Method, r.URL.Path)
	if !ok {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	fn := g.Functions[route.Function]
	if fn == nil {
		g.log().Error("no handler for function", "function", route.Function, "route", route.RouteKey())
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	var claims map[string]string
	if !route.Public {
		c, err := g.authorize(r)
		if err != nil {
			writeMessage(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		claims = c
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > maxPayload {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	ev := toEvent(r, route, params, body, claims, g.clock())
	// A Lambda invocation runs on when its caller hangs up.
	resp, err := invoke(context.WithoutCancel(r.Context()), route.Function, timeoutOf(g.Timeouts, route.Function), ev.RequestContext.RequestID, g.log(), ev, fn)
	if errors.Is(err, errTaskTimedOut) {
		// API Gateway's answer when its Lambda times out: the function
		// failed, and the caller learns nothing more.
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	if err != nil {
		// A Lambda returning an error surfaces as API Gateway's 500; the
		// error itself only goes to the log.
		g.log().Error("handler failed", "function", route.Function, "route", route.RouteKey(), "requestId", ev.RequestContext.RequestID, "error", err)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	writeResponse(w, resp, g.log())
}

// authorize reads the identity source ($request.header.Authorization). API
// Gateway accepts the token with or without the Bearer prefix.
func (g *Gateway) authorize(r *http.Request) (map[string]string, error) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if h == "" || g.Verifier == nil {
		return nil, ErrUnauthorized
	}
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		h = strings.TrimSpace(h[7:])
	}
	return g.Verifier.Verify(h)
}

// toEvent builds the payload format 2.0 event API Gateway would send.
func toEvent(r *http.Request, route manifest.Route, params map[string]string, body []byte, claims map[string]string, now time.Time) events.APIGatewayV2HTTPRequest {
	headers := map[string]string{}
	var cookies []string
	for name, values := range r.Header {
		lname := strings.ToLower(name)
		if lname == "cookie" {
			for _, v := range values {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lname] = strings.Join(values, ",")
	}
	host := r.Host
	headers["host"] = host
	if r.ContentLength > 0 {
		headers["content-length"] = strconv.FormatInt(r.ContentLength, 10)
	}
	sourceIP := r.RemoteAddr
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = h
	}
	headers["x-forwarded-for"] = sourceIP
	headers["x-forwarded-proto"] = "http"
	if _, port, err := net.SplitHostPort(host); err == nil {
		headers["x-forwarded-port"] = port
	}
	domain := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		domain = h
	}
	reqID := newRequestID()

	var query map[string]string
	if qs, err := url.ParseQuery(r.URL.RawQuery); err == nil && len(qs) > 0 {
		query = make(map[string]string, len(qs))
		for k, vs := range qs {
			query[k] = strings.Join(vs, ",")
		}
	}

	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              route.RouteKey(),
		RawPath:               r.URL.Path,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     route.RouteKey(),
			AccountID:    localAccountID,
			Stage:        "$default",
			RequestID:    reqID,
			APIID:        localAPIID,
			DomainName:   domain,
			DomainPrefix: strings.SplitN(domain, ".", 2)[0],
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if claims != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: claims,
				Scopes: scopes(claims),
			},
		}
	}
	if len(body) > 0 {
		if isText(headers["content-type"]) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// scopes are the space-separated "scope" claim, as API Gateway lists them.
func scopes(claims map[string]string) []string {
	s := strings.Fields(claims["scope"])
	if len(s) == 0 {
		return nil
	}
	return s
}

// isText mirrors API Gateway's rule: text/*, JSON, XML, JavaScript and form
// bodies pass as text; anything else (or no content type) is base64.
func isText(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript",
		mt == "application/x-www-form-urlencoded":
		return true
	}
	return false
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeResponse maps a Lambda proxy response back to HTTP.
func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse, log *slog.Logger) {
	h := w.Header()
	names := make([]string, 0, len(resp.Headers))
	for k := range resp.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		h.Set(k, resp.Headers[k])
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			log.Error("handler returned invalid base64 body", "error", err)
			writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
			return
		}
		body = b
	}
	if h.Get("Content-Type") == "" && len(body) > 0 {
		// API Gateway's default for a proxy response without one.
		h.Set("Content-Type", "application/json")
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeMessage is API Gateway's own error shape.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"message":"`+msg+`"}`)
}
