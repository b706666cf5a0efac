package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// SaveDecision commits next in one transaction. The request write is
// conditioned on the stored item still being prev (version), still Pending
// and unexpired (approve, deny, cancel) or Approved (revoke), and for an
// approval on this approver not being counted yet. The membership every
// decision rests on is checked in the same transaction (approverChecks),
// against read, the deciding group as the service read it: the approver or
// denier, a revoker acting as an approver, and on a final N-of-M approval
// every approver counted. The slot becomes the grant on
// final approval and is deleted on deny, cancel and revoke. A link ID is
// consumed in the same transaction.
func (s *Store) SaveDecision(ctx context.Context, prev, next elevate.Request, read elevate.Group, linkID string, now time.Time) error {
	t, err := s.decision(prev, next, read, now)
	if err != nil {
		return err
	}
	return s.commitDecision(ctx, t, linkID, now)
}

// decision is the transaction of one decision: the request, the decider's
// membership check and the grant slot's change.
func (s *Store) decision(prev, next elevate.Request, read elevate.Group, now time.Time) (*tx, error) {
	if len(next.Decisions) == 0 || prev.ID != next.ID {
		return nil, fmt.Errorf("dynamo: save decision: next carries no new decision for request %q", prev.ID)
	}
	last := next.Decisions[len(next.Decisions)-1]
	req, err := marshal(toRequestItem(carrySlotLog(prev, next)))
	if err != nil {
		return nil, err
	}
	names := map[string]string{"#v": attrVersion, "#s": attrStatus}
	values := map[string]types.AttributeValue{":prev": num(int64(prev.Version))}
	var cond string
	switch last.Decision {
	case elevate.DecisionApprove, elevate.DecisionDeny, elevate.DecisionCancel:
		cond = "#v = :prev AND #s = :pending AND #e > :now"
		names["#e"] = attrExpiresMs
		values[":pending"] = str(string(elevate.StatusPending))
		values[":now"] = num(epochMs(now))
		if last.Decision == elevate.DecisionApprove {
			cond += " AND NOT contains(#ab, :by)"
			names["#ab"] = attrApprovedBy
			values[":by"] = str(last.By)
			if last.OnBehalfOf != "" {
				// Nor has the member a delegate stands in for (F17).
				cond += " AND NOT contains(#ab, :obo)"
				values[":obo"] = str(last.OnBehalfOf)
			}
		}
	case elevate.DecisionRevoke:
		cond = "#v = :prev AND #s = :approved"
		values[":approved"] = str(string(elevate.StatusApproved))
	case elevate.DecisionRatify:
		cond, names, values = ratifyCondition(prev, now)
	default:
		return nil, fmt.Errorf("dynamo: save decision: unknown decision %q", last.Decision)
	}
	t := new(tx).add(s.put(req, cond, names, values), is(elevate.ErrConcurrentUpdate))
	approvers, err := decisionApprovers(prev, next)
	if err != nil {
		return nil, err
	}
	group := decidingGroup(next, last)
	held := group == next.ApproverGroup && prev.NeedsGroup(now.Add(holdMargin))
	s.approverChecks(t, group, read, held, approvers)
	if last.OnBehalfOf != "" && len(approvers) > 0 {
		// A delegate decides on the delegation live now (F17).
		t.add(s.delegationCheck(last.OnBehalfOf, last.By, group, now), is(elevate.ErrConcurrentUpdate))
	}

	slot := grantSlotKey(next.Requester, next.Target())
	idValue := map[string]types.AttributeValue{":id": str(next.ID)}
	idName := map[string]string{"#rid": attrRequestID}
	switch {
	case next.Extends != "":
		// An extension has no slot of its own: the original's is the grant.
	case next.Status == elevate.StatusApproved && prev.Status == elevate.StatusPending:
		t.add(s.grantSlotUpdate(next), is(elevate.ErrConcurrentUpdate))
	case next.Status == elevate.StatusDenied || next.Status == elevate.StatusCancelled || next.Status == elevate.StatusRevoked:
		// A slot already gone (nothing to free) is fine; one held by another
		// request is not ours to delete.
		t.add(s.del(slot, "attribute_not_exists(PK) OR #rid = :id", idName, idValue), is(elevate.ErrConcurrentUpdate))
	case last.Decision == elevate.DecisionRatify && next.IsActive(now):
		t.add(s.ratifySlot(next), is(elevate.ErrConcurrentUpdate))
	}
	if prev.Ratification == elevate.RatificationPending && next.Ratification != elevate.RatificationPending {
		t.add(s.breakGlassRelease(next), is(elevate.ErrConcurrentUpdate))
	}
	// Only a ratification frees the principal's break-glass hold: after a
	// revocation (by anyone) or a missed deadline it stays, a block.
	if prev.Ratification == elevate.RatificationPending && next.Ratification == elevate.RatificationRatified {
		t.add(s.breakGlassHoldRatified(next, now), is(elevate.ErrConcurrentUpdate))
	}
	return t, nil
}

// commitDecision consumes the link (decisive: a replayed link is reported as
// such even when the request moved too) and runs the transaction.
func (s *Store) commitDecision(ctx context.Context, t *tx, linkID string, now time.Time) error {
	if linkID != "" {
		if len(linkID) > maxIDLen {
			return elevate.ErrLinkUsed
		}
		m, err := marshal(marker(linkKey(linkID), KindLink, now, linkTTL))
		if err != nil {
			return err
		}
		t.addDecisive(s.put(m, "attribute_not_exists(PK)", nil, nil), is(elevate.ErrLinkUsed))
	}
	return s.commit(ctx, "save decision", t)
}

// grantSlotUpdate makes the requester's slot the approved request's grant:
// status, window and expiry, conditioned on the slot still being this
// request's. An extension's approval moves the original's slot the same way.
func (s *Store) grantSlotUpdate(r elevate.Request) types.TransactWriteItem {
	g := toGrantItem(r)
	names := map[string]string{"#s": attrStatus, "#e": attrExpiresMs, "#ttl": "ttl", "#rid": attrRequestID, "#by": attrUpdatedBy, "#cid": attrChangeID}
	values := map[string]types.AttributeValue{":approved": str(string(elevate.StatusApproved)), ":exp": str(g.ExpiresAt),
		":expMs": num(g.ExpiresEpochMs), ":ttl": num(g.TTL), ":id": str(r.ID), ":by": str(g.UpdatedBy), ":cid": str(g.ChangeID)}
	// Stamped like every entity write (stamp.go).
	expr := "SET #s = :approved, expiresAt = :exp, #e = :expMs, #ttl = :ttl, #by = :by, #cid = :cid"
	if g.StartsAt != "" {
		expr += ", startsAt = :start"
		values[":start"] = str(g.StartsAt)
	}
	if g.ApprovedAt != "" {
		expr += ", approvedAt = :approvedAt, approvals = :approvals, hasTicket = :hasTicket"
		values[":approvedAt"], values[":approvals"] = str(g.ApprovedAt), num(int64(g.Approvals))
		values[":hasTicket"] = &types.AttributeValueMemberBOOL{Value: g.HasTicket}
	}
	return s.update(grantSlotKey(r.Requester, r.Target()), expr, "#rid = :id", names, values)
}

// decidingGroup is the group whose membership the decision rests on: the one
// the decision names (the break-glass alert group, say), else the request's
// approver group.
func decidingGroup(r elevate.Request, d elevate.Decision) string {
	if d.Via != "" {
		return d.Via
	}
	return r.ApproverGroup
}
