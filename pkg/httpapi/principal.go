package httpapi

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// maxGroups bounds what a token may claim, so a hostile claim costs little.
const maxGroups = 256

// CallerFromClaims reads the principal and groups that API Gateway's JWT
// authorizer verified. Nothing here re-verifies the token: the route is only
// reachable through the authorizer.
func CallerFromClaims(req *events.APIGatewayV2HTTPRequest) (app.Caller, error) {
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
	groups := ParseGroups(claims["cognito:groups"])
	for _, g := range ParseGroups(claims["groups"]) {
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	if len(groups) > maxGroups {
		groups = groups[:maxGroups]
	}
	return app.Caller{Principal: p, Groups: groups}, nil
}

// ParseGroups accepts the shapes a groups claim arrives in: API Gateway's
// rendering of a JSON array ("[a b]"), a JSON array string, or a
// comma-separated list. Group names therefore cannot contain spaces or commas.
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
