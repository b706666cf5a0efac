package audit

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/auditquery"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

const wBucket = "audit-writer-test"

func wStartS3(t *testing.T) (*emulator.S3Server, *s3.Client) {
	t.Helper()
	srv, err := emulator.StartS3(wBucket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, emulator.S3Client(srv.Endpoint)
}

// objects returns every audit object's key and decoded records.
func wObjects(t *testing.T, c *s3.Client) map[string][]auditrecord.Record {
	t.Helper()
	ctx := context.Background()
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(wBucket), Prefix: aws.String(auditrecord.Prefix)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]auditrecord.Record{}
	for _, o := range out.Contents {
		obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(wBucket), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s is not gzip: %v", *o.Key, err)
		}
		dec := json.NewDecoder(zr)
		var recs []auditrecord.Record
		for dec.More() {
			var r auditrecord.Record
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("%s: %v", *o.Key, err)
			}
			recs = append(recs, r)
		}
		got[*o.Key] = recs
	}
	return got
}

func wBatchOf(t *testing.T, files ...string) events.DynamoDBEvent {
	var ev events.DynamoDBEvent
	for _, f := range files {
		ev.Records = append(ev.Records, loadBatch(t, f).Records...)
	}
	return ev
}

func wIDs(objs map[string][]auditrecord.Record) []string {
	var out []string
	for _, recs := range objs {
		for _, r := range recs {
			out = append(out, r.ID+" "+r.Action)
		}
	}
	sort.Strings(out)
	return out
}

func TestWriterOneObjectPerDayAndRetryAddsNothing(t *testing.T) {
	_, c := wStartS3(t)
	ev := wBatchOf(t, "request-insert-pending.json", "request-modify-approved.json", "event-insert-authorize-denied.json", "slot-ttl-remove-pending.json")
	h := NewHandler(HandlerDeps{S3: c, Bucket: wBucket, Requests: requestsIn(t, ev)})
	for attempt := 0; attempt < 2; attempt++ { // the second run is Lambda retrying the same batch
		resp, err := h(context.Background(), ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("attempt %d: resp %+v, err %v", attempt, resp, err)
		}
	}
	objs := wObjects(t, c)
	if len(objs) != 2 {
		t.Fatalf("got %d objects, want one per day (2): %v", len(objs), objs)
	}
	batch := BatchID(ev.Records)
	day1 := auditrecord.ObjectKey(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), batch)
	day2 := auditrecord.ObjectKey(time.Date(2025, 3, 2, 0, 0, 0, 0, time.UTC), batch)
	if !strings.HasPrefix(day1, "audit/dt=2025-03-01/") || len(objs[day1]) != 4 || len(objs[day2]) != 1 {
		t.Fatalf("objects = %v", objs)
	}
	want := []string{
		"ev-insert-event-7 authorize.denied", "ev-insert-req-1 request.created", "ev-modify-req-2 request.approved",
		"ev-modify-slot-2 grant.created", "ev-ttl-slot-5 request.expired",
	}
	if got := wIDs(objs); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("records = %v, want %v", got, want)
	}

	// The trail reads back through the CLI's reader.
	var actions []string
	err := auditquery.Query(context.Background(), c, wBucket, auditquery.Filter{Since: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)},
		func(r auditrecord.Record) error { actions = append(actions, r.Action); return nil }, nil)
	if err != nil || len(actions) != 5 {
		t.Fatalf("query: %v, %v", actions, err)
	}
}

func TestWriterS3DownReportsAndLosesNothing(t *testing.T) {
	srv, c := wStartS3(t)
	ev := wBatchOf(t, "request-insert-pending.json", "request-modify-approved.json")
	h := NewHandler(HandlerDeps{S3: c, Bucket: wBucket, Requests: requestsIn(t, ev)})

	srv.SetDown(true)
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[0].Change.SequenceNumber {
		t.Fatalf("while down: failures = %+v, want the first record", resp.BatchItemFailures)
	}
	srv.SetDown(false)
	if got := wObjects(t, c); len(got) != 0 {
		t.Fatalf("objects while down: %v", got)
	}
	// Lambda retries from the reported record: here, the whole batch.
	resp, err = h(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("after recovery: %+v, %v", resp, err)
	}
	if got := wIDs(wObjects(t, c)); len(got) != 3 {
		t.Fatalf("after recovery: %v", got)
	}
}

func TestWriterKeepsUnmappableRecordWithoutBlocking(t *testing.T) {
	_, c := wStartS3(t)
	ev := wBatchOf(t, "request-insert-pending.json", "request-modify-approved.json", "event-insert-authorize-denied.json")
	h := NewHandler(HandlerDeps{S3: c, Bucket: wBucket, Requests: requestsIn(t, ev)})
	bad := &ev.Records[2] // the approved request's MODIFY
	bad.Change.NewImage = cloneImage(bad.Change.NewImage)
	bad.Change.NewImage["createdAt"] = events.NewStringAttribute("not a time")

	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	// Retrying could never help, so nothing is reported and the shard moves on.
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures = %+v, want none", resp.BatchItemFailures)
	}
	got := wIDs(wObjects(t, c))
	want := "ev-insert-event-7 authorize.denied,ev-insert-req-1 request.created," + bad.EventID + " " + auditrecord.ActionUnmappable + ",ev-modify-slot-2 grant.created"
	if strings.Join(got, ",") != want {
		t.Fatalf("written = %v, want %s", got, want)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	recs := []auditrecord.Record{{ID: "a", Action: auditrecord.ActionRequestCreated, Actor: "x@example.com", Time: time.Unix(0, 0).UTC(), Detail: map[string]any{"reason": "<b>&"}}}
	b, err := Encode(recs)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	if !strings.HasSuffix(string(raw), "\n") || strings.Count(string(raw), "\n") != 1 || !strings.Contains(string(raw), `"reason":"<b>&"`) {
		t.Fatalf("encoded = %q", raw)
	}
}
