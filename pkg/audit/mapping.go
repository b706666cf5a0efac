// Package audit is the write side of the audit trail: it turns DynamoDB
// stream records into audit records (mapping, entities) and writes them to
// the audit bucket as gzip JSON lines under date partitions (writer). The
// records' shape is pkg/auditrecord; pkg/auditquery reads them back.
package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// ErrUnmappable wraps every reason a stream record cannot become audit
// records (an image that does not decode).
var ErrUnmappable = errors.New("audit: stream record cannot be mapped")

// Map turns one stream record into the audit records it stands for (often
// none). It is pure. The stream is the one source of audit truth: every
// change to an entity item becomes a record, its actor read from the item's
// own stamp (dynamo.ChangeOf), and a change Elevate did not make is recorded
// as <entity>.direct_write with detail.directWrite true.
//
// What becomes a record:
//   - settings, group and policy items (the entities table below): INSERT,
//     MODIFY and a prepared REMOVE, by the stamp's actor: settings.updated,
//     group.created|member-added|member-removed|updated|deleted,
//     policy.created|updated|deleted. A group's reference count moved by a
//     policy or settings change is group.updated (detail.changed ["refs"]).
//     The delete's preparation is part of the delete and has no record.
//   - request INSERT: request.created by the requester; a request approved
//     automatically at creation also yields request.approved by "system"
//     (detail final:true, automatic:true). Its grant.created comes from the
//     grant slot's INSERT, like every grant's.
//   - request MODIFY with a status change: request.approved|denied|cancelled|
//     revoked by the last decision's author. An approval that does not yet
//     reach the required count yields request.approved with final:false; any
//     other change Elevate makes is request.updated.
//   - grant slot INSERT or MODIFY into Approved: grant.created by "system".
//     A slot's claim (Pending INSERT) and release (manual REMOVE) mirror a
//     request change and are recorded once, from the request item; a manual
//     REMOVE cannot be told from a direct delete of a slot, which therefore
//     reads as the decision it mirrors (it only ever removes access).
//   - grant slot REMOVE made by TTL: request.expired (the slot was Pending) or
//     grant.expired (it was Approved), by "system".
//   - event INSERT: the event as written (authorization decisions, refused
//     attempts). Their TTL REMOVEs are garbage collection.
//   - an entity change without a stamp, or whose stamp did not change with
//     its data (a slot rewritten with a later expiresAt in the console), or a
//     REMOVE that was not prepared: <entity>.direct_write by "unknown", with
//     the operation, the key, the changed attributes and both images.
//
// Times: a record's time is when its change happened, as Elevate stamped it
// (a decision's time, a prepared delete's time), but never earlier than the
// stream's approximate creation time of the change, nor later than that plus
// the stream's precision and clockSkew: a claimed time the stream
// contradicts is replaced by the stream's (detail.claimedTime keeps the
// claim). A record whose time is the stream's says so in timePrecision: the
// change happened within [time, time+precision).
//
// IDs are the stream eventID, suffixed #2, #3, ... when one stream record
// yields several, so a retried batch yields the same IDs.
func Map(rec events.DynamoDBEventRecord) ([]auditrecord.Record, error) {
	return Mapper{}.Map(context.Background(), rec)
}

// DefaultStreamTimePrecision is how finely AWS's stream gives
// ApproximateCreationDateTime: rounded down to the second.
const DefaultStreamTimePrecision = time.Second

// clockSkew is how far after the stream's time (plus its precision) a
// stamped time may lie: the functions' clocks and DynamoDB's are not one.
const clockSkew = 2 * time.Second

// Mapper maps stream records with what pure mapping cannot know: how precise
// the stream's times are, and the request items grant-slot changes are
// checked against.
type Mapper struct {
	// StreamTimePrecision is the stream's time granularity: zero means
	// DefaultStreamTimePrecision; DynamoDB Local's is a minute.
	StreamTimePrecision time.Duration
	// Requests reads the request a grant slot names, so a slot change is
	// Elevate's only when the request says the same (see slots.go). Nil: no
	// slot status, start or end change can be shown to be Elevate's.
	Requests RequestReader
}

