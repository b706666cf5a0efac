package emulator

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// The local S3 (gofakes3 v1.2.0) honours If-None-Match: * over HTTP as S3
// does, so the audit writer's conditional writes are tested for real: the
// first write wins, later ones get 412 PreconditionFailed and change nothing,
// even when they race.
func TestS3ConditionalWriteIfNoneMatch(t *testing.T) {
	srv, err := StartS3("conditional-test")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	c := S3Client(srv.Endpoint)
	put := func(key, body string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("conditional-test"), Key: aws.String(key),
			Body: strings.NewReader(body), IfNoneMatch: aws.String("*")})
		return err
	}
	if err := put("a", "first"); err != nil {
		t.Fatalf("first conditional write: %v", err)
	}
	var api smithy.APIError
	if err := put("a", "second"); !errors.As(err, &api) || api.ErrorCode() != "PreconditionFailed" {
		t.Fatalf("second conditional write: %v, want PreconditionFailed", err)
	}

	const racers = 16
	var wg sync.WaitGroup
	errs := make(chan error, racers)
	for i := range racers {
		wg.Go(func() { errs <- put("b", strings.Repeat("x", i+1)) })
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		if err == nil {
			won++
		} else if !errors.As(err, &api) || api.ErrorCode() != "PreconditionFailed" {
			t.Errorf("racing write: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d racing conditional writes succeeded, want exactly 1", won)
	}
	for key, want := range map[string]string{"a": "first"} {
		obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("conditional-test"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if string(b) != want {
			t.Errorf("%s = %q, want %q", key, b, want)
		}
	}
}
