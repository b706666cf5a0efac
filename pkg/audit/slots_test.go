package audit

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// requestsOf is the request table as the audit consumer would read it.
type requestsOf map[string]elevate.Request

func (r requestsOf) GetRequest(_ context.Context, id string) (elevate.Request, error) {
	req, ok := r[id]
	if !ok {
		return elevate.Request{}, elevate.ErrRequestNotFound
	}
	return req, nil
}

// requestsIn is the newest image of every request the batches write, as a
// consistent read after them would see it. Images that do not decode are
// skipped: some tests break them on purpose.
func requestsIn(t *testing.T, evs ...events.DynamoDBEvent) requestsOf {
	t.Helper()
	out := requestsOf{}
	for _, ev := range evs {
		for _, rec := range ev.Records {
			if dynamo.ImageKind(rec.Change.NewImage) != dynamo.KindRequest {
				continue
			}
			r, err := dynamo.RequestFromImage(rec.Change.NewImage)
			if err != nil {
				continue
			}
			if prev, ok := out[r.ID]; !ok || r.Version >= prev.Version {
				out[r.ID] = r
			}
		}
	}
	return out
}

// approvedGrant is r-pending-1 approved at version 2 (its slot Approved,
// ending 12:10), as the table holds it, and its slot's approval record.
func approvedGrant(t *testing.T) (requestsOf, events.DynamoDBEventRecord) {
	t.Helper()
	ev := loadBatch(t, "request-modify-approved.json")
	return requestsIn(t, ev), ev.Records[1]
}

func withAttrs(img map[string]events.DynamoDBAttributeValue, kv ...string) map[string]events.DynamoDBAttributeValue {
	out := cloneImage(img)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = events.NewStringAttribute(kv[i+1])
	}
	return out
}

func mapSlot(t *testing.T, reqs requestsOf, rec events.DynamoDBEventRecord) []auditrecord.Record {
	t.Helper()
	got, err := Mapper{Requests: reqs}.Map(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Issue 16 item 2: a slot's end moved with a fresh changeId (any stamp can
// be copied or made up) is a grant.direct_write with before and after,
// because the request item never said so. On the old code it mapped to
// nothing: authorize allowed past the approved end and the trail was silent.
func TestSlotExtendedWithFreshStampIsDirectWrite(t *testing.T) {
	reqs, _ := approvedGrant(t)
	rec := loadBatch(t, "slot-direct-extend.json").Records[0]
	rec.Change.NewImage = withAttrs(rec.Change.NewImage, "changeId", "r-pending-1#3", "updatedBy", "bob@example.com")
	got := mapSlot(t, reqs, rec)
	if len(got) != 1 || got[0].Action != "grant.direct_write" || got[0].Actor != auditrecord.ActorUnknown || got[0].Detail["directWrite"] != true {
		t.Fatalf("slot extended behind the request's back: %+v", got)
	}
	before, _ := got[0].Detail["before"].(map[string]any)
	after, _ := got[0].Detail["after"].(map[string]any)
	if before["expiresAt"] != "2025-03-01T12:10:00.000Z" || after["expiresAt"] != "2025-03-09T12:15:00.000Z" {
		t.Fatalf("before/after: %v / %v", before, after)
	}
	// The request's own current stamp copied onto the slot fares no better.
	rec.Change.NewImage = withAttrs(rec.Change.NewImage, "changeId", "r-pending-1#2")
	rec.Change.OldImage = withAttrs(rec.Change.OldImage, "changeId", "r-pending-1#1")
	if got := mapSlot(t, reqs, rec); len(got) != 1 || got[0].Action != "grant.direct_write" {
		t.Fatalf("slot extended under the request's stamp: %+v", got)
	}
}

// Issue 16 item 2: Elevate's own move of a grant's end (an extension
// approved: the request item says the new end at the slot's version) is one
// grant.updated record with before and after, by the stamp's actor.
func TestSlotEndMovedByElevateIsGrantUpdated(t *testing.T) {
	reqs, _ := approvedGrant(t)
	r := reqs["r-pending-1"]
	r.Version = 3
	r.SlotLog = append(slices.Clone(r.SlotLog), "3|Approved||2025-03-09T12:15:00.000Z")
	reqs["r-pending-1"] = r
	rec := loadBatch(t, "slot-direct-extend.json").Records[0]
	rec.Change.NewImage = withAttrs(rec.Change.NewImage, "changeId", "r-pending-1#3", "updatedBy", "bob@example.com")
	got := mapSlot(t, reqs, rec)
	if len(got) != 1 || got[0].Action != auditrecord.ActionGrantUpdated || got[0].Actor != "bob@example.com" {
		t.Fatalf("extension's slot change: %+v", got)
	}
	before, _ := got[0].Detail["before"].(map[string]any)
	after, _ := got[0].Detail["after"].(map[string]any)
	if b, a := before["expiresAt"].(time.Time), after["expiresAt"].(time.Time); !b.Equal(at("2025-03-01T12:10:00Z")) || !a.Equal(at("2025-03-09T12:15:00Z")) {
		t.Fatalf("before/after: %v / %v", before, after)
	}
	// Written back to the earlier state afterwards: a replay, not Elevate's.
	back := rec
	back.Change.OldImage, back.Change.NewImage = rec.Change.NewImage, withAttrs(rec.Change.OldImage, "changeId", "r-pending-1#2")
	if got := mapSlot(t, reqs, back); len(got) != 1 || got[0].Action != "grant.direct_write" {
		t.Fatalf("slot rolled back to an older state: %+v", got)
	}
}

// Issue 16 item 2: a revoked grant's slot put back under its old, genuine
// stamp is a direct write: the request's log says that state followed
// another slot state, and the slot was inserted long after its request.
func TestRevokedGrantPutBackIsDirectWrite(t *testing.T) {
	reqs, approval := approvedGrant(t)
	r := reqs["r-pending-1"]
	r.Version, r.Status = 3, "Revoked"
	r.SlotLog = append(slices.Clone(r.SlotLog), "3|Revoked||2025-03-01T12:10:00.000Z")
	reqs["r-pending-1"] = r
	rec := approval
	rec.EventID, rec.EventName = "ev-slot-back", "INSERT"
	rec.Change.OldImage = nil
	rec.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: at("2025-03-01T10:30:00Z")}
	if got := mapSlot(t, reqs, rec); len(got) != 1 || got[0].Action != "grant.direct_write" {
		t.Fatalf("revoked grant put back: %+v", got)
	}
	// Its first state (Pending) put back later is no better.
	pending := loadBatch(t, "request-insert-pending.json").Records[1]
	pending.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: at("2025-03-01T10:30:00Z")}
	if got := mapSlot(t, reqs, pending); len(got) != 1 || got[0].Action != "grant.direct_write" {
		t.Fatalf("first state put back: %+v", got)
	}
}

// A slot change is retried, never mapped unchecked, when its request cannot
// be read.
func TestSlotCheckFailureIsRetried(t *testing.T) {
	_, approval := approvedGrant(t)
	_, err := Mapper{Requests: failingRequests{}}.Map(context.Background(), approval)
	if !errors.Is(err, ErrLookup) {
		t.Fatalf("err = %v, want ErrLookup", err)
	}
}

type failingRequests struct{}

func (failingRequests) GetRequest(context.Context, string) (elevate.Request, error) {
	return elevate.Request{}, errors.New("table unavailable")
}
