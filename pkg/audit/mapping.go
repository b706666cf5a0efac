package audit

import (
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// ErrUnmappable wraps every reason a stream record cannot become audit
// records (an image that does not decode).
var ErrUnmappable = errors.New("audit: stream record cannot be mapped")

// Map turns one stream record into the audit records it stands for (often
// none). It is pure.
//
// What becomes a record:
//   - request INSERT: request.created by the requester; a request approved
//     automatically at creation also yields request.approved by "system"
//     (detail final:true, automatic:true). Its grant.created comes from the
//     grant slot's INSERT, like every grant's.
//   - request MODIFY with a status change: request.approved|denied|cancelled|
//     revoked by the last decision's author. An approval that does not yet
//     reach the required count yields request.approved with final:false.
//   - grant slot INSERT or MODIFY into Approved: grant.created by "system".
//   - grant slot REMOVE made by TTL: request.expired (the slot was Pending) or
//     grant.expired (it was Approved), by "system". Manual deletes are the
//     echo of a decision already recorded from the request item.
//   - event INSERT: the event as written (authorization decisions, config
//     changes). Their TTL REMOVEs are garbage collection.
//
// IDs are the stream eventID, suffixed #2, #3, ... when one stream record
// yields several, so a retried batch yields the same IDs.
func Map(rec events.DynamoDBEventRecord) ([]Record, error) {
	recs, err := mapRecord(rec)
	if err != nil {
		return nil, fmt.Errorf("%w: event %s: %w", ErrUnmappable, rec.EventID, err)
	}
	for i := range recs {
		recs[i].ID = rec.EventID
		if i > 0 {
			recs[i].ID = fmt.Sprintf("%s#%d", rec.EventID, i+1)
		}
		if recs[i].Time.IsZero() {
			recs[i].Time = rec.Change.ApproximateCreationDateTime.UTC()
		}
		recs[i].Time = recs[i].Time.UTC()
	}
	return recs, nil
}

func mapRecord(rec events.DynamoDBEventRecord) ([]Record, error) {
	c := rec.Change
	switch events.DynamoDBOperationType(rec.EventName) {
	case events.DynamoDBOperationTypeInsert:
		switch dynamo.ImageKind(c.NewImage) {
		case dynamo.KindRequest:
			r, err := dynamo.RequestFromImage(c.NewImage)
			if err != nil {
				return nil, err
			}
			return requestCreated(r), nil
		case dynamo.KindGrant:
			return grantCreated(c.NewImage)
		case dynamo.KindEvent:
			ev, err := dynamo.EventFromImage(c.NewImage)
			if err != nil {
				return nil, err
			}
			out := Record{Time: ev.Time, Action: ev.Action, Actor: ev.Actor, RequestID: ev.RequestID, PolicyID: ev.PolicyID, Detail: ev.Detail}
			if ev.Target != nil {
				out.Target = target(*ev.Target)
			}
			return []Record{out}, nil
		}
	case events.DynamoDBOperationTypeModify:
		switch dynamo.ImageKind(c.NewImage) {
		case dynamo.KindRequest:
			prev, err := dynamo.RequestFromImage(c.OldImage)
			if err != nil {
				return nil, err
			}
			r, err := dynamo.RequestFromImage(c.NewImage)
			if err != nil {
				return nil, err
			}
			return requestChanged(prev, r), nil
		case dynamo.KindGrant:
			return slotChanged(rec)
		case dynamo.KindRatification:
			m, _, err := dynamo.MissedRatificationOf(rec)
			return ratificationMissed(m, err)
		}
	case events.DynamoDBOperationTypeRemove:
		if m, ok, err := dynamo.MissedRatificationOf(rec); err != nil || ok {
			return ratificationMissed(m, err)
		}
		return lapsed(rec)
	}
	return nil, nil
}

// lapsed records the end of a slot's pending request (request.expired) or
// grant (grant.expired) when the record shows one lapsing. The record's time
// is the change's; the grant's expiresAt says when it lapsed.
func lapsed(rec events.DynamoDBEventRecord) ([]Record, error) {
	g, wasPending, ok, err := dynamo.LapsedSlot(rec)
	if err != nil || !ok {
		return nil, err
	}
	action := ActionGrantExpired
	if wasPending {
		action = ActionRequestExpired
	}
	return []Record{grantRecord(action, g)}, nil
}

func target(t elevate.Target) *Target {
	return &Target{Type: string(t.Type), Scope: t.Scope, Name: t.Name}
}

func requestCreated(r elevate.Request) []Record {
	created := Record{
		Time: r.CreatedAt, Action: ActionRequestCreated, Actor: r.Requester, Target: target(r.Target()), RequestID: r.ID,
		Detail: map[string]any{
			"reason": r.Reason, "durationHours": r.DurationHours, "approvalType": string(r.ApprovalType),
			"approverGroup": r.ApproverGroup, "requiredApprovals": r.RequiredApprovals, "status": string(r.Status),
			"expiresAt": r.ExpiresAt.UTC(),
		},
	}
	out := []Record{created}
	if r.BreakGlass {
		return append(out, breakGlassRecord(r, created.Target))
	}
	if r.Status == elevate.StatusApproved {
		d := lastDecision(r)
		out = append(out, Record{
			Time: d.At, Action: ActionRequestApproved, Actor: d.By, Target: created.Target, RequestID: r.ID,
			Detail: approvedDetail(r, true, d),
		})
		out[1].Detail["automatic"] = true
	}
	return withScheduleFields(r, out)
}

// withScheduleFields adds what scheduled start, tickets and extensions
// (F13-F15) put on a request's records: the window, the ticket, the link to
// an extension's original, and for an approved extension the
// request.extended record of the original it lengthened.
func withScheduleFields(r elevate.Request, out []Record) []Record {
	for i := range out {
		out[i].Ticket = r.Ticket
		if out[i].Detail == nil {
			out[i].Detail = map[string]any{}
		}
		if r.StartAt != nil {
			out[i].Detail["startAt"] = r.StartAt.UTC()
		}
		if r.GrantStartsAt != nil && r.Status == elevate.StatusApproved {
			out[i].Detail["grantStartsAt"] = r.GrantStartsAt.UTC()
		}
		if r.Extends != "" {
			out[i].Detail["extends"] = r.Extends
		}
		if w := r.ChangeWindow; w != nil {
			out[i].Detail["changeWindow"] = w
		}
	}
	if n := len(out); n > 0 && r.Extends != "" && out[n-1].Action == ActionRequestApproved && out[n-1].Detail["final"] == true && r.GrantExpiresAt != nil {
		last := out[n-1]
		out = append(out, Record{Time: last.Time, Action: ActionRequestExtended, Actor: last.Actor, Target: last.Target, RequestID: r.Extends, Ticket: r.Ticket,
			Detail: map[string]any{"extension": r.ID, "durationHours": r.DurationHours, "grantExpiresAt": r.GrantExpiresAt.UTC()}})
	}
	return out
}

func lastDecision(r elevate.Request) elevate.Decision {
	if len(r.Decisions) == 0 {
		return elevate.Decision{By: elevate.SystemActor, At: r.CreatedAt}
	}
	return r.Decisions[len(r.Decisions)-1]
}

func approvedDetail(r elevate.Request, final bool, d elevate.Decision) map[string]any {
	m := map[string]any{"final": final, "approvals": r.Approvals(), "requiredApprovals": r.RequiredApprovals, "comment": d.Comment}
	if final && r.GrantExpiresAt != nil {
		m["grantExpiresAt"] = r.GrantExpiresAt.UTC()
	}
	return m
}

var statusActions = map[elevate.Status]string{
	elevate.StatusApproved:  ActionRequestApproved,
	elevate.StatusDenied:    ActionRequestDenied,
	elevate.StatusCancelled: ActionRequestCancelled,
	elevate.StatusRevoked:   ActionRequestRevoked,
}

func requestChanged(prev, r elevate.Request) []Record {
	d := lastDecision(r)
	rec := Record{Time: d.At, Actor: d.By, Target: target(r.Target()), RequestID: r.ID}
	if prev.Ratification == elevate.RatificationPending && r.Ratification == elevate.RatificationRatified {
		rec.Action, rec.Detail = ActionRequestRatified, decisionDetail(d, map[string]any{"comment": d.Comment, "status": string(r.Status)})
		return []Record{rec}
	}
	if prev.Status != r.Status {
		action, ok := statusActions[r.Status]
		if !ok {
			return nil
		}
		rec.Action = action
		if r.Status == elevate.StatusApproved {
			rec.Detail = approvedDetail(r, true, d)
		} else {
			rec.Detail = map[string]any{"comment": d.Comment}
		}
		if r.BreakGlass {
			rec.Detail["ratification"] = string(r.Ratification)
		}
		rec.Detail = decisionDetail(d, rec.Detail)
		return withScheduleFields(r, []Record{rec})
	}
	// Still pending with one more approval: an N-of-M step.
	if r.Status == elevate.StatusPending && r.Approvals() > prev.Approvals() && d.Decision == elevate.DecisionApprove {
		rec.Action = ActionRequestApproved
		rec.Detail = decisionDetail(d, approvedDetail(r, false, d))
		return withScheduleFields(r, []Record{rec})
	}
	return nil
}

// grantCreated records a slot inserted as Approved (automatic approval).
func grantCreated(img map[string]events.DynamoDBAttributeValue) ([]Record, error) {
	g, status, err := dynamo.GrantFromImage(img)
	if err != nil || status != elevate.StatusApproved {
		return nil, err
	}
	return []Record{grantRecord(ActionGrantCreated, g)}, nil
}

func grantRecord(action string, g elevate.Grant) Record {
	return Record{
		Action: action, Actor: elevate.SystemActor, Target: target(g.Target), RequestID: g.RequestID,
		Detail: map[string]any{"principal": g.Principal, "expiresAt": g.ExpiresAt.UTC()},
	}
}

// slotChanged handles a slot overwritten in place: Pending to Approved is a
// grant being created. A slot taken over by another request can only have
// been lapsed (the store refuses to overwrite a live one) while TTL had not
// yet removed it, so the old request's expiry is recorded here, because no
// TTL REMOVE will ever come for it.
func slotChanged(rec events.DynamoDBEventRecord) ([]Record, error) {
	out, err := lapsed(rec)
	if err != nil {
		return nil, err
	}
	_, was, err := dynamo.GrantFromImage(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	g, status, err := dynamo.GrantFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		was = "" // taken over: the new request's slot starts afresh
	}
	if status == elevate.StatusApproved && was != elevate.StatusApproved {
		out = append(out, grantRecord(ActionGrantCreated, g))
	}
	return out, nil
}
