package linktoken

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	key   = []byte("k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y")
	now   = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	later = now.Add(24 * time.Hour)
)

func signer(t testing.TB, k []byte) *Signer {
	t.Helper()
	s, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sign(t testing.TB, s *Signer, rid, approver string, exp time.Time) string {
	t.Helper()
	tok, err := s.Sign(rid, approver, exp)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// resign builds a token over an arbitrary payload with the right key, to
// reach the claim checks behind the signature.
func resign(s *Signer, payload []byte) string {
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p))
}

func TestNewSignerNeedsLongKey(t *testing.T) {
	if _, err := NewSigner(make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte key was accepted")
	}
	k := []byte(strings.Repeat("a", 32))
	s := signer(t, k)
	k[0] = 'b' // the signer keeps its own copy
	tok := sign(t, s, "r1", "bob@example.com", later)
	if _, err := signer(t, []byte(strings.Repeat("a", 32))).Verify(tok, now); err != nil {
		t.Fatalf("signer shares the caller's key slice: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	s := signer(t, key)
	tok := sign(t, s, "r1", "bob@example.com", later)
	c, err := s.Verify(tok, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.RequestID != "r1" || c.Approver != "bob@example.com" || !c.Expiry().Equal(later) || len(c.ID) != 32 || c.Version != 1 {
		t.Fatalf("claims %+v", c)
	}
	if tok2 := sign(t, s, "r1", "bob@example.com", later); tok2 == tok {
		t.Fatal("two tokens for the same approver and request are identical; the single-use ID is not random")
	}
}

func TestRefusals(t *testing.T) {
	s := signer(t, key)
	good := sign(t, s, "r1", "bob@example.com", later)
	payload, sig, _ := strings.Cut(good, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	var c Claims
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	with := func(f func(*Claims)) []byte {
		cc := c
		f(&cc)
		b, _ := json.Marshal(cc)
		return b
	}
	otherRequest := base64.RawURLEncoding.EncodeToString(with(func(c *Claims) { c.RequestID = "r2" })) + "." + sig
	otherApprover := base64.RawURLEncoding.EncodeToString(with(func(c *Claims) { c.Approver = "mallory@example.com" })) + "." + sig
	longer := base64.RawURLEncoding.EncodeToString(with(func(c *Claims) { c.ExpiresAt += 86400 })) + "." + sig

	cases := []struct {
		name, token string
		at          time.Time
		want        error
	}{
		{"forged with another key", sign(t, signer(t, []byte(strings.Repeat("x", 40))), "r1", "bob@example.com", later), now, ErrSignature},
		{"claims moved to another request", otherRequest, now, ErrSignature},
		{"claims moved to another approver", otherApprover, now, ErrSignature},
		{"expiry extended", longer, now, ErrSignature},
		{"signature truncated", payload + "." + sig[:40], now, ErrSignature}, // 40 chars always decode: the MAC, not the encoding, must refuse it
		{"signature of another token", payload + "." + strings.SplitN(sign(t, s, "r2", "bob@example.com", later), ".", 2)[1], now, ErrSignature},
		{"expired exactly at expiry", good, later, ErrExpired},
		{"expired after", good, later.Add(time.Second), ErrExpired},
		{"empty", "", now, ErrMalformed},
		{"no dot", payload + sig, now, ErrMalformed},
		{"empty signature", payload + ".", now, ErrMalformed},
		{"empty payload", "." + sig, now, ErrMalformed},
		{"signature not base64url", payload + ".***", now, ErrMalformed},
		{"padded base64", payload + "." + sig + "==", now, ErrMalformed},
		{"too long", strings.Repeat("a", 2000) + "." + sig, now, ErrMalformed},
		{"signed non-JSON", resign(s, []byte("hello")), now, ErrMalformed},
		{"signed wrong version", resign(s, with(func(c *Claims) { c.Version = 2 })), now, ErrMalformed},
		{"signed without request", resign(s, with(func(c *Claims) { c.RequestID = "" })), now, ErrMalformed},
		{"signed without approver", resign(s, with(func(c *Claims) { c.Approver = "" })), now, ErrMalformed},
		{"signed without ID", resign(s, with(func(c *Claims) { c.ID = "" })), now, ErrMalformed},
		{"signed without expiry", resign(s, with(func(c *Claims) { c.ExpiresAt = 0 })), now, ErrMalformed},
	}
	for _, c := range cases {
		got, err := s.Verify(c.token, c.at)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if err != nil && got != (Claims{}) {
			t.Errorf("%s: claims returned with an error: %+v", c.name, got)
		}
	}
	if _, err := s.Verify(good, now); err != nil {
		t.Fatalf("the untouched token fails: %v", err)
	}
	// Only a genuine token yields claims for a refusal's record, expired or not.
	if c, ok := s.ExpiredClaims(good); !ok || c.Approver != "bob@example.com" {
		t.Fatalf("ExpiredClaims of a signed token: %+v %v", c, ok)
	}
	for _, bad := range []string{longer, payload + ".", "garbage"} {
		if c, ok := s.ExpiredClaims(bad); ok {
			t.Errorf("ExpiredClaims(%q) = %+v", bad, c)
		}
	}
}

// FuzzVerify checks that no input panics, that only a correctly signed token
// ever verifies, and that a verified token's claims are complete.
func FuzzVerify(f *testing.F) {
	s := signer(f, key)
	good := sign(f, s, "r1", "bob@example.com", later)
	f.Add(good)
	f.Add("")
	f.Add(".")
	f.Add("a.b")
	f.Add(good + "x")
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add(resign(s, []byte(`{"v":1,"jti":"x","rid":"r","sub":"a@b","exp":1e30}`)))
	f.Add(resign(s, []byte(`{"v":1,"jti":"x","rid":"r","sub":"a@b","exp":-1}`)))
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok, now)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrExpired) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		// Only a token whose signature decodes to our MAC of its payload
		// verifies.
		p, sig, _ := strings.Cut(tok, ".")
		if got := mustDecode(t, sig); string(got) != string(s.mac(p)) {
			t.Fatalf("token with a foreign signature verified: %q", tok)
		}
		if c.ID == "" || c.RequestID == "" || c.Approver == "" || !now.Before(c.Expiry()) {
			t.Fatalf("incomplete or expired claims verified: %+v", c)
		}
	})
}

