// Package linktoken signs and verifies the personal approval links in
// approver emails.
//
// A token is base64url(payload) "." base64url(HMAC-SHA256(key, payload)).
// It binds one request and one approver, expires with the request's pending
// expiry, and carries a random ID that the decision transaction consumes with
// a conditional write, which makes it single-use. It names the key that
// signed it ("kid", the secret's version), so a signer holding the current
// and the previous key verifies links emailed before a key rotation, and
// refuses them after a second one.
package linktoken

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/pkg/keyring"
)

// Errors returned by Verify. All of them mean "refuse the link".
var (
	ErrMalformed = errors.New("link token is malformed")
	ErrSignature = errors.New("link token signature is invalid")
	ErrExpired   = errors.New("link token has expired")
	// ErrUnavailable: the keys could not be read; the link is neither good
	// nor bad yet (a 503, retry).
	ErrUnavailable = errors.New("link signing keys are unavailable")
)

const (
	version = 1
	maxLen  = 1024
)

// b64 rejects non-canonical encodings, so a token has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// Claims is what a token asserts.
type Claims struct {
	Version   int    `json:"v"`
	ID        string `json:"jti"`
	RequestID string `json:"rid"`
	Approver  string `json:"sub"`
	ExpiresAt int64  `json:"exp"`
	KeyID     string `json:"kid,omitempty"`
}

// Expiry returns ExpiresAt as a time.
func (c Claims) Expiry() time.Time { return time.Unix(c.ExpiresAt, 0).UTC() }

// Key is one HMAC key and the ID tokens name it by (the secret's version;
// empty for a key given without one).
type Key = keyring.Key

// Signer signs with its current key and verifies with the current or the
// previous one.
type Signer struct {
	keys *keyring.Cache
}

// NewSigner needs a key of at least 32 bytes.
func NewSigner(key []byte) (*Signer, error) { return NewKeyring(Key{Secret: key}, nil) }

// NewKeyring signs with current and also verifies tokens that previous
// signed (nil: none). Each key needs at least 32 bytes, and the two distinct IDs.
func NewKeyring(current Key, previous *Key) (*Signer, error) {
	r := keyring.Ring{Current: current, Previous: previous}
	if err := r.Check(); err != nil {
		return nil, fmt.Errorf("link signing key: %w", err)
	}
	return &Signer{keys: keyring.Static(r)}, nil
}

// NewRotating signs with whatever keys currently holds: the keys of a secret
// that rotates (keyring.FromSecret).
func NewRotating(keys *keyring.Cache) *Signer { return &Signer{keys: keys} }

// Sign issues a token for approver on requestID, valid until expires.
func (s *Signer) Sign(requestID, approver string, expires time.Time) (string, error) {
	return s.SignContext(context.Background(), requestID, approver, expires)
}

// SignContext is Sign with the current key read (if its cache is stale)
// under ctx; ErrUnavailable when no key can be read.
func (s *Signer) SignContext(ctx context.Context, requestID, approver string, expires time.Time) (string, error) {
	key, err := s.keys.Current(ctx)
	if err != nil {
		return "", errors.Join(ErrUnavailable, err)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	payload, err := json.Marshal(Claims{Version: version, ID: hex.EncodeToString(id[:]), RequestID: requestID, Approver: approver, ExpiresAt: expires.Unix(), KeyID: key.ID})
	if err != nil {
		return "", err
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(hmacOf(key.Secret, p)), nil
}

// mac signs payload with the current key (tests).
func (s *Signer) mac(payload string) []byte {
	key, _ := s.keys.Current(context.Background())
	return hmacOf(key.Secret, payload)
}

func hmacOf(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// keyFor is the key a payload names, before its signature is checked: a
// forged name only picks which key the signature must match. A name the
// signer does not hold is ErrSignature (wrapping keyring.ErrUnknownKey: a
// key rotated out twice, or never ours).
func (s *Signer) keyFor(ctx context.Context, payload string) ([]byte, error) {
	kid := ""
	if c, ok := Unverified(payload); ok {
		kid = c.KeyID
	}
	key, err := s.keys.Lookup(ctx, kid)
	switch {
	case errors.Is(err, keyring.ErrUnknownKey):
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	case err != nil:
		return nil, errors.Join(ErrUnavailable, err)
	}
	return key, nil
}

// Verify checks the signature first, then the claims, then the expiry at now.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	return s.VerifyContext(context.Background(), token, now)
}

// VerifyContext is Verify with the keys read (if their cache is stale, or
// the token names a key it does not hold) under ctx.
func (s *Signer) VerifyContext(ctx context.Context, token string, now time.Time) (Claims, error) {
	if len(token) > maxLen {
		return Claims{}, ErrMalformed
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok || payload == "" || sig == "" {
		return Claims{}, ErrMalformed
	}
	got, err := b64.DecodeString(sig)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	key, err := s.keyFor(ctx, payload)
	if err != nil {
		return Claims{}, err
	}
	if !hmac.Equal(got, hmacOf(key, payload)) {
		return Claims{}, ErrSignature
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	var c Claims
	if err := json.Unmarshal(raw, &c); err != nil || c.Version != version || c.ID == "" || c.RequestID == "" || c.Approver == "" || c.ExpiresAt == 0 {
		return Claims{}, ErrMalformed
	}
	if !now.Before(c.Expiry()) {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// ExpiredClaims returns the claims of a token that Verify refuses only for
// its expiry: they are signed by us, so the record of the refusal can name
// who the link was for. It never makes a link usable.
func (s *Signer) ExpiredClaims(token string) (Claims, bool) {
	return s.ExpiredClaimsContext(context.Background(), token)
}

// ExpiredClaimsContext is ExpiredClaims under ctx.
func (s *Signer) ExpiredClaimsContext(ctx context.Context, token string) (Claims, bool) {
	c, err := s.VerifyContext(ctx, token, time.Unix(0, 0))
	return c, err == nil
}

// Unverified decodes what a token claims without checking it, for the record
// of a refused link only: nothing in it can be trusted.
func Unverified(token string) (Claims, bool) {
	payload, _, _ := strings.Cut(token, ".")
	if len(token) > maxLen || payload == "" {
		return Claims{}, false
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return Claims{}, false
	}
	var c Claims
	if json.Unmarshal(raw, &c) != nil {
		return Claims{}, false
	}
	return c, true
}
