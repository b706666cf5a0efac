package elevate

import "errors"

// Error kinds. The HTTP layer maps each kind to one status code; callers test
// with errors.Is, never ==.
var (
	ErrInvalid       = errors.New("invalid input")           // 400
	ErrUnauthorized  = errors.New("unauthenticated")         // 401
	ErrForbidden     = errors.New("forbidden")               // 403
	ErrNotFound      = errors.New("not found")               // 404
	ErrConflict      = errors.New("conflict")                // 409
	ErrUnprocessable = errors.New("unprocessable")           // 422
	ErrUnavailable   = errors.New("temporarily unavailable") // 503
)

// Error is a domain refusal: a kind (one of the sentinels above), a stable
// machine-readable code and a message that is safe to show to the caller.
type Error struct {
	Kind    error
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap lets errors.Is(err, ErrForbidden) match any forbidden refusal.
func (e *Error) Unwrap() error { return e.Kind }

func refusal(kind error, code, msg string) *Error {
	return &Error{Kind: kind, Code: code, Message: msg}
}

// Invalid builds a 400-class refusal with a caller-facing message.
func Invalid(msg string) error { return refusal(ErrInvalid, "invalid", msg) }

// Unprocessable builds a 422-class refusal with a caller-facing message.
func Unprocessable(code, msg string) error { return refusal(ErrUnprocessable, code, msg) }

// Specific refusals, each matching its kind through errors.Is.
var (
	ErrSelfApproval     = refusal(ErrForbidden, "self-approval", "you cannot decide your own request")
	ErrNotApprover      = refusal(ErrForbidden, "not-approver", "you are not a member of this request's approver group")
	ErrNotRequester     = refusal(ErrForbidden, "not-requester", "only the requester or an admin can cancel a request")
	ErrNotRevoker       = refusal(ErrForbidden, "not-revoker", "only an approver of this request, the requester or an admin can revoke it")
	ErrNotPending       = refusal(ErrConflict, "not-pending", "the request is no longer pending")
	ErrRequestExpired   = refusal(ErrConflict, "request-expired", "the request has expired")
	ErrAlreadyDecided   = refusal(ErrConflict, "already-decided", "you have already approved this request")
	ErrNotActive        = refusal(ErrConflict, "not-active", "the request has no live grant to revoke")
	ErrNoPolicy         = refusal(ErrUnprocessable, "no-policy", "no approval policy covers this target")
	ErrDurationTooLong  = refusal(ErrUnprocessable, "duration-too-long", "the requested duration exceeds the policy's maximum")
	ErrAccessDisabled   = refusal(ErrUnprocessable, "disabled", "privileged access is turned off for the organisation")
	ErrLockboxDisabled  = refusal(ErrUnprocessable, "lockbox-disabled", "Customer Lockbox is turned off")
	ErrPolicyCap        = refusal(ErrUnprocessable, "policy-cap", "the maximum number of policies has been reached")
	ErrUnknownGroup     = refusal(ErrUnprocessable, "unknown-group", "the approver group does not exist")
	ErrNoApproverGroup  = refusal(ErrUnprocessable, "no-approver-group", "no approver group is configured for this target")
	ErrPolicyExists     = refusal(ErrConflict, "policy-exists", "the target already has a policy")
	ErrGroupExists      = refusal(ErrConflict, "group-exists", "a group with this name already exists")
	ErrGroupInUse       = refusal(ErrConflict, "group-in-use", "the group is used by a policy, the settings, a pending request or a live grant")
	ErrOpenRequest      = refusal(ErrConflict, "open-request", "you already have a pending request or a live grant for this target")
	ErrConcurrentUpdate = refusal(ErrConflict, "concurrent-update", "the item changed while you were updating it; retry")
	ErrRequestNotFound  = refusal(ErrNotFound, "request-not-found", "request not found")
	ErrPolicyNotFound   = refusal(ErrNotFound, "policy-not-found", "policy not found")
	ErrGroupNotFound    = refusal(ErrNotFound, "group-not-found", "group not found")
	ErrMemberNotFound   = refusal(ErrNotFound, "member-not-found", "the principal is not a member of the group")
)

// ErrLinkUsed refuses a replayed approval link.
var ErrLinkUsed = refusal(ErrConflict, "link-used", "this approval link has already been used")