func (m Mapper) precision() time.Duration {
	if m.StreamTimePrecision <= 0 {
		return DefaultStreamTimePrecision
	}
	return min(m.StreamTimePrecision, auditrecord.MaxTimePrecision)
}

// Map is Map with m's stream precision and request reader.
func (m Mapper) Map(ctx context.Context, rec events.DynamoDBEventRecord) ([]auditrecord.Record, error) {
	recs, err := m.mapRecord(ctx, rec)
	if err != nil {
		return nil, fmt.Errorf("%w: event %s: %w", ErrUnmappable, rec.EventID, err)
	}
	streamAt := rec.Change.ApproximateCreationDateTime.UTC()
	p := m.precision()
	for i := range recs {
		recs[i].ID = rec.EventID
		if i > 0 {
			recs[i].ID = fmt.Sprintf("%s#%d", rec.EventID, i+1)
		}
		recs[i].Time = recs[i].Time.UTC()
		claimed := recs[i].Time
		switch {
		case streamAt.IsZero() || streamAt.Unix() <= 0:
			// No stream time to hold the claim to (hand-built records).
		case claimed.IsZero():
			recs[i].Time, recs[i].TimePrecision = streamAt, p.String()
		case claimed.Before(streamAt) || claimed.After(streamAt.Add(p+clockSkew)):
			recs[i].Time, recs[i].TimePrecision = streamAt, p.String()
			if recs[i].Detail == nil {
				recs[i].Detail = map[string]any{}
			}
			recs[i].Detail["claimedTime"] = claimed
		}
	}
	return recs, nil
}

// entityMapping is how the stamped changes of one item kind become records.
// A nil handler means Elevate never makes that change, so one seen is a
// direct write.
type entityMapping struct {
	// noun names the entity in <noun>.direct_write.
	noun                   string
	insert, modify, remove func(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error)
	// removeMirrorsRequest: a manual REMOVE is a decision's echo, recorded
	// from the request item.
	removeMirrorsRequest bool
}

// entities maps item kinds to their audit mapping. New entity kinds add a
// line here (and stamp their writes, pkg/dynamo/stamp.go).
var entities = map[string]entityMapping{
	dynamo.KindSettings: {noun: "settings", insert: settingsChanged, modify: settingsChanged},
	dynamo.KindGroup:    {noun: "group", insert: groupCreated, modify: groupChanged, remove: groupDeleted},
	dynamo.KindPolicy:   {noun: "policy", insert: policyCreated, modify: policyUpdated, remove: policyDeleted},
	dynamo.KindRequest:  {noun: "request", insert: requestInserted, modify: requestModified},
	dynamo.KindGrant:    {noun: "grant", removeMirrorsRequest: true}, // INSERT and MODIFY: slots.go

	dynamo.KindDelegation: {noun: "delegation", insert: delegationSet, modify: delegationSet, remove: delegationRemoved},
	dynamo.KindAssignment: {noun: "assignment", insert: assignmentChanged, modify: assignmentChanged},

	dynamo.KindBreakGlassHold: {noun: "break_glass", insert: holdTaken, modify: holdChanged},

	// Insert-only: any MODIFY or REMOVE of a rotation record is key.direct_write.
	dynamo.KindKeyRotation: {noun: "key", insert: keyRotated},
}

