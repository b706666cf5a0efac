package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// A principal's break-glass hold (issue 16 item 5). The ratification claim
// (breakglass.go) bounds a principal to one unratified grant and its TTL is
// the stream's "ratification missed"; but it frees the principal when it
// goes, and an approver's revocation or TTL at the deadline would free an
// abuser at once. The hold is taken in the same transaction as every
// break-glass grant and freed ("released") only by that grant's
// ratification (in the ratification's transaction) or by an admin; while it
// is held, a new break-glass request is refused 403 break-glass-blocked.
// Released holds expire by TTL after holdRetention.
//
// Its writes are stamped (stamp.go): the audit trail records an admin's
// release as break_glass.unblocked; the take and a ratification's release
// mirror request.break_glass and request.ratified; anything else is
// breakglasshold.direct_write.
type breakGlassHoldItem struct {
	PK              string `dynamodbav:"PK"`
	SK              string `dynamodbav:"SK"`
	Kind            string `dynamodbav:"kind"`
	Principal       string `dynamodbav:"principal"`
	RequestID       string `dynamodbav:"requestId"`
	RatifyBy        string `dynamodbav:"ratifyBy"`
	RatifyByEpochMs int64  `dynamodbav:"ratifyByEpochMs"`
	Released        bool   `dynamodbav:"released,omitempty"`
	// ReleasedAs is "ratified" or "cleared" (by an admin).
	ReleasedAs string `dynamodbav:"releasedAs,omitempty"`
	UpdatedBy  string `dynamodbav:"updatedBy"`
	ChangeID   string `dynamodbav:"changeId"`
	TTL        int64  `dynamodbav:"ttl,omitempty"`
	unlistedIndexKeys
}

// How a hold was released.
const (
	HoldReleasedRatified = "ratified"
	HoldReleasedCleared  = "cleared"
)

// holdRetention is how long a released hold stays readable.
const holdRetention = 7 * 24 * time.Hour

func (it breakGlassHoldItem) domain() (elevate.BreakGlassHold, error) {
	at, err := parseTime(it.RatifyBy)
	if err != nil {
		return elevate.BreakGlassHold{}, fmt.Errorf("break-glass hold of %q: bad ratifyBy", it.Principal)
	}
	return elevate.BreakGlassHold{Principal: it.Principal, RequestID: it.RequestID, RatifyBy: at}, nil
}

// breakGlassHoldPut takes r's requester's hold, unless one is held.
func (s *Store) breakGlassHoldPut(r elevate.Request) (types.TransactWriteItem, error) {
	k := breakGlassHoldKey(r.Requester)
	m, err := marshal(breakGlassHoldItem{PK: k.pk, SK: k.sk, Kind: KindBreakGlassHold, Principal: r.Requester, RequestID: r.ID,
		RatifyBy: formatTime(*r.RatifyBy), RatifyByEpochMs: epochMs(*r.RatifyBy), UpdatedBy: r.Requester,
		ChangeID: requestChangeID(r.ID, r.Version), unlistedIndexKeys: unlistedIndex(k)})
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return s.put(m, "attribute_not_exists(PK) OR #rel = :true", map[string]string{"#rel": "released"},
		map[string]types.AttributeValue{":true": &types.AttributeValueMemberBOOL{Value: true}}), nil
}

// breakGlassHoldRatified releases the hold r took, in r's ratification. A
// ratifiable r still has its claim, so no other request can have taken the
// hold since; one an admin already released is released again, and a
// missing one (taken before holds existed) is written released, which is
// the same as none.
func (s *Store) breakGlassHoldRatified(r elevate.Request, now time.Time) types.TransactWriteItem {
	k := breakGlassHoldKey(r.Requester)
	return s.update(k, "SET #kind = :kind, principal = :p, #rid = :id, ratifyBy = :rb, ratifyByEpochMs = :rbms, #rel = :true, #as = :as, #by = :by, #cid = :cid, #ttl = :ttl",
		"attribute_not_exists(PK) OR #rid = :id",
		map[string]string{"#kind": attrKind, "#rel": "released", "#as": "releasedAs", "#by": attrUpdatedBy, "#cid": attrChangeID, "#ttl": "ttl", "#rid": attrRequestID},
		map[string]types.AttributeValue{":kind": str(KindBreakGlassHold), ":p": str(r.Requester), ":id": str(r.ID),
			":rb": str(formatTime(*r.RatifyBy)), ":rbms": num(epochMs(*r.RatifyBy)), ":true": &types.AttributeValueMemberBOOL{Value: true},
			":as": str(HoldReleasedRatified), ":by": str(r.LastActor()), ":cid": str(requestChangeID(r.ID, r.Version)), ":ttl": num(ttlAt(now.Add(holdRetention)))})
}

// ListBreakGlassHolds is every hold not released, judged against its
// request as it reads at now.
func (s *Store) ListBreakGlassHolds(ctx context.Context, now time.Time) ([]elevate.BreakGlassHold, error) {
	items, err := s.queryAll(ctx, "list break-glass holds", pkBreakGlassHold)
	if err != nil {
		return nil, err
	}
	var holds []elevate.BreakGlassHold
	var ids []string
	for _, item := range items {
		var it breakGlassHoldItem
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return nil, unavailable("list break-glass holds", err)
		}
		if it.Released {
			continue
		}
		h, err := it.domain()
		if err != nil {
			return nil, err
		}
		holds, ids = append(holds, h), append(ids, h.RequestID)
	}
	reqs, err := s.requestsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]elevate.Request, len(reqs))
	for _, r := range reqs {
		byID[r.ID] = r
	}
	for i, h := range holds {
		holds[i] = h.Judge(byID[h.RequestID], now)
	}
	return holds, nil
}

// ClearBreakGlassHold releases principal's hold as an admin: stamped, so
// the trail names them (break_glass.unblocked).
func (s *Store) ClearBreakGlassHold(ctx context.Context, principal string, ev app.Event) error {
	err := s.transact(ctx, []types.TransactWriteItem{s.update(breakGlassHoldKey(principal),
		"SET #rel = :true, #as = :as, #by = :by, #cid = :cid, #ttl = :ttl", "attribute_exists(PK) AND NOT #rel = :true",
		map[string]string{"#rel": "released", "#as": "releasedAs", "#by": attrUpdatedBy, "#cid": attrChangeID, "#ttl": "ttl"},
		map[string]types.AttributeValue{":true": &types.AttributeValueMemberBOOL{Value: true}, ":as": str(HoldReleasedCleared),
			":by": str(ev.Actor), ":cid": str(ev.ID), ":ttl": num(ttlAt(ev.Time.Add(holdRetention)))})})
	return txResult("clear break-glass hold", err, is(elevate.ErrNoBreakGlassBlock))
}

// BreakGlassHoldImage is what the audit trail reads of a hold's stream image.
type BreakGlassHoldImage struct {
	Principal, RequestID, RatifyBy string
	Released                       bool
	ReleasedAs                     string
}

// BreakGlassHoldFromImage decodes a break-glass hold's stream image.
func BreakGlassHoldFromImage(img map[string]events.DynamoDBAttributeValue) (BreakGlassHoldImage, error) {
	var it breakGlassHoldItem
	if err := decodeImage(img, KindBreakGlassHold, &it); err != nil {
		return BreakGlassHoldImage{}, err
	}
	return BreakGlassHoldImage{Principal: it.Principal, RequestID: it.RequestID, RatifyBy: it.RatifyBy, Released: it.Released, ReleasedAs: it.ReleasedAs}, nil
}
