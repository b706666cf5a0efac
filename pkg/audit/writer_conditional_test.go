package audit

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// Issue 10 item 10: the writer never replaces stored evidence. An object
// already at the batch's key (the earlier attempt of the same batch) is left
// exactly as it is, with no new version, and the batch counts as written.
func TestWriterNeverReplacesAnObject(t *testing.T) {
	_, c := wStartS3(t)
	ctx := context.Background()
	ev := wBatchOf(t, "request-insert-pending.json", "request-modify-approved.json")
	h := NewHandler(HandlerDeps{S3: c, Bucket: wBucket, Requests: requestsIn(t, ev)})
	key := auditrecord.ObjectKey(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), BatchID(ev.Records))
	first := []byte("the first attempt's object")
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(wBucket), Key: aws.String(key), Body: bytes.NewReader(first)}); err != nil {
		t.Fatal(err)
	}
	for attempt := range 2 {
		resp, err := h(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("attempt %d: an existing object must count as written: %+v %v", attempt, resp, err)
		}
	}
	obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(wBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Equal(body, first) {
		t.Fatalf("the object was replaced: %q", body)
	}
	versions, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(wBucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(versions.Versions); n != 1 {
		t.Fatalf("%d versions of %s, want the one first written", n, key)
	}
}
