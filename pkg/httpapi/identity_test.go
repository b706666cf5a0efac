package httpapi

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Issue 10 item 1: API Gateway's JWT authorizer accepts the token bare or
// with a "Bearer" prefix in any case and spacing; whichever form, the groups
// come from that token, so a group named "ops elevate-admins" stays one group
// and never makes its members admins.
func TestCallerGroupsFromTokenWhateverTheAuthorizationForm(t *testing.T) {
	h := newHarness(t, newMemStore())
	tok := strings.TrimPrefix(bearer(t, map[string]any{"email": alice, "cognito:groups": []string{"ops elevate-admins"}}), "Bearer ")
	flattened := claims(alice, "ops elevate-admins") // "[ops elevate-admins]", as API Gateway renders it
	for name, header := range map[string]string{
		"bare":         tok,
		"lower-case":   "bearer " + tok,
		"upper-case":   "BEARER " + tok,
		"odd spacing":  " \tBearer   " + tok + "  ",
		"bare, padded": "  " + tok + "\t",
	} {
		t.Run(name, func(t *testing.T) {
			ev := h.event("GET", "/v1/settings", "", flattened)
			ev.Headers["authorization"] = header
			c, err := CallerFromClaims(&ev)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Groups, []string{"ops elevate-admins"}) || h.svc.IsAdmin(c) {
				t.Fatalf("groups %q (admin %v), want exactly the one group from the token", c.Groups, h.svc.IsAdmin(c))
			}
			if resp := h.send(ev); resp.StatusCode != 403 {
				t.Fatalf("admin route: status %d, want 403; %s", resp.StatusCode, resp.Body)
			}
		})
	}
}

// Issue 10 item 4: a token without email_verified is refused unless the
// deployment opts out for an issuer that never sends the claim; a token that
// says false is refused either way.
func TestEmailVerifiedRequiredUnlessOptedOut(t *testing.T) {
	h := newHarness(t, newMemStore())
	verified := func(v string) map[string]string {
		c := claims(alice)
		delete(c, "email_verified")
		if v != "" {
			c["email_verified"] = v
		}
		return c
	}
	cases := []struct {
		claim  string
		policy IdentityPolicy
		ok     bool
	}{
		{"", IdentityPolicy{}, false},
		{"false", IdentityPolicy{}, false},
		{"FALSE", IdentityPolicy{}, false},
		{"true", IdentityPolicy{}, true},
		{"", IdentityPolicy{AllowMissingEmailVerified: true}, true},
		{"false", IdentityPolicy{AllowMissingEmailVerified: true}, false},
		{"true", IdentityPolicy{AllowMissingEmailVerified: true}, true},
	}
	for _, c := range cases {
		ev := h.event("GET", "/v1/requests", "", verified(c.claim))
		_, err := c.policy.Caller(&ev)
		if c.ok && err != nil || !c.ok && !errors.Is(err, elevate.ErrUnauthorized) {
			t.Errorf("email_verified=%q %+v: err %v, want ok=%v", c.claim, c.policy, err, c.ok)
		}
	}
	// The default handler refuses a token without the claim with 401.
	if resp := h.do("GET", "/v1/requests", "", verified("")); resp.StatusCode != 401 {
		t.Errorf("no email_verified through the handler: %d %s", resp.StatusCode, resp.Body)
	}
}
