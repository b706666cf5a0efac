package elevate

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Role grants through IAM Identity Center (v1.2). A Role or RoleGroup policy
// may name a binding: while a grant under it is live, its requester's
// Identity Store user holds an account assignment of each permission set on
// each account, made when the grant starts and removed when it ends, unless
// another live grant of the same user needs the same assignment.

// Bounds of a binding. A Role names one permission set; a RoleGroup up to
// MaxBindingPermissionSets. Each assignment is one API call and one
// asynchronous provisioning, so a grant makes at most MaxBindingAssignments.
const (
	MaxBindingPermissionSets = 10
	MaxBindingAccounts       = 20
	MaxBindingAssignments    = 50
)

// The shapes AWS documents for the binding's fields (IAM Identity Center
// API reference).
var (
	instanceArnShape      = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::instance/((sso)?ins-[a-zA-Z0-9-.]{16})$`)
	permissionSetArnShape = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::permissionSet/((sso)?ins-[a-zA-Z0-9-.]{16})/ps-[a-zA-Z0-9-./]{16}$`)
	accountIDShape        = regexp.MustCompile(`^\d{12}$`)
)

// IdentityCenterBinding is a policy's `identityCenter` field.
type IdentityCenterBinding struct {
	InstanceArn       string   `json:"instanceArn"`
	PermissionSetArns []string `json:"permissionSetArns"`
	AccountIDs        []string `json:"accountIds"`
	// RemoveUnmanaged lets the reconcile delete an assignment of these
	// permission sets that no live grant explains, not only flag it.
	RemoveUnmanaged bool `json:"removeUnmanaged,omitempty"`
}

// errBinding is the 422 every binding problem gives, naming the problem.
func errBinding(format string, args ...any) error {
	return Unprocessable("invalid-identity-center", "identityCenter: "+fmt.Sprintf(format, args...))
}

// identityCenterRule validates a binding for a policy of type typ. Nil
// means the policy has none.
func identityCenterRule(in *IdentityCenterBinding, typ RequestType) (*IdentityCenterBinding, error) {
	if in == nil {
		return nil, nil
	}
	switch typ {
	case TypeRole:
		if len(in.PermissionSetArns) != 1 {
			return nil, errBinding("a Role policy names exactly one permission set")
		}
	case TypeRoleGroup:
		if len(in.PermissionSetArns) < 1 || len(in.PermissionSetArns) > MaxBindingPermissionSets {
			return nil, errBinding("a RoleGroup policy names between 1 and %d permission sets", MaxBindingPermissionSets)
		}
	default:
		return nil, errBinding("only Role and RoleGroup policies can name an Identity Center binding")
	}
	m := instanceArnShape.FindStringSubmatch(in.InstanceArn)
	if m == nil {
		return nil, errBinding("instanceArn %q is not an IAM Identity Center instance ARN", in.InstanceArn)
	}
	partition, instance := m[1], m[2]
	for i, ps := range in.PermissionSetArns {
		pm := permissionSetArnShape.FindStringSubmatch(ps)
		if pm == nil {
			return nil, errBinding("permissionSetArns[%d] %q is not a permission set ARN", i, ps)
		}
		if pm[1] != partition || pm[2] != instance {
			return nil, errBinding("permissionSetArns[%d] belongs to another instance than %s", i, in.InstanceArn)
		}
		if slices.Contains(in.PermissionSetArns[:i], ps) {
			return nil, errBinding("permissionSetArns[%d] is named twice", i)
		}
	}
	if len(in.AccountIDs) < 1 || len(in.AccountIDs) > MaxBindingAccounts {
		return nil, errBinding("accountIds names between 1 and %d accounts", MaxBindingAccounts)
	}
	for i, a := range in.AccountIDs {
		if !accountIDShape.MatchString(a) {
			return nil, errBinding("accountIds[%d] %q is not a 12-digit AWS account ID", i, a)
		}
		if slices.Contains(in.AccountIDs[:i], a) {
			return nil, errBinding("accountIds[%d] is named twice", i)
		}
	}
	if n := len(in.PermissionSetArns) * len(in.AccountIDs); n > MaxBindingAssignments {
		return nil, errBinding("%d assignments (permission sets × accounts), at most %d", n, MaxBindingAssignments)
	}
	out := *in
	out.PermissionSetArns = slices.Clone(in.PermissionSetArns)
	out.AccountIDs = slices.Clone(in.AccountIDs)
	return &out, nil
}

// Assignment is one permission set on one account, as a binding gives it to
// a grant's user.
type Assignment struct {
	InstanceArn      string `json:"instanceArn"`
	PermissionSetArn string `json:"permissionSetArn"`
	AccountID        string `json:"accountId"`
}

