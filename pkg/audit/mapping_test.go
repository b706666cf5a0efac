package audit

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

func loadBatch(t *testing.T, name string) events.DynamoDBEvent {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", "events", "stream", name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

func mapAll(t *testing.T, ev events.DynamoDBEvent) []auditrecord.Record {
	t.Helper()
	var out []auditrecord.Record
	m := Mapper{Requests: requestsIn(t, ev)}
	for _, rec := range ev.Records {
		recs, err := m.Map(context.Background(), rec)
		if err != nil {
			t.Fatalf("Map(%s): %v", rec.EventID, err)
		}
		out = append(out, recs...)
	}
	return out
}

func TestMapSamples(t *testing.T) {
	type want struct {
		id, action, actor, requestID string
		time                         string
		detail                       map[string]any
	}
	cases := []struct {
		file string
		want []want
	}{
		{"request-insert-pending.json", []want{
			{"ev-insert-req-1", auditrecord.ActionRequestCreated, "rita@example.com", "r-pending-1", "2025-03-01T10:00:00Z",
				map[string]any{"status": "Pending", "approverGroup": "ops", "reason": `Move the CEO's mailbox <urgent> & "now"`}},
		}},
		{"request-modify-approved.json", []want{
			{"ev-modify-req-2", auditrecord.ActionRequestApproved, "bob@example.com", "r-pending-1", "2025-03-01T10:10:00Z",
				map[string]any{"final": true, "approvals": 1, "requiredApprovals": 1, "comment": "ok, go"}},
			{"ev-modify-slot-2", auditrecord.ActionGrantCreated, "system", "r-pending-1", "2025-03-01T10:10:00Z",
				map[string]any{"principal": "rita@example.com"}},
		}},
		{"request-modify-partial.json", []want{
			{"ev-modify-req-3", auditrecord.ActionRequestApproved, "alice@example.com", "r-two-1", "2025-03-01T10:05:00Z",
				map[string]any{"final": false, "approvals": 1, "requiredApprovals": 2}},
		}},
		{"request-insert-auto.json", []want{
			{"ev-insert-req-4", auditrecord.ActionRequestCreated, "rita@example.com", "r-auto-1", "2025-03-01T10:00:00Z", map[string]any{"approvalType": "Auto"}},
			{"ev-insert-req-4#2", auditrecord.ActionRequestApproved, "system", "r-auto-1", "2025-03-01T10:00:00Z", map[string]any{"final": true, "automatic": true}},
			{"ev-insert-slot-4", auditrecord.ActionGrantCreated, "system", "r-auto-1", "2025-03-01T10:00:00Z", nil},
		}},
		{"slot-ttl-remove-pending.json", []want{
			{"ev-ttl-slot-5", auditrecord.ActionRequestExpired, "system", "r-pending-1", "2025-03-02T10:30:00Z", map[string]any{"principal": "rita@example.com"}},
		}},
		{"slot-ttl-remove-approved.json", []want{
			{"ev-ttl-slot-6", auditrecord.ActionGrantExpired, "system", "r-pending-1", "2025-03-01T12:15:00Z", nil},
		}},
		{"event-insert-authorize-denied.json", []want{
			{"ev-insert-event-7", auditrecord.ActionAuthorizeDenied, "rita@example.com", "", "2025-03-01T10:01:00Z",
				map[string]any{"allowed": false, "reason": "approval-required"}},
		}},
		{"slot-manual-remove-revoked.json", []want{
			{"ev-modify-req-8", auditrecord.ActionRequestRevoked, "alice@example.com", "r-pending-1", "2025-03-01T10:20:00Z", map[string]any{"comment": "done early"}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			got := mapAll(t, loadBatch(t, tc.file))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d records, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.ID != w.id || g.Action != w.action || g.Actor != w.actor || g.RequestID != w.requestID {
					t.Errorf("record %d = {%s %s %s %s}, want {%s %s %s %s}", i, g.ID, g.Action, g.Actor, g.RequestID, w.id, w.action, w.actor, w.requestID)
				}
				if ts := g.Time.Format(time.RFC3339); ts != w.time {
					t.Errorf("record %d time = %s, want %s", i, ts, w.time)
				}
				if g.Target == nil || g.Target.Type != "Task" || g.Target.Scope != "Exchange" || g.Target.Name != "New-MoveRequest" {
					t.Errorf("record %d target = %+v", i, g.Target)
				}
				// Compare through JSON, as the trail stores it.
				b, _ := json.Marshal(g.Detail)
				var detail map[string]any
				_ = json.Unmarshal(b, &detail)
				for k, v := range w.detail {
					wb, _ := json.Marshal(v)
					gb, _ := json.Marshal(detail[k])
					if string(wb) != string(gb) {
						t.Errorf("record %d detail[%s] = %s, want %s", i, k, gb, wb)
					}
				}
			}
		})
	}
}

func TestMapIgnoresEventTTLAndOtherKinds(t *testing.T) {
	ev := loadBatch(t, "event-insert-authorize-denied.json").Records[0]
	ev.EventName = "REMOVE"
	ev.Change.OldImage, ev.Change.NewImage = ev.Change.NewImage, nil
	ev.UserIdentity = &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}
	if recs, err := Map(ev); err != nil || len(recs) != 0 {
		t.Fatalf("event TTL remove: %v, %v", recs, err)
	}
	// A TTL REMOVE by another principal is not DynamoDB's TTL.
	slot := loadBatch(t, "slot-ttl-remove-pending.json").Records[0]
	slot.UserIdentity.PrincipalID = "someone.else"
	if recs, err := Map(slot); err != nil || len(recs) != 0 {
		t.Fatalf("non-TTL service remove: %v, %v", recs, err)
	}
	// Bookkeeping kinds (link markers, group holds, ...) are not entities.
	link := events.DynamoDBEventRecord{EventID: "l", EventName: "INSERT", Change: events.DynamoDBStreamRecord{
		NewImage: map[string]events.DynamoDBAttributeValue{"kind": events.NewStringAttribute("link")}}}
	if recs, err := Map(link); err != nil || len(recs) != 0 {
		t.Fatalf("link insert: %v, %v", recs, err)
	}
}

