package dynamo

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Attribute names of break-glass conditions and filters.
const (
	attrBreakGlass    = "breakGlass"
	attrRatification  = "ratification"
	attrRatifyByMs    = "ratifyByEpochMs"
	attrMissRevokesMs = "missRevokesEpochMs"
)

type breakGlassItem struct {
	Enabled           bool    `dynamodbav:"enabled"`
	MaxDurationHours  float64 `dynamodbav:"maxDurationHours"`
	RatifyWithinHours float64 `dynamodbav:"ratifyWithinHours"`
}

func toBreakGlassItem(bg *elevate.BreakGlassPolicy) *breakGlassItem {
	if bg == nil {
		return nil
	}
	return &breakGlassItem{Enabled: bg.Enabled, MaxDurationHours: bg.MaxDurationHours, RatifyWithinHours: bg.RatifyWithinHours}
}

func (it *breakGlassItem) domain() *elevate.BreakGlassPolicy {
	if it == nil {
		return nil
	}
	return &elevate.BreakGlassPolicy{Enabled: it.Enabled, MaxDurationHours: it.MaxDurationHours, RatifyWithinHours: it.RatifyWithinHours}
}

// breakGlassFields are a request item's break-glass attributes, embedded in
// requestItem. MissRevokesEpochMs is set while a pending ratification's
// deadline would cut a live grant short, so listings can read such a request
// as Revoked from then on without reading every item.
type breakGlassFields struct {
	BreakGlass         bool   `dynamodbav:"breakGlass,omitempty"`
	Ratification       string `dynamodbav:"ratification,omitempty"`
	RatifyBy           string `dynamodbav:"ratifyBy,omitempty"`
	RatifyByEpochMs    int64  `dynamodbav:"ratifyByEpochMs,omitempty"`
	MissRevokesEpochMs int64  `dynamodbav:"missRevokesEpochMs,omitempty"`
}

func toBreakGlassFields(r elevate.Request) breakGlassFields {
	if !r.BreakGlass {
		return breakGlassFields{}
	}
	f := breakGlassFields{BreakGlass: true, Ratification: string(r.Ratification)}
	if r.RatifyBy != nil {
		f.RatifyBy, f.RatifyByEpochMs = formatTime(*r.RatifyBy), epochMs(*r.RatifyBy)
		if r.RevokedByMissedRatification() {
			f.MissRevokesEpochMs = f.RatifyByEpochMs
		}
	}
	return f
}

func (f breakGlassFields) apply(r *elevate.Request) error {
	r.BreakGlass, r.Ratification = f.BreakGlass, elevate.Ratification(f.Ratification)
	if f.RatifyBy != "" {
		t, err := parseTime(f.RatifyBy)
		if err != nil {
			return fmt.Errorf("ratifyBy")
		}
		r.RatifyBy = &t
	}
	return nil
}

// ratificationItem is a principal's unratified break-glass grant. It lives
// until the deadline (ttl) unless a ratification or an approver's revocation
// deletes it first; TTL deleting it means the ratification was missed.
type ratificationItem struct {
	PK              string `dynamodbav:"PK"`
	SK              string `dynamodbav:"SK"`
	Kind            string `dynamodbav:"kind"`
	RequestID       string `dynamodbav:"requestId"`
	Principal       string `dynamodbav:"principal"`
	Type            string `dynamodbav:"type"`
	Scope           string `dynamodbav:"scope"`
	Name            string `dynamodbav:"name"`
	ApproverGroup   string `dynamodbav:"approverGroup"`
	RatifyBy        string `dynamodbav:"ratifyBy"`
	RatifyByEpochMs int64  `dynamodbav:"ratifyByEpochMs"`
	// GrantRevoked is whether missing the deadline cuts the grant short.
	GrantRevoked bool  `dynamodbav:"grantRevoked"`
	TTL          int64 `dynamodbav:"ttl"`
	unlistedIndexKeys
}

func toRatificationItem(r elevate.Request) ratificationItem {
	k := ratificationKey(r.Requester)
	it := ratificationItem{PK: k.pk, SK: k.sk, Kind: KindRatification, RequestID: r.ID, Principal: r.Requester,
		Type: string(r.Type), Scope: r.Scope, Name: r.Name, ApproverGroup: r.ApproverGroup,
		RatifyBy: formatTime(*r.RatifyBy), RatifyByEpochMs: epochMs(*r.RatifyBy), TTL: ttlAt(*r.RatifyBy),
		GrantRevoked: r.RevokedByMissedRatification()}
	it.unlistedIndexKeys = ratificationIndexKeys(r.Requester)
	return it
}

