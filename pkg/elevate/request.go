package elevate

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Status is a request's state. Pending moves to Approved, Denied, Cancelled
// or Expired; Approved moves to Revoked. Nothing else moves.
type Status string

const (
	StatusPending   Status = "Pending"
	StatusApproved  Status = "Approved"
	StatusDenied    Status = "Denied"
	StatusCancelled Status = "Cancelled"
	StatusRevoked   Status = "Revoked"
	// StatusExpired is never stored: a Pending request past its expiry reads
	// as Expired, whether or not TTL has deleted anything yet.
	StatusExpired Status = "Expired"
)

// ParseStatus accepts the canonical spelling; empty means "any".
func ParseStatus(s string) (Status, error) {
	for _, st := range []Status{StatusPending, StatusApproved, StatusDenied, StatusCancelled, StatusRevoked, StatusExpired} {
		if s == string(st) {
			return st, nil
		}
	}
	return "", Invalid("status must be one of Pending, Approved, Denied, Revoked, Cancelled, Expired")
}

// DecisionKind is what a person (or the system) did to a request.
type DecisionKind string

const (
	DecisionApprove DecisionKind = "approve"
	DecisionDeny    DecisionKind = "deny"
	DecisionRevoke  DecisionKind = "revoke"
	DecisionCancel  DecisionKind = "cancel"
)

// Decision is one entry in a request's history.
type Decision struct {
	By       string       `json:"by"`
	Decision DecisionKind `json:"decision"`
	Comment  string       `json:"comment"`
	At       time.Time    `json:"at"`
	// As is the right a revoke was made under (RevokeAs*): only a revoke by
	// an approver depends on group membership, which the commit re-checks.
	As string `json:"as,omitempty"`
	// OnBehalfOf is the approver a delegate decided for (F17).
	OnBehalfOf string `json:"onBehalfOf,omitempty"`
	// Via is the Elevate group whose membership gave the right to decide,
	// checked again in the decision's transaction; empty for the requester
	// and for admins acting on their identity-provider group.
	Via string `json:"via,omitempty"`
}

// The rights a revoke can be made under, most specific first.
const (
	RevokeAsRequester = "requester"
	RevokeAsAdmin     = "admin"
	RevokeAsApprover  = "approver"
)

// Request is a request for one target for a bounded time (F4, F5, F10).
type Request struct {
	ID                string       `json:"id"`
	Type              RequestType  `json:"type"`
	Scope             string       `json:"scope"`
	Name              string       `json:"name"`
	Requester         string       `json:"requester"`
	Reason            string       `json:"reason"`
	DurationHours     float64      `json:"durationHours"`
	Status            Status       `json:"status"`
	ApprovalType      ApprovalType `json:"approvalType"`
	ApproverGroup     string       `json:"approverGroup"`
	RequiredApprovals int          `json:"requiredApprovals"`
	Decisions         []Decision   `json:"decisions"`
	CreatedAt         time.Time    `json:"createdAt"`
	// ExpiresAt is the pending expiry until approval, then the grant's end.
	ExpiresAt      time.Time  `json:"expiresAt"`
	GrantExpiresAt *time.Time `json:"grantExpiresAt,omitempty"`
	// CountedBy names the approvers whose approvals made the grant: under N
	// of M only those still in the group at the final approval count, and
	// the commit re-checks every one of them.
	CountedBy []string `json:"countedBy,omitempty"`
	// Active is computed at read time by View.
	Active bool `json:"active"`
	// Version increases with every stored change; writes are conditioned on it.
	Version int `json:"-"`
	// SlotLog is kept by the store, carried through unchanged: the states
	// its grant slot was given, which the audit trail holds slot changes to.
	SlotLog []string `json:"-"`

	// Scheduled start, ticket references and extensions (F13-F15).
	// StartAt is the requested start: the grant is live on [StartAt,
	// StartAt+duration] whenever it is approved. For an extension it is the
	// original grant's end when the extension was asked for.
	StartAt       *time.Time    `json:"startAt,omitempty"`
	GrantStartsAt *time.Time    `json:"grantStartsAt,omitempty"`
	Ticket        string        `json:"ticket,omitempty"`
	ChangeWindow  *ChangeWindow `json:"changeWindow,omitempty"`
	// Extends is the original request an extension lengthens; an original
	// lists its approved Extensions and the one PendingExtension.
	Extends          string   `json:"extends,omitempty"`
	Extensions       []string `json:"extensions,omitempty"`
	PendingExtension string   `json:"pendingExtension,omitempty"`
	// NotAfter caps the grant's end: the ticket's change window, or for an
	// extension the policy's maximum measured from the original start.
	NotAfter *time.Time `json:"-"`

	// Break-glass (F16): self-approved at once, to be ratified by RatifyBy.
	BreakGlass   bool         `json:"breakGlass,omitempty"`
	Ratification Ratification `json:"ratification,omitempty"`
	RatifyBy     *time.Time   `json:"ratifyBy,omitempty"`

	// Identity Center (v1.2): the user and assignments fixed at submission,
	// and how each assignment's provisioning stands (read from its own item).
	IdentityCenter *IdentityCenterGrant `json:"identityCenter,omitempty"`
	Provisioning   []AssignmentStatus   `json:"provisioning,omitempty"`
}

