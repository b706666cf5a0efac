// Package auditrecord is the audit trail's vocabulary, shared by its writer
// (pkg/audit) and its readers (pkg/auditquery): one record, its actions, and
// where records are stored in the audit bucket. It imports nothing of either
// side, so the CLI's reader links no stream mapping and the audit function
// links no query code.
package auditrecord

import (
	"fmt"
	"time"
)

// Actions recorded in the trail.
const (
	ActionRequestCreated   = "request.created"
	ActionRequestApproved  = "request.approved"
	ActionRequestDenied    = "request.denied"
	ActionRequestRevoked   = "request.revoked"
	ActionRequestCancelled = "request.cancelled"
	ActionRequestExpired   = "request.expired"
	ActionGrantCreated     = "grant.created"
	ActionGrantExpired     = "grant.expired"
	// ActionGrantUpdated: an approved grant's start or end moved (an
	// extension approved, a ratification), with before and after.
	ActionGrantUpdated     = "grant.updated"
	ActionPolicyCreated    = "policy.created"
	ActionPolicyUpdated    = "policy.updated"
	ActionPolicyDeleted    = "policy.deleted"
	ActionSettingsUpdated  = "settings.updated"
	ActionGroupCreated     = "group.created"
	ActionGroupDeleted     = "group.deleted"
	ActionGroupMemberAdd   = "group.member-added"
	ActionGroupMemberDel   = "group.member-removed"
	ActionAuthorizeAllowed = "authorize.allowed"
	ActionAuthorizeDenied  = "authorize.denied"
	// Issue 10 item 9: every change to every entity is one record.
	ActionGroupUpdated   = "group.updated"
	ActionRequestUpdated = "request.updated"
	// ActionDirectWriteSuffix follows the entity's noun (settings, group,
	// policy, request, grant) for a change Elevate did not make.
	ActionDirectWriteSuffix = ".direct_write"

	// Break-glass (F16).
	ActionRequestBreakGlass         = "request.break_glass"
	ActionRequestRatified           = "request.ratified"
	ActionRequestRatificationMissed = "request.ratification_missed"

	// AWS credentials (v1.2): issued for a grant, and denied at the broker
	// role once the grant ended while they were still valid.
	ActionCredentialsIssued  = "credentials.issued"
	ActionCredentialsRevoked = "credentials.revoked"

	// ActionRefusedBreakGlassOpen is the refusal of a second unratified
	// grant, as every refusal is audited (refused.<code>).
	ActionRefusedBreakGlassOpen = "refused.break-glass-open"
	// ActionBreakGlassUnblocked: an admin released a principal's break-glass
	// hold (issue 16 item 5).
	ActionBreakGlassUnblocked = "break_glass.unblocked"

	// Approver delegation (F17).
	ActionDelegationSet     = "delegation.set"
	ActionDelegationRemoved = "delegation.removed"
	// ActionUnmappable keeps a stream record the mapper could not read, so it
	// is investigated rather than lost or left blocking the stream.
	ActionUnmappable = "audit.unmappable"

	// ActionRequestExtended: an approved extension moved its original's grant
	// end (F14). Its requestId is the original's; detail.extension names the
	// extension, whose own records carry detail.extends.
	ActionRequestExtended = "request.extended"

	// ActionKeyRotated: a key secret (the link-signing or the pagination
	// key) rotated; detail names the secret and the version IDs, never the
	// key (issue 21).
	ActionKeyRotated = "key.rotated"
)

// ActorUnknown is the actor of a direct write: the item names nobody who
// made the change.
const ActorUnknown = "unknown"

// Target is what a record is about.
type Target struct {
	Type  string `json:"type"`
	Scope string `json:"scope"`
	Name  string `json:"name"`
}

// Record is one line of the audit trail. ID is the DynamoDB stream eventID,
// which makes records idempotent across retried batches.
type Record struct {
	ID        string         `json:"id"`
	Time      time.Time      `json:"time"`
	Action    string         `json:"action"`
	Actor     string         `json:"actor"`
	Target    *Target        `json:"target,omitempty"`
	RequestID string         `json:"requestId,omitempty"`
	PolicyID  string         `json:"policyId,omitempty"`
	Detail    map[string]any `json:"detail,omitempty"`
	// Ticket is the request's ticket reference (F15), on every record made
	// from a request that has one, so the trail can be searched by ticket.
	Ticket string `json:"ticket,omitempty"`
	// TimePrecision is set when Time is only the stream's approximate time
	// of the change (a TTL expiry, a direct write, or a claimed time the
	// stream contradicts): the change happened within [Time, Time +
	// TimePrecision). Written as a Go duration ("1s", "1m0s").
	TimePrecision string `json:"timePrecision,omitempty"`
}

// Precision is TimePrecision as a duration; zero when Time is exact or the
// field does not parse.
func (r Record) Precision() time.Duration { return parsePrecision(r.TimePrecision) }

func parsePrecision(s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0
	}
	return min(d, MaxTimePrecision)
}

// MaxTimePrecision is the coarsest stream time a record may carry: DynamoDB
// Local gives the minute (AWS the second). Queries read this much before
// their --since, so no record whose change happened at or after it is lost.
const MaxTimePrecision = time.Minute

// Prefix is where audit objects live; Glue's table location points here.
const Prefix = "audit/"

// PartitionPrefix is the key prefix of one UTC day: audit/dt=YYYY-MM-DD/.
func PartitionPrefix(day time.Time) string {
	return Prefix + "dt=" + day.UTC().Format("2006-01-02") + "/"
}

// ObjectKey is the deterministic key of one batch's object. The writer puts
// it only if absent (If-None-Match: *), so a retried or redriven batch finds
// its earlier attempt's object and adds nothing; stored evidence is never
// overwritten. batchID is derived from the batch's first and last sequence
// numbers by the writer.
func ObjectKey(day time.Time, batchID string) string {
	return fmt.Sprintf("%s%s.json.gz", PartitionPrefix(day), batchID)
}

// Modes of credentials.revoked: the request's session tag, or the
// aws:TokenIssueTime fallback when the deny outgrew IAM's size limit.
const (
	RevokedBySessionTag     = "session-tag"
	RevokedByTokenIssueTime = "token-issue-time"
)
