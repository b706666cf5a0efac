package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// maxIDLen bounds IDs taken from URLs before they reach a key.
const maxIDLen = 256

// CreateRequest writes the request and claims the requester's slot for the
// target in one transaction. The slot is free when absent or when whatever
// held it (a pending request or a grant) has expired.
func (s *Store) CreateRequest(ctx context.Context, r elevate.Request) error {
	if r.ID == "" || len(r.ID) > maxIDLen {
		return elevate.Invalid("request id is malformed")
	}
	req, err := marshal(toRequestItem(r))
	if err != nil {
		return err
	}
	slot, err := marshal(toGrantItem(r))
	if err != nil {
		return err
	}
	var t tx
	t.add(s.put(req, "attribute_not_exists(PK)", nil, nil), is(elevate.ErrConcurrentUpdate))
	t.add(s.put(slot, "attribute_not_exists(PK) OR #e <= :now", map[string]string{"#e": attrExpiresMs},
		map[string]types.AttributeValue{":now": num(epochMs(r.CreatedAt))}), is(elevate.ErrOpenRequest))
	// The request holds its approver group until it ends (see groupuse.go).
	if r.ApproverGroup != "" {
		if err := s.groupUse(&t, r, r.CreatedAt); err != nil {
			return err
		}
	}
	if r.BreakGlass {
		claim, err := s.breakGlassClaim(r)
		if err != nil {
			return err
		}
		hold, err := s.breakGlassHoldPut(r)
		if err != nil {
			return err
		}
		// The claim first: a principal holding a live unratified grant is
		// told so, not that they are blocked.
		t.add(claim, is(elevate.ErrBreakGlassOpen))
		t.add(hold, is(elevate.ErrBreakGlassBlocked))
	}
	s.groupUseStep(StepCommit)
	return s.commit(ctx, "create request", &t)
}

// GetRequest is strongly consistent; ErrRequestNotFound when absent.
func (s *Store) GetRequest(ctx context.Context, id string) (elevate.Request, error) {
	if id == "" || len(id) > maxIDLen {
		return elevate.Request{}, elevate.ErrRequestNotFound
	}
	return getAs[requestItem](ctx, s, "get request", requestKey(id), elevate.ErrRequestNotFound)
}

// maxBatchAttempts bounds retries of UnprocessedKeys (throttling).
const maxBatchAttempts = 5
