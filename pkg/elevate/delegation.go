package elevate

import (
	"slices"
	"time"
)

// Approver delegation (F17): an approver hands their approvals to a delegate
// for a window of at most 30 days, optionally for some of their groups only.
// During the window the delegate decides as if a member of those groups, for
// the approver, as long as the approver is still a member: the delegate
// stands in for a current member, never for a former one, and never for
// someone who is themselves a delegate (not transitive).

// Delegation bounds.
const (
	MaxDelegationDays   = 30
	maxDelegationGroups = 20
)

// Delegation is one approver's hand-over. Groups empty means all of them.
type Delegation struct {
	Principal string    `json:"principal"`
	Delegate  string    `json:"delegate"`
	From      time.Time `json:"from"`
	Until     time.Time `json:"until"`
	Groups    []string  `json:"groups"`
	UpdatedAt time.Time `json:"updatedAt"`
	UpdatedBy string    `json:"updatedBy"`
}

// DelegationInput is the body of PUT /v1/delegations/{principal}.
type DelegationInput struct {
	Delegate string    `json:"delegate"`
	From     time.Time `json:"from"`
	Until    time.Time `json:"until"`
	Groups   []string  `json:"groups"`
}

// Delegation refusals.
var (
	ErrDelegateSelf       = refusal(ErrUnprocessable, "delegate-self", "you cannot delegate your approvals to yourself")
	ErrDelegationTooLong  = refusal(ErrUnprocessable, "delegation-too-long", "a delegation lasts at most 30 days")
	ErrDelegationWindow   = refusal(ErrUnprocessable, "delegation-window", "until must be after from")
	ErrDelegationOver     = refusal(ErrUnprocessable, "delegation-over", "until is in the past")
	ErrDelegateOthers     = refusal(ErrForbidden, "delegate-others", "only an admin can manage another approver's delegation")
	ErrDelegationNotFound = refusal(ErrNotFound, "delegation-not-found", "no delegation for this approver")
	ErrOnBehalfOfSelf     = refusal(ErrForbidden, "self-approval", "a delegate cannot decide the request of the approver they stand in for")
	// Issue 16 item 7: only approvals one holds can be handed over, and the
	// delegations every decision reads are bounded.
	ErrDelegatorNotApprover = refusal(ErrForbidden, "delegator-not-approver", "only a member of the approver groups delegated can delegate their approvals")
	ErrTooManyDelegations   = refusal(ErrConflict, "too-many-delegations", "the number of delegations is at its limit; remove one that is no longer needed")
)

// MaxDelegations bounds the delegations stored at once (live ones, and ended
// ones for a day until TTL collects them): every decision by a non-member,
// every listing and every approval email reads them all.
const MaxDelegations = 100

// MayDelegate reports whether principal holds the approvals a delegation
// for groups (empty: all of theirs) would hand over: a member of each group
// named, or of at least one group when none is.
func MayDelegate(principal string, groups []string, all []Group) bool {
	member := func(name string) bool {
		return slices.ContainsFunc(all, func(g Group) bool { return g.Name == name && g.HasMember(principal) })
	}
	if len(groups) == 0 {
		return slices.ContainsFunc(all, func(g Group) bool { return g.HasMember(principal) })
	}
	return !slices.ContainsFunc(groups, func(g string) bool { return !member(g) })
}

// NewDelegation validates a hand-over of principal's approvals, asked for by
// actor at now. Who may ask is the caller's business (self or admin).
func NewDelegation(principal string, in DelegationInput, actor string, now time.Time) (Delegation, error) {
	delegate, err := NormalizePrincipal(in.Delegate)
	if err != nil {
		return Delegation{}, err
	}
	if delegate == principal {
		return Delegation{}, ErrDelegateSelf
	}
	from, until := in.From.UTC().Truncate(time.Millisecond), in.Until.UTC().Truncate(time.Millisecond)
	switch {
	case from.IsZero() || until.IsZero():
		return Delegation{}, Invalid("from and until are required (RFC 3339)")
	case !until.After(from):
		return Delegation{}, ErrDelegationWindow
	case until.Sub(from) > MaxDelegationDays*24*time.Hour:
		return Delegation{}, ErrDelegationTooLong
	case !until.After(now):
		return Delegation{}, ErrDelegationOver
	}
	if len(in.Groups) > maxDelegationGroups {
		return Delegation{}, Invalid("a delegation names at most 20 groups")
	}
	groups := []string{}
	for _, g := range in.Groups {
		if !ValidName(g) {
			return Delegation{}, Invalid("groups must be valid group names")
		}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	slices.Sort(groups)
	return Delegation{Principal: principal, Delegate: delegate, From: from, Until: until, Groups: groups, UpdatedAt: now, UpdatedBy: actor}, nil
}

// LiveAt reports whether the window is open at now: [From, Until).
func (d Delegation) LiveAt(now time.Time) bool { return !now.Before(d.From) && now.Before(d.Until) }

// Covers reports whether the delegation extends to group.
func (d Delegation) Covers(group string) bool {
	return len(d.Groups) == 0 || slices.Contains(d.Groups, group)
}

// StandsInFor picks, among delegations, the one that lets delegate decide a
// request of requester whose approver group is group at now: live, covering
// the group, given by a current member (isMember) who is not the requester.
// Delegation is not transitive: only a member's own hand-over counts.
func StandsInFor(delegations []Delegation, delegate, requester, group string, isMember func(string) bool, now time.Time) (Delegation, bool) {
	for _, d := range delegations {
		if d.Delegate == delegate && d.Principal != requester && d.LiveAt(now) && d.Covers(group) && isMember(d.Principal) {
			return d, true
		}
	}
	return Delegation{}, false
}
