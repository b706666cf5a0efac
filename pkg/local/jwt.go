package local

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults of the local identity provider.
const (
	DefaultAudience = "elevate-local"
	DefaultTokenTTL = 12 * time.Hour
)

// ErrUnauthorized is every token refusal; the gateway never says which check
// failed, as API Gateway's JWT authorizer does not either.
var ErrUnauthorized = errors.New("unauthorized")

// Authority mints and verifies the local stack's JWTs. It signs with RS256
// because API Gateway's JWT authorizer only accepts RSA keys, so a token
// shape that works here also works against a real issuer.
type Authority struct {
	key      *rsa.PrivateKey
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
}

// NewAuthority generates a fresh signing key: tokens die with the process.
func NewAuthority(issuer, audience string) (*Authority, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	if audience == "" {
		audience = DefaultAudience
	}
	return &Authority{key: key, issuer: issuer, audience: audience, ttl: DefaultTokenTTL, now: time.Now}, nil
}

// Issuer is the iss claim the authority signs and requires.
func (a *Authority) Issuer() string { return a.issuer }

// Audience is the aud claim the authority signs and requires.
func (a *Authority) Audience() string { return a.audience }

// Mint issues a token for principal with the given identity-provider groups,
// shaped like a Cognito ID token (email, cognito:groups, sub).
func (a *Authority) Mint(principal string, groups []string) (string, time.Time, error) {
	principal = strings.ToLower(strings.TrimSpace(principal))
	if principal == "" {
		return "", time.Time{}, errors.New("principal is required")
	}
	now := a.now().Truncate(time.Second)
	exp := now.Add(a.ttl)
	claims := jwt.MapClaims{
		"iss":            a.issuer,
		"aud":            a.audience,
		"sub":            principal,
		"email":          principal,
		"email_verified": true,
		"iat":            now.Unix(),
		"nbf":            now.Unix(),
		"exp":            exp.Unix(),
	}
	if len(groups) > 0 {
		claims["cognito:groups"] = groups
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return tok, exp.UTC(), nil
}

// Sign signs arbitrary claims with the authority's key, for tests that need
// tokens the authority would refuse (expired, wrong audience, ...).
func (a *Authority) Sign(claims jwt.MapClaims) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.key)
}

// Verify checks a token as API Gateway's JWT authorizer does: RS256 signature,
// issuer, audience, and exp/nbf/iat with no leeway. It returns the claims
// flattened to strings the way API Gateway passes them to the integration.
func (a *Authority) Verify(raw string) (map[string]string, error) {
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(a.issuer),
		jwt.WithAudience(a.audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.now),
		jwt.WithJSONNumber(),
	)
	claims := jwt.MapClaims{}
	if _, err := p.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		return &a.key.PublicKey, nil
	}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	out := make(map[string]string, len(claims))
	for k, v := range claims {
		out[k] = claimString(v)
	}
	return out, nil
}

// claimString renders a claim as API Gateway does: strings as is, arrays as
// "[a b c]", numbers in their JSON form, objects as JSON.
func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return ""
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = claimString(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + claimString(x[k])
		}
		return "map[" + strings.Join(parts, " ") + "]"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}
