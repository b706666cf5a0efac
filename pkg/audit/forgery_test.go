package audit

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// Issue 16 item 1: an event item may carry only the actions Elevate writes
// as events (authorize.*, refused.*). Anything else is event.direct_write,
// flagged, by "unknown", with the raw image, at the time the stream says.
func TestEventItemClaimingAnotherActionIsDirectWrite(t *testing.T) {
	rec := loadBatch(t, "event-insert-authorize-denied.json").Records[0]
	rec.Change.NewImage = cloneImage(rec.Change.NewImage)
	rec.Change.NewImage["action"] = events.NewStringAttribute(auditrecord.ActionRequestApproved)
	rec.Change.NewImage["actor"] = events.NewStringAttribute("bob@example.com")
	rec.Change.NewImage["time"] = events.NewStringAttribute("2025-01-15T09:00:00.000Z")
	got, err := Map(rec)
	if err != nil {
		t.Fatal(err)
	}
	streamAt := rec.Change.ApproximateCreationDateTime.UTC()
	if len(got) != 1 {
		t.Fatalf("got %d records, want 1: %+v", len(got), got)
	}
	r := got[0]
	after, _ := r.Detail["after"].(map[string]any)
	if r.Action != "event.direct_write" || r.Actor != auditrecord.ActorUnknown || r.Detail["directWrite"] != true || after["action"] != auditrecord.ActionRequestApproved {
		t.Fatalf("forged event mapped as %+v", r)
	}
	if !r.Time.Equal(streamAt) || r.TimePrecision != "1s" {
		t.Fatalf("time %v (precision %q), want the stream's %v", r.Time, r.TimePrecision, streamAt)
	}
}

// Issue 16 item 1: a record's time is never earlier than the stream's time
// of its change: a backdated authorize event keeps its action, but is timed
// (and so filed) by the stream, its claim kept in detail.claimedTime.
func TestBackdatedEventIsTimedByTheStream(t *testing.T) {
	rec := loadBatch(t, "event-insert-authorize-denied.json").Records[0]
	rec.Change.NewImage = cloneImage(rec.Change.NewImage)
	rec.Change.NewImage["time"] = events.NewStringAttribute("2025-01-15T09:00:00.000Z")
	got, err := Map(rec)
	if err != nil {
		t.Fatal(err)
	}
	streamAt := rec.Change.ApproximateCreationDateTime.UTC()
	if len(got) != 1 || got[0].Action != auditrecord.ActionAuthorizeDenied || !got[0].Time.Equal(streamAt) || got[0].TimePrecision != "1s" {
		t.Fatalf("backdated event mapped as %+v", got)
	}
	if claimed, _ := got[0].Detail["claimedTime"].(time.Time); !claimed.Equal(at("2025-01-15T09:00:00Z")) {
		t.Fatalf("claimedTime = %v", got[0].Detail["claimedTime"])
	}
	// Within the stream's precision the claim stands: it is the more exact.
	rec.Change.NewImage["time"] = events.NewStringAttribute(streamAt.Add(300 * time.Millisecond).Format("2006-01-02T15:04:05.000Z"))
	if got, err = Map(rec); err != nil || !got[0].Time.Equal(streamAt.Add(300*time.Millisecond)) || got[0].TimePrecision != "" {
		t.Fatalf("a claim within the stream's second: %+v %v", got, err)
	}
}

// Issue 16 item 3: an API delete is timed by its prepared-delete stamp, not
// by the stream's time, which DynamoDB Local rounds down to the minute: a
// group.deleted never reads before the changes that preceded it.
func TestPreparedDeleteIsTimedByItsStamp(t *testing.T) {
	ev := loadBatch(t, "group-prepared-delete.json")
	i := slices.IndexFunc(ev.Records, func(r events.DynamoDBEventRecord) bool { return r.EventName == "REMOVE" })
	rec := ev.Records[i]
	prepared := at("2025-03-01T10:05:50Z")
	rec.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: at("2025-03-01T10:05:00Z")} // the minute, rounded down
	rec.Change.OldImage = cloneImage(rec.Change.OldImage)
	rec.Change.OldImage["deleteBeforeEpochMs"] = events.NewNumberAttribute("1740823610000") // prepared + one minute
	got, err := Mapper{StreamTimePrecision: time.Minute}.Map(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Action != auditrecord.ActionGroupDeleted || !got[0].Time.Equal(prepared) || got[0].TimePrecision != "" {
		t.Fatalf("delete mapped as %+v, want group.deleted at %v", got, prepared)
	}
	// A direct write has only the stream's time, and says how rough it is.
	rec.Change.OldImage = cloneImage(rec.Change.OldImage)
	delete(rec.Change.OldImage, "deleteId")
	if got, err = (Mapper{StreamTimePrecision: time.Minute}).Map(context.Background(), rec); err != nil || len(got) != 1 ||
		got[0].Action != "group.direct_write" || got[0].TimePrecision != "1m0s" {
		t.Fatalf("unprepared delete mapped as %+v %v", got, err)
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
