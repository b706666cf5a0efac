package local

import (
	"context"
	"strings"
	"testing"
)

// The local gateway trusts another OpenID provider only on this machine:
// a token from anywhere else must never reach the handlers locally.
func TestTrustedIssuerMustBeLoopback(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://login.example.com/": "not on this machine",
		"http://10.0.0.8:9998/":      "not on this machine",
		"file:///etc/passwd":         "not a URL",
	} {
		_, err := newIssuerVerifier(context.Background(), TrustedIssuer{Issuer: issuer, Audience: "cli"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", issuer, err, want)
		}
	}
	if _, err := newIssuerVerifier(context.Background(), TrustedIssuer{Issuer: "http://127.0.0.1:1/"}); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("no audience: %v", err)
	}
}
