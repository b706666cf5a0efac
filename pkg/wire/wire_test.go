package wire

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
	"github.com/elevate-pam/elevate/pkg/manifest"
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

// Issue 10 item 2: the pagination key is a key of its own. The requests
// function refuses to start without one, even when a link key is at hand,
// because deriving one from the link key would let it hold the link key.
func TestPageKeyIsItsOwnSecret(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv(config.EnvTable, "elevate-test")
	t.Setenv(config.EnvLinkKeySecret, "")
	t.Setenv(config.EnvPageKeySecret, "")
	t.Setenv(config.EnvLinkKey, strings.Repeat("z", 32))
	t.Setenv(config.EnvPageKey, "")
	log := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	if _, err := HTTPHandler(t.Context(), manifest.Requests, log); err == nil || !strings.Contains(err.Error(), config.EnvPageKey) || !strings.Contains(err.Error(), config.EnvPageKeySecret) {
		t.Fatalf("requests without a page key: %v", err)
	}
	t.Setenv(config.EnvPageKey, "short")
	if _, err := HTTPHandler(t.Context(), manifest.Requests, log); err == nil {
		t.Fatal("requests accepted a 5-byte page key")
	}
	t.Setenv(config.EnvPageKey, strings.Repeat("p", 32))
	keys, err := PageKeys(t.Context(), aws.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := keys.Current(t.Context()); err != nil || string(got.Secret) != strings.Repeat("p", 32) {
		t.Fatalf("page key %q, %v", got.Secret, err)
	}
	if _, err := HTTPHandler(t.Context(), manifest.Requests, log); err != nil {
		t.Fatalf("requests with a page key: %v", err)
	}
	// Nothing but approvals needs the link key to start.
	t.Setenv(config.EnvLinkKey, "")
	for _, f := range []string{manifest.Requests, manifest.Policies, manifest.Authorize} {
		if _, err := HTTPHandler(t.Context(), f, log); err != nil {
			t.Errorf("%s without a link key: %v", f, err)
		}
	}
}

func TestHTTPHandlerFromEnvironment(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv(config.EnvLinkKeySecret, "")
	t.Setenv(config.EnvLinkKey, "")
	log := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))

	t.Setenv(config.EnvTable, "elevate-test")
	t.Setenv("AWS_REGION", "")
	if _, err := HTTPHandler(t.Context(), manifest.Authorize, log); err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("missing region: %v", err)
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv(config.EnvTable, "")
	if _, err := HTTPHandler(t.Context(), manifest.Authorize, log); err == nil || !strings.Contains(err.Error(), config.EnvTable) {
		t.Fatalf("missing table: %v", err)
	}
	t.Setenv(config.EnvTable, "elevate-test")
	if _, err := HTTPHandler(t.Context(), manifest.Approvals, log); err == nil || !strings.Contains(err.Error(), config.EnvLinkKey) {
		t.Fatalf("approvals without a link key: %v", err)
	}
	h, err := HTTPHandler(t.Context(), manifest.Authorize, log)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h(t.Context(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /healthz"})
	if err != nil || resp.StatusCode != 200 || resp.Body != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	t.Setenv(config.EnvLinkKey, strings.Repeat("z", 32))
	if _, err := HTTPHandler(t.Context(), manifest.Approvals, log); err != nil {
		t.Fatalf("approvals with a key: %v", err)
	}
}

func TestMain(m *testing.M) { emulatortest.DynamoMain(m) }

// TestHTTPHandlerAgainstDynamoDBLocal runs the functions' real wiring, as
// the Lambda mains do, against DynamoDB Local through the standard endpoint
// variable.
func TestHTTPHandlerAgainstDynamoDBLocal(t *testing.T) {
	client, endpoint := emulatortest.DynamoForTest(t)
	table := emulatortest.UniqueTableName("wire")
	if err := dynamo.CreateTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_REGION", emulator.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv(config.EnvDynamoEndpoint, endpoint)
	t.Setenv(config.EnvTable, table)
	t.Setenv(config.EnvLinkKey, strings.Repeat("z", 32))
	log := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	h, err := HTTPHandler(t.Context(), manifest.Authorize, log)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.APIGatewayV2HTTPRequest{
		RouteKey: "POST /v1/authorize", Headers: map[string]string{"content-type": "application/json"},
		Body: `{"scope":"Exchange","name":"New-MoveRequest"}`,
		RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"email": "alice@example.com", "email_verified": "true"}},
		}},
	}
	resp, err := h(t.Context(), ev)
	// Access is off on a fresh table, so the answer is allowed/disabled.
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"reason":"disabled"`) {
		t.Fatalf("authorize: %d %s %v", resp.StatusCode, resp.Body, err)
	}
}

// Issue 10 item 4: the email_verified opt-out is read from the environment,
// and only the exact value "true" turns it on.
func TestIdentityPolicyFromEnvironment(t *testing.T) {
	for v, want := range map[string]bool{"": false, "false": false, "yes": false, "true": true} {
		t.Setenv(config.EnvAllowMissingEmailVerified, v)
		if got := IdentityPolicy().AllowMissingEmailVerified; got != want {
			t.Errorf("%s=%q: allow missing %v, want %v", config.EnvAllowMissingEmailVerified, v, got, want)
		}
	}
}
