package httpapi

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

type response = events.APIGatewayV2HTTPResponse

// allEndpoints implements every route of manifest.All, keyed by route key; New
// keeps those of one function.
var allEndpoints = map[string]endpoint{
	"GET /healthz": func(*server, *call) (response, error) { return reply(http.StatusOK, map[string]string{"status": "ok"}) },

	"GET /v1/openapi.json": openAPIDocument,

	"GET /v1/settings":   getSettings,
	"PATCH /v1/settings": patchSettings,

	"POST /v1/groups":                              createGroup,
	"GET /v1/groups":                               listGroups,
	"GET /v1/groups/{name}":                        getGroup,
	"DELETE /v1/groups/{name}":                     deleteGroup,
	"PUT /v1/groups/{name}/members/{principal}":    func(s *server, c *call) (response, error) { return changeMember(s, c, true) },
	"DELETE /v1/groups/{name}/members/{principal}": func(s *server, c *call) (response, error) { return changeMember(s, c, false) },
	"POST /v1/policies":                            createPolicy,
	"GET /v1/policies":                             listPolicies,
	"GET /v1/policies/{id}":                        getPolicy,
	"PUT /v1/policies/{id}":                        putPolicy,
	"DELETE /v1/policies/{id}":                     deletePolicy,
	"POST /v1/requests":                            submitRequest,
	"GET /v1/requests":                             listRequests,
	"GET /v1/requests/{id}":                        getRequest,
	"POST /v1/requests/{id}/cancel":                decision(app.Cancel),
	"POST /v1/requests/{id}/approve":               decision(app.Approve),
	"POST /v1/requests/{id}/deny":                  decision(app.Deny),
	"POST /v1/requests/{id}/revoke":                decision(app.Revoke),
	"GET /v1/links/{token}":                        linkPage,
	"POST /v1/links/{token}":                       linkDecide,
	"POST /v1/authorize":                           authorize,

	// Extensions (F14).
	"POST /v1/requests/{id}/extend": extendRequest,

	"POST /v1/requests/{id}/ratify": decision(app.Ratify),

	"POST /v1/requests/{id}/credentials": issueCredentials,

	"PUT /v1/delegations/{principal}":    putDelegation,
	"GET /v1/delegations":                listDelegations,
	"DELETE /v1/delegations/{principal}": deleteDelegation,

	"GET /v1/break-glass/holds":                listBreakGlassHolds,
	"DELETE /v1/break-glass/holds/{principal}": clearBreakGlassHold,
}

// List is the body of every collection response.
type List[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

// DecisionInput is the body of approve, deny, revoke and cancel; the body
// itself may be omitted.
type DecisionInput struct {
	Comment string `json:"comment"`
}

// idPattern bounds path IDs: request IDs are hex, policy IDs are target keys.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,400}$`)

func (c *call) id() (string, error) {
	id := c.params["id"]
	if !idPattern.MatchString(id) {
		return "", badRequest("the id in the path is malformed")
	}
	return id, nil
}

func (c *call) groupName() (string, error) {
	n := c.params["name"]
	if !elevate.ValidName(n) {
		return "", badRequest("the group name in the path must be 1-128 letters, digits, '.', '_' or '-'")
	}
	return n, nil
}

func getSettings(s *server, c *call) (response, error) {
	st, err := s.deps.Service.GetSettings(c.ctx, c.caller)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, settingsView(st))
}

func patchSettings(s *server, c *call) (response, error) {
	if err := s.requireAdmin(c); err != nil {
		return response{}, err
	}
	var p elevate.SettingsPatch
	if err := decodeRequest(c.req, &p, false); err != nil {
		return response{}, err
	}
	st, err := s.deps.Service.UpdateSettings(c.ctx, c.caller, p)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, settingsView(st))
}

// settingsView is the settings as the API documents them: systemAccounts is
// always a list, [] rather than null when the stored settings have none.
func settingsView(st elevate.Settings) elevate.Settings {
	st.SystemAccounts = nonNil(st.SystemAccounts)
	return st
}

func createGroup(s *server, c *call) (response, error) {
	if err := s.requireAdmin(c); err != nil {
		return response{}, err
	}
	var in elevate.NewGroupInput
	if err := decodeRequest(c.req, &in, false, "name", "members"); err != nil {
		return response{}, err
	}
	g, err := s.deps.Service.CreateGroup(c.ctx, c.caller, in)
	if err != nil {
		return response{}, err
	}
	return created("/v1/groups/"+url.PathEscape(g.Name), g)
}