func mustDecode(t *testing.T, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("verified payload is not base64url: %v", err)
	}
	return b
}

// TestLinkSurvivesOneRotation: a link signed before a rotation verifies while
// its key is the previous one, and is refused once a second rotation has
// dropped that key; a link names its key, so a forged name picks a key its
// signature must still match.
func TestLinkSurvivesOneRotation(t *testing.T) {
	now := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	k1 := Key{ID: "v1", Secret: []byte("first-key-first-key-first-key-first-key")}
	k2 := Key{ID: "v2", Secret: []byte("second-key-second-key-second-key-second")}
	k3 := Key{ID: "v3", Secret: []byte("third-key-third-key-third-key-third-key")}
	before, err := NewKeyring(k1, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, before, "r1", "bob@example.com", now.Add(time.Hour))
	once, err := NewKeyring(k2, &k1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := once.Verify(tok, now)
	if err != nil || c.KeyID != "v1" || c.RequestID != "r1" {
		t.Fatalf("after one rotation: %+v %v", c, err)
	}
	if c, err := once.Verify(sign(t, once, "r2", "bob@example.com", now.Add(time.Hour)), now); err != nil || c.KeyID != "v2" {
		t.Fatalf("a new link names the current key: %+v %v", c, err)
	}
	twice, err := NewKeyring(k3, &k2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := twice.Verify(tok, now); !errors.Is(err, ErrSignature) {
		t.Fatalf("after two rotations: %v, want ErrSignature", err)
	}
	// Renaming the key in the payload does not make k1's signature pass as k2's.
	forged, _ := Unverified(tok)
	forged.KeyID = "v2"
	payload, _ := json.Marshal(forged)
	_, sig, _ := strings.Cut(tok, ".")
	if _, err := twice.Verify(base64.RawURLEncoding.EncodeToString(payload)+"."+sig, now); !errors.Is(err, ErrSignature) {
		t.Fatalf("renamed key: %v, want ErrSignature", err)
	}
	if _, err := NewKeyring(k2, &Key{ID: "v2", Secret: k1.Secret}); err == nil {
		t.Error("two keys with one ID were accepted")
	}
}