func (m Mapper) mapRecord(ctx context.Context, rec events.DynamoDBEventRecord) ([]auditrecord.Record, error) {
	c := rec.Change
	op := events.DynamoDBOperationType(rec.EventName)
	kind := dynamo.ImageKind(c.NewImage)
	if op == events.DynamoDBOperationTypeRemove {
		kind = dynamo.ImageKind(c.OldImage)
		if dynamo.IsTTLDelete(rec) {
			if m, ok, err := dynamo.MissedRatificationOf(rec); err != nil || ok {
				return ratificationMissed(m, err)
			}
			return lapsed(rec)
		}
	}
	if kind == dynamo.KindRatification {
		// Bookkeeping, except a claim taken over after its deadline: that
		// ratification was missed before TTL got to it (F16).
		m, _, err := dynamo.MissedRatificationOf(rec)
		return ratificationMissed(m, err)
	}
	switch kind {
	case dynamo.KindCredentials, dynamo.KindRevocation, dynamo.KindRevocationCutoff:
		return credentialsRecords(rec, kind)
	}
	if kind == dynamo.KindEvent {
		if op != events.DynamoDBOperationTypeInsert {
			return nil, nil
		}
		return eventRecord(rec)
	}
	em, ok := entities[kind]
	if !ok || (op == events.DynamoDBOperationTypeRemove && em.removeMirrorsRequest) {
		return nil, nil
	}
	ch := dynamo.ChangeOf(rec)
	switch ch.Provenance {
	case dynamo.DeletePrepared:
		return nil, nil
	case dynamo.DirectWrite:
		return []auditrecord.Record{directWrite(rec, em.noun, ch)}, nil
	}
	if kind == dynamo.KindGrant {
		return m.slotChange(ctx, rec, ch)
	}
	handler := map[events.DynamoDBOperationType]func(events.DynamoDBEventRecord, dynamo.Change) ([]auditrecord.Record, error){
		events.DynamoDBOperationTypeInsert: em.insert, events.DynamoDBOperationTypeModify: em.modify, events.DynamoDBOperationTypeRemove: em.remove,
	}[op]
	if handler == nil {
		return []auditrecord.Record{directWrite(rec, em.noun, ch)}, nil
	}
	out, err := handler(rec, ch)
	// A delete happened when it was prepared (its stamp), not when the
	// stream says, which DynamoDB Local rounds down to the minute.
	for i := range out {
		if out[i].Time.IsZero() {
			out[i].Time = ch.At
		}
	}
	return out, err
}

// eventActions are the only actions Elevate writes as event items: the
// audit-only facts no entity change carries. Anything else in an event item
// claims a change that did not happen to any entity.
var eventActions = []string{"authorize.", "refused."}

func eventRecord(rec events.DynamoDBEventRecord) ([]auditrecord.Record, error) {
	img := rec.Change.NewImage
	ev, err := dynamo.EventFromImage(img)
	if err != nil || !slices.ContainsFunc(eventActions, func(p string) bool { return strings.HasPrefix(ev.Action, p) }) {
		// The raw image, not the decoded one: a forged item need not decode.
		r := auditrecord.Record{Action: "event" + auditrecord.ActionDirectWriteSuffix, Actor: auditrecord.ActorUnknown,
			Detail: map[string]any{"directWrite": true, "operation": rec.EventName, "key": dynamo.ImageKeys(rec), "after": dynamo.ImageJSON(img)}}
		if err != nil {
			r.Detail["error"] = err.Error()
		}
		return []auditrecord.Record{r}, nil
	}
	out := auditrecord.Record{Time: ev.Time, Action: ev.Action, Actor: ev.Actor, RequestID: ev.RequestID, PolicyID: ev.PolicyID, Detail: ev.Detail}
	if ev.Target != nil {
		out.Target = target(*ev.Target)
	}
	return []auditrecord.Record{out}, nil
}

// directWrite records a change Elevate did not make, from the raw images: a
// direct write need not decode as its entity.
func directWrite(rec events.DynamoDBEventRecord, noun string, ch dynamo.Change) auditrecord.Record {
	c := rec.Change
	img := c.NewImage
	if len(img) == 0 {
		img = c.OldImage
	}
	plain := dynamo.ImageJSON(img)
	text := func(k string) string { v, _ := plain[k].(string); return v }
	r := auditrecord.Record{Action: noun + auditrecord.ActionDirectWriteSuffix, Actor: auditrecord.ActorUnknown,
		Detail: map[string]any{"directWrite": true, "operation": rec.EventName, "key": dynamo.ImageKeys(rec),
			"changed": ch.Changed, "before": dynamo.ImageJSON(c.OldImage), "after": dynamo.ImageJSON(c.NewImage)}}
	switch noun {
	case "request":
		r.RequestID = text("id")
	case "grant":
		r.RequestID = text("requestId")
	case "policy":
		r.PolicyID = text("id")
	}
	if text("type") != "" && text("scope") != "" {
		r.Target = &auditrecord.Target{Type: text("type"), Scope: text("scope"), Name: text("name")}
	}
	return r
}

func requestInserted(rec events.DynamoDBEventRecord, _ dynamo.Change) ([]auditrecord.Record, error) {
	r, err := dynamo.RequestFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	return requestCreated(r), nil
}

