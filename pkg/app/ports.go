// Package app holds Elevate's use cases: it checks who may do what, applies
// the domain's rules and commits the result through a Store. It is the one
// place the driving adapters (HTTP handlers, the link page) call into.
package app

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Event identifies one change. For a change to an entity (settings, a
// group, a policy) the store stamps the item with it (ID as changeId, Actor
// as updatedBy), and the audit record is derived from the item's stream
// record: the stream is the one source of audit truth. Facts that change no
// entity (authorization decisions, refusals) are written as event items of
// their own, which the stream carries to the audit consumer as they are.
type Event struct {
	ID        string
	Time      time.Time
	Action    string
	Actor     string
	Target    *elevate.Target
	RequestID string
	PolicyID  string
	Detail    map[string]any
}

// AuthzRead is what one strongly consistent BatchGetItem returns for an
// authorization question. Policy and Grant are nil when absent.
type AuthzRead struct {
	Settings elevate.Settings
	Policy   *elevate.Policy
	Grant    *elevate.Grant
	// SlotHeldUntil is when the principal's slot for the target frees: the
	// end of the pending request or grant holding it, zero when none does.
	// A submit before it would lose its slot condition, so it is refused
	// without writing anything.
	SlotHeldUntil time.Time
}

// RequestIndex selects the access pattern a listing uses.
type RequestIndex int

const (
	AllRequests RequestIndex = iota
	ByRequester
	ByApproverGroup
)

// RequestQuery lists requests newest first. Status filters on the effective
// status at Now (Pending and Expired are told apart by ExpiresAt). When
// VisibleTo is set, only requests by that principal or for one of Groups are
// returned.
type RequestQuery struct {
	Index     RequestIndex
	Requester string // ByRequester
	Group     string // ByApproverGroup
	Status    elevate.Status
	Type      elevate.RequestType
	VisibleTo *Visibility
	Limit     int
	Next      string
	Now       time.Time
	// Ticket filters on the ticket reference; empty means any.
	Ticket string

	// Break-glass filters (F16): BreakGlass nil means either; Ratification
	// filters on the ratification as it reads at Now.
	BreakGlass   *bool
	Ratification elevate.Ratification
}

// Visibility restricts a listing to what one non-admin may see.
type Visibility struct {
	Principal string
	Groups    []string
}

// RequestPage is one page of a listing. Next is opaque and bound to the query.
type RequestPage struct {
	Items []elevate.Request
	Next  string
}

// Store is the persistence port. Every mutation is a conditional write or a
// transaction; a lost race returns a domain error (ErrConcurrentUpdate,
// ErrPolicyExists, ...), never a silent overwrite. Infrastructure failures
// wrap elevate.ErrUnavailable.
type Store interface {
	// GetSettings returns the defaults (Version 0) when none are stored.
	GetSettings(ctx context.Context) (elevate.Settings, error)
	// SaveSettings writes next if the stored version is still prev.Version,
	// checks that every group next references exists, and moves the group
	// reference counts from prev's groups to next's.
	SaveSettings(ctx context.Context, prev, next elevate.Settings, ev Event) error

	CreateGroup(ctx context.Context, g elevate.Group, ev Event) error
	GetGroup(ctx context.Context, name string) (elevate.Group, error)
	ListGroups(ctx context.Context) ([]elevate.Group, error)
	AddGroupMember(ctx context.Context, group, principal string, ev Event) error
	RemoveGroupMember(ctx context.Context, group, principal string, ev Event) error
	// DeleteGroup refuses with ErrGroupInUse while a policy or the settings
	// reference the group, or a pending request or live grant names it.
	DeleteGroup(ctx context.Context, name string, ev Event) error

	// CreatePolicy enforces one policy per target, the cap, and that the
	// named group (if any) exists, atomically.
	CreatePolicy(ctx context.Context, p elevate.Policy, maxPolicies int, ev Event) error
	GetPolicy(ctx context.Context, id string) (elevate.Policy, error)
	ListPolicies(ctx context.Context) ([]elevate.Policy, error)
	UpdatePolicy(ctx context.Context, prev, next elevate.Policy, ev Event) error
	DeletePolicy(ctx context.Context, prev elevate.Policy, ev Event) error

	// CreateRequest writes the request and claims the requester's slot for
	// the target (ErrOpenRequest while a pending request or live grant holds
	// it). An auto-approved request's slot is its grant. A request naming an
	// approver group holds it (ErrUnknownGroup when it does not exist,
	// ErrConcurrentUpdate while it is being deleted).
	CreateRequest(ctx context.Context, r elevate.Request) error
	GetRequest(ctx context.Context, id string) (elevate.Request, error)
	ListRequests(ctx context.Context, q RequestQuery) (RequestPage, error)
	// SaveDecision commits next in one transaction, conditioned on the stored
	// request still being prev (same version, still Pending and unexpired for
	// approve/deny/cancel, the approver not yet counted). It writes or deletes
	// the grant as next requires. read is the group the decision rests on as
	// the service read it (zero when it read none): the membership the
	// decision rests on is held until the commit (ErrConcurrentUpdate when
	// it changed). A non-empty linkID is consumed in the same transaction
	// (ErrLinkUsed if it already was).
	SaveDecision(ctx context.Context, prev, next elevate.Request, read elevate.Group, linkID string, now time.Time) error

	// ReadAuthz is one strongly consistent BatchGetItem.
	ReadAuthz(ctx context.Context, principal string, t elevate.Target) (AuthzRead, error)
	// RecordAuthz writes one audit item for one decision.
	RecordAuthz(ctx context.Context, ev Event) error

	// RecordRefusal writes one audit item for one refused attempt, once per
	// event ID: a second write of the same ID is dropped without error
	// (bounded anonymous refusals share IDs).
	RecordRefusal(ctx context.Context, ev Event) error

	// Extensions (F14).
	// CreateExtension writes a new extension and the original it extends in
	// one transaction, conditioned on the original still being orig.Prev
	// (same version, Approved, its grant not ended). An automatic extension's
	// original carries the moved grant end, which the grant slot gets too.
	CreateExtension(ctx context.Context, ext elevate.Request, orig Change, now time.Time) error
	// SaveLinkedDecision is SaveDecision plus a second request changed in the
	// same transaction, conditioned like the first: the original whose grant
	// an approved extension moves (its slot moves too), or the pending
	// extension a revocation ends.
	SaveLinkedDecision(ctx context.Context, prev, next elevate.Request, linked Change, read elevate.Group, linkID string, now time.Time) error

	// Approver delegation (F17).
	DelegationStore
	// Break-glass holds (F16, issue 16 item 5).
	BreakGlassHoldStore
}

// Change is one request's stored state before and after a write.
type Change struct{ Prev, Next elevate.Request }
