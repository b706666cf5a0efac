// Package httpapi is the HTTP driving adapter: it turns API Gateway HTTP API
// (payload 2.0) events into calls on app.Service and the results into JSON or,
// for the email-link page, HTML responses. The Lambda functions and the local
// gateway run the very same handlers.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/linktoken"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// Handler is the Lambda handler signature of an HTTP function.
type Handler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Deps are what the handlers need. Links is required only by the approvals
// function (the email-link page); Log defaults to slog.Default.
type Deps struct {
	Service *app.Service
	Links   *linktoken.Signer
	Log     *slog.Logger

	// Identity is which verified tokens name a caller (email_verified).
	Identity IdentityPolicy
}

// call is one request in flight.
type call struct {
	ctx    context.Context
	req    *events.APIGatewayV2HTTPRequest
	route  manifest.Route
	params map[string]string
	caller app.Caller
	// link is the approval link's verified claims, once verified (also when
	// it has expired): the principal of a refusal on the link page.
	link *app.LinkClaims
}

type endpoint func(*server, *call) (events.APIGatewayV2HTTPResponse, error)

type server struct {
	function  string
	deps      Deps
	log       *slog.Logger
	endpoints map[string]endpoint
}

// New returns the handler of one API function (manifest.Policies, Requests,
// Approvals or Authorize). A route that belongs to another function answers
// 404, as it would if API Gateway were misconfigured to send it here.
func New(function string, d Deps) Handler {
	s := &server{function: function, deps: d, log: d.Log, endpoints: map[string]endpoint{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, r := range manifest.All {
		if r.Function != function {
			continue
		}
		if e, ok := allEndpoints[r.RouteKey()]; ok {
			s.endpoints[r.RouteKey()] = e
		}
	}
	return s.handle
}

// resolve finds the route: API Gateway (and the local gateway) fill RouteKey
// and PathParameters; hand-made events may carry only the method and path.
func resolve(req *events.APIGatewayV2HTTPRequest) (manifest.Route, map[string]string, bool) {
	key := req.RouteKey
	if key == "" || key == "$default" {
		key = req.RequestContext.RouteKey
	}
	if key == "" || key == "$default" {
		return matchPath(req)
	}
	for _, r := range manifest.All {
		if r.RouteKey() != key {
			continue
		}
		if len(req.PathParameters) > 0 || !strings.Contains(r.Path, "{") {
			return r, req.PathParameters, true
		}
		// A parameterised route without its parameters: read them from the
		// path, which must then match the same route.
		m, params, ok := matchPath(req)
		return m, params, ok && m.RouteKey() == key
	}
	return manifest.Route{}, nil, false
}

func matchPath(req *events.APIGatewayV2HTTPRequest) (manifest.Route, map[string]string, bool) {
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	r, params, ok := manifest.Match(req.RequestContext.HTTP.Method, path)
	if !ok {
		return r, nil, false
	}
	for k, v := range params {
		u, err := url.PathUnescape(v)
		if err != nil {
			return manifest.Route{}, nil, false
		}
		params[k] = u
	}
	return r, params, true
}

func (s *server) handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, _ error) {
	start := time.Now()
	// Every store and AWS call of this invocation ends before its deadline,
	// leaving the margin to answer: a stalled dependency becomes a 503 from
	// us, not a timeout from Lambda and a generic error from API Gateway.
	ctx, cancel := budget.Invocation(ctx, s.function)
	defer cancel()
	c := &call{ctx: ctx, req: &req}
	routeKey := "unmatched"
	defer func() {
		if v := recover(); v != nil {
			// A panic is a bug; answer like any internal error instead of
			// letting the runtime drop the connection.
			s.log.ErrorContext(ctx, "panic in handler", "requestId", req.RequestContext.RequestID, "route", routeKey, "panic", v)
			resp = s.fail(c, errPanic)
		}
		// The raw path is never logged: on link routes it holds the token.
		s.log.InfoContext(ctx, "request",
			"requestId", req.RequestContext.RequestID,
			"function", s.function,
			"route", routeKey,
			"status", resp.StatusCode,
			"latencyMs", float64(time.Since(start).Microseconds())/1000)
	}()

	r, params, ok := resolve(&req)
	e, mine := s.endpoints[r.RouteKey()]
	if !ok || !mine {
		return s.fail(c, notFound("no such route")), nil
	}
	routeKey = r.RouteKey()
	c.route, c.params = r, params
	if !r.Public {
		caller, err := s.deps.Identity.Caller(&req)
		if err != nil {
			return s.fail(c, err), nil
		}
		c.caller = caller
	}
	out, err := e(s, c)
	if err != nil {
		return s.fail(c, err), nil
	}
	return out, nil
}

var errPanic = errors.New("handler panicked")

// fail renders err as problem+json and logs what must not be shown.
func (s *server) fail(c *call, err error) events.APIGatewayV2HTTPResponse {
	p, internal := ProblemFor(err)
	if internal {
		s.log.ErrorContext(c.ctx, "request failed", "requestId", c.req.RequestContext.RequestID, "route", c.route.RouteKey(), "status", p.Status, "error", err.Error())
	}
	if code, ok := app.RefusalCode(err); ok && c.caller.Principal != "" {
		s.auditRefusal(c, app.Refusal{Actor: c.caller.Principal, Code: code, Status: p.Status})
	}
	b, _ := json.Marshal(p)
	h := jsonHeaders("application/problem+json")
	if p.Status == http.StatusServiceUnavailable {
		// Nothing was written; tell clients when trying again makes sense.
		h["Retry-After"] = retryAfterSeconds
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: p.Status, Headers: h, Body: string(b)}
}

// retryAfterSeconds is the Retry-After of every 503: DynamoDB throttling, a
// ticket system that is down and a dependency that stalled past the
// function's deadline all clear on that scale.
const retryAfterSeconds = "5"

func jsonHeaders(ct string) map[string]string {
	return map[string]string{
		"Content-Type":           ct,
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	}
}

// reply renders v as JSON with status.
func reply(status int, v any) (events.APIGatewayV2HTTPResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: jsonHeaders("application/json"), Body: string(b)}, nil
}

func noContent() (events.APIGatewayV2HTTPResponse, error) {
	h := jsonHeaders("application/json")
	delete(h, "Content-Type")
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNoContent, Headers: h}, nil
}
