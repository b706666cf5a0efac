package audit

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// breakGlassRecord is the requester approving their own break-glass request.
func breakGlassRecord(r elevate.Request, t *auditrecord.Target) auditrecord.Record {
	d := lastDecision(r)
	detail := map[string]any{"reason": r.Reason, "durationHours": r.DurationHours, "approverGroup": r.ApproverGroup}
	if r.GrantExpiresAt != nil {
		detail["grantExpiresAt"] = r.GrantExpiresAt.UTC()
	}
	if r.RatifyBy != nil {
		detail["ratifyBy"] = r.RatifyBy.UTC()
	}
	return auditrecord.Record{Time: d.At, Action: auditrecord.ActionRequestBreakGlass, Actor: r.Requester, Target: t, RequestID: r.ID, Detail: detail}
}

// ratificationMissed records a deadline that passed unanswered, by "system"
// at the deadline.
func ratificationMissed(m dynamo.MissedRatification, err error) ([]auditrecord.Record, error) {
	if err != nil || m.RequestID == "" {
		return nil, err
	}
	return []auditrecord.Record{{Time: m.RatifyBy, Action: auditrecord.ActionRequestRatificationMissed, Actor: elevate.SystemActor, Target: target(m.Target), RequestID: m.RequestID,
		Detail: map[string]any{"principal": m.Principal, "ratifyBy": m.RatifyBy.UTC(), "grantRevoked": m.GrantRevoked}}}, nil
}

// decisionDetail adds who a delegate decided for (F17) and the group the
// decision rested on.
func decisionDetail(d elevate.Decision, detail map[string]any) map[string]any {
	if d.OnBehalfOf != "" {
		detail["onBehalfOf"] = d.OnBehalfOf
	}
	if d.Via != "" {
		detail["via"] = d.Via
	}
	return detail
}

// holdTaken: a principal's break-glass hold taken with a break-glass grant
// mirrors its request.break_glass record.
func holdTaken(events.DynamoDBEventRecord, dynamo.Change) ([]auditrecord.Record, error) {
	return nil, nil
}

// holdChanged records an admin releasing a principal's break-glass hold
// (break_glass.unblocked, issue 16 item 5). A release by ratification
// mirrors request.ratified; a released hold taken again mirrors the new
// request.break_glass.
func holdChanged(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	h, err := dynamo.BreakGlassHoldFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	was, err := dynamo.BreakGlassHoldFromImage(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	if !h.Released || was.Released || h.ReleasedAs != dynamo.HoldReleasedCleared {
		return nil, nil
	}
	return []auditrecord.Record{{Action: auditrecord.ActionBreakGlassUnblocked, Actor: ch.Actor, RequestID: h.RequestID,
		Detail: map[string]any{"principal": h.Principal, "ratifyBy": h.RatifyBy}}}, nil
}
