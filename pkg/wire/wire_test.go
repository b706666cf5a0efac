package wire

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/localstack"
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
	t.Setenv(config.EnvPageKey, "")
	a, weakA := PageKey([]byte(strings.Repeat("a", 32)), "t1")
	b, weakB := PageKey([]byte(strings.Repeat("b", 32)), "t1")
	c, weakC := PageKey(nil, "t1")
	if weakA || weakB || !weakC || bytes.Equal(a, b) || bytes.Equal(a, c) || len(a) != 32 {
		t.Fatalf("derived keys: %x %x %x %v %v %v", a, b, c, weakA, weakB, weakC)
	}
	if bytes.Contains(a, []byte("aaaa")) {
		t.Fatal("the page key exposes the link key")
	}
	t.Setenv(config.EnvPageKey, strings.Repeat("p", 32))
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

	t.Setenv(config.EnvTable, "elevate-test")
	t.Setenv("AWS_REGION", "")
	if _, err := HTTPHandler(t.Context(), routes.Authorize, log); err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("missing region: %v", err)
	}
	t.Setenv("AWS_REGION", "us-east-1")
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

func TestMain(m *testing.M) { localstack.DynamoMain(m) }

// TestHTTPHandlerAgainstDynamoDBLocal runs the functions' real wiring, as
// the Lambda mains do, against DynamoDB Local through the standard endpoint
// variable.
func TestHTTPHandlerAgainstDynamoDBLocal(t *testing.T) {
	client, endpoint := localstack.DynamoForTest(t)
	table := localstack.UniqueTableName("wire")
	if err := dynamo.CreateTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_REGION", localstack.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv(config.EnvDynamoEndpoint, endpoint)
	t.Setenv(config.EnvTable, table)
	t.Setenv(config.EnvLinkKey, strings.Repeat("z", 32))
	log := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	h, err := HTTPHandler(t.Context(), routes.Authorize, log)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.APIGatewayV2HTTPRequest{
		RouteKey: "POST /v1/authorize", Headers: map[string]string{"content-type": "application/json"},
		Body: `{"scope":"Exchange","name":"New-MoveRequest"}`,
		RequestContext: events.APIGatewayV2HTTPRequestContext{Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{"email": "alice@example.com"}},
		}},
	}
	resp, err := h(t.Context(), ev)
	// Access is off on a fresh table, so the answer is allowed/disabled.
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, `"reason":"disabled"`) {
		t.Fatalf("authorize: %d %s %v", resp.StatusCode, resp.Body, err)
	}
}
