package elevate

import (
	"math"
	"time"
)

// Break-glass (F16): where a policy allows it, a requester approves their own
// request at once for a short time, everyone who could have approved it is
// alerted, and an approver must ratify it within a deadline or the grant ends.

// Break-glass bounds.
const (
	BreakGlassCapHours           = 4.0
	DefaultBreakGlassHours       = 1.0
	DefaultRatifyWithinHours     = 24.0
	MaxRatifyWithinHours         = 168.0
	MinBreakGlassReasonChars     = 20
	breakGlassSelfApprovalNotice = "break-glass: approved by the requester, to be ratified"
)

// Ratification is where a break-glass request stands with its approvers.
// Pending reads as Missed once its deadline has passed (decided at read time,
// like every expiry). Revoked is stored when an approver or admin revoked the
// grant before ratifying it: the question is answered, negatively.
type Ratification string

const (
	RatificationPending  Ratification = "pending"
	RatificationRatified Ratification = "ratified"
	RatificationMissed   Ratification = "missed"
	RatificationRevoked  Ratification = "revoked"
)

// ParseRatification accepts the listing filter's values; empty means "any".
func ParseRatification(s string) (Ratification, error) {
	for _, r := range []Ratification{RatificationPending, RatificationRatified, RatificationMissed, RatificationRevoked} {
		if s == string(r) {
			return r, nil
		}
	}
	return "", Invalid("ratification must be one of pending, ratified, missed, revoked")
}

// DecisionBreakGlass is the requester's own approval; DecisionRatify is an
// approver confirming it afterwards.
const (
	DecisionBreakGlass DecisionKind = "break-glass"
	DecisionRatify     DecisionKind = "ratify"
)

// BreakGlassPolicy is a policy's break-glass rule.
type BreakGlassPolicy struct {
	Enabled           bool    `json:"enabled"`
	MaxDurationHours  float64 `json:"maxDurationHours"`
	RatifyWithinHours float64 `json:"ratifyWithinHours"`
}

// BreakGlassInput is the partial form in POST and PUT /v1/policies.
type BreakGlassInput struct {
	Enabled           *bool    `json:"enabled"`
	MaxDurationHours  *float64 `json:"maxDurationHours"`
	RatifyWithinHours *float64 `json:"ratifyWithinHours"`
}

// Break-glass refusals.
var (
	ErrBreakGlassNotAllowed = refusal(ErrUnprocessable, "break-glass-not-allowed", "the policy for this target does not allow break-glass access")
	ErrBreakGlassReason     = refusal(ErrUnprocessable, "break-glass-reason", "a break-glass request needs a reason of at least 20 characters other than spaces")
	ErrBreakGlassOpen       = refusal(ErrConflict, "break-glass-open", "you already hold an unratified break-glass grant; it must be ratified first")
	ErrNotBreakGlass        = refusal(ErrConflict, "not-break-glass", "only a break-glass request is ratified")
	ErrNotRatifiable        = refusal(ErrConflict, "not-ratifiable", "the break-glass request is no longer waiting for ratification")
	ErrRatificationMissed   = refusal(ErrConflict, "ratification-missed", "the ratification deadline has passed; the grant has ended")
	ErrBreakGlassScheduled  = refusal(ErrUnprocessable, "break-glass-scheduled", "break-glass access starts now; it cannot take startAt")
	// ErrBreakGlassBlocked: only a ratification frees a principal's
	// break-glass; after a revocation or a missed deadline an admin must.
	ErrBreakGlassBlocked = refusal(ErrForbidden, "break-glass-blocked", "your last break-glass grant was revoked or not ratified in time; an admin must clear the block first")
	ErrNoBreakGlassBlock = refusal(ErrNotFound, "no-break-glass-block", "this principal holds no break-glass claim")
)

// BreakGlassHold is a principal's claim on break-glass (F16, issue 16 item
// 5): taken with each break-glass grant, freed only by its ratification or
// by an admin. While it is held no new break-glass grant opens: it awaits
// ratification until the deadline, and is a block from a revocation or the
// deadline on.
type BreakGlassHold struct {
	Principal string    `json:"principal"`
	RequestID string    `json:"requestId"`
	RatifyBy  time.Time `json:"ratifyBy"`
	// State is awaiting-ratification or blocked, judged at read time.
	State string `json:"state"`
	// Reason says why it is blocked: revoked, ratification-missed.
	Reason string `json:"reason,omitempty"`
}

// States and reasons of a hold.
const (
	HoldAwaitingRatification = "awaiting-ratification"
	HoldBlocked              = "blocked"
	HoldReasonRevoked        = "revoked"
	HoldReasonMissed         = "ratification-missed"
)

// Judge sets the hold's state from its request as it reads at now (r may be
// the zero Request when it is gone).
func (h BreakGlassHold) Judge(r Request, now time.Time) BreakGlassHold {
	switch {
	case r.Status == StatusRevoked || r.Ratification == RatificationRevoked:
		h.State, h.Reason = HoldBlocked, HoldReasonRevoked
	case !now.Before(h.RatifyBy):
		h.State, h.Reason = HoldBlocked, HoldReasonMissed
	default:
		h.State = HoldAwaitingRatification
	}
	return h
}

