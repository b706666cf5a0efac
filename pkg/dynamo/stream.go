// Stream consumers (notify, audit) read the table's stream through the
// functions of this file, and nothing else of this package: each decodes a
// Lambda stream image or record into domain values. The conversions behind
// them are in streamimage.go.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// ImageKind returns the item kind (KindRequest, KindGrant, ...) of a stream
// image, or "" when it has none.
func ImageKind(img map[string]events.DynamoDBAttributeValue) string {
	v, ok := img[attrKind]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

// RequestFromImage decodes a request item's stream image.
func RequestFromImage(img map[string]events.DynamoDBAttributeValue) (elevate.Request, error) {
	var it requestItem
	if err := decodeImage(img, KindRequest, &it); err != nil {
		return elevate.Request{}, err
	}
	return it.domain()
}

// GrantFromImage decodes a grant slot's stream image. status is the slot's
// Pending (the request is still open) or Approved (the slot is a grant).
func GrantFromImage(img map[string]events.DynamoDBAttributeValue) (g elevate.Grant, status elevate.Status, err error) {
	var it grantItem
	if err := decodeImage(img, KindGrant, &it); err != nil {
		return elevate.Grant{}, "", err
	}
	return it.domain()
}

// SettingsFromImage decodes the settings item's stream image.
func SettingsFromImage(img map[string]events.DynamoDBAttributeValue) (elevate.Settings, error) {
	var it settingsItem
	if err := decodeImage(img, KindSettings, &it); err != nil {
		return elevate.Settings{}, err
	}
	return it.domain()
}

// GroupFromImage decodes a group item's stream image.
func GroupFromImage(img map[string]events.DynamoDBAttributeValue) (elevate.Group, error) {
	var it groupItem
	if err := decodeImage(img, KindGroup, &it); err != nil {
		return elevate.Group{}, err
	}
	return it.domain()
}

// PolicyFromImage decodes a policy item's stream image.
func PolicyFromImage(img map[string]events.DynamoDBAttributeValue) (elevate.Policy, error) {
	var it policyItem
	if err := decodeImage(img, KindPolicy, &it); err != nil {
		return elevate.Policy{}, err
	}
	return it.domain()
}

// EventFromImage decodes an audit-only event item's stream image.
func EventFromImage(img map[string]events.DynamoDBAttributeValue) (app.Event, error) {
	var it eventItem
	if err := decodeImage(img, KindEvent, &it); err != nil {
		return app.Event{}, err
	}
	return it.domain()
}

// IsTTLDelete reports whether a REMOVE record was made by DynamoDB's TTL
// rather than by a manual delete: TTL deletions carry the service identity.
func IsTTLDelete(rec events.DynamoDBEventRecord) bool {
	return rec.EventName == string(events.DynamoDBOperationTypeRemove) && rec.UserIdentity != nil &&
		rec.UserIdentity.Type == "Service" && rec.UserIdentity.PrincipalID == "dynamodb.amazonaws.com"
}

// LapsedSlot reports the grant slot whose pending request or grant a stream
// record shows ending by lapse: TTL deleting the slot, or a new request
// taking over a slot that had lapsed before TTL got to it (no TTL REMOVE will
// ever come for the old one then). Manual deletes are decisions, recorded
// from the request item, not lapses.
func LapsedSlot(rec events.DynamoDBEventRecord) (old elevate.Grant, wasPending, ok bool, err error) {
	c := rec.Change
	byTTL := IsTTLDelete(rec)
	if ImageKind(c.OldImage) != KindGrant || (!byTTL && rec.EventName != string(events.DynamoDBOperationTypeModify)) {
		return elevate.Grant{}, false, false, nil
	}
	old, status, err := GrantFromImage(c.OldImage)
	if err != nil {
		return elevate.Grant{}, false, false, err
	}
	if !byTTL {
		cur, _, err := GrantFromImage(c.NewImage)
		if err != nil || cur.RequestID == old.RequestID {
			return elevate.Grant{}, false, false, err
		}
	}
	return old, status == elevate.StatusPending, true, nil
}

// ErrWrongKind is returned when an image is not of the kind asked for.
var ErrWrongKind = errors.New("dynamo: stream image is not of the expected kind")

// Provenance is who made the change a stream record shows, as the item
// itself records it.
type Provenance int

const (
	// ByElevate: stamped by one of Elevate's writes; Actor says by whom.
	ByElevate Provenance = iota
	// DeletePrepared: the first write of an API delete; its REMOVE follows
	// and is the record.
	DeletePrepared
	// DirectWrite: not made through Elevate.
	DirectWrite
)

// Change is a stream record's provenance, its actor when known, and the data
// attributes it changed (stamps excluded), sorted.
type Change struct {
	Provenance Provenance
	Actor      string
	Changed    []string
	// At is when an API delete was prepared, read from its stamp: the time
	// of the REMOVE it announces, which the stream gives only roughly.
	At time.Time
}

// ChangeOf reads a non-TTL stream record of an entity item, by the stamps
// Elevate's writes leave on it (stamp.go).
func ChangeOf(rec events.DynamoDBEventRecord) Change {
	c := rec.Change
	changed := changedAttrs(c.OldImage, c.NewImage)
	switch events.DynamoDBOperationType(rec.EventName) {
	case events.DynamoDBOperationTypeInsert:
		if by := imageString(c.NewImage, attrUpdatedBy); by != "" && imageString(c.NewImage, attrChangeID) != "" {
			return Change{Provenance: ByElevate, Actor: by, Changed: changed}
		}
	case events.DynamoDBOperationTypeModify:
		oldDel, newDel := imageString(c.OldImage, attrDeleteID), imageString(c.NewImage, attrDeleteID)
		if len(changed) == 0 && newDel != "" && newDel != oldDel {
			return Change{Provenance: DeletePrepared, Actor: imageString(c.NewImage, attrDeletedBy)}
		}
		by, id := imageString(c.NewImage, attrUpdatedBy), imageString(c.NewImage, attrChangeID)
		if by != "" && id != "" && id != imageString(c.OldImage, attrChangeID) {
			return Change{Provenance: ByElevate, Actor: by, Changed: changed}
		}
	case events.DynamoDBOperationTypeRemove:
		by, deadline := imageString(c.OldImage, attrDeletedBy), imageNumber(c.OldImage, attrDeleteBefore)
		at := rec.Change.ApproximateCreationDateTime.Time
		if by != "" && imageString(c.OldImage, attrDeleteID) != "" && (at.IsZero() || at.UnixMilli() <= deadline) {
			return Change{Provenance: ByElevate, Actor: by, Changed: changed, At: time.UnixMilli(deadline).Add(-deletePrepareFor).UTC()}
		}
	}
	return Change{Provenance: DirectWrite, Changed: changed}
}

// ImageJSON is a stream image as plain JSON values (numbers as their decimal
// text, sets as sorted lists), for records that must show an item as stored
// whatever its shape: a direct write need not decode as an entity.
func ImageJSON(img map[string]events.DynamoDBAttributeValue) map[string]any {
	if img == nil {
		return nil
	}
	out := make(map[string]any, len(img))
	for k, v := range img {
		out[k] = attrJSON(v)
	}
	return out
}

// ImageKeys is a stream record's item key, PK and SK.
func ImageKeys(rec events.DynamoDBEventRecord) map[string]any {
	return ImageJSON(rec.Change.Keys)
}

// MissedRatification is what the stream tells when a ratification deadline
// passes unanswered.
type MissedRatification struct {
	RequestID     string
	Principal     string
	Target        elevate.Target
	ApproverGroup string
	RatifyBy      time.Time
	GrantRevoked  bool
}

// MissedRatificationOf reports the ratification a stream record shows being
// missed: TTL deleting the claim at its deadline, or a new break-glass
// request taking over a claim whose deadline had passed before TTL got to it
// (no TTL REMOVE will ever come for the old one then). Manual deletes are
// ratifications or revocations, recorded from the request item.
func MissedRatificationOf(rec events.DynamoDBEventRecord) (MissedRatification, bool, error) {
	c := rec.Change
	byTTL := IsTTLDelete(rec)
	if ImageKind(c.OldImage) != KindRatification || (!byTTL && rec.EventName != string(events.DynamoDBOperationTypeModify)) {
		return MissedRatification{}, false, nil
	}
	var old ratificationItem
	if err := decodeImage(c.OldImage, KindRatification, &old); err != nil {
		return MissedRatification{}, false, err
	}
	if !byTTL {
		var cur ratificationItem
		if err := decodeImage(c.NewImage, KindRatification, &cur); err != nil || cur.RequestID == old.RequestID {
			return MissedRatification{}, false, err
		}
	}
	m, err := old.domain()
	return m, err == nil, err
}

// DelegationFromImage decodes a delegation item's stream image.
func DelegationFromImage(img map[string]events.DynamoDBAttributeValue) (elevate.Delegation, error) {
	var it delegationItem
	if err := decodeImage(img, KindDelegation, &it); err != nil {
		return elevate.Delegation{}, err
	}
	return it.domain()
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

// RequestGetter reads a request by ID (ErrRequestNotFound when absent).
type RequestGetter interface {
	GetRequest(ctx context.Context, id string) (elevate.Request, error)
}

// VerifySlotChange checks a grant slot's INSERT or MODIFY against the
// request it names (see above). It returns nil for Elevate's change, an
// error wrapping ErrSlotUnverified saying why not, or the reader's error
// when the request could not be read (retry).
func VerifySlotChange(ctx context.Context, requests RequestGetter, rec events.DynamoDBEventRecord) error {
	c := rec.Change
	var cur grantItem
	if err := decodeImage(c.NewImage, KindGrant, &cur); err != nil {
		return fmt.Errorf("%w: %w", ErrSlotUnverified, err)
	}
	id, v, ok := parseRequestChangeID(cur.ChangeID)
	if !ok || id != cur.RequestID {
		return fmt.Errorf("%w: changeId %q does not name the slot's request %q", ErrSlotUnverified, cur.ChangeID, cur.RequestID)
	}
	if requests == nil {
		return fmt.Errorf("%w: no request reader to check it against", ErrSlotUnverified)
	}
	r, err := requests.GetRequest(ctx, id)
	if errors.Is(err, elevate.ErrRequestNotFound) {
		return fmt.Errorf("%w: request %q not found", ErrSlotUnverified, id)
	}
	if err != nil {
		return err
	}
	if r.Requester != cur.Principal || r.Target() != (elevate.Target{Type: elevate.RequestType(cur.Type), Scope: cur.Scope, Name: cur.Name}) {
		return fmt.Errorf("%w: request %q is for another principal or target", ErrSlotUnverified, id)
	}
	at := slices.Index(r.SlotLog, slotLogEntry(v, slotState(cur.Status, cur.StartsAt, cur.ExpiresAt)))
	if at < 0 {
		return fmt.Errorf("%w: request %q never gave its slot this state at version %d", ErrSlotUnverified, id, v)
	}
	var prev grantItem
	sameRequest := rec.EventName == string(events.DynamoDBOperationTypeModify) &&
		decodeImage(c.OldImage, KindGrant, &prev) == nil && prev.RequestID == cur.RequestID
	switch {
	case at == 0 && !sameRequest:
		// The first state is written with the request itself: later, it is
		// a revoked grant put back under its old changeId.
		if streamAt := c.ApproximateCreationDateTime.Time; !streamAt.IsZero() && streamAt.After(r.CreatedAt.Add(firstSlotWithin)) {
			return fmt.Errorf("%w: the slot's first state written at %s, its request was created at %s", ErrSlotUnverified,
				streamAt.UTC().Format(time.RFC3339), r.CreatedAt.UTC().Format(time.RFC3339Nano))
		}
		return nil
	case at == 0 || !sameRequest:
		return fmt.Errorf("%w: the slot it replaced is not the state before version %d", ErrSlotUnverified, v)
	}
	// The slot may have been rewritten without a change of state since the
	// previous entry (a ratification that keeps the end): any version from
	// that entry's up to this one, in that entry's state.
	pv, pstate, _ := splitSlotLogEntry(r.SlotLog[at-1])
	_, oldV, ok := parseRequestChangeID(prev.ChangeID)
	if !ok || oldV < pv || oldV >= v || slotState(prev.Status, prev.StartsAt, prev.ExpiresAt) != pstate {
		return fmt.Errorf("%w: the slot it replaced (%q) is not the state before version %d", ErrSlotUnverified, prev.ChangeID, v)
	}
	return nil
}