// Target returns what the request asks for.
func (r Request) Target() Target { return Target{Type: r.Type, Scope: r.Scope, Name: r.Name} }

// DurationText is the duration as people read it: "1 hour", "1.5 hours".
func (r Request) DurationText() string {
	if r.DurationHours == 1 {
		return "1 hour"
	}
	return strconv.FormatFloat(r.DurationHours, 'f', -1, 64) + " hours"
}

// SubmitInput is the body of POST /v1/requests.
type SubmitInput struct {
	Type          string   `json:"type"`
	Scope         string   `json:"scope"`
	Name          string   `json:"name"`
	Reason        string   `json:"reason"`
	DurationHours *float64 `json:"durationHours"`
	// v1.1: scheduled start (RFC 3339) and ticket reference.
	StartAt *string `json:"startAt"`
	Ticket  string  `json:"ticket"`

	// BreakGlass asks for self-approved access under a policy allowing it.
	BreakGlass bool `json:"breakGlass"`
}

// Submission is everything NewRequest needs besides the input. Policy is nil
// when none covers the target; it is ignored for Lockbox.
type Submission struct {
	ID        string
	Requester string
	Settings  Settings
	Policy    *Policy
	Now       time.Time
	// Window is the ticket's change window, when a ticket system gave one.
	Window *ChangeWindow
}

// NewRequest validates a submission and builds the request. An Auto policy
// approves it at once, and the grant's clock starts now.
func NewRequest(in SubmitInput, sub Submission) (Request, error) {
	r, err := buildRequest(in, sub)
	if err != nil {
		return Request{}, err
	}
	if r.StartAt, err = parseStartAt(in.StartAt, sub.Settings, sub.Now); err != nil {
		return Request{}, err
	}
	if err := r.applyChangeWindow(sub.Window, sub.Now); err != nil {
		return Request{}, err
	}
	if r.BreakGlass {
		return r, r.approveAsBreakGlass(sub.Now)
	}
	if r.ApprovalType == ApprovalAuto {
		r.approveAutomatically(sub.Now)
		return r, nil
	}
	r.ExpiresAt = r.pendingExpiry(sub.Settings, sub.Now)
	return r, nil
}

