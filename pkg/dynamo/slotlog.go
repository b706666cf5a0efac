package dynamo

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

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

var _ RequestGetter = (*Store)(nil)

func parseRequestChangeID(s string) (id string, version int, ok bool) {
	i := strings.LastIndexByte(s, '#')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	return s[:i], n, err == nil
}
