package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
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
	items := []types.TransactWriteItem{
		s.put(req, "attribute_not_exists(PK)", nil, nil),
		s.put(slot, "attribute_not_exists(PK) OR #e <= :now", map[string]string{"#e": attrExpiresMs},
			map[string]types.AttributeValue{":now": num(epochMs(r.CreatedAt))}),
	}
	mapping := []func(map[string]types.AttributeValue) error{is(elevate.ErrConcurrentUpdate), is(elevate.ErrOpenRequest)}
	// The request holds its approver group until it ends (see groupuse.go).
	if r.ApproverGroup != "" {
		hold, err := s.holdPut(r)
		if err != nil {
			return err
		}
		checks, checkMapping := s.groupOpenChecks(r.ApproverGroup, r.CreatedAt)
		items, mapping = append(append(items, checks...), hold), append(append(mapping, checkMapping...), nil)
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
		items = append(items, claim, hold)
		mapping = append(mapping, is(elevate.ErrBreakGlassOpen), is(elevate.ErrBreakGlassBlocked))
	}
	return txResult("create request", s.transact(ctx, items), mapping...)
}

// GetRequest is strongly consistent; ErrRequestNotFound when absent.
func (s *Store) GetRequest(ctx context.Context, id string) (elevate.Request, error) {
	if id == "" || len(id) > maxIDLen {
		return elevate.Request{}, elevate.ErrRequestNotFound
	}
	return getAs[requestItem](ctx, s, "get request", requestKey(id), elevate.ErrRequestNotFound)
}

// SaveDecision commits next in one transaction. The request write is
// conditioned on the stored item still being prev (version), still Pending
// and unexpired (approve, deny, cancel) or Approved (revoke), and for an
// approval on this approver not being counted yet. The membership every
// decision rests on is checked in the same transaction (approverChecks):
// the approver or denier, a revoker acting as an approver, and on a final
// N-of-M approval every approver counted. The slot becomes the grant on
// final approval and is deleted on deny, cancel and revoke. A link ID is
// consumed in the same transaction.
func (s *Store) SaveDecision(ctx context.Context, prev, next elevate.Request, linkID string, now time.Time) error {
	items, mapping, err := s.decisionItems(prev, next, now)
	if err != nil {
		return err
	}
	return s.commitDecision(ctx, items, mapping, linkID, now)
}

// decisionItems are the writes of one decision: the request, the decider's
// membership check and the grant slot's change.
func (s *Store) decisionItems(prev, next elevate.Request, now time.Time) ([]types.TransactWriteItem, []func(map[string]types.AttributeValue) error, error) {
	if len(next.Decisions) == 0 || prev.ID != next.ID {
		return nil, nil, fmt.Errorf("dynamo: save decision: next carries no new decision for request %q", prev.ID)
	}
	last := next.Decisions[len(next.Decisions)-1]
	req, err := marshal(toRequestItem(carrySlotLog(prev, next)))
	if err != nil {
		return nil, nil, err
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
		return nil, nil, fmt.Errorf("dynamo: save decision: unknown decision %q", last.Decision)
	}
	items := []types.TransactWriteItem{s.put(req, cond, names, values)}
	mapping := []func(map[string]types.AttributeValue) error{is(elevate.ErrConcurrentUpdate)}
	approvers, err := decisionApprovers(prev, next)
	if err != nil {
		return nil, nil, err
	}
	group := decidingGroup(next, last)
	checks, checkMapping := s.approverChecks(group, approvers)
	items, mapping = append(items, checks...), append(mapping, checkMapping...)
	if last.OnBehalfOf != "" && len(approvers) > 0 {
		// A delegate decides on the delegation live now (F17).
		items, mapping = append(items, s.delegationCheck(last.OnBehalfOf, last.By, group, now)), append(mapping, is(elevate.ErrConcurrentUpdate))
	}

	slot := grantSlotKey(next.Requester, next.Target())
	idValue := map[string]types.AttributeValue{":id": str(next.ID)}
	idName := map[string]string{"#rid": attrRequestID}
	switch {
	case next.Extends != "":
		// An extension has no slot of its own: the original's is the grant.
	case next.Status == elevate.StatusApproved && prev.Status == elevate.StatusPending:
		items = append(items, s.grantSlotUpdate(next))
		mapping = append(mapping, is(elevate.ErrConcurrentUpdate))
	case next.Status == elevate.StatusDenied || next.Status == elevate.StatusCancelled || next.Status == elevate.StatusRevoked:
		// A slot already gone (nothing to free) is fine; one held by another
		// request is not ours to delete.
		items = append(items, s.del(slot, "attribute_not_exists(PK) OR #rid = :id", idName, idValue))
		mapping = append(mapping, is(elevate.ErrConcurrentUpdate))
	case last.Decision == elevate.DecisionRatify && next.IsActive(now):
		items = append(items, s.ratifySlot(next))
		mapping = append(mapping, is(elevate.ErrConcurrentUpdate))
	}
	if prev.Ratification == elevate.RatificationPending && next.Ratification != elevate.RatificationPending {
		items = append(items, s.breakGlassRelease(next))
		mapping = append(mapping, is(elevate.ErrConcurrentUpdate))
	}
	// Only a ratification frees the principal's break-glass hold: after a
	// revocation (by anyone) or a missed deadline it stays, a block.
	if prev.Ratification == elevate.RatificationPending && next.Ratification == elevate.RatificationRatified {
		items = append(items, s.breakGlassHoldRatified(next, now))
		mapping = append(mapping, is(elevate.ErrConcurrentUpdate))
	}
	return items, mapping, nil
}