// buildRequest applies the rules every request shares, an extension's too:
// the target, reason and duration, the policy's approval rules and cap, and
// its ticket rules. The result is still to be scheduled and approved.
func buildRequest(in SubmitInput, sub Submission) (Request, error) {
	typ, err := ParseRequestType(in.Type)
	if err != nil {
		return Request{}, err
	}
	t := Target{Type: typ, Scope: in.Scope, Name: in.Name}
	if err := t.Validate(); err != nil {
		return Request{}, err
	}
	if err := checkText("reason", in.Reason, 1, 1000); err != nil {
		return Request{}, err
	}
	s := sub.Settings
	duration := s.DefaultDurationHours
	if in.DurationHours != nil {
		duration = *in.DurationHours
	}
	if math.IsNaN(duration) || duration < minimumDurationHours {
		return Request{}, Invalid("durationHours must be at least one minute (1/60)")
	}

	r := Request{
		ID: sub.ID, Type: typ, Scope: in.Scope, Name: in.Name,
		Requester: sub.Requester, Reason: in.Reason, DurationHours: duration,
		Status: StatusPending, RequiredApprovals: 1, Decisions: []Decision{},
		CreatedAt: sub.Now, Version: 1,
	}
	maxHours := MaxDurationHours
	if typ == TypeLockbox {
		if !s.Lockbox.Enabled {
			return Request{}, ErrLockboxDisabled
		}
		r.ApprovalType = ApprovalManual
		r.ApproverGroup = s.Lockbox.ApproverGroup
		maxHours = math.Min(s.Lockbox.MaxDurationHours, LockboxCapHours)
	} else {
		if !s.Enabled {
			return Request{}, ErrAccessDisabled
		}
		if sub.Policy == nil {
			return Request{}, ErrNoPolicy
		}
		p := sub.Policy
		r.ApprovalType = p.ApprovalType
		r.ApproverGroup = p.EffectiveApproverGroup(s)
		r.RequiredApprovals = p.RequiredApprovals
		if p.MaxDurationHours > 0 {
			maxHours = p.MaxDurationHours
		}
	}
	if in.BreakGlass {
		if err := r.breakGlass(in, sub, in.DurationHours != nil); err != nil {
			return Request{}, err
		}
		duration = r.DurationHours
	}
	if duration > maxHours {
		return Request{}, ErrDurationTooLong
	}
	if r.ApproverGroup == "" && r.ApprovalType == ApprovalManual {
		return Request{}, ErrNoApproverGroup
	}
	ticketRules := sub.Policy
	if typ == TypeLockbox {
		ticketRules = nil // Lockbox has no policy: a ticket is optional, only its form is checked
	}
	if err := ticketRules.CheckTicket(in.Ticket); err != nil {
		return Request{}, err
	}
	r.Ticket = in.Ticket
	return r, nil
}

func (r *Request) approveAutomatically(now time.Time) {
	r.Decisions = append(r.Decisions, Decision{By: SystemActor, Decision: DecisionApprove, Comment: "approved automatically by policy", At: now})
	r.grant(now)
}

func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)).Round(time.Second) }

// grant makes the request Approved at now. The grant runs from now (or the
// scheduled start, if later) to the window's end.
func (r *Request) grant(now time.Time) {
	start, end := r.grantStart(now), r.windowEnd(now)
	r.Status = StatusApproved
	r.ExpiresAt = end
	r.GrantExpiresAt = &end
	r.GrantStartsAt = &start
}

// EffectiveStatus applies read-time expiry to the stored status.
func (r Request) EffectiveStatus(now time.Time) Status {
	if r.Status == StatusPending && !now.Before(r.ExpiresAt) {
		return StatusExpired
	}
	if r.RevokedByMissedRatification() && !now.Before(*r.RatifyBy) {
		return StatusRevoked
	}
	return r.Status
}

// IsActive reports whether the request's grant is live at now.
// An extension is never active itself: its time is the original's grant.
func (r Request) IsActive(now time.Time) bool {
	return r.Granted(now) && r.Extends == "" && (r.GrantStartsAt == nil || !now.Before(*r.GrantStartsAt))
}

// Granted reports whether the request is Approved and its grant has not
// ended at now, whether or not a scheduled start has come yet.
func (r Request) Granted(now time.Time) bool {
	return r.Status == StatusApproved && r.GrantExpiresAt != nil && now.Before(r.LiveUntil())
}