func requestModified(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	prev, err := dynamo.RequestFromImage(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	r, err := dynamo.RequestFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	if out := requestChanged(prev, r); len(out) > 0 {
		return out, nil
	}
	return []auditrecord.Record{{Action: auditrecord.ActionRequestUpdated, Actor: ch.Actor, Target: target(r.Target()), RequestID: r.ID,
		Detail: map[string]any{"changed": ch.Changed}}}, nil
}

// lapsed records the end of a slot's pending request (request.expired) or
// grant (grant.expired) when the record shows one lapsing. The record's time
// is the change's; the grant's expiresAt says when it lapsed.
func lapsed(rec events.DynamoDBEventRecord) ([]auditrecord.Record, error) {
	g, wasPending, ok, err := dynamo.LapsedSlot(rec)
	if err != nil || !ok {
		return nil, err
	}
	action := auditrecord.ActionGrantExpired
	if wasPending {
		action = auditrecord.ActionRequestExpired
	}
	return []auditrecord.Record{grantRecord(action, g)}, nil
}

func target(t elevate.Target) *auditrecord.Target {
	return &auditrecord.Target{Type: string(t.Type), Scope: t.Scope, Name: t.Name}
}

func requestCreated(r elevate.Request) []auditrecord.Record {
	created := auditrecord.Record{
		Time: r.CreatedAt, Action: auditrecord.ActionRequestCreated, Actor: r.Requester, Target: target(r.Target()), RequestID: r.ID,
		Detail: map[string]any{
			"reason": r.Reason, "durationHours": r.DurationHours, "approvalType": string(r.ApprovalType),
			"approverGroup": r.ApproverGroup, "requiredApprovals": r.RequiredApprovals, "status": string(r.Status),
			"expiresAt": r.ExpiresAt.UTC(),
		},
	}
	out := []auditrecord.Record{created}
	if r.BreakGlass {
		return append(out, breakGlassRecord(r, created.Target))
	}
	if r.Status == elevate.StatusApproved {
		d := lastDecision(r)
		out = append(out, auditrecord.Record{
			Time: d.At, Action: auditrecord.ActionRequestApproved, Actor: d.By, Target: created.Target, RequestID: r.ID,
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
func withScheduleFields(r elevate.Request, out []auditrecord.Record) []auditrecord.Record {
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
	if n := len(out); n > 0 && r.Extends != "" && out[n-1].Action == auditrecord.ActionRequestApproved && out[n-1].Detail["final"] == true && r.GrantExpiresAt != nil {
		last := out[n-1]
		out = append(out, auditrecord.Record{Time: last.Time, Action: auditrecord.ActionRequestExtended, Actor: last.Actor, Target: last.Target, RequestID: r.Extends, Ticket: r.Ticket,
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
	elevate.StatusApproved:  auditrecord.ActionRequestApproved,
	elevate.StatusDenied:    auditrecord.ActionRequestDenied,
	elevate.StatusCancelled: auditrecord.ActionRequestCancelled,
	elevate.StatusRevoked:   auditrecord.ActionRequestRevoked,
}

func requestChanged(prev, r elevate.Request) []auditrecord.Record {
	d := lastDecision(r)
	rec := auditrecord.Record{Time: d.At, Actor: d.By, Target: target(r.Target()), RequestID: r.ID}
	if prev.Ratification == elevate.RatificationPending && r.Ratification == elevate.RatificationRatified {
		rec.Action, rec.Detail = auditrecord.ActionRequestRatified, decisionDetail(d, map[string]any{"comment": d.Comment, "status": string(r.Status)})
		return []auditrecord.Record{rec}
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
		return withScheduleFields(r, []auditrecord.Record{rec})
	}
	// Still pending with one more approval: an N-of-M step.
	if r.Status == elevate.StatusPending && r.Approvals() > prev.Approvals() && d.Decision == elevate.DecisionApprove {
		rec.Action = auditrecord.ActionRequestApproved
		rec.Detail = decisionDetail(d, approvedDetail(r, false, d))
		return withScheduleFields(r, []auditrecord.Record{rec})
	}
	return nil
}