// commitDecision consumes the link (last, so its failure is told apart) and
// runs the transaction.
func (s *Store) commitDecision(ctx context.Context, items []types.TransactWriteItem, mapping []func(map[string]types.AttributeValue) error, linkID string, now time.Time) error {
	if linkID != "" {
		if len(linkID) > maxIDLen {
			return elevate.ErrLinkUsed
		}
		m, err := marshal(marker(linkKey(linkID), KindLink, now, linkTTL))
		if err != nil {
			return err
		}
		items = append(items, s.put(m, "attribute_not_exists(PK)", nil, nil))
		mapping = append(mapping, is(elevate.ErrLinkUsed))
	}
	err := s.transact(ctx, items)
	// A replayed link is reported as such even when the request moved too.
	if linkID != "" && reasonCode(cancelled(err), len(items)-1) == codeConditionFailed {
		return elevate.ErrLinkUsed
	}
	return txResult("save decision", err, mapping...)
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

// ReadAuthz is one strongly consistent BatchGetItem of the settings, the
// policy (not for Lockbox, which the settings govern) and the grant slot.
func (s *Store) ReadAuthz(ctx context.Context, principal string, t elevate.Target) (app.AuthzRead, error) {
	keys := []map[string]types.AttributeValue{settingsKey().av(), grantSlotKey(principal, t).av()}
	if t.Type != elevate.TypeLockbox {
		keys = append(keys, policyKey(t.Key()).av())
	}
	items, err := s.batchGet(ctx, "read authz", keys)
	if err != nil {
		return app.AuthzRead{}, err
	}
	read := app.AuthzRead{Settings: elevate.DefaultSettings()}
	for _, item := range items {
		kind := ""
		if v, ok := item[attrKind].(*types.AttributeValueMemberS); ok {
			kind = v.Value
		}
		switch kind {
		case KindSettings:
			if read.Settings, err = decodeAs[settingsItem]("decode settings", item); err != nil {
				return app.AuthzRead{}, err
			}
		case KindPolicy:
			p, err := decodeAs[policyItem]("decode policy", item)
			if err != nil {
				return app.AuthzRead{}, err
			}
			read.Policy = &p
		case KindGrant:
			var it grantItem
			if err := attributevalue.UnmarshalMap(item, &it); err != nil {
				return app.AuthzRead{}, unavailable("decode grant", err)
			}
			g, status, err := it.domain()
			if err != nil {
				return app.AuthzRead{}, unavailable("decode grant", err)
			}
			if status == elevate.StatusApproved {
				read.Grant = &g
			}
		}
	}
	return read, nil
}

// maxBatchAttempts bounds retries of UnprocessedKeys (throttling).
const maxBatchAttempts = 5

func (s *Store) batchGet(ctx context.Context, op string, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	var out []map[string]types.AttributeValue
	for attempt := 0; ; attempt++ {
		res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, unavailable(op, err)
		}
		out = append(out, res.Responses[s.table]...)
		if len(res.UnprocessedKeys) == 0 || len(res.UnprocessedKeys[s.table].Keys) == 0 {
			return out, nil
		}
		if attempt+1 >= maxBatchAttempts {
			return nil, unavailable(op, fmt.Errorf("%d keys unprocessed after %d attempts", len(res.UnprocessedKeys[s.table].Keys), maxBatchAttempts))
		}
		req = res.UnprocessedKeys
		select {
		case <-ctx.Done():
			return nil, unavailable(op, ctx.Err())
		case <-time.After(time.Duration(10<<attempt) * time.Millisecond):
		}
	}
}

// RecordAuthz writes one audit-only event item.
func (s *Store) RecordAuthz(ctx context.Context, ev app.Event) error {
	if err := s.putEvent(ctx, ev, nil); err != nil {
		return unavailable("record authz", err)
	}
	return nil
}

// putEvent writes one event item (the one PutItem of the authorize path, or
// a refusal), under condition when it is set.
func (s *Store) putEvent(ctx context.Context, ev app.Event, condition *string) error {
	it, err := toEventItem(ev)
	if err != nil {
		return err
	}
	item, err := marshal(it)
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item, ConditionExpression: condition})
	return err
}
