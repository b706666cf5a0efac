package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// RequestReader reads the request a grant slot names, strongly consistent.
type RequestReader interface {
	GetRequest(ctx context.Context, id string) (elevate.Request, error)
}

// ErrLookup marks a failure to read what a record is checked against: the
// batch is retried from that record, never mapped without the check.
var ErrLookup = errors.New("audit: cannot read the request a grant slot names")

// slotChange records a grant slot's INSERT or MODIFY (F8, issue 16 item 2).
// Every change of a slot's status, start or end is one record with its
// before and after, and it is Elevate's only when the request item says
// the same (dynamo.VerifySlotChange); otherwise it is grant.direct_write,
// flagged, whatever stamp the slot carries. Elevate's changes are:
//   - a slot turned (or inserted) Approved: grant.created by "system";
//   - an approved slot's start or end moved (an extension, a ratification):
//     grant.updated by the stamp's actor;
//   - a Pending claim: no record of its own, it mirrors request.created.
//
// A slot taken over by another request can only have been lapsed (the store
// refuses to overwrite a live one) while TTL had not yet removed it, so the
// old request's expiry is recorded here, because no TTL REMOVE will ever
// come for it.
func (m Mapper) slotChange(ctx context.Context, rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	out, err := lapsed(rec)
	if err != nil {
		return nil, err
	}
	g, status, err := dynamo.GrantFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	fresh := rec.EventName == string(events.DynamoDBOperationTypeInsert) || len(out) > 0
	var was elevate.Grant
	var wasStatus elevate.Status
	if !fresh {
		if was, wasStatus, err = dynamo.GrantFromImage(rec.Change.OldImage); err != nil {
			return nil, err
		}
		if wasStatus == status && was.StartsAt.Equal(g.StartsAt) && was.ExpiresAt.Equal(g.ExpiresAt) {
			return out, nil // a new stamp on the same grant
		}
	}
	if err := dynamo.VerifySlotChange(ctx, m.Requests, rec); errors.Is(err, dynamo.ErrSlotUnverified) {
		d := directWrite(rec, "grant", ch)
		d.Detail["reason"] = err.Error()
		return append(out, d), nil
	} else if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLookup, err)
	}
	detail := func(r auditrecord.Record) auditrecord.Record {
		if !fresh {
			r.Detail["before"] = slotDetail(was, wasStatus)
		}
		r.Detail["after"] = slotDetail(g, status)
		return r
	}
	switch {
	case status == elevate.StatusApproved && (fresh || wasStatus != elevate.StatusApproved):
		return append(out, detail(grantRecord(auditrecord.ActionGrantCreated, g))), nil
	case status == elevate.StatusPending && fresh:
		return out, nil
	}
	r := grantRecord(auditrecord.ActionGrantUpdated, g)
	r.Actor = ch.Actor
	return append(out, detail(r)), nil
}

func slotDetail(g elevate.Grant, status elevate.Status) map[string]any {
	m := map[string]any{"status": string(status), "expiresAt": g.ExpiresAt.UTC()}
	if !g.StartsAt.IsZero() {
		m["startsAt"] = g.StartsAt.UTC().Format(time.RFC3339Nano)
	}
	return m
}

func grantRecord(action string, g elevate.Grant) auditrecord.Record {
	return auditrecord.Record{
		Action: action, Actor: elevate.SystemActor, Target: target(g.Target), RequestID: g.RequestID,
		Detail: map[string]any{"principal": g.Principal, "expiresAt": g.ExpiresAt.UTC()},
	}
}
