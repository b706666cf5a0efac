package wire

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/routes"
)

func TestParseKey(t *testing.T) {
	raw := strings.Repeat("k", 40)
	if got := ParseKey(" " + raw + "\n"); string(got) != raw {
		t.Errorf("raw key: %q", got)
	}
	b := bytes.Repeat([]byte{0xab}, 32)
	if got := ParseKey(hex.EncodeToString(b)); !bytes.Equal(got, b) {
		t.Errorf("hex key not decoded: %x", got)
	}
	// Short hex is a raw key: decoding would make it too short to use.
	if got := ParseKey("abcd"); string(got) != "abcd" {
		t.Errorf("short hex: %q", got)
	}
}

func TestPageKey(t *testing.T) {
	t.Setenv(EnvPageKey, "")
	a, weakA := PageKey([]byte(strings.Repeat("a", 32)), "t1")
	b, weakB := PageKey([]byte(strings.Repeat("b", 32)), "t1")
	c, weakC := PageKey(nil, "t1")
	if weakA || weakB || !weakC || bytes.Equal(a, b) || bytes.Equal(a, c) || len(a) != 32 {
		t.Fatalf("derived keys: %x %x %x %v %v %v", a, b, c, weakA, weakB, weakC)
	}
	if bytes.Contains(a, []byte("aaaa")) {
		t.Fatal("the page key exposes the link key")
	}
	t.Setenv(EnvPageKey, strings.Repeat("p", 32))
	if got, weak := PageKey(nil, "t1"); string(got) != strings.Repeat("p", 32) || weak {
		t.Fatalf("explicit page key ignored: %q", got)
	}
}

func TestHTTPHandlerFromEnvironment(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv(config.EnvLinkKeySecret, "")
	t.Setenv(config.EnvLinkKey, "")
	log := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))

	t.Setenv(config.EnvTable, "")
	if _, err := HTTPHandler(t.Context(), routes.Authorize, log); err == nil || !strings.Contains(err.Error(), config.EnvTable) {
		t.Fatalf("missing table: %v", err)
	}
	t.Setenv(config.EnvTable, "elevate-test")
	if _, err := HTTPHandler(t.Context(), routes.Approvals, log); err == nil || !strings.Contains(err.Error(), config.EnvLinkKey) {
		t.Fatalf("approvals without a link key: %v", err)
	}
	h, err := HTTPHandler(t.Context(), routes.Authorize, log)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h(t.Context(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /healthz"})
	if err != nil || resp.StatusCode != 200 || resp.Body != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	t.Setenv(config.EnvLinkKey, strings.Repeat("z", 32))
	if _, err := HTTPHandler(t.Context(), routes.Approvals, log); err != nil {
		t.Fatalf("approvals with a key: %v", err)
	}
}
