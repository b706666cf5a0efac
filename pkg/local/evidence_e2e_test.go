package local

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/auditquery"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/cli"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

// runCLI runs `elevate` in-process against the stack's audit bucket: the
// CLI's own query, export and verify code, its S3 client the stack's.
func runCLI(t *testing.T, st *Stack, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := cli.Env{Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string {
			if k == cli.EnvAuditBucket {
				return st.Bucket
			}
			return ""
		},
		NewS3: func(context.Context) (auditquery.S3Reader, error) { return emulator.S3Client(st.S3Endpoint), nil },
	}
	code := cli.Run(context.Background(), args, env)
	if errOut.Len() > 0 {
		t.Logf("elevate %s: %s", strings.Join(args, " "), errOut.String())
	}
	return code, out.String()
}

// cliQuery is `elevate audit query --output json` from since on.
func cliQuery(t *testing.T, st *Stack, since time.Time, extra ...string) []auditrecord.Record {
	t.Helper()
	args := append([]string{"audit", "query", "--since", since.UTC().Format(time.RFC3339Nano), "--output", "json"}, extra...)
	code, out := runCLI(t, st, args...)
	if code != cli.ExitOK {
		t.Fatalf("elevate audit query: exit %d", code)
	}
	var recs []auditrecord.Record
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r auditrecord.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// Issue 16 items 1-3 end to end: writes straight to DynamoDB Local, through
// its real stream and the audit consumer into the gofakes3 bucket, and back
// through `elevate audit query`.
//   - Item 1: an event item claiming bob approved in January is an
//     event.direct_write filed today; a backdated authorize event is timed
//     by the stream; nothing lands in January; verify of a bundle fails once
//     an object appears in a day it covers.
//   - Item 2: a grant slot extended with a fresh changeId is a
//     grant.direct_write with before and after; an extension Elevate
//     approved is one grant.updated.
//   - Item 3: a policy deleted through the API reads after its creation; a
//     direct delete made after T, timed only by the stream's minute, is not
//     dropped by --since T; output is in time order.
func TestForgedAndBackdatedWritesEndToEnd(t *testing.T) {
	st := startStack(t)
	ctx := context.Background()
	admin := st.client(t, "admin@example.com", "elevate-admins")
	alice := st.client(t, "alice@example.com")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Auto", "maxDurationHours": 8})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "Set-Mailbox", "approvalType": "Manual"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "Get-Mailbox", "approvalType": "Manual"})
	req := alice.must(201, "POST", "/v1/requests", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "reason": "move the CEO's mailbox tonight", "durationHours": 2})
	id := req["id"].(string)
	// Elevate's own extension of the grant (Auto: at once).
	alice.must(201, "POST", "/v1/requests/"+id+"/extend", map[string]any{"durationHours": 1, "reason": "the move is still running"})
	got := alice.must(200, "GET", "/v1/requests/"+id, nil)
	approvedEnd, err := time.Parse(time.RFC3339, got["grantExpiresAt"].(string))
	if err != nil {
		t.Fatal(err)
	}
	// Item 3: a policy deleted through the API (a prepared delete).
	admin.must(204, "DELETE", "/v1/policies/task:exchange:set-mailbox", nil)

	db := emulator.DynamoClient(st.DynamoEndpoint)
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	since := time.Now().UTC()
	forgedAt := "2025-01-15T09:00:00.000Z"
	for _, ev := range []struct{ id, action, actor string }{
		{"forged-approval", "request.approved", "bob@example.com"},
		{"backdated-allow", "authorize.allowed", "alice@example.com"},
	} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.Table), Item: map[string]types.AttributeValue{
			"PK": s("EVENT#" + ev.id), "SK": s("EVENT"), "kind": s("event"), "id": s(ev.id), "time": s(forgedAt),
			"action": s(ev.action), "actor": s(ev.actor), "requestId": s(id), "ttl": n(time.Now().Add(time.Hour).Unix())}}); err != nil {
			t.Fatal(err)
		}
	}
	// Item 2: the grant's slot given 30 more days under a fresh stamp.
	forgedEnd := approvedEnd.Add(30 * 24 * time.Hour)
	if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(st.Table),
		Key:                      map[string]types.AttributeValue{"PK": s("GRANT#alice@example.com"), "SK": s("task:exchange:new-moverequest")},
		UpdateExpression:         aws.String("SET expiresAt = :e, expiresEpochMs = :ms, #ttl = :ttl, changeId = :c, updatedBy = :by"),
		ExpressionAttributeNames: map[string]string{"#ttl": "ttl"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": s(forgedEnd.Format("2006-01-02T15:04:05.000Z")), ":ms": n(forgedEnd.UnixMilli()),
			":ttl": n(forgedEnd.Unix()), ":c": s(id + "#99"), ":by": s("bob@example.com")}}); err != nil {
		t.Fatal(err)
	}
	// Item 3: a policy deleted behind the API's back, after since.
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(st.Table),
		Key: map[string]types.AttributeValue{"PK": s("POLICY"), "SK": s("task:exchange:get-mailbox")}}); err != nil {
		t.Fatal(err)
	}

	want := []string{"event.direct_write", auditrecord.ActionAuthorizeAllowed, "grant.direct_write", "policy.direct_write"}
	var recs []auditrecord.Record
	eventually(t, "the direct writes in the audit bucket", func() bool {
		recs = cliQuery(t, st, since)
		return !slices.ContainsFunc(want, func(a string) bool {
			return !slices.ContainsFunc(recs, func(r auditrecord.Record) bool { return r.Action == a })
		})
	})
	byAction := map[string]auditrecord.Record{}
	for i, r := range recs {
		byAction[r.Action] = r
		if i > 0 && r.Time.Before(recs[i-1].Time) {
			t.Errorf("query output out of time order: %v after %v", r.Time, recs[i-1].Time)
		}
	}
	today := time.Now().UTC().Format(time.DateOnly)
	forged := byAction["event.direct_write"]
	after, _ := forged.Detail["after"].(map[string]any)
	if forged.Actor != auditrecord.ActorUnknown || forged.Detail["directWrite"] != true || after["action"] != "request.approved" || forged.Time.Format(time.DateOnly) != today {
		t.Errorf("forged approval: %+v", forged)
	}
	if r := byAction[auditrecord.ActionAuthorizeAllowed]; r.Time.Format(time.DateOnly) != today || r.TimePrecision != "1m0s" || r.Detail["claimedTime"] == nil {
		t.Errorf("backdated authorize record: %+v", r)
	}
	if r := byAction["policy.direct_write"]; r.TimePrecision != "1m0s" {
		t.Errorf("direct delete: %+v", r)
	}
	slot := byAction["grant.direct_write"]
	before, _ := slot.Detail["before"].(map[string]any)
	slotAfter, _ := slot.Detail["after"].(map[string]any)
	if slot.RequestID != id || before["expiresAt"] != approvedEnd.UTC().Format("2006-01-02T15:04:05.000Z") || slotAfter["expiresAt"] != forgedEnd.Format("2006-01-02T15:04:05.000Z") {
		t.Errorf("forged extension: %+v", slot)
	}
	// Nothing was filed in January, and bob approved nothing.
	if jan := cliQuery(t, st, time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC), "--until", "2025-01-16T00:00:00Z"); len(jan) != 0 {
		t.Errorf("records filed in January: %+v", jan)
	}
	all := cliQuery(t, st, time.Now().Add(-time.Hour))
	if bob := slices.ContainsFunc(all, func(r auditrecord.Record) bool {
		return r.Actor == "bob@example.com" && r.Action == auditrecord.ActionRequestApproved
	}); bob {
		t.Errorf("bob is shown approving")
	}
	// Elevate's own extension is one grant.updated; the API delete reads
	// after its policy's creation.
	var updated, created, deleted []auditrecord.Record
	for _, r := range all {
		switch {
		case r.Action == auditrecord.ActionGrantUpdated && r.RequestID == id:
			updated = append(updated, r)
		case r.Action == auditrecord.ActionPolicyCreated && r.PolicyID == "task:exchange:set-mailbox":
			created = append(created, r)
		case r.Action == auditrecord.ActionPolicyDeleted && r.PolicyID == "task:exchange:set-mailbox":
			deleted = append(deleted, r)
		}
	}
	if len(updated) != 1 {
		t.Errorf("grant.updated records of the extension: %+v", updated)
	}
	if len(created) != 1 || len(deleted) != 1 || deleted[0].Time.Before(created[0].Time) || deleted[0].TimePrecision != "" {
		t.Errorf("policy created %+v, deleted %+v", created, deleted)
	}

	// Item 1, verify: a bundle of January (empty, as it should be) fails
	// once an object appears in a day it covers.
	dir := filepath.Join(t.TempDir(), "january")
	if code, _ := runCLI(t, st, "audit", "export", "--since", "2025-01-15", "--until", "2025-01-15T23:59:59Z", "--evidence", dir); code != cli.ExitOK {
		t.Fatalf("export: exit %d", code)
	}
	if code, _ := runCLI(t, st, "audit", "verify", dir); code != cli.ExitOK {
		t.Fatalf("verify of an untouched bundle: exit %d", code)
	}
	line, err := json.Marshal(auditrecord.Record{ID: "planted", Time: time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC), Action: auditrecord.ActionRequestApproved, Actor: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := emulator.S3Client(st.S3Endpoint).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(st.Bucket),
		Key: aws.String(auditrecord.ObjectKey(time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC), "planted")), Body: bytes.NewReader(append(line, '\n'))}); err != nil {
		t.Fatal(err)
	}
	if code, out := runCLI(t, st, "audit", "verify", dir); code != cli.ExitVerifyFailed || !strings.Contains(out, "planted") {
		t.Fatalf("verify after an object was planted in January: exit %d, %s", code, out)
	}
}
