package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TrustedIssuer is an OpenID provider, besides the stack's own authority,
// whose ID tokens the local gateway accepts: what API Gateway's JWT
// authorizer does for a deployment's issuer. It is for a provider on this
// machine (a test's, or one a developer runs): the issuer must be a loopback
// URL, so the local stack never trusts tokens from elsewhere.
type TrustedIssuer struct {
	Issuer   string // iss, exactly as the provider's discovery document says
	Audience string // aud: the client ID the tokens are issued to
}

// issuerVerifier checks tokens of a TrustedIssuer: RS256/ES256 signature
// against the provider's JWKS, issuer, audience, expiry.
type issuerVerifier struct{ v *oidc.IDTokenVerifier }

func newIssuerVerifier(ctx context.Context, t TrustedIssuer) (*issuerVerifier, error) {
	u, err := url.Parse(t.Issuer)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("local: trusted issuer %q is not a URL", t.Issuer)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("local: trusted issuer %q is not on this machine; only a loopback issuer may be trusted", t.Issuer)
	}
	if t.Audience == "" {
		return nil, errors.New("local: a trusted issuer needs its audience (the client ID)")
	}
	p, err := oidc.NewProvider(ctx, t.Issuer)
	if err != nil {
		return nil, fmt.Errorf("local: trusted issuer: %w", err)
	}
	return &issuerVerifier{v: p.Verifier(&oidc.Config{ClientID: t.Audience})}, nil
}

func (iv *issuerVerifier) Verify(raw string) (map[string]string, error) {
	idt, err := iv.v.Verify(context.Background(), raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	out := make(map[string]string, len(claims))
	for k, v := range claims {
		out[k] = claimString(v)
	}
	return out, nil
}

// verifiers accepts a token any of its members accepts, as an authorizer
// configured with several issuers would.
type verifiers []TokenVerifier

func (vs verifiers) Verify(raw string) (map[string]string, error) {
	err := ErrUnauthorized
	for _, v := range vs {
		claims, verr := v.Verify(raw)
		if verr == nil {
			return claims, nil
		}
		err = verr
	}
	return nil, err
}