// Assignments lists what the binding assigns, permission set by account.
func (b IdentityCenterBinding) Assignments() []Assignment {
	out := make([]Assignment, 0, len(b.PermissionSetArns)*len(b.AccountIDs))
	for _, ps := range b.PermissionSetArns {
		for _, a := range b.AccountIDs {
			out = append(out, Assignment{InstanceArn: b.InstanceArn, PermissionSetArn: ps, AccountID: a})
		}
	}
	return out
}

// Provisioning is where one assignment of a grant stands.
type Provisioning string

const (
	ProvisioningPending Provisioning = "pending"
	ProvisioningDone    Provisioning = "done"
	ProvisioningFailed  Provisioning = "failed"
)

// AssignmentStatus is one entry of a request's `provisioning`.
type AssignmentStatus struct {
	Assignment
	Status Provisioning `json:"status"`
	Reason string       `json:"reason,omitempty"`
}

// HoldsAssignment reports whether a request recorded as a holder of an
// assignment of principal still needs it at now: its grant has started and
// not ended. An extension is never a holder itself: its time is the
// original's, whose end it moves.
func (r Request) HoldsAssignment(principal string, now time.Time) bool {
	return strings.EqualFold(r.Requester, principal) && r.IsActive(now)
}

// StillNeededBy lists the holders, other than ending, whose grants still
// need the assignment at now, in ID order. The assignment may be deleted
// only when it is empty: two overlapping grants never end each other's
// access.
func StillNeededBy(principal, ending string, holders []Request, now time.Time) []string {
	var out []string
	for _, r := range holders {
		if r.ID != ending && r.HoldsAssignment(principal, now) {
			out = append(out, r.ID)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// SessionDeny ends the Identity Center role sessions a user opened before
// a grant ended: the assignment is gone, but a session issued under it
// lives on for the permission set's session duration. The deny matches the
// user's role session (named after the Identity Store user name) and
// aws:TokenIssueTime before IssuedBefore; it is needed until Until, when
// every such session has expired.
type SessionDeny struct {
	UserName     string
	IssuedBefore time.Time
	Until        time.Time
}

// sessionDenySid marks Elevate's statements in a permission set's inline
// policy; the rest of the policy is the administrator's and is kept as is.
// The Sid carries when the statement may go, so the policy is its own
// record and needs no table item.
const sessionDenySid = "ElevateSessionDeny"

// policyDocument is an IAM policy with its statements kept raw, so the
// administrator's statements are written back exactly as they were.
type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []json.RawMessage `json:"Statement"`
}

type sessionDenyStatement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Action    string                       `json:"Action"`
	Resource  string                       `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition"`
}

// WithSessionDenies rewrites a permission set's inline policy (empty when it
// has none): Elevate's deny statements whose time has passed at now are
// dropped, add are added, and everything else is kept. It fails when the
// result would exceed maxChars; the caller then records the failure.
func WithSessionDenies(policy string, add []SessionDeny, now time.Time, maxChars int) (string, error) {
	doc := policyDocument{Version: "2012-10-17"}
	if strings.TrimSpace(policy) != "" {
		if err := json.Unmarshal([]byte(policy), &doc); err != nil {
			return "", fmt.Errorf("the permission set's inline policy is not a policy document: %w", err)
		}
	}
	kept := doc.Statement[:0:0]
	for _, raw := range doc.Statement {
		if until, ok := sessionDenyUntil(sidOf(raw)); ok && !now.Before(until) {
			continue
		}
		kept = append(kept, raw)
	}
	for _, d := range add {
		h := fnv.New32a()
		_, _ = h.Write([]byte(strings.ToLower(d.UserName) + "|" + d.IssuedBefore.UTC().Format(time.RFC3339Nano)))
		sid := fmt.Sprintf("%s%dN%d", sessionDenySid, d.Until.Unix(), h.Sum32())
		if slices.ContainsFunc(kept, func(raw json.RawMessage) bool { return sidOf(raw) == sid }) {
			continue // a retried event adds the same statement once
		}
		st := sessionDenyStatement{
			Sid:    sid,
			Effect: "Deny", Action: "*", Resource: "*",
			Condition: map[string]map[string]string{
				"StringLike":   {"aws:userid": "*:" + d.UserName},
				"DateLessThan": {"aws:TokenIssueTime": d.IssuedBefore.UTC().Format(time.RFC3339)},
			},
		}
		raw, err := json.Marshal(st)
		if err != nil {
			return "", err
		}
		kept = append(kept, raw)
	}
	doc.Statement = kept
	if len(doc.Statement) == 0 {
		return "", nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	if len(out) > maxChars {
		return "", fmt.Errorf("the inline policy would be %d characters, more than the %d allowed", len(out), maxChars)
	}
	return string(out), nil
}

func sidOf(raw json.RawMessage) string {
	var st struct{ Sid string }
	_ = json.Unmarshal(raw, &st)
	return st.Sid
}

// sessionDenyUntil reads when an Elevate deny statement may go from its Sid.
func sessionDenyUntil(sid string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(sid, sessionDenySid)
	if !ok {
		return time.Time{}, false
	}
	secs, _, _ := strings.Cut(rest, "N")
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// SessionDenyLapses reports the earliest time at which an Elevate deny in
// policy may be removed, if it has any.
func SessionDenyLapses(policy string) (time.Time, bool) {
	var doc policyDocument
	if json.Unmarshal([]byte(policy), &doc) != nil {
		return time.Time{}, false
	}
	var first time.Time
	for _, raw := range doc.Statement {
		if until, ok := sessionDenyUntil(sidOf(raw)); ok && (first.IsZero() || until.Before(first)) {
			first = until
		}
	}
	return first, !first.IsZero()
}

// IdentityCenterGrant is a request's Identity Center part, fixed when it is
// submitted: the requester's Identity Store user, resolved then (so a
// requester without one is refused before any approver is asked), and the
// assignments the policy's binding gave.
type IdentityCenterGrant struct {
	UserID      string       `json:"userId"`
	UserName    string       `json:"userName"`
	Assignments []Assignment `json:"assignments"`
}

// IdentityUser is an Identity Store user as Elevate needs it: the ID
// assignments name, and the user name Identity Center names role sessions
// after.
type IdentityUser struct {
	ID       string
	UserName string
}

// ErrNoIdentityCenterUser refuses a request under a binding whose requester
// has no Identity Store user.
var ErrNoIdentityCenterUser = refusal(ErrUnprocessable, "no-identity-center-user", "you have no IAM Identity Center user, so the policy's permission sets cannot be assigned to you")

// BindIdentityCenter fixes a request's Identity Center part from the
// policy's binding and the requester's user.
func (r *Request) BindIdentityCenter(b IdentityCenterBinding, u IdentityUser) {
	r.IdentityCenter = &IdentityCenterGrant{UserID: u.ID, UserName: u.UserName, Assignments: b.Assignments()}
}

// WithProvisioning is the request as it reads with the assignments'
// statuses: those not yet recorded read as pending.
func (r Request) WithProvisioning(recorded []AssignmentStatus) Request {
	if r.IdentityCenter == nil {
		return r
	}
	r.Provisioning = make([]AssignmentStatus, 0, len(r.IdentityCenter.Assignments))
	for _, a := range r.IdentityCenter.Assignments {
		st := AssignmentStatus{Assignment: a, Status: ProvisioningPending}
		for _, rec := range recorded {
			if rec.Assignment == a {
				st = rec
			}
		}
		r.Provisioning = append(r.Provisioning, st)
	}
	return r
}

// AssignmentState is where one user's assignment stands as Elevate manages
// it.
type AssignmentState string

const (
	// AssignmentPresent: assigned; Holders are the grants that need it.
	AssignmentPresent AssignmentState = "present"
	// AssignmentDeleting: the last holder has ended and the delete is under
	// way until LeaseUntil; a grant starting meanwhile waits for it.
	AssignmentDeleting AssignmentState = "deleting"
	// AssignmentAbsent: deleted, or never made.
	AssignmentAbsent AssignmentState = "absent"
	// AssignmentUnmanaged: found by the reconcile with no grant explaining it.
	AssignmentUnmanaged AssignmentState = "unmanaged"
)

// Audit actions of assignment records (v1.2).
const (
	ActionAssignmentCreated     = "assignment.created"
	ActionAssignmentDeleted     = "assignment.deleted"
	ActionAssignmentKept        = "assignment.kept"
	ActionAssignmentFailed      = "assignment.failed"
	ActionAssignmentDirectWrite = "assignment.direct_write"
)

// AssignmentRecord is Elevate's record of one user's assignment: which live
// grants hold it, and what was last done to it. Every change is conditioned
// on Version, so "does another grant still need it?" and the delete it
// leads to cannot race a grant that starts meanwhile.
type AssignmentRecord struct {
	Assignment
	UserID    string
	UserName  string
	Principal string
	Holders   []string
	State     AssignmentState
	// LeaseUntil bounds a delete under way: past it, a crashed deleter's
	// claim lapses and the next event finishes or undoes the delete.
	LeaseUntil time.Time
	Version    int

	// The outcome this change records (an audit action), empty for a
	// change that only moves the record along; with the request it was
	// for, a reason (failures) and the grants that kept it.
	Action    string
	RequestID string
	Reason    string
	KeptFor   []string
	At        time.Time
}

// ScheduledStart is a grant whose assignments are to be made at At.
type ScheduledStart struct {
	RequestID string
	At        time.Time
}
