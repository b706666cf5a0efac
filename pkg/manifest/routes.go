package manifest

// Route is one API Gateway route. Path uses API Gateway's {param} syntax.
type Route struct {
	Method   string
	Path     string
	Function string
	// Public routes skip the JWT authorizer: the email-link page carries its
	// own signed token, and health checks carry nothing.
	Public bool
}

// All is every route of HTTP API v1.
var All = []Route{
	{"GET", "/healthz", Authorize, true},
	// The API's OpenAPI description (pkg/httpapi/openapi.json): public, the
	// same for every caller, and needed before a client has a token.
	{"GET", "/v1/openapi.json", Authorize, true},

	{"GET", "/v1/settings", Policies, false},
	{"PATCH", "/v1/settings", Policies, false},
	{"POST", "/v1/groups", Policies, false},
	{"GET", "/v1/groups", Policies, false},
	{"GET", "/v1/groups/{name}", Policies, false},
	{"DELETE", "/v1/groups/{name}", Policies, false},
	{"PUT", "/v1/groups/{name}/members/{principal}", Policies, false},
	{"DELETE", "/v1/groups/{name}/members/{principal}", Policies, false},
	{"POST", "/v1/policies", Policies, false},
	{"GET", "/v1/policies", Policies, false},
	{"GET", "/v1/policies/{id}", Policies, false},
	{"PUT", "/v1/policies/{id}", Policies, false},
	{"DELETE", "/v1/policies/{id}", Policies, false},

	{"POST", "/v1/requests", Requests, false},
	{"GET", "/v1/requests", Requests, false},
	{"GET", "/v1/requests/{id}", Requests, false},
	{"POST", "/v1/requests/{id}/cancel", Requests, false},
	// Extensions (F14).
	{"POST", "/v1/requests/{id}/extend", Requests, false},

	{"POST", "/v1/requests/{id}/approve", Approvals, false},
	{"POST", "/v1/requests/{id}/deny", Approvals, false},
	{"POST", "/v1/requests/{id}/revoke", Approvals, false},
	{"GET", "/v1/links/{token}", Approvals, true},
	{"POST", "/v1/links/{token}", Approvals, true},

	{"POST", "/v1/authorize", Authorize, false},

	{"POST", "/v1/requests/{id}/ratify", Approvals, false},

	// Self-service, so not on the admin-only policies function.
	// AWS credentials for a live grant (v1.2).
	{"POST", "/v1/requests/{id}/credentials", Credentials, false},

	{"PUT", "/v1/delegations/{principal}", Requests, false},
	{"GET", "/v1/delegations", Requests, false},
	{"DELETE", "/v1/delegations/{principal}", Requests, false},

	// Break-glass holds (issue 16 item 5): admins list who is held from
	// break-glass and release a block.
	{"GET", "/v1/break-glass/holds", Policies, false},
	{"DELETE", "/v1/break-glass/holds/{principal}", Policies, false},
}

// RouteKey is API Gateway's "METHOD /path" form.
func (r Route) RouteKey() string { return r.Method + " " + r.Path }

// Match finds the route for a concrete method and path and extracts its
// path parameters, as API Gateway does. Parameters are returned still
// percent-encoded only where the caller passed them so.
func Match(method, path string) (Route, map[string]string, bool) {
	for _, r := range All {
		if r.Method != method {
			continue
		}
		if params, ok := matchPath(r.Path, path); ok {
			return r, params, true
		}
	}
	return Route{}, nil, false
}

func matchPath(pattern, path string) (map[string]string, bool) {
	ps, xs := split(pattern), split(path)
	if len(ps) != len(xs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range ps {
		if len(p) > 2 && p[0] == '{' && p[len(p)-1] == '}' {
			if xs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[p[1:len(p)-1]] = xs[i]
			continue
		}
		if p != xs[i] {
			return nil, false
		}
	}
	return params, true
}

func split(p string) []string {
	var parts []string
	start := 1
	for i := 1; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			parts = append(parts, p[start:i])
			start = i + 1
		}
	}
	return parts
}
