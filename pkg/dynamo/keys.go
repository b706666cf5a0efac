package dynamo

import (
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/tabledef"
)

// Item kinds, stored in every item's "kind" attribute so stream consumers can
// dispatch without parsing keys.
const (
	KindSettings = "settings"
	KindCounter  = "counter"
	KindGroup    = "group"
	KindPolicy   = "policy"
	KindRequest  = "request"
	KindGrant    = "grant"
	KindEvent    = "event"
	KindLink     = "link"
	KindDelivery = "delivery"

	// KindRatification is a principal's unratified break-glass grant.
	KindRatification = "ratification"
	// KindDelegation is one approver's hand-over of their approvals.
	KindDelegation = "delegation"
	// KindBreakGlassHold is a principal's claim on break-glass, freed only
	// by a ratification or an admin (issue 16 item 5).
	KindBreakGlassHold = "breakglasshold"

	// KindCredentials records credentials issued for a grant (v1.2).
	KindCredentials = "credentials"
	// KindRevocation is a request's entry in a broker role's deny, and
	// KindRevocationCutoff the role's aws:TokenIssueTime fallback.
	KindRevocation       = "revocation"
	KindRevocationCutoff = "revocationcutoff"
	// KindBrokerRole lists a broker role that has (had) a deny, for the sweep.
	KindBrokerRole = "brokerrole"
)

// Kinds of the items that keep a group from being deleted while requests
// name it (issue 10 item 7): internal bookkeeping, not audited entities.
const (
	KindGroupHold = "grouphold"
	KindGroupLock = "grouplock"
)

// KindMember is one principal's membership of one incarnation of a group,
// the item a decision condition-checks (approvers.go): bookkeeping beside
// the group item's members set, which stays the record.
const KindMember = "member"

// Index names, as declared in pkg/tabledef.
const (
	indexByRequester = "GSI1"
	indexByApprovers = "GSI2"
	indexAll         = "GSI3"
	indexPending     = "GSI4"
)

// Key values and prefixes. The partitions that IAM grants name
// (pkg/manifest) are spelled once, in pkg/tabledef; sort keys and index
// keys only here.
const (
	pkSettings   = tabledef.PartitionSettings
	pkMeta       = tabledef.PartitionMeta
	pkGroup      = tabledef.PartitionGroups
	pkPolicy     = tabledef.PartitionPolicies
	pkRequests   = "REQUESTS"
	pkPending    = "PENDING"
	skSettings   = "SETTINGS"
	skPolicyCnt  = "POLICYCOUNT"
	skRequest    = "REQ"
	skEvent      = "EVENT"
	skLink       = "LINK"
	prefixReq    = tabledef.PrefixRequest
	prefixGrant  = tabledef.PrefixGrant
	prefixEvent  = tabledef.PrefixEvent
	prefixLink   = tabledef.PrefixLink
	prefixDeliv  = tabledef.PrefixDelivery
	prefixReqr   = "REQUESTER#"
	prefixApprov = "APPROVERS#"
	prefixSlot   = "SLOT#"

	prefixBreakGlass = tabledef.PrefixBreakGlass
	skUnratified     = "UNRATIFIED"
	pkDelegation     = tabledef.PartitionDelegations
	pkBreakGlassHold = tabledef.PartitionBreakGlassHolds

	prefixCred    = tabledef.PrefixCredentials
	prefixBroker  = tabledef.PrefixBrokerDenies
	skCutoff      = "#CUTOFF" // deny entries' sort keys start with REQ#
	pkBrokerRoles = tabledef.PartitionBrokerRoles
)

// The group-use partition: one hold per request naming the group, and the
// group's gates.
const (
	prefixGroupUse = tabledef.PrefixGroupUse
	skGroupGate    = "#GATE#" // request IDs never start with '#'
)

const prefixMembers = tabledef.PrefixMembers