// NeedsGroup reports whether the request still depends on its approver
// group at now: it is pending, or its grant has not ended (live, or not yet
// started). An ended request never needs it again.
func (r Request) NeedsGroup(now time.Time) bool {
	return r.EffectiveStatus(now) == StatusPending || r.Granted(now)
}

// View is the request as callers see it at now: expiry applied, Active set.
func (r Request) View(now time.Time) Request {
	r.Status = r.EffectiveStatus(now)
	r.Active = r.IsActive(now)
	r.Ratification = r.RatificationAt(now)
	return r
}

// LastActor is who made the request's latest change: the last decision's
// author, or the requester while there is none.
func (r Request) LastActor() string {
	if len(r.Decisions) == 0 {
		return r.Requester
	}
	return r.Decisions[len(r.Decisions)-1].By
}

// Approvals counts the approve decisions recorded so far.
func (r Request) Approvals() int {
	n := 0
	for _, d := range r.Decisions {
		if d.Decision == DecisionApprove {
			n++
		}
	}
	return n
}

// Decider is the person deciding, with what the caller knows about them at
// the moment of the decision.
type Decider struct {
	Principal string
	// InGroup is whether Principal may decide as an approver now: a member
	// of the request's approver group (or, for break-glass, of the admin
	// group's Elevate twin), directly or as a delegate.
	InGroup bool
	Admin   bool
	// StillApprover reports whether an earlier approver is still an approver
	// of the request's group now, so their approval still counts under N of
	// M. Nil counts no earlier approval: a caller that did not look at the
	// group cannot complete an N-of-M request.
	StillApprover func(principal string) bool
	// Via is the group that makes InGroup true, and OnBehalfOf the member a
	// delegate stands in for; both are recorded in the decision.
	Via        string
	OnBehalfOf string
}

// Approver is the member whose right a decision used: the delegator for a
// delegate's decision (F17), else its author.
func (d Decision) Approver() string {
	if d.OnBehalfOf != "" {
		return d.OnBehalfOf
	}
	return d.By
}

// approver is the member whose right the decider uses.
func (d Decider) approver() string {
	if d.OnBehalfOf != "" {
		return d.OnBehalfOf
	}
	return d.Principal
}

func (r Request) checkPending(now time.Time) error {
	if r.Status != StatusPending {
		return ErrNotPending
	}
	if !now.Before(r.ExpiresAt) {
		return ErrRequestExpired
	}
	return nil
}

func checkComment(c string) error { return checkText("comment", c, 0, 1000) }

// Approve records an approval. When the approvals reach RequiredApprovals the
// request becomes Approved and the grant's clock starts at now. Admin rights
// do not let anyone approve: only current group members can.
func (r Request) Approve(d Decider, comment string, now time.Time) (Request, error) {
	if err := r.decide(d, comment, now); err != nil {
		return r, err
	}
	for _, prev := range r.Decisions {
		// A delegate's approval is the member's: neither approves twice.
		if prev.Decision == DecisionApprove && (prev.By == d.Principal || prev.Approver() == d.approver()) {
			return r, ErrAlreadyDecided
		}
	}
	counted := r.countedApprovers(d.StillApprover)
	r = r.withDecision(Decision{By: d.Principal, OnBehalfOf: d.OnBehalfOf, Via: d.Via, Decision: DecisionApprove, Comment: comment, At: now})
	if counted = append(counted, d.approver()); len(counted) >= r.RequiredApprovals {
		r.CountedBy = counted
		r.grant(now)
	}
	return r, nil
}

// countedApprovers lists the earlier approvers whose approvals still count:
// an approver who has since left the group no longer does, so the request
// stays Pending until enough current members have approved.
func (r Request) countedApprovers(stillApprover func(string) bool) []string {
	var out []string
	for _, d := range r.Decisions {
		if d.Decision == DecisionApprove && stillApprover != nil && stillApprover(d.Approver()) && !slices.Contains(out, d.Approver()) {
			out = append(out, d.Approver())
		}
	}
	return out
}

