package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// A grant slot's stamp (updatedBy, changeId <request id>#<version>) can be
// copied by anyone who can write the slot: it proves nothing. What a writer
// of the slot alone cannot forge is the request item, whose every change is
// a record of its own. So each request item keeps a log of the states
// Elevate gave its slot (slotLog: "<version>|<status>|<startsAt>|<expiresAt>",
// one entry per change of that state, appended in the same write that
// changes the slot), and a slot change is Elevate's only when
//   - its new state is the log's entry for the version its changeId names,
//   - and the slot it replaced is that entry's predecessor: in the previous
//     entry's state, at a version from that entry's up to this one, for a
//     slot of the same request; nothing (or another request's slot) for the
//     log's first entry.
//
// The second rule stops replays: an old state written back, or a revoked
// grant re-inserted under its old changeId, follows the wrong predecessor.
// And a slot's first state is written with its request, so it is Elevate's
// only when the stream says it was written then (within firstSlotWithin).
// The rules hold however late the audit consumer reads the request, as the
// log is only ever appended to.

// firstSlotWithin bounds how long after a request's creation time the
// stream may date its slot's first write: the stream's own precision
// (DynamoDB Local's minute) plus the transaction's time.
const firstSlotWithin = time.Minute + 5*time.Second

// slotState is the part of a slot the log records.
func slotState(status, startsAt, expiresAt string) string {
	return status + "|" + startsAt + "|" + expiresAt
}

func slotLogEntry(version int, state string) string { return strconv.Itoa(version) + "|" + state }

func splitSlotLogEntry(e string) (version int, state string, ok bool) {
	v, state, ok := strings.Cut(e, "|")
	if !ok {
		return 0, "", false
	}
	n, err := strconv.Atoi(v)
	return n, state, err == nil
}

// withSlotLog is r's slot log with r's own slot state appended when it
// differs from the last entry's.
func withSlotLog(r elevate.Request) []string {
	g := toGrantItem(r)
	state := slotState(g.Status, g.StartsAt, g.ExpiresAt)
	log := slices.Clone(r.SlotLog)
	if n := len(log); n > 0 {
		if _, last, ok := splitSlotLogEntry(log[n-1]); ok && last == state {
			return log
		}
	}
	return append(log, slotLogEntry(r.Version, state))
}

// carrySlotLog gives next, a change of prev, prev's log when next carries
// none (a request built in memory rather than read from the store): at the
// least prev's own state, the predecessor the audit trail holds next's slot
// change to.
func carrySlotLog(prev, next elevate.Request) elevate.Request {
	if len(next.SlotLog) == 0 && prev.Version > 0 {
		next.SlotLog = withSlotLog(prev)
	}
	return next
}

// ErrSlotUnverified wraps why a grant slot's change is not Elevate's.
var ErrSlotUnverified = errors.New("grant slot change does not match its request")

// RequestGetter reads a request by ID (ErrRequestNotFound when absent).
type RequestGetter interface {
	GetRequest(ctx context.Context, id string) (elevate.Request, error)
}

var _ RequestGetter = (*Store)(nil)

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

func parseRequestChangeID(s string) (id string, version int, ok bool) {
	i := strings.LastIndexByte(s, '#')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	return s[:i], n, err == nil
}