// Retention of items that exist only for idempotency or the audit trail.
const (
	eventTTL    = 24 * time.Hour
	linkTTL     = 7 * 24 * time.Hour
	deliveryTTL = 7 * 24 * time.Hour
)

// timeLayout is fixed-width UTC with milliseconds, so that string order is
// time order in sort keys and conditions.
const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeLayout, s) }

func epochMs(t time.Time) int64 { return t.UnixMilli() }

// ttlAt is DynamoDB TTL's unit: epoch seconds, rounded up so an item never
// becomes eligible for deletion before the instant it stands for.
func ttlAt(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

type key struct{ pk, sk string }

func (k key) av() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		tabledef.PartitionKey: &types.AttributeValueMemberS{Value: k.pk},
		tabledef.SortKey:      &types.AttributeValueMemberS{Value: k.sk},
	}
}

// settingsKey: the organisation's one settings item.
func settingsKey() key { return key{pkSettings, skSettings} }

// policyCounterKey: the number of policies, guarded against the cap.
func policyCounterKey() key { return key{pkMeta, skPolicyCnt} }

// groupKey: one group; all groups share a partition, so listing is a Query.
func groupKey(name string) key { return key{pkGroup, name} }

// policyKey: one policy per target, because the ID is the target's key.
func policyKey(id string) key { return key{pkPolicy, id} }

// requestKey: one request by ID.
func requestKey(id string) key { return key{prefixReq + id, skRequest} }

// grantSlotKey: a principal's pending request or grant for one target. Its
// existence enforces "one open request per principal and target", and
// authorization reads it by key.
func grantSlotKey(principal string, t elevate.Target) key {
	return key{prefixGrant + principal, t.Key()}
}

// groupHoldKey: request id names group, pending or with a grant that may be
// live; all of a group's holds share a partition, so a delete reads them with
// one strongly consistent Query.
func groupHoldKey(group, requestID string) key { return key{prefixGroupUse + group, requestID} }

// groupGateKey: one of a group's gates (groupuse.go); a request naming the
// group checks the one its ID picks, a delete closes them all.
func groupGateKey(group string, k int) key {
	return key{prefixGroupUse + group, skGroupGate + strconv.Itoa(k)}
}

// memberKey: principal's membership of the incarnation gen of group. The
// generation leads the sort key, so a group created again under a deleted
// group's name can never find the old group's items, and a delete finds its
// own with one Query (dropMembers).
func memberKey(group, gen, principal string) key {
	return key{prefixMembers + group, memberSortPrefix(gen) + principal}
}

func memberSortPrefix(gen string) string { return gen + "#" }

// eventKey: one audit-only fact.
func eventKey(id string) key { return key{prefixEvent + id, skEvent} }

// linkKey: one consumed approval link.
func linkKey(tokenID string) key { return key{prefixLink + tokenID, skLink} }

// deliveryKey: one email sent for one stream event to one recipient.
func deliveryKey(eventID, recipient string) key { return key{prefixDeliv + eventID, recipient} }

// ratificationKey: a principal's one unratified break-glass grant. Its
// existence enforces "at most one unratified break-glass grant per
// principal", and its TTL at the ratification deadline is what tells the
// stream that a ratification was missed.
func ratificationKey(principal string) key { return key{prefixBreakGlass + principal, skUnratified} }

// ratificationIndexKeys gives the ratification item a value for every GSI key,
// in partitions no listing reads, for the same reason as slotIndexKeys: so
// that DynamoDB Local's TTL sweeper deletes it.
func ratificationIndexKeys(principal string) unlistedIndexKeys {
	return unlistedIndexKeys{prefixBreakGlass + principal, skUnratified, prefixBreakGlass + principal, skUnratified, prefixBreakGlass + "ALL", principal,
		prefixBreakGlass + "ALL", principal}
}

// breakGlassHoldKey: a principal's break-glass hold. All share one
// partition so admins list the blocks with one Query; they are few (one per
// principal who ever used break-glass, released ones expiring by TTL).
func breakGlassHoldKey(principal string) key { return key{pkBreakGlassHold, principal} }

