package local

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// TestGatewayGivesLambdaDeadlines: each invocation's context carries its
// function's timeout, as Lambda's does; one still running at the deadline is
// logged as Lambda logs a timeout and answered as API Gateway answers a
// Lambda that timed out, whatever the handler returns later.
func TestGatewayGivesLambdaDeadlines(t *testing.T) {
	a := newTestAuthority(t)
	var left time.Duration
	fast := func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		d, ok := ctx.Deadline()
		if !ok {
			t.Error("the invocation has no deadline")
		}
		left = time.Until(d)
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}
	release := make(chan struct{})
	defer close(release)
	stuck := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		<-release // ignores its deadline, as a handler with an unbounded call would
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}
	var logs bytes.Buffer
	g := &Gateway{Functions: map[string]HTTPHandler{manifest.Authorize: fast}, Verifier: a, Log: slog.New(slog.NewJSONHandler(&logs, nil))}

	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	eq(t, "status", w.Code, 200)
	if want := budget.Timeout(manifest.Authorize); left > want || left < want-time.Second {
		t.Errorf("the handler had %v left, want its function's timeout %v", left, want)
	}

	g.Functions[manifest.Authorize] = stuck
	g.Timeouts = map[string]time.Duration{manifest.Authorize: 300 * time.Millisecond}
	start := time.Now()
	w = httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %v, want at the 300 ms timeout", took)
	}
	eq(t, "status", w.Code, 500)
	eq(t, "body", w.Body.String(), `{"message":"Internal Server Error"}`)
	if !strings.Contains(logs.String(), "Task timed out after 0.30 seconds") {
		t.Errorf("no timeout logged: %s", logs.String())
	}
}

// TestPollerTimeoutFailsTheBatch: a stream invocation still running at its
// timeout fails its whole batch, as in Lambda.
func TestPollerTimeoutFailsTheBatch(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c := &cursor{p: &pollerSettings{StreamARN: "arn", Log: slog.New(slog.DiscardHandler)}, log: slog.New(slog.DiscardHandler),
		c: Consumer{Name: manifest.Audit, Timeout: 200 * time.Millisecond, Handle: func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			<-release
			return events.DynamoDBEventResponse{}, nil
		}}}
	if got := c.deliver(context.Background(), recordsForTest(3)); got != 0 {
		t.Errorf("a timed-out batch failed at %d, want 0 (all of it)", got)
	}
	c.c.Handle = func(ctx context.Context, _ events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the stream invocation has no deadline")
		}
		return events.DynamoDBEventResponse{}, nil
	}
	if got := c.deliver(context.Background(), recordsForTest(3)); got != -1 {
		t.Errorf("a batch in time failed at %d", got)
	}
}

func recordsForTest(n int) []types.Record {
	out := make([]types.Record, n)
	for i := range out {
		out[i] = types.Record{EventID: aws.String(fmt.Sprint("e", i)), Dynamodb: &types.StreamRecord{SequenceNumber: aws.String(fmt.Sprint(100 + i))}}
	}
	return out
}
