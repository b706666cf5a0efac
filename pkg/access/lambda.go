package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// StreamHandler is a stream consumer's handler.
type StreamHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Part is one thing the access function applies to AWS: its stream handler
// and its sweep. The revocation deny is one; Identity Center assignments
// another.
type Part struct {
	Stream StreamHandler
	Sweep  func(context.Context) error
}

// Part returns the revocation deny as a part of the access function.
func (d Deps) Part() Part {
	return Part{
		Stream: func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return d.HandleStream(ctx, ev), nil
		},
		Sweep: d.Sweep,
	}
}

// Stream runs every part over the batch and reports every record any of
// them failed: Lambda retries from the lowest, and each part is idempotent,
// so records a part already applied are applied again harmlessly.
func Stream(parts ...Part) StreamHandler {
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
		seen := map[string]bool{}
		var errs []error
		for _, p := range parts {
			r, err := p.Stream(ctx, ev)
			errs = append(errs, err)
			for _, f := range r.BatchItemFailures {
				if !seen[f.ItemIdentifier] {
					seen[f.ItemIdentifier] = true
					resp.BatchItemFailures = append(resp.BatchItemFailures, f)
				}
			}
		}
		return resp, errors.Join(errs...)
	}
}

// NewLambdaHandler is the access function's handler: a stream batch goes to
// every part; anything else (the EventBridge rule's scheduled event) runs
// every part's sweep.
func NewLambdaHandler(parts ...Part) func(context.Context, json.RawMessage) (any, error) {
	stream := Stream(parts...)
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err == nil && len(ev.Records) > 0 {
			return stream(ctx, ev)
		}
		ctx, cancel := budget.Invocation(ctx, manifest.Access)
		defer cancel()
		var errs []error
		for _, p := range parts {
			errs = append(errs, p.Sweep(ctx))
		}
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("access: sweep incomplete (the next run retries): %w", err)
		}
		return map[string]string{"status": "swept"}, nil
	}
}