func TestMapSlotTakenOverRecordsTheLapse(t *testing.T) {
	auto := loadBatch(t, "request-insert-auto.json")
	rec := loadBatch(t, "request-modify-approved.json").Records[1]
	// The old slot belongs to another, lapsed request; the new one is an
	// auto-approved request's, written with it.
	rec.Change.OldImage = cloneImage(rec.Change.OldImage)
	rec.Change.OldImage["requestId"] = events.NewStringAttribute("r-old")
	rec.Change.NewImage = auto.Records[1].Change.NewImage
	rec.Change.ApproximateCreationDateTime = auto.Records[1].Change.ApproximateCreationDateTime
	got, err := Mapper{Requests: requestsIn(t, auto)}.Map(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Action != auditrecord.ActionRequestExpired || got[0].RequestID != "r-old" ||
		got[1].Action != auditrecord.ActionGrantCreated || got[1].ID != rec.EventID+"#2" {
		t.Fatalf("got %+v", got)
	}
}

func TestMapBrokenImageIsAnError(t *testing.T) {
	rec := loadBatch(t, "request-insert-pending.json").Records[0]
	rec.Change.NewImage = cloneImage(rec.Change.NewImage)
	rec.Change.NewImage["createdAt"] = events.NewStringAttribute("yesterday")
	_, err := Map(rec)
	if !errors.Is(err, ErrUnmappable) || !strings.Contains(err.Error(), rec.EventID) {
		t.Fatalf("err = %v", err)
	}
}

func TestNoSecretsInDetail(t *testing.T) {
	for _, f := range []string{"request-insert-pending.json", "request-modify-approved.json", "slot-manual-remove-revoked.json"} {
		for _, r := range mapAll(t, loadBatch(t, f)) {
			b, _ := json.Marshal(r.Detail)
			for _, bad := range []string{"token", "Authorization", "linkId", "jti"} {
				if strings.Contains(string(b), bad) {
					t.Errorf("%s: detail of %s mentions %q: %s", f, r.ID, bad, b)
				}
			}
		}
	}
}

func cloneImage(m map[string]events.DynamoDBAttributeValue) map[string]events.DynamoDBAttributeValue {
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Issue 10 item 9: every change to a settings, group or policy item is one
// record whose actor is the item's own stamp; a change Elevate did not make
// is <entity>.direct_write, flagged; a prepared delete is one record.
func TestMapEntityChangesAndDirectWrites(t *testing.T) {
	type want struct {
		id, action, actor string
		detail            map[string]any
	}
	cases := []struct {
		file string
		want []want
	}{
		{"group-insert-and-member-added.json", []want{
			{"ev-group-01", auditrecord.ActionGroupCreated, "admin@example.com", map[string]any{"group": "ops", "members": []string{"bob@example.com"}}},
			{"ev-group-02", auditrecord.ActionGroupMemberAdd, "admin@example.com", map[string]any{"group": "ops", "member": "carol@example.com"}},
		}},
		{"group-refs-by-policy.json", []want{
			{"ev-group-03", auditrecord.ActionGroupUpdated, "admin@example.com", map[string]any{"changed": []string{"refs"}, "before": map[string]any{"refs": "0"}, "after": map[string]any{"refs": "1"}}},
		}},
		{"group-prepared-delete.json", []want{
			{"ev-group-05", auditrecord.ActionGroupDeleted, "admin@example.com", map[string]any{"group": "ops"}},
		}},
		{"group-direct-write.json", []want{
			{"ev-group-06", "group.direct_write", auditrecord.ActorUnknown, map[string]any{"directWrite": true, "operation": "MODIFY", "changed": []string{"members"},
				"key": map[string]any{"PK": "GROUP", "SK": "ops"}}},
			{"ev-group-07", "group.direct_write", auditrecord.ActorUnknown, map[string]any{"directWrite": true, "operation": "REMOVE"}},
		}},
		{"policy-insert-and-direct-write.json", []want{
			{"ev-policy-01", auditrecord.ActionPolicyCreated, "admin@example.com", map[string]any{"after": map[string]any{"approvalType": "Manual"}}},
			{"ev-policy-02", "policy.direct_write", auditrecord.ActorUnknown, map[string]any{"directWrite": true, "changed": []string{"approvalType"}}},
		}},
		{"settings-insert-and-direct-write.json", []want{
			{"ev-settings-01", auditrecord.ActionSettingsUpdated, "admin@example.com", map[string]any{"after": map[string]any{"enabled": true, "defaultApproverGroup": "ops"}}},
			{"ev-settings-02", "settings.direct_write", auditrecord.ActorUnknown, map[string]any{"directWrite": true, "changed": []string{"enabled"}}},
		}},
		{"slot-direct-extend.json", []want{
			{"ev-slot-direct-01", "grant.direct_write", auditrecord.ActorUnknown, map[string]any{"directWrite": true, "changed": []string{"expiresAt", "expiresEpochMs", "ttl"}}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			got := mapAll(t, loadBatch(t, tc.file))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d records, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.ID != w.id || g.Action != w.action || g.Actor != w.actor {
					t.Errorf("record %d = {%s %s %s}, want {%s %s %s}", i, g.ID, g.Action, g.Actor, w.id, w.action, w.actor)
				}
				b, _ := json.Marshal(g.Detail)
				var detail map[string]any
				_ = json.Unmarshal(b, &detail)
				for k, v := range w.detail {
					if !containsJSON(t, detail[k], v) {
						gb, _ := json.Marshal(detail[k])
						wb, _ := json.Marshal(v)
						t.Errorf("record %d detail[%s] = %s, want %s", i, k, gb, wb)
					}
				}
			}
		})
	}
	// The slot's direct write names its request and target.
	slot := mapAll(t, loadBatch(t, "slot-direct-extend.json"))[0]
	if slot.RequestID != "r-pending-1" || slot.Target == nil || slot.Target.Name != "New-MoveRequest" {
		t.Fatalf("slot direct write %+v", slot)
	}
}

// containsJSON: got (decoded JSON) has every field of want, recursively.
func containsJSON(t *testing.T, got, want any) bool {
	t.Helper()
	wb, _ := json.Marshal(want)
	var w any
	_ = json.Unmarshal(wb, &w)
	switch w := w.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !containsJSON(t, g[k], v) {
				return false
			}
		}
		return true
	default:
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(w)
		return string(gb) == string(wb)
	}
}
