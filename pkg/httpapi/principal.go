package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// maxGroups bounds what a token may claim, so a hostile claim costs little.
const maxGroups = 256

// IdentityPolicy says which tokens name a caller. The zero value is the
// strict default: a token must carry email_verified=true.
type IdentityPolicy struct {
	// AllowMissingEmailVerified accepts a token that carries no
	// email_verified claim at all, for an external OIDC issuer that never
	// sends it. It trusts the issuer to hand out only addresses it owns; a
	// token that says email_verified=false is refused all the same.
	AllowMissingEmailVerified bool
}

// CallerFromClaims reads the caller under the strict default policy.
func CallerFromClaims(req *events.APIGatewayV2HTTPRequest) (app.Caller, error) {
	return IdentityPolicy{}.Caller(req)
}

// Caller reads the principal and groups that API Gateway's JWT authorizer
// verified. Nothing here re-verifies the token: the route is only reachable
// through the authorizer.
func (pol IdentityPolicy) Caller(req *events.APIGatewayV2HTTPRequest) (app.Caller, error) {
	var claims map[string]string
	if a := req.RequestContext.Authorizer; a != nil && a.JWT != nil {
		claims = a.JWT.Claims
	}
	if claims == nil {
		return app.Caller{}, unauthenticated("a bearer token is required")
	}
	p, err := elevate.NormalizePrincipal(claims["email"])
	if err != nil {
		return app.Caller{}, unauthenticated("the token carries no valid email claim")
	}
	// An address the identity provider has not verified is not an identity:
	// otherwise a user could set an approver's address on their own account.
	// A missing claim proves nothing either, unless configured otherwise.
	if v, ok := claims["email_verified"]; (ok || !pol.AllowMissingEmailVerified) && v != "true" {
		return app.Caller{}, unauthenticated("the token's email address is not verified")
	}
	groups, ok := groupsFromBearer(req.Headers["authorization"], claims["email"])
	if !ok {
		groups = ParseGroups(claims["cognito:groups"])
		for _, g := range ParseGroups(claims["groups"]) {
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
	}
	if len(groups) > maxGroups {
		groups = groups[:maxGroups]
	}
	return app.Caller{Principal: p, Groups: groups}, nil
}

// groupsFromBearer reads the group claims from the bearer token itself.
// API Gateway flattens array claims to "[a b]", which cannot tell a group
// named "Team elevate-admins" from two groups, one of them the admin group;
// the token it verified keeps the array exact. ok is false when there is no
// readable token, and the flattened claims are used instead. A readable token
// whose email differs from the verified claims yields no groups at all.
func groupsFromBearer(authorization, email string) (groups []string, ok bool) {
	parts := strings.Split(bearerToken(authorization), ".")
	if len(parts) != 3 {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var payload struct {
		Email         string          `json:"email"`
		CognitoGroups json.RawMessage `json:"cognito:groups"`
		Groups        json.RawMessage `json:"groups"`
	}
	if json.Unmarshal(raw, &payload) != nil {
		return nil, false
	}
	if payload.Email != email {
		return nil, true
	}
	for _, claim := range []json.RawMessage{payload.CognitoGroups, payload.Groups} {
		var arr []string
		var one string
		switch {
		case len(claim) == 0:
		case json.Unmarshal(claim, &arr) == nil:
			for _, g := range arr {
				groups = appendGroup(groups, g)
			}
		case json.Unmarshal(claim, &one) == nil:
			groups = appendGroup(groups, one)
		}
	}
	return groups, true
}

// bearerToken is the token in an Authorization header as API Gateway's JWT
// authorizer reads it: with a "Bearer" prefix in any case and any spacing, or
// bare. Whatever the authorizer accepted, the groups must come from the same
// token, never from the flattened claim.
func bearerToken(authorization string) string {
	fields := strings.Fields(authorization)
	switch {
	case len(fields) == 1:
		return fields[0]
	case len(fields) == 2 && strings.EqualFold(fields[0], "bearer"):
		return fields[1]
	}
	return ""
}

// ParseGroups accepts the shapes a groups claim arrives in: API Gateway's
// rendering of a JSON array ("[a b]"), a JSON array string, or a
// comma-separated list. Group names therefore cannot contain spaces or
// commas; it is only used when the bearer token itself cannot be read.
func ParseGroups(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	var out []string
	if strings.HasPrefix(v, "[") {
		var arr []string
		if json.Unmarshal([]byte(v), &arr) == nil {
			for _, g := range arr {
				out = appendGroup(out, g)
			}
			return out
		}
		v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	}
	for _, g := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		out = appendGroup(out, g)
	}
	return out
}

func appendGroup(gs []string, g string) []string {
	g = strings.TrimSpace(g)
	if g == "" || slices.Contains(gs, g) {
		return gs
	}
	return append(gs, g)
}
