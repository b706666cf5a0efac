package elevate

import "time"

// Grant lets Principal perform Target until ExpiresAt. Its stored item may
// outlive ExpiresAt (TTL deletion lags), so liveness is decided here.
type Grant struct {
	RequestID string    `json:"requestId"`
	Principal string    `json:"principal"`
	Target    Target    `json:"target"`
	ExpiresAt time.Time `json:"expiresAt"`
	// StartsAt is a scheduled grant's start; zero means live from approval.
	StartsAt time.Time `json:"startsAt,omitzero"`
	// What a scheduled grant is judged on again at its start (issue 16 item
	// 8): when it was approved, by how many people (0: automatically), and
	// whether it carries a ticket. ApprovedAt is zero on grants stored
	// before they were kept: those are not judged again.
	ApprovedAt time.Time `json:"-"`
	Approvals  int       `json:"-"`
	HasTicket  bool      `json:"-"`
}

// StillFits reports whether a scheduled grant still satisfies p, the
// target's policy as it is at the grant's start: the policy changed after
// the grant was approved and before it started, and it now wants more
// approvals, a shorter duration or a ticket the grant lacks. A change after
// the start does not end a started grant, as it does not end any other.
func (g *Grant) StillFits(p *Policy) bool {
	if g.StartsAt.IsZero() || g.ApprovedAt.IsZero() || p == nil || !p.UpdatedAt.After(g.ApprovedAt) || !p.UpdatedAt.Before(g.StartsAt) {
		return true
	}
	if p.ApprovalType == ApprovalManual && g.Approvals < max(1, p.RequiredApprovals) {
		return false
	}
	if p.MaxDurationHours > 0 && g.ExpiresAt.Sub(g.StartsAt) > time.Duration(p.MaxDurationHours*float64(time.Hour))+time.Second {
		return false
	}
	return !p.TicketRequired || g.HasTicket
}

// Live reports whether the grant is in force at now.
func (g *Grant) Live(now time.Time) bool {
	return g != nil && g.Started(now) && now.Before(g.ExpiresAt)
}

// Reason explains an authorization answer.
type Reason string

const (
	ReasonDisabled         Reason = "disabled"
	ReasonSystemAccount    Reason = "system-account"
	ReasonNoPolicy         Reason = "no-policy"
	ReasonGrant            Reason = "grant"
	ReasonApprovalRequired Reason = "approval-required"
	// ReasonNotYetActive: an approved grant whose scheduled start is ahead.
	ReasonNotYetActive Reason = "not-yet-active"
	// ReasonPolicyChanged: a scheduled grant the target's policy, changed
	// after the approval and before the start, no longer allows.
	ReasonPolicyChanged Reason = "policy-changed"
)

// AuthzQuestion is "may Principal perform Target now?" with everything needed
// to answer it, read in one round trip. Policy and Grant are nil when absent.
// The grant must belong to Principal and Target; the store's key ensures it.
type AuthzQuestion struct {
	Principal string
	Target    Target
	Settings  *Settings
	Policy    *Policy
	Grant     *Grant
	Now       time.Time
}

// AuthzAnswer is the decision. RequestID and ExpiresAt are set for a grant.
type AuthzAnswer struct {
	Allowed   bool
	Reason    Reason
	RequestID string
	ExpiresAt time.Time
	// ActiveFrom is set with ReasonNotYetActive.
	ActiveFrom time.Time
}

// Authorize is the decision function (F8). The checks run in order:
//  1. access turned off (Lockbox has its own switch): the gate is open, as
//     with privileged access management turned off;
//  2. a system account: excluded from the gate;
//  3. no policy covers the target: the task is not privileged;
//  4. a scheduled grant the policy, changed since its approval and before
//     its start, no longer allows: not a grant (policy-changed);
//  5. a live grant;
//  6. an approved grant whose scheduled start is ahead: not yet active;
//  7. otherwise approval is required, and the answer is no.
//
// It does not allocate.
func Authorize(q *AuthzQuestion) AuthzAnswer {
	s := q.Settings
	if q.Target.Type == TypeLockbox {
		if !s.Lockbox.Enabled {
			return AuthzAnswer{Allowed: true, Reason: ReasonDisabled}
		}
	} else if !s.Enabled {
		return AuthzAnswer{Allowed: true, Reason: ReasonDisabled}
	}
	if s.IsSystemAccount(q.Principal) {
		return AuthzAnswer{Allowed: true, Reason: ReasonSystemAccount}
	}
	if q.Target.Type != TypeLockbox && q.Policy == nil {
		return AuthzAnswer{Allowed: true, Reason: ReasonNoPolicy}
	}
	if g := q.Grant; g != nil && g.Principal == q.Principal && q.Now.Before(g.ExpiresAt) && !g.StillFits(q.Policy) {
		return AuthzAnswer{Allowed: false, Reason: ReasonPolicyChanged, RequestID: g.RequestID, ExpiresAt: g.ExpiresAt}
	}
	if g := q.Grant; g.Live(q.Now) && g.Principal == q.Principal {
		return AuthzAnswer{Allowed: true, Reason: ReasonGrant, RequestID: g.RequestID, ExpiresAt: g.ExpiresAt}
	}
	if g := q.Grant; g != nil && g.Principal == q.Principal && !g.Started(q.Now) && q.Now.Before(g.ExpiresAt) {
		return AuthzAnswer{Allowed: false, Reason: ReasonNotYetActive, RequestID: g.RequestID, ExpiresAt: g.ExpiresAt, ActiveFrom: g.StartsAt}
	}
	return AuthzAnswer{Allowed: false, Reason: ReasonApprovalRequired}
}