// Deny ends a pending request. One denial is final, even under N of M.
func (r Request) Deny(d Decider, comment string, now time.Time) (Request, error) {
	if err := r.decide(d, comment, now); err != nil {
		return r, err
	}
	r = r.withDecision(Decision{By: d.Principal, OnBehalfOf: d.OnBehalfOf, Via: d.Via, Decision: DecisionDeny, Comment: comment, At: now})
	r.Status = StatusDenied
	return r, nil
}

func (r Request) decide(d Decider, comment string, now time.Time) error {
	if err := checkComment(comment); err != nil {
		return err
	}
	if d.Principal == r.Requester {
		return ErrSelfApproval
	}
	if !d.InGroup {
		return ErrNotApprover
	}
	return r.checkPending(now)
}

// Cancel withdraws a pending request; only its requester or an admin may.
func (r Request) Cancel(d Decider, comment string, now time.Time) (Request, error) {
	if err := checkComment(comment); err != nil {
		return r, err
	}
	if d.Principal != r.Requester && !d.Admin {
		return r, ErrNotRequester
	}
	if err := r.checkPending(now); err != nil {
		return r, err
	}
	r = r.withDecision(Decision{By: d.Principal, Decision: DecisionCancel, Comment: comment, At: now})
	r.Status = StatusCancelled
	return r, nil
}

// Revoke ends a live grant early. The requester may give it up; a current
// member of the approver group or an admin may take it away.
func (r Request) Revoke(d Decider, comment string, now time.Time) (Request, error) {
	if err := checkComment(comment); err != nil {
		return r, err
	}
	var as string
	switch {
	case d.Principal == r.Requester:
		as = RevokeAsRequester
	case d.Admin:
		as = RevokeAsAdmin
	case d.InGroup:
		as = RevokeAsApprover
	default:
		return r, ErrNotRevoker
	}
	if r.Extends != "" {
		return r, ErrRevokeOriginal
	}
	// A scheduled grant can be revoked before its start.
	if !r.Granted(now) {
		return r, ErrNotActive
	}
	var via, onBehalfOf string
	if as == RevokeAsApprover {
		via, onBehalfOf = d.Via, d.OnBehalfOf
	}
	if as != RevokeAsRequester && r.awaitsRatification() {
		// An approver or admin taking a break-glass grant away answers the
		// ratification; the requester giving it up does not.
		r.Ratification = RatificationRevoked
	}
	r = r.withDecision(Decision{By: d.Principal, OnBehalfOf: onBehalfOf, Via: via, Decision: DecisionRevoke, Comment: comment, At: now, As: as})
	r.Status = StatusRevoked
	r.ExpiresAt = now
	return r, nil
}

func (r Request) withDecision(d Decision) Request {
	r.Decisions = append(append(make([]Decision, 0, len(r.Decisions)+1), r.Decisions...), d)
	r.Version++
	return r
}

// Grant returns the grant an Approved request confers, if any.
func (r Request) Grant() (Grant, bool) {
	if r.Status != StatusApproved || r.GrantExpiresAt == nil || r.Extends != "" {
		return Grant{}, false
	}
	g := Grant{RequestID: r.ID, Principal: r.Requester, Target: r.Target(), ExpiresAt: r.LiveUntil(), HasTicket: r.Ticket != ""}
	if r.GrantStartsAt != nil {
		g.StartsAt = *r.GrantStartsAt
	}
	g.ApprovedAt, g.Approvals = r.approval()
	return g, true
}

// approval is when the request was approved and by how many people (0 when
// automatically): its last approve decision, and the count of those made by
// someone other than the system.
func (r Request) approval() (at time.Time, people int) {
	at = r.CreatedAt
	for _, d := range r.Decisions {
		if d.Decision != DecisionApprove {
			continue
		}
		at = d.At
		if d.By != SystemActor {
			people++
		}
	}
	return at, people
}