func listGroups(s *server, c *call) (response, error) {
	gs, err := s.deps.Service.ListGroups(c.ctx, c.caller)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, List[elevate.Group]{Items: nonNil(gs)})
}

func getGroup(s *server, c *call) (response, error) {
	name, err := c.groupName()
	if err != nil {
		return response{}, err
	}
	g, err := s.deps.Service.GetGroup(c.ctx, c.caller, name)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, g)
}

func deleteGroup(s *server, c *call) (response, error) {
	name, err := c.groupName()
	if err != nil {
		return response{}, err
	}
	if err := s.deps.Service.DeleteGroup(c.ctx, c.caller, name); err != nil {
		return response{}, err
	}
	return noContent()
}

func changeMember(s *server, c *call, add bool) (response, error) {
	name, err := c.groupName()
	if err != nil {
		return response{}, err
	}
	var g elevate.Group
	if add {
		g, err = s.deps.Service.AddGroupMember(c.ctx, c.caller, name, c.params["principal"])
	} else {
		g, err = s.deps.Service.RemoveGroupMember(c.ctx, c.caller, name, c.params["principal"])
	}
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, g)
}

func createPolicy(s *server, c *call) (response, error) {
	if err := s.requireAdmin(c); err != nil {
		return response{}, err
	}
	var in elevate.PolicyInput
	if err := decodeRequest(c.req, &in, false, "scope", "name", "approvalType"); err != nil {
		return response{}, err
	}
	p, err := s.deps.Service.CreatePolicy(c.ctx, c.caller, in)
	if err != nil {
		return response{}, err
	}
	return created("/v1/policies/"+url.PathEscape(p.ID), p)
}

func listPolicies(s *server, c *call) (response, error) {
	ps, err := s.deps.Service.ListPolicies(c.ctx, c.caller)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, List[elevate.Policy]{Items: nonNil(ps)})
}

func getPolicy(s *server, c *call) (response, error) {
	id, err := c.id()
	if err != nil {
		return response{}, err
	}
	p, err := s.deps.Service.GetPolicy(c.ctx, c.caller, id)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, p)
}

func putPolicy(s *server, c *call) (response, error) {
	if err := s.requireAdmin(c); err != nil {
		return response{}, err
	}
	id, err := c.id()
	if err != nil {
		return response{}, err
	}
	var in elevate.PolicyInput
	if err := decodeRequest(c.req, &in, false, "approvalType"); err != nil {
		return response{}, err
	}
	p, err := s.deps.Service.UpdatePolicy(c.ctx, c.caller, id, in)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, p)
}

func deletePolicy(s *server, c *call) (response, error) {
	id, err := c.id()
	if err != nil {
		return response{}, err
	}
	if err := s.deps.Service.DeletePolicy(c.ctx, c.caller, id); err != nil {
		return response{}, err
	}
	return noContent()
}

func submitRequest(s *server, c *call) (response, error) {
	var in elevate.SubmitInput
	if err := decodeRequest(c.req, &in, false, "scope", "name", "reason"); err != nil {
		return response{}, err
	}
	r, err := s.deps.Service.SubmitRequest(c.ctx, c.caller, in)
	if err != nil {
		return response{}, err
	}
	return created("/v1/requests/"+url.PathEscape(r.ID), r)
}

// maxNextLen bounds the opaque page token; the store verifies its MAC.
const maxNextLen = 4096

// ParseListFilter validates the query of GET /v1/requests.
func ParseListFilter(q map[string]string) (app.ListFilter, error) {
	var f app.ListFilter
	for k, v := range q {
		var err error
		switch k {
		case "status":
			f.Status, err = elevate.ParseStatus(canonicalStatus(v))
		case "type":
			if v == "" {
				err = badRequest("type must be one of Task, Role, RoleGroup, Lockbox")
				break
			}
			f.Type, err = elevate.ParseRequestType(v)
		case "requester":
			f.Requester, err = elevate.NormalizePrincipal(v)
		case "limit":
			n, perr := strconv.Atoi(v)
			if perr != nil || n < 1 || n > 100 {
				err = badRequest("limit must be an integer from 1 to 100")
			}
			f.Limit = n
		case "next":
			if v == "" || len(v) > maxNextLen {
				err = badRequest("next is not a valid page token")
			}
			f.Next = v
		case "ticket":
			if !elevate.ValidTicket(v) {
				err = badRequest("ticket must be 1-64 printable characters")
			}
			f.Ticket = v
		case "breakGlass":
			b, perr := strconv.ParseBool(v)
			if perr != nil || (v != "true" && v != "false") {
				err = badRequest("breakGlass must be true or false")
			}
			f.BreakGlass = &b
		case "ratification":
			f.Ratification, err = elevate.ParseRatification(v)
		default:
			err = badRequest("unknown query parameter " + strconv.Quote(k))
		}
		if err != nil {
			return app.ListFilter{}, err
		}
	}
	return f, nil
}

