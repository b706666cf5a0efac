package elevate

import (
	"slices"
	"time"
)

// MaxExtensionsPerGrant bounds how often one grant can be extended; the
// policy's maximum duration bounds the total anyway.
const MaxExtensionsPerGrant = 20

// Extension refusals.
var (
	ErrExtendNotRequester = refusal(ErrForbidden, "not-requester", "only the requester can extend their grant")
	ErrExtendEnded        = refusal(ErrConflict, "grant-ended", "the grant is not active: there is nothing to extend")
	ErrExtensionPending   = refusal(ErrConflict, "extension-pending", "an extension of this grant is already pending")
	ErrExtendExtension    = refusal(ErrUnprocessable, "extend-original", "extend the original request, not an extension")
	ErrTooManyExtensions  = refusal(ErrUnprocessable, "too-many-extensions", "this grant has been extended the maximum number of times")
	ErrExtensionAtMax     = refusal(ErrUnprocessable, "duration-too-long", "the grant already runs for the policy's maximum duration from its start")
	ErrOriginalNotActive  = refusal(ErrConflict, "original-not-active", "the grant this extension extends has ended or was revoked")
	ErrRevokeOriginal     = refusal(ErrConflict, "revoke-original", "an extension is revoked with its original request; revoke that one")
)

// ExtendInput is the body of POST /v1/requests/{id}/extend.
type ExtendInput struct {
	DurationHours *float64 `json:"durationHours,omitempty"`
	Reason        string   `json:"reason"`
}

// ExtensionSubmission is what NewExtension needs besides the input: the
// settings and the target's policy as they are now, and the original's
// pending extension, if it names one (nil when it names none).
type ExtensionSubmission struct {
	Submission
	Pending *Request
}

// NewExtension asks for more time on the live grant of orig, judged by the
// target's current policy like a new request: an Auto policy extends at
// once, a Manual one needs fresh approval. It returns the extension and the
// original as it must be stored with it (the extension recorded as pending,
// or the grant already moved).
//
// The extension is a request scheduled at the grant's current end, so the
// existing grant runs on meanwhile and the two never overlap; its end is
// capped so the whole grant lasts no longer than the policy's maximum from
// the original start. Pending, it expires when the original grant ends: an
// extension approved after that would leave a gap.
func NewExtension(orig Request, in ExtendInput, sub ExtensionSubmission) (ext, nextOrig Request, err error) {
	now := sub.Now
	if sub.Requester != orig.Requester {
		return Request{}, orig, ErrExtendNotRequester
	}
	if orig.Extends != "" {
		return Request{}, orig, ErrExtendExtension
	}
	if !orig.Granted(now) {
		return Request{}, orig, ErrExtendEnded
	}
	if sub.Pending != nil && sub.Pending.EffectiveStatus(now) == StatusPending {
		return Request{}, orig, ErrExtensionPending
	}
	if len(orig.Extensions) >= MaxExtensionsPerGrant {
		return Request{}, orig, ErrTooManyExtensions
	}
	if in.DurationHours == nil {
		return Request{}, orig, Invalid("durationHours is required")
	}
	ext, err = buildRequest(SubmitInput{Type: string(orig.Type), Scope: orig.Scope, Name: orig.Name, Reason: in.Reason,
		DurationHours: in.DurationHours, Ticket: orig.Ticket}, sub.Submission)
	if err != nil {
		return Request{}, orig, err
	}
	oldEnd := *orig.GrantExpiresAt
	ext.Extends = orig.ID
	ext.StartAt = &oldEnd
	ext.ChangeWindow = orig.ChangeWindow
	if orig.NotAfter != nil {
		ext.capEnd(*orig.NotAfter)
	}
	ext.capEnd(orig.grantStartOrCreated().Add(hours(maxDurationOf(ext, sub.Submission))))
	if !ext.NotAfter.After(oldEnd) {
		return Request{}, orig, ErrExtensionAtMax
	}
	if ext.ApprovalType == ApprovalAuto {
		ext.approveAutomatically(now)
		nextOrig, err = orig.ExtendedBy(ext, now)
		return ext, nextOrig, err
	}
	ext.ExpiresAt = now.Add(hours(sub.Settings.PendingExpiryHours))
	if oldEnd.Before(ext.ExpiresAt) {
		ext.ExpiresAt = oldEnd
	}
	nextOrig = orig
	nextOrig.PendingExtension = ext.ID
	nextOrig.Version++
	return ext, nextOrig, nil
}

// maxDurationOf is the cap that applied to ext's own duration, which also
// caps the whole extended grant.
func maxDurationOf(ext Request, sub Submission) float64 {
	if ext.Type == TypeLockbox {
		return min(sub.Settings.Lockbox.MaxDurationHours, LockboxCapHours)
	}
	if sub.Policy != nil && sub.Policy.MaxDurationHours > 0 {
		return sub.Policy.MaxDurationHours
	}
	return MaxDurationHours
}

func (r Request) grantStartOrCreated() time.Time {
	if r.GrantStartsAt != nil {
		return *r.GrantStartsAt
	}
	return r.CreatedAt
}

// ExtendedBy moves the original's grant end to the approved extension's end.
// The original must still hold a grant that has not ended and still name ext
// as its pending extension (or, for an automatic extension, none pending).
func (r Request) ExtendedBy(ext Request, now time.Time) (Request, error) {
	if !r.Granted(now) || ext.Status != StatusApproved || ext.GrantExpiresAt == nil || ext.StartAt == nil ||
		!ext.StartAt.Equal(*r.GrantExpiresAt) || (r.PendingExtension != "" && r.PendingExtension != ext.ID) {
		return r, ErrOriginalNotActive
	}
	end := *ext.GrantExpiresAt
	r.GrantExpiresAt = &end
	r.ExpiresAt = end
	r.PendingExtension = ""
	r.Extensions = append(slices.Clone(r.Extensions), ext.ID)
	r.Version++
	return r, nil
}

// RevokedWithOriginal ends a pending extension because its original grant
// was revoked. It reports false when ext is no longer pending.
func (r Request) RevokedWithOriginal(by string, now time.Time) (Request, bool) {
	if r.Extends == "" || r.EffectiveStatus(now) != StatusPending {
		return r, false
	}
	r = r.withDecision(Decision{By: by, Decision: DecisionRevoke, Comment: "the original request " + r.Extends + " was revoked", At: now})
	r.Status = StatusRevoked
	r.ExpiresAt = now
	return r, true
}