// delegationKey: one approver's delegation; all share a partition, so the
// decision path and notify read every delegation with one Query (they are
// few: one per approver at most).
func delegationKey(principal string) key { return key{pkDelegation, principal} }

// credentialsKey: credentials issued for a request; a request's issuances
// share a partition, read with one strongly consistent Query. It is not the
// request's partition, so the function that writes them is granted no
// write on requests (IAM's dynamodb:LeadingKeys sees partition keys only).
func credentialsKey(requestID, accessKeyID string) key {
	return key{prefixCred + requestID, accessKeyID}
}

// revocationKey: a request's entry in a broker role's deny; all of a
// role's entries share a partition, read with one Query when the policy is
// written.
func revocationKey(roleARN, requestID string) key {
	return key{prefixBroker + roleARN, prefixReq + requestID}
}

// revocationCutoffKey: the role's aws:TokenIssueTime fallback.
func revocationCutoffKey(roleARN string) key { return key{prefixBroker + roleARN, skCutoff} }

// brokerRoleKey: one broker role the sweep revisits.
func brokerRoleKey(roleARN string) key { return key{pkBrokerRoles, roleARN} }

// requestSortKey orders a request in every listing index: newest first when
// read backwards, ties broken by ID.
func requestSortKey(r elevate.Request) string { return formatTime(r.CreatedAt) + "#" + r.ID }

// Listing partitions.
func requesterPartition(principal string) string { return prefixReqr + principal }
func approversPartition(group string) string     { return prefixApprov + group }

// pendingIndexKeys puts a request in the sparse index of open requests
// while it is Pending, under the same sort key as every other listing, and
// takes it out (no keys) once it is anything else: a page of pending
// requests reads only pending requests, however many were decided.
func pendingIndexKeys(r elevate.Request) (pk, sk string) {
	if r.Status != elevate.StatusPending {
		return "", ""
	}
	return pkPending, requestSortKey(r)
}

// slotIndexKeys gives a grant slot a value for every GSI key, in partitions
// no listing reads (SLOT#...). DynamoDB Local 1.25.1's TTL sweeper never
// deletes an item that is missing from a GSI, so a sparse slot would never
// expire locally and no expiry event would reach the stream. In AWS this costs
// three small index writes per slot change, which happen once or twice per
// request. The keys are immutable for the life of the slot.
func slotIndexKeys(principal string, t elevate.Target) unlistedIndexKeys {
	return unlistedIndexKeys{prefixSlot + principal, t.Key(), prefixSlot + t.Key(), principal, prefixSlot + "ALL", principal + "#" + t.Key(),
		prefixSlot + "ALL", principal + "#" + t.Key()}
}

// unlistedIndexKeys is an item's value for every GSI key in partitions no
// listing reads, for the TTL'd items (grant slots, ratification claims,
// break-glass holds, credentials) that DynamoDB Local's TTL sweeper would
// otherwise never delete (see slotIndexKeys). Items embed it. Group holds do
// not: nothing waits for their expiry, and each index key would cost every
// request three more index writes.
type unlistedIndexKeys struct {
	GSI1PK string `dynamodbav:"GSI1PK"`
	GSI1SK string `dynamodbav:"GSI1SK"`
	GSI2PK string `dynamodbav:"GSI2PK"`
	GSI2SK string `dynamodbav:"GSI2SK"`
	GSI3PK string `dynamodbav:"GSI3PK"`
	GSI3SK string `dynamodbav:"GSI3SK"`
	GSI4PK string `dynamodbav:"GSI4PK"`
	GSI4SK string `dynamodbav:"GSI4SK"`
}

// unlistedIndex gives an item its own key in every GSI.
func unlistedIndex(k key) unlistedIndexKeys {
	return unlistedIndexKeys{k.pk, k.sk, k.pk, k.sk, k.pk, k.sk, k.pk, k.sk}
}
