package identitycenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// The timer. Scheduled starts, expiries (DynamoDB's TTL may lag by days, so
// an expiry event cannot end an assignment on time), missed ratifications,
// lapsed session denies and the reconcile all need a clock, so one short
// periodic sweep serves them all: an EventBridge rule every minute in AWS,
// a ticker locally. EventBridge Scheduler one-time schedules would start a
// grant to the second, but each grant would need a schedule created,
// deleted on revoke, and kept in step with policy changes and extensions,
// a role Scheduler passes, and still a sweep for the rest; a minute's
// granularity meets "within one minute of its start".

// Sweep runs one pass: due scheduled starts, grants that ended without an
// event (expiry, missed ratification), session denies past their time, and
// the reconcile of every permission set Elevate manages.
func (ap *Applier) Sweep(ctx context.Context) error {
	return errors.Join(ap.startDue(ctx), ap.endLapsed(ctx), ap.reconcile(ctx))
}

func (ap *Applier) startDue(ctx context.Context) error {
	due, err := ap.Records.DueStarts(ctx, ap.now())
	if err != nil {
		return err
	}
	if len(due) == 0 {
		return nil
	}
	policies, err := ap.Records.ListPolicies(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, st := range due {
		r, err := ap.Records.GetRequest(ctx, st.RequestID)
		if err != nil && !errors.Is(err, elevate.ErrRequestNotFound) {
			errs = append(errs, err)
			continue
		}
		if err == nil && r.IsActive(ap.now()) {
			if err := ap.startScheduled(ctx, r, policies); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		// Started, or ended (revoked, policy changed) before its start.
		errs = append(errs, ap.Records.DeleteStart(ctx, st))
	}
	return errors.Join(errs...)
}

// ErrPolicyChanged refuses a scheduled grant at its start: the target's
// policy, changed after the approval, no longer allows it (as authorize
// answers policy-changed), or is gone.
var ErrPolicyChanged = errors.New("policy changed before the grant's start")

// startScheduled starts a scheduled grant only as far as the target's policy,
// as it is at the start, still allows: an assignment it no longer allows is
// not created but failed, so the requester hears of it and it is audited.
func (ap *Applier) startScheduled(ctx context.Context, r elevate.Request, policies []elevate.Policy) error {
	if r.IdentityCenter == nil {
		return nil
	}
	i := slices.IndexFunc(policies, func(p elevate.Policy) bool { return p.ID == r.Target().Key() })
	g, granted := r.Grant()
	var errs []error
	for _, a := range r.IdentityCenter.Assignments {
		switch {
		case i < 0:
			errs = append(errs, ap.failed(ctx, r, a, fmt.Errorf("%w: the policy was deleted", ErrPolicyChanged)))
		case granted && !g.StillFits(&policies[i]):
			errs = append(errs, ap.failed(ctx, r, a, fmt.Errorf("%w: it no longer allows the grant", ErrPolicyChanged)))
		case policies[i].IdentityCenter == nil || !slices.Contains(policies[i].IdentityCenter.Assignments(), a):
			errs = append(errs, ap.failed(ctx, r, a, fmt.Errorf("%w: its Identity Center binding no longer names the assignment", ErrPolicyChanged)))
		default:
			errs = append(errs, ap.hold(ctx, r, a))
		}
	}
	return errors.Join(errs...)
}

// endLapsed releases every holder whose grant has ended, whatever ended it,
// and finishes deletes whose deleter died.
func (ap *Applier) endLapsed(ctx context.Context) error {
	recs, err := ap.Records.ListAssignmentRecords(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for _, rec := range recs {
		ids = append(ids, rec.Holders...)
	}
	slices.Sort(ids)
	reqs, err := ap.Records.RequestsByID(ctx, slices.Compact(ids))
	if err != nil {
		return err
	}
	byID := map[string]elevate.Request{}
	for _, r := range reqs {
		byID[r.ID] = r
	}
	now := ap.now()
	var errs []error
	for _, rec := range recs {
		if rec.State == elevate.AssignmentDeleting && !now.Before(rec.LeaseUntil) {
			errs = append(errs, ap.resumeDelete(ctx, rec))
			continue
		}
		for _, h := range rec.Holders {
			r, ok := byID[h]
			if ok && r.HoldsAssignment(rec.Principal, now) {
				continue
			}
			if !ok { // the request is gone: release it under the record's own names
				r = elevate.Request{ID: h, Requester: rec.Principal, Status: elevate.StatusRevoked}
			}
			r.IdentityCenter = &elevate.IdentityCenterGrant{UserID: rec.UserID, UserName: rec.UserName, Assignments: []elevate.Assignment{rec.Assignment}}
			errs = append(errs, ap.release(ctx, r, rec.Assignment))
		}
	}
	return errors.Join(errs...)
}

// resumeDelete takes over a delete whose lease has lapsed.
func (ap *Applier) resumeDelete(ctx context.Context, rec elevate.AssignmentRecord) error {
	claimed, ok, err := ap.mutate(ctx, rec.UserID, rec.Assignment, func(cur elevate.AssignmentRecord, _ bool) (*elevate.AssignmentRecord, error) {
		if cur.State != elevate.AssignmentDeleting || ap.now().Before(cur.LeaseUntil) {
			return nil, nil
		}
		next := cur
		next.LeaseUntil, next.Action = ap.now().Add(deleteLease), ""
		return &next, nil
	})
	if err != nil || !ok {
		return err
	}
	return ap.deleteAndDeny(ctx, claimed.RequestID, rec.UserID, rec.Assignment)
}

// reconcile lists the assignments of every permission set and account a
// policy binds. One no record explains (no live holder, no delete under
// way) is flagged assignment.direct_write once, and removed when the policy
// says removeUnmanaged. Session denies past their time are pruned too.
func (ap *Applier) reconcile(ctx context.Context) error {
	policies, err := ap.Records.ListPolicies(ctx)
	if err != nil {
		return err
	}
	var errs []error
	pruned := map[string]bool{}
	for _, p := range policies {
		b := p.IdentityCenter
		if b == nil {
			continue
		}
		for _, a := range b.Assignments() {
			if !pruned[a.PermissionSetArn] {
				pruned[a.PermissionSetArn] = true
				errs = append(errs, ap.AWS.PruneSessionDenies(ctx, a.InstanceArn, a.PermissionSetArn, ap.now()))
			}
			users, err := ap.AWS.ListUserAssignments(ctx, a)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, userID := range users {
				errs = append(errs, ap.flagUnmanaged(ctx, a, userID, b.RemoveUnmanaged))
			}
		}
	}
	return errors.Join(errs...)
}

func (ap *Applier) flagUnmanaged(ctx context.Context, a elevate.Assignment, userID string, remove bool) error {
	var flagged bool
	rec, _, err := ap.mutate(ctx, userID, a, func(rec elevate.AssignmentRecord, found bool) (*elevate.AssignmentRecord, error) {
		flagged = false
		explained := len(rec.Holders) > 0 || rec.State == elevate.AssignmentDeleting
		if explained || (rec.State == elevate.AssignmentUnmanaged && !remove) {
			return nil, nil
		}
		next := rec
		if !found {
			next = elevate.AssignmentRecord{Assignment: a, UserID: userID, Holders: []string{}}
		}
		next.State, next.RequestID, next.KeptFor = elevate.AssignmentUnmanaged, "", nil
		next.Action, next.Reason = "", ""
		if rec.State != elevate.AssignmentUnmanaged {
			next.Action, next.Reason = elevate.ActionAssignmentDirectWrite, "an assignment no live grant explains"
		}
		if remove {
			next.State, next.LeaseUntil = elevate.AssignmentDeleting, ap.now().Add(deleteLease)
		}
		flagged = true
		return &next, nil
	})
	if err != nil || !flagged || !remove {
		return err
	}
	if err := ap.AWS.DeleteAssignment(ctx, a, userID); err != nil {
		return err
	}
	_, _, err = ap.mutate(ctx, userID, a, func(cur elevate.AssignmentRecord, _ bool) (*elevate.AssignmentRecord, error) {
		if cur.State != elevate.AssignmentDeleting || cur.Version != rec.Version {
			return nil, nil
		}
		next := cur
		next.State, next.LeaseUntil, next.Action, next.Reason = elevate.AssignmentAbsent, time.Time{}, elevate.ActionAssignmentDeleted, "unmanaged: the policy says removeUnmanaged"
		return &next, nil
	})
	return err
}

var _ Records = (*dynamo.Store)(nil)

// HandleRecord applies one stream record: a grant that starts (approval,
// automatic or not) or is revoked. Everything else that ends a grant is
// found by the sweep.
func (ap *Applier) HandleRecord(ctx context.Context, rec events.DynamoDBEventRecord) error {
	c := rec.Change
	if dynamo.ImageKind(c.NewImage) != dynamo.KindRequest {
		return nil
	}
	next, err := dynamo.RequestFromImage(c.NewImage)
	if err != nil || next.IdentityCenter == nil {
		return err
	}
	var prevStatus elevate.Status
	if len(c.OldImage) > 0 {
		prev, err := dynamo.RequestFromImage(c.OldImage)
		if err != nil {
			return err
		}
		prevStatus = prev.Status
	}
	switch {
	case next.Status == elevate.StatusApproved && prevStatus != elevate.StatusApproved:
		return ap.StartGrant(ctx, next)
	case next.Status == elevate.StatusRevoked && prevStatus == elevate.StatusApproved:
		return ap.EndGrant(ctx, next)
	}
	return nil
}

// NewHandler is the stream handler: records in order, stopping at the first
// failure, which is reported so it and the rest are delivered again.
func NewHandler(ap *Applier) func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		// Calls still waiting at the deadline (a stalled AWS API) fail, and
		// their record is reported, instead of Lambda killing the batch.
		ctx, cancel := budget.Invocation(ctx, manifest.Access)
		defer cancel()
		resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
		for _, rec := range ev.Records {
			if err := ap.HandleRecord(ctx, rec); err != nil {
				ap.Log.ErrorContext(ctx, "identitycenter: record not applied; it will be retried", "eventID", rec.EventID, "err", err)
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
				break
			}
		}
		return resp, nil
	}
}

// NewLambdaHandler is the access function's handler: a DynamoDB stream
// batch is applied record by record; anything else (the EventBridge rule's
// scheduled event) runs one sweep.
func NewLambdaHandler(ap *Applier) func(context.Context, json.RawMessage) (any, error) {
	stream := NewHandler(ap)
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err == nil && len(ev.Records) > 0 {
			return stream(ctx, ev)
		}
		ctx, cancel := budget.Invocation(ctx, manifest.Access)
		defer cancel()
		if err := ap.Sweep(ctx); err != nil {
			// The next run a minute later retries whatever failed.
			ap.Log.ErrorContext(ctx, "identitycenter: sweep incomplete", "err", err)
			return nil, err
		}
		return map[string]string{"status": "swept"}, nil
	}
}