// breakGlassRule validates a policy's break-glass input; nil input leaves it
// off. It runs for every policy write, so omitting the field turns it off.
func breakGlassRule(in *BreakGlassInput) (*BreakGlassPolicy, error) {
	if in == nil {
		return nil, nil
	}
	bg := &BreakGlassPolicy{MaxDurationHours: DefaultBreakGlassHours, RatifyWithinHours: DefaultRatifyWithinHours}
	if in.Enabled != nil {
		bg.Enabled = *in.Enabled
	}
	if in.MaxDurationHours != nil {
		if !validHours(*in.MaxDurationHours, BreakGlassCapHours) {
			return nil, Unprocessable("break-glass-duration", "breakGlass.maxDurationHours must be more than one minute and at most 4")
		}
		bg.MaxDurationHours = *in.MaxDurationHours
	}
	if in.RatifyWithinHours != nil {
		if !validHours(*in.RatifyWithinHours, MaxRatifyWithinHours) {
			return nil, Unprocessable("break-glass-ratify-within", "breakGlass.ratifyWithinHours must be more than one minute and at most 168")
		}
		bg.RatifyWithinHours = *in.RatifyWithinHours
	}
	return bg, nil
}

// AllowsBreakGlass reports whether the policy lets requesters self-approve.
func (p Policy) AllowsBreakGlass() bool { return p.BreakGlass != nil && p.BreakGlass.Enabled }

// breakGlass makes a freshly built request a break-glass one: capped by the
// policy's break-glass maximum, due for ratification within the policy's
// deadline. approveAsBreakGlass then approves it. durationGiven is false when
// the caller left durationHours out.
func (r *Request) breakGlass(in SubmitInput, sub Submission, durationGiven bool) error {
	if r.Type == TypeLockbox || sub.Policy == nil || !sub.Policy.AllowsBreakGlass() {
		return ErrBreakGlassNotAllowed
	}
	if visibleChars(in.Reason) < MinBreakGlassReasonChars {
		return ErrBreakGlassReason
	}
	if r.ApproverGroup == "" && r.ApprovalType == ApprovalManual {
		return ErrNoApproverGroup
	}
	bg := sub.Policy.BreakGlass
	if !durationGiven {
		r.DurationHours = math.Min(r.DurationHours, bg.MaxDurationHours)
	}
	if r.DurationHours > bg.MaxDurationHours {
		return ErrDurationTooLong
	}
	ratifyBy := sub.Now.Add(hours(bg.RatifyWithinHours))
	r.BreakGlass, r.Ratification, r.RatifyBy = true, RatificationPending, &ratifyBy
	return nil
}

// approveAsBreakGlass approves the request at once, for the requester alone.
// Break-glass is for now: it cannot be scheduled.
func (r *Request) approveAsBreakGlass(now time.Time) error {
	if r.StartAt != nil {
		return ErrBreakGlassScheduled
	}
	r.Decisions = append(r.Decisions, Decision{By: r.Requester, Decision: DecisionBreakGlass, Comment: breakGlassSelfApprovalNotice, At: now})
	r.grant(now)
	return nil
}

// awaitsRatification is true while the stored ratification is pending,
// whether or not its deadline has passed.
func (r Request) awaitsRatification() bool {
	return r.BreakGlass && r.Ratification == RatificationPending && r.RatifyBy != nil
}

// RatificationAt is the ratification as it reads at now: a pending one whose
// deadline has passed is missed.
func (r Request) RatificationAt(now time.Time) Ratification {
	if r.awaitsRatification() && !now.Before(*r.RatifyBy) {
		return RatificationMissed
	}
	return r.Ratification
}

// LiveUntil is when the grant stops being in force unless something changes:
// the grant's end, or the ratification deadline while ratification is pending
// and the deadline comes first. The grant slot expires then, so TTL and the
// authorization path need no break-glass rule of their own.
func (r Request) LiveUntil() time.Time {
	end := r.ExpiresAt
	if r.GrantExpiresAt != nil {
		end = *r.GrantExpiresAt
	}
	if r.awaitsRatification() && r.RatifyBy.Before(end) {
		return *r.RatifyBy
	}
	return end
}

// RevokedByMissedRatification reports whether the ratification deadline
// ends a grant that would still be live: such a request reads as Revoked
// from the deadline on.
func (r Request) RevokedByMissedRatification() bool {
	return r.Status == StatusApproved && r.awaitsRatification() && r.GrantExpiresAt != nil && r.RatifyBy.Before(*r.GrantExpiresAt)
}

// Ratify confirms a break-glass grant. The decider must be able to decide the
// request (a current approver, or an admin), and not be the requester. A
// grant that has already run its course, or that its requester gave up, may
// still be ratified until the deadline: ratifying says the use was
// legitimate.
func (r Request) Ratify(d Decider, comment string, now time.Time) (Request, error) {
	if err := checkComment(comment); err != nil {
		return r, err
	}
	if d.Principal == r.Requester {
		return r, ErrSelfApproval
	}
	if !d.InGroup && !d.Admin {
		return r, ErrNotApprover
	}
	if !r.BreakGlass {
		return r, ErrNotBreakGlass
	}
	switch {
	case r.RatificationAt(now) == RatificationMissed:
		return r, ErrRatificationMissed
	case r.Ratification != RatificationPending:
		return r, ErrNotRatifiable
	}
	r = r.withDecision(Decision{By: d.Principal, OnBehalfOf: d.OnBehalfOf, Via: d.Via, Decision: DecisionRatify, Comment: comment, At: now})
	r.Ratification = RatificationRatified
	return r, nil
}