func (it ratificationItem) domain() (MissedRatification, error) {
	at, err := parseTime(it.RatifyBy)
	if err != nil {
		return MissedRatification{}, fmt.Errorf("ratification of request %q: bad ratifyBy", it.RequestID)
	}
	return MissedRatification{RequestID: it.RequestID, Principal: it.Principal, ApproverGroup: it.ApproverGroup,
		Target: elevate.Target{Type: elevate.RequestType(it.Type), Scope: it.Scope, Name: it.Name}, RatifyBy: at, GrantRevoked: it.GrantRevoked}, nil
}

// breakGlassClaim is the transaction item that claims the principal's one
// unratified break-glass grant; a claim whose deadline has passed is free.
func (s *Store) breakGlassClaim(r elevate.Request) (types.TransactWriteItem, error) {
	m, err := marshal(toRatificationItem(r))
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return s.put(m, "attribute_not_exists(PK) OR #rb <= :now", map[string]string{"#rb": attrRatifyByMs},
		map[string]types.AttributeValue{":now": num(epochMs(r.CreatedAt))}), nil
}

// breakGlassRelease deletes the principal's claim once a ratification or an
// approver's revocation answers it. A claim already gone, or held by another
// request, is left alone.
func (s *Store) breakGlassRelease(r elevate.Request) types.TransactWriteItem {
	return s.del(ratificationKey(r.Requester), "attribute_not_exists(PK) OR #rid = :id",
		map[string]string{"#rid": attrRequestID}, map[string]types.AttributeValue{":id": str(r.ID)})
}

// ratifySlot moves a still-live grant's slot end from the ratification
// deadline to the grant's own end.
func (s *Store) ratifySlot(r elevate.Request) types.TransactWriteItem {
	g := toGrantItem(r)
	// Stamped like every entity write (stamp.go).
	return s.update(grantSlotKey(r.Requester, r.Target()), "SET expiresAt = :exp, #e = :expMs, #ttl = :ttl, #by = :by, #cid = :cid", "#rid = :id",
		map[string]string{"#e": attrExpiresMs, "#ttl": "ttl", "#rid": attrRequestID, "#by": attrUpdatedBy, "#cid": attrChangeID},
		map[string]types.AttributeValue{":exp": str(g.ExpiresAt), ":expMs": num(g.ExpiresEpochMs), ":ttl": num(g.TTL), ":id": str(r.ID),
			":by": str(g.UpdatedBy), ":cid": str(g.ChangeID)})
}

// ratifyCondition holds a ratification to the state the service read: same
// version, ratification still pending and its deadline not passed.
func ratifyCondition(prev elevate.Request, now time.Time) (string, map[string]string, map[string]types.AttributeValue) {
	return "#v = :prev AND #rat = :rpending AND #rb > :now",
		map[string]string{"#v": attrVersion, "#rat": attrRatification, "#rb": attrRatifyByMs},
		map[string]types.AttributeValue{":prev": num(int64(prev.Version)), ":rpending": str(string(elevate.RatificationPending)), ":now": num(epochMs(now))}
}

// grantStatusFilter lists Approved or Revoked as they read at q.Now: a grant
// cut short by a missed ratification reads as Revoked from the deadline on.
// An absent missRevokesEpochMs makes the comparison false.
func grantStatusFilter(q app.RequestQuery, names map[string]string, values map[string]types.AttributeValue) string {
	names["#s"], names["#mr"] = attrStatus, attrMissRevokesMs
	values[":status"], values[":now"] = str(string(q.Status)), num(epochMs(q.Now))
	if q.Status == elevate.StatusApproved {
		return "#s = :status AND NOT #mr <= :now"
	}
	return "(#s = :status OR #mr <= :now)"
}

// breakGlassFilter adds ?breakGlass= and ?ratification=; a pending
// ratification whose deadline has passed is missed.
func breakGlassFilter(q app.RequestQuery, names map[string]string, values map[string]types.AttributeValue) ([]string, error) {
	var parts []string
	if q.BreakGlass != nil {
		names["#bg"] = attrBreakGlass
		if *q.BreakGlass {
			values[":true"] = &types.AttributeValueMemberBOOL{Value: true}
			parts = append(parts, "#bg = :true")
		} else {
			parts = append(parts, "attribute_not_exists(#bg)")
		}
	}
	switch q.Ratification {
	case "":
		return parts, nil
	case elevate.RatificationPending, elevate.RatificationMissed:
		names["#rat"], names["#rb"] = attrRatification, attrRatifyByMs
		values[":rpending"], values[":now"] = str(string(elevate.RatificationPending)), num(epochMs(q.Now))
		if q.Ratification == elevate.RatificationPending {
			return append(parts, "#rat = :rpending AND #rb > :now"), nil
		}
		return append(parts, "#rat = :rpending AND #rb <= :now"), nil
	case elevate.RatificationRatified, elevate.RatificationRevoked:
		names["#rat"] = attrRatification
		values[":rat"] = str(string(q.Ratification))
		return append(parts, "#rat = :rat"), nil
	}
	return nil, elevate.Invalid("unknown ratification")
}
