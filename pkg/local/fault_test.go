package local

import (
	"context"
	"strings"
	"testing"
)

// TestDynamoDBStoppedMidRun kills DynamoDB Local under a running stack:
// every call that needs the table gets a 503 problem that names no internals,
// the gateway and the health check keep answering, and nothing is half
// written because each change is one transaction that never committed.
func TestDynamoDBStoppedMidRun(t *testing.T) {
	o, _ := withOpenAPI(t, Options{})
	st, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Stop() })
	admin := st.client(t, "admin@example.com", "elevate-admins")
	alice := st.client(t, "alice@example.com")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual"})

	if err := st.Dynamo.Stop(); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		c            *client
		method, path string
		body         any
	}{
		{alice, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": "during outage"}},
		{alice, "POST", "/v1/authorize", map[string]any{"scope": "Exchange", "name": "New-MoveRequest"}},
		{alice, "GET", "/v1/requests", nil},
		{admin, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "Get-Mailbox", "approvalType": "Auto"}},
		{admin, "PATCH", "/v1/settings", map[string]any{"enabled": false}},
	}
	for _, c := range calls {
		code, out := c.c.do(c.method, c.path, c.body)
		raw, _ := out["_raw"].(string)
		if code != 503 || out["status"] != float64(503) {
			t.Errorf("%s %s with DynamoDB down: %d %s", c.method, c.path, code, raw)
		}
		for _, leak := range []string{"dial", "connection refused", "127.0.0.1", "dynamodb", "operation error"} {
			if strings.Contains(strings.ToLower(raw), leak) {
				t.Errorf("%s %s leaks %q: %s", c.method, c.path, leak, raw)
			}
		}
	}
	if code, _ := alice.do("GET", "/healthz", nil); code != 200 {
		t.Errorf("healthz during the outage: %d", code)
	}
}
