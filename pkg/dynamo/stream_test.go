package dynamo

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 891_000_000, time.UTC)

func sampleRequest() elevate.Request {
	end := t0.Add(2 * time.Hour)
	return elevate.Request{
		ID: "r1", Type: elevate.TypeTask, Scope: "Exchange", Name: "New-MoveRequest",
		Requester: "alice@example.com", Reason: "migrate", DurationHours: 2, Status: elevate.StatusApproved,
		ApprovalType: elevate.ApprovalManual, ApproverGroup: "ops", RequiredApprovals: 1,
		Decisions: []elevate.Decision{{By: "bob@example.com", Decision: elevate.DecisionApprove, Comment: "ok", At: t0}},
		CreatedAt: t0.Add(-time.Minute), ExpiresAt: end, GrantExpiresAt: &end, Version: 2,
	}
}

func image(t *testing.T, v any) map[string]events.DynamoDBAttributeValue {
	t.Helper()
	m, err := marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	img, err := ToLambdaImage(m)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestRequestRoundTripsThroughStreamImage(t *testing.T) {
	want := sampleRequest()
	img := image(t, toRequestItem(want))
	if k := ImageKind(img); k != KindRequest {
		t.Fatalf("kind %q", k)
	}
	got, err := RequestFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	// The stored request logs its slot's state (slotlog.go).
	want.SlotLog = []string{"2|Approved||" + formatTime(*want.GrantExpiresAt)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestGrantFromImageCarriesSlotStatus(t *testing.T) {
	r := sampleRequest()
	g, status, err := GrantFromImage(image(t, toGrantItem(r)))
	if err != nil {
		t.Fatal(err)
	}
	want, ok := r.Grant()
	if !ok {
		t.Fatal("an approved request has no grant")
	}
	if status != elevate.StatusApproved || !reflect.DeepEqual(g, want) {
		t.Fatalf("got %+v %s, want %+v Approved", g, status, want)
	}
	r.Status = elevate.StatusPending
	if _, status, err := GrantFromImage(image(t, toGrantItem(r))); err != nil || status != elevate.StatusPending {
		t.Fatalf("pending slot decoded as %s %v", status, err)
	}
}

func TestEventRoundTripsWithJSONDetail(t *testing.T) {
	tg := elevate.Target{Type: elevate.TypeRole, Scope: "Exchange", Name: "Admin"}
	ev := app.Event{ID: "e1", Time: t0, Action: "policy.created", Actor: "admin@example.com", Target: &tg, PolicyID: tg.Key(),
		Detail: map[string]any{"after": elevate.Policy{ID: tg.Key(), RequiredApprovals: 2}}}
	it, err := toEventItem(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := EventFromImage(image(t, it))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "e1" || !got.Time.Equal(t0) || got.Action != ev.Action || got.Actor != ev.Actor || *got.Target != tg || got.PolicyID != tg.Key() {
		t.Fatalf("got %+v", got)
	}
	after, ok := got.Detail["after"].(map[string]any)
	if !ok || after["requiredApprovals"] != float64(2) || after["id"] != tg.Key() {
		t.Fatalf("detail should use the domain's JSON names: %#v", got.Detail)
	}
	if it.TTL != t0.Add(24*time.Hour).Unix()+1 {
		t.Fatalf("event ttl %d", it.TTL)
	}
}

func TestImageKindAndWrongKind(t *testing.T) {
	if k := ImageKind(map[string]events.DynamoDBAttributeValue{"PK": events.NewStringAttribute("x")}); k != "" {
		t.Fatalf("kind of a kindless image: %q", k)
	}
	if k := ImageKind(map[string]events.DynamoDBAttributeValue{"kind": events.NewNumberAttribute("1")}); k != "" {
		t.Fatalf("numeric kind read as %q", k)
	}
	img := image(t, toGrantItem(sampleRequest()))
	if _, err := RequestFromImage(img); !errors.Is(err, ErrWrongKind) {
		t.Fatalf("grant image decoded as a request: %v", err)
	}
	if _, err := EventFromImage(img); !errors.Is(err, ErrWrongKind) {
		t.Fatalf("grant image decoded as an event: %v", err)
	}
	req := image(t, toRequestItem(sampleRequest()))
	if _, _, err := GrantFromImage(req); !errors.Is(err, ErrWrongKind) {
		t.Fatalf("request image decoded as a grant: %v", err)
	}
}

func TestRequestFromImageRejectsBadTime(t *testing.T) {
	img := image(t, toRequestItem(sampleRequest()))
	img["createdAt"] = events.NewStringAttribute("yesterday")
	if _, err := RequestFromImage(img); err == nil {
		t.Fatal("accepted a malformed createdAt")
	}
}

func TestTimesSortAsStrings(t *testing.T) {
	a, b := formatTime(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)), formatTime(time.Date(2025, 1, 2, 3, 4, 5, 1_000_000, time.UTC))
	if !(a < b) || len(a) != len(b) {
		t.Fatalf("%q !< %q", a, b)
	}
	if ttlAt(time.Unix(100, 0)) != 100 || ttlAt(time.Unix(100, 1)) != 101 {
		t.Fatal("ttl must round up")
	}
}

// The membership change that gives a v1.1 group its member items sets gen
// too; the audit consumer sees the membership change alone (an added
// member, not a group update).
func TestGenIsNotAChangeOfTheGroup(t *testing.T) {
	old := toGroupItem(elevate.Group{Name: "ops", Members: []string{"bob@example.com"}, CreatedAt: t0, UpdatedAt: t0})
	old.UpdatedBy, old.ChangeID = "admin@example.com", "ev-1"
	cur := old
	cur.Members = []string{"bob@example.com", "carol@example.com"}
	cur.UpdatedBy, cur.ChangeID, cur.Gen = "admin@example.com", "ev-2", "g1"
	rec := events.DynamoDBEventRecord{EventName: string(events.DynamoDBOperationTypeModify),
		Change: events.DynamoDBStreamRecord{OldImage: image(t, old), NewImage: image(t, cur)}}
	if c := ChangeOf(rec); c.Provenance != ByElevate || !reflect.DeepEqual(c.Changed, []string{"members"}) {
		t.Fatalf("change: %+v", c)
	}
}
