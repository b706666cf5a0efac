package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3Server is an in-memory S3 served over real HTTP on 127.0.0.1, so the
// code under test goes through the SDK's full request path.
type S3Server struct {
	Endpoint string
	Bucket   string
	srv      *http.Server
	backend  *s3mem.Backend
	down     atomic.Bool
	done     chan struct{}

	stallMu sync.Mutex
	resumed chan struct{} // non-nil while stalled; closed by SetStalled(false)
}

// StartS3 serves gofakes3 on a free loopback port and creates bucket with
// versioning on, like the audit bucket in AWS.
func StartS3(bucket string) (*S3Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("s3: listen: %w", err)
	}
	backend := s3mem.New()
	fake := gofakes3.New(backend)
	s := &S3Server{Endpoint: "http://" + ln.Addr().String(), Bucket: bucket, backend: backend, done: make(chan struct{})}
	inner := fake.Server()
	s.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.waitWhileStalled()
			if s.down.Load() {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>simulated outage</Message></Error>`))
				return
			}
			inner.ServeHTTP(w, r)
		}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := S3Client(s.Endpoint)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		s.Close()
		return nil, fmt.Errorf("s3: create bucket: %w", err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		s.Close()
		return nil, fmt.Errorf("s3: enable versioning: %w", err)
	}
	return s, nil
}

// SetDown makes every request fail with 503 ServiceUnavailable while down is
// true, to test how callers survive an S3 outage.
func (s *S3Server) SetDown(down bool) { s.down.Store(down) }

// SetStalled makes every request hang while stalled is true, as a server
// that stopped answering: connections are accepted and read, and nothing is
// answered. Once it is false again, each request that waited is served as if
// it had just arrived, whether or not its client is still waiting, as a
// process resumed from SIGSTOP would.
func (s *S3Server) SetStalled(stalled bool) {
	s.stallMu.Lock()
	defer s.stallMu.Unlock()
	switch {
	case stalled && s.resumed == nil:
		s.resumed = make(chan struct{})
	case !stalled && s.resumed != nil:
		close(s.resumed)
		s.resumed = nil
	}
}

func (s *S3Server) waitWhileStalled() {
	s.stallMu.Lock()
	resumed := s.resumed
	s.stallMu.Unlock()
	if resumed != nil {
		<-resumed
	}
}

// Keys lists the bucket's keys from the store behind the server, outage or
// not: what really reached the bucket, which no client can see while it is down.
func (s *S3Server) Keys() ([]string, error) {
	list, err := s.backend.ListBucket(s.Bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(list.Contents))
	for _, c := range list.Contents {
		keys = append(keys, c.Key)
	}
	return keys, nil
}

// Close stops the server; the contents are lost.
func (s *S3Server) Close() {
	s.SetStalled(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = s.srv.Close()
	}
	<-s.done
}

// S3Client is an SDK client for a local S3 endpoint: path-style addressing,
// static credentials, us-east-1, and checksums only where S3 requires them
// (the emulator does not speak the SDK's default aws-chunked trailers). The
// SDK's own retries are off so an outage surfaces at once to the caller,
// whose job it is to report it.
func S3Client(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint:               aws.String(endpoint),
		Region:                     Region,
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           1,
	})
}