// canonicalStatus lets ?status=pending mean Pending.
func canonicalStatus(v string) string {
	if v == "" {
		return v
	}
	return strings.ToUpper(v[:1]) + strings.ToLower(v[1:])
}

func query(req *events.APIGatewayV2HTTPRequest) (map[string]string, error) {
	if req.QueryStringParameters != nil || req.RawQueryString == "" {
		return req.QueryStringParameters, nil
	}
	vs, err := url.ParseQuery(req.RawQueryString)
	if err != nil {
		return nil, badRequest("the query string is malformed")
	}
	q := make(map[string]string, len(vs))
	for k, v := range vs {
		// API Gateway joins repeated parameters with commas; do the same so
		// a repeat fails validation identically.
		q[k] = strings.Join(v, ",")
	}
	return q, nil
}

func listRequests(s *server, c *call) (response, error) {
	q, err := query(c.req)
	if err != nil {
		return response{}, err
	}
	f, err := ParseListFilter(q)
	if err != nil {
		return response{}, err
	}
	page, err := s.deps.Service.ListRequests(c.ctx, c.caller, f)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, List[elevate.Request]{Items: nonNil(page.Items), Next: page.Next})
}

func getRequest(s *server, c *call) (response, error) {
	id, err := c.id()
	if err != nil {
		return response{}, err
	}
	r, err := s.deps.Service.GetRequest(c.ctx, c.caller, id)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, r)
}

func extendRequest(s *server, c *call) (response, error) {
	id, err := c.id()
	if err != nil {
		return response{}, err
	}
	var in elevate.ExtendInput
	if err := decodeRequest(c.req, &in, false, "durationHours", "reason"); err != nil {
		return response{}, err
	}
	r, err := s.deps.Service.Extend(c.ctx, c.caller, id, in)
	if err != nil {
		return response{}, err
	}
	return created("/v1/requests/"+url.PathEscape(r.ID), r)
}

func decision(kind elevate.DecisionKind) endpoint {
	return func(s *server, c *call) (response, error) {
		id, err := c.id()
		if err != nil {
			return response{}, err
		}
		var in DecisionInput
		if err := decodeRequest(c.req, &in, true); err != nil {
			return response{}, err
		}
		r, err := s.deps.Service.Decide(c.ctx, c.caller, id, kind, in.Comment)
		if err != nil {
			return response{}, err
		}
		return reply(http.StatusOK, r)
	}
}

// issueCredentials answers with the secret: the only place it leaves
// Elevate. The body, if any, must be empty JSON.
func issueCredentials(s *server, c *call) (response, error) {
	id, err := c.id()
	if err != nil {
		return response{}, err
	}
	var in struct{}
	if err := decodeRequest(c.req, &in, true); err != nil {
		return response{}, err
	}
	creds, err := s.deps.Service.IssueCredentials(c.ctx, c.caller, id)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, creds)
}

func authorize(s *server, c *call) (response, error) {
	var in app.AuthzInput
	if err := decodeRequest(c.req, &in, false, "scope", "name"); err != nil {
		return response{}, err
	}
	res, err := s.deps.Service.Authorize(c.ctx, c.caller, in)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, res)
}

func created(location string, v any) (response, error) {
	resp, err := reply(http.StatusCreated, v)
	if err == nil {
		resp.Headers["Location"] = location
	}
	return resp, err
}

// nonNil makes empty collections encode as [] rather than null.
func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// requireAdmin refuses a non-admin before the body is read, so every admin
// route answers 403 to a non-admin whatever the body. The Service enforces it
// again; this only orders the checks.
func (s *server) requireAdmin(c *call) error {
	if !s.deps.Service.IsAdmin(c.caller) {
		return app.ErrAdminOnly
	}
	return nil
}
