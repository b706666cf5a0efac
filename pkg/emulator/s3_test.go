package emulator

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

func TestS3RoundTripVersioningAndOutage(t *testing.T) {
	srv, err := StartS3("audit-test")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	c := S3Client(srv.Endpoint)

	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("audit-test")})
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != "Enabled" {
		t.Fatalf("versioning status = %q, want Enabled", v.Status)
	}
	put := func() error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("audit-test"), Key: aws.String("a/b.txt"), Body: strings.NewReader("hello")})
		return err
	}
	if err := put(); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("audit-test"), Key: aws.String("a/b.txt")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(body) != "hello" {
		t.Fatalf("body = %q", body)
	}

	srv.SetDown(true)
	err = put()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ServiceUnavailable" {
		t.Fatalf("put while down: err = %v, want ServiceUnavailable", err)
	}
	srv.SetDown(false)
	if err := put(); err != nil {
		t.Fatalf("put after recovery: %v", err)
	}
}
