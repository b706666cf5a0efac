package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Refused attempts are audited (issue 10 item 8): each becomes one
// refused.<code> record, written as an event item that the stream carries to
// the audit bucket like an authorization decision.

// RefusalPrefix starts the action of every refusal record.
const RefusalPrefix = "refused."

// ActorAnonymous is the actor of a refusal with no verified principal (a
// forged or malformed approval link).
const ActorAnonymous = "anonymous"

// The rule (issue 16 item 11), also in the security matrix: a refusal of
// the caller is an answer that tells an identified caller no because of who
// they are, or because of the state of the request, grant, link or
// break-glass claim they act on. It leaves exactly one refused.<code>
// record. Every other answer is about the data and leaves none: their input
// is malformed or unacceptable (400, 413, 415, 422); it names admin data
// that exists, is missing or is in use (group-exists, policy-exists,
// group-in-use, too-many-delegations, and the 404s of groups, members,
// policies, delegations and break-glass holds); their own open request
// already holds the target (open-request); they lost a race
// (concurrent-update). A 401 has no identified caller and a 503 refused
// nothing: neither is recorded.
//
// stateRefusals are the 409s and 404s of the first kind: on a request (or
// its link, grant, extension or break-glass claim) as it stands.
var stateRefusals = []string{
	elevate.ErrNotPending.Code, elevate.ErrRequestExpired.Code, elevate.ErrAlreadyDecided.Code,
	elevate.ErrNotActive.Code, elevate.ErrLinkUsed.Code, ErrLinkDead.Code,

	// Break-glass (F16): a second unratified grant, and ratifying one that
	// is no longer waiting for it or was never break-glass.
	elevate.ErrBreakGlassOpen.Code, elevate.ErrNotRatifiable.Code, elevate.ErrRatificationMissed.Code, elevate.ErrNotBreakGlass.Code,

	// Extensions (F14): of a grant that has ended, of an extension, while
	// another is pending, or a revocation aimed at an extension.
	elevate.ErrExtendEnded.Code, elevate.ErrOriginalNotActive.Code, elevate.ErrExtensionPending.Code, elevate.ErrRevokeOriginal.Code,

	// A request the caller may not see reads as absent, and is refused as
	// such: extending someone else's grant, deciding a request out of sight.
	elevate.ErrRequestNotFound.Code,
}

// RefusalCode reports whether err refuses the caller an attempt the trail
// keeps (see the rule above), and its code: every 403 (self-approval, a
// non-member deciding, a non-admin on an admin route, asking about another
// principal, ...) and the state refusals above.
func RefusalCode(err error) (string, bool) {
	var de *elevate.Error
	if !errors.As(err, &de) || de.Code == "" {
		return "", false
	}
	if errors.Is(err, elevate.ErrForbidden) || ((errors.Is(err, elevate.ErrConflict) || errors.Is(err, elevate.ErrNotFound)) && slices.Contains(stateRefusals, de.Code)) {
		return de.Code, true
	}
	return "", false
}

// Refusal is one refused attempt.
type Refusal struct {
	// Actor is the verified principal, or ActorAnonymous.
	Actor string
	// Route is the API route ("POST /v1/requests/{id}/approve") or link
	// route the attempt came in on.
	Route     string
	RequestID string
	Code      string
	Status    int
	// Unverified holds what an unverifiable link claims (request, approver):
	// recorded as claims, never as the actor.
	Unverified map[string]string
	// BoundBy, when set, makes the record one of at most
	// anonymousSlotsPerMinute per minute for everything it hashes to: the
	// attempts of someone without credentials cannot flood the trail.
	BoundBy string
	// OncePer, when set, makes the record the only one ever written for
	// everything it names (a signed link, its route and the code): the
	// store writes each event ID once, so an old email opened again and
	// again, by its approver or a mail scanner, records its refusal once.
	OncePer string
}

// anonymousSlotsPerMinute bounds the refusal records anonymous attempts can
// cause: refusals with BoundBy share this many event IDs per minute, and
// the store writes each ID once.
const anonymousSlotsPerMinute = 16

// RecordRefusal writes the refusal's record. The caller's answer does not
// depend on it: a failure is returned for logging only.
func (s *Service) RecordRefusal(ctx context.Context, r Refusal) error {
	now := s.Clock()
	ev := Event{ID: s.id(), Time: now, Action: RefusalPrefix + r.Code, Actor: r.Actor, RequestID: r.RequestID,
		Detail: map[string]any{"code": r.Code, "route": r.Route, "status": r.Status}}
	if len(r.Unverified) > 0 {
		ev.Detail["unverified"] = r.Unverified
	}
	switch {
	case r.OncePer != "":
		h := sha256.Sum256([]byte(r.OncePer))
		ev.ID = "refused-once-" + hex.EncodeToString(h[:16])
		ev.Detail["once"] = true
	case r.BoundBy != "":
		h := sha256.Sum256([]byte(r.BoundBy))
		ev.ID = fmt.Sprintf("refused-anonymous-%s-%02d", now.UTC().Format("200601021504"), int(h[0])%anonymousSlotsPerMinute)
		ev.Detail["bounded"] = hex.EncodeToString(h[:4])
	}
	return s.Store.RecordRefusal(ctx, ev)
}
