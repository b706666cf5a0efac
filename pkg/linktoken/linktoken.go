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
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Errors returned by Verify. All of them mean "refuse the link".
var (
	ErrMalformed = errors.New("link token is malformed")
	ErrSignature = errors.New("link token signature is invalid")
	ErrExpired   = errors.New("link token has expired")
)

const (
	version    = 1
	maxLen     = 1024
	minKeySize = 32
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
type Key struct {
	ID     string
	Secret []byte
}

// Signer signs with its current key and verifies with the current or the
// previous one.
type Signer struct {
	current  Key
	previous *Key
}

// NewSigner needs a key of at least 32 bytes.
func NewSigner(key []byte) (*Signer, error) { return NewKeyring(Key{Secret: key}, nil) }

// NewKeyring signs with current and also verifies tokens that previous
// signed (nil: none). Each key needs at least 32 bytes, and the two distinct IDs.
func NewKeyring(current Key, previous *Key) (*Signer, error) {
	s := &Signer{current: Key{ID: current.ID, Secret: append([]byte(nil), current.Secret...)}}
	if len(current.Secret) < minKeySize {
		return nil, errors.New("link signing key must be at least 32 bytes")
	}
	if previous != nil {
		if len(previous.Secret) < minKeySize || previous.ID == current.ID {
			return nil, errors.New("previous link signing key must be at least 32 bytes and have its own ID")
		}
		s.previous = &Key{ID: previous.ID, Secret: append([]byte(nil), previous.Secret...)}
	}
	return s, nil
}

// Sign issues a token for approver on requestID, valid until expires.
func (s *Signer) Sign(requestID, approver string, expires time.Time) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	payload, err := json.Marshal(Claims{Version: version, ID: hex.EncodeToString(id[:]), RequestID: requestID, Approver: approver, ExpiresAt: expires.Unix(), KeyID: s.current.ID})
	if err != nil {
		return "", err
	}
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p)), nil
}

// mac signs payload with the current key.
func (s *Signer) mac(payload string) []byte { return hmacOf(s.current.Secret, payload) }

func hmacOf(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// keyFor is the key a payload names, before its signature is checked: a
// forged name only picks which key the signature must match.
func (s *Signer) keyFor(payload string) ([]byte, bool) {
	kid := ""
	if c, ok := Unverified(payload); ok {
		kid = c.KeyID
	}
	switch {
	case kid == s.current.ID:
		return s.current.Secret, true
	case s.previous != nil && kid == s.previous.ID:
		return s.previous.Secret, true
	}
	return nil, false
}

// Verify checks the signature first, then the claims, then the expiry at now.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
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
	key, ok := s.keyFor(payload)
	if !ok || !hmac.Equal(got, hmacOf(key, payload)) {
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
	c, err := s.Verify(token, time.Unix(0, 0))
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
