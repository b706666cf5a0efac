package manifest

import (
	"slices"
	"strings"

	"github.com/elevate-pam/elevate/pkg/tabledef"
)

// Partition-key patterns of the table's item kinds, in the syntax of IAM's
// StringLike operator ("*" matches any run of characters), derived from the
// key spellings in pkg/tabledef that pkg/dynamo builds its keys from.
const (
	KeySettings   = tabledef.PartitionSettings
	KeyMeta       = tabledef.PartitionMeta
	KeyGroups     = tabledef.PartitionGroups
	KeyPolicies   = tabledef.PartitionPolicies
	KeyRequests   = tabledef.PrefixRequest + "*"
	KeyGrantSlots = tabledef.PrefixGrant + "*"
	KeyEvents     = tabledef.PrefixEvent + "*"
	KeyLinks      = tabledef.PrefixLink + "*"
	KeyDeliveries = tabledef.PrefixDelivery + "*"
	KeyGroupUse   = tabledef.PrefixGroupUse + "*"
	KeyMembers    = tabledef.PrefixMembers + "*"

	KeyBreakGlass  = tabledef.PrefixBreakGlass + "*"
	KeyDelegations = tabledef.PartitionDelegations
	// KeyBreakGlassHolds: every principal's break-glass hold (issue 16 item 5).
	KeyBreakGlassHolds = tabledef.PartitionBreakGlassHolds

	KeyCredentials  = tabledef.PrefixCredentials + "*"
	KeyBrokerDenies = tabledef.PrefixBrokerDenies + "*"
	KeyBrokerRoles  = tabledef.PartitionBrokerRoles
	KeyAssignments  = tabledef.PartitionAssignments
	KeyProvisioning = tabledef.PrefixProvisioning + "*"
	KeyICStarts     = tabledef.PartitionICStarts
	// KeyKeyRotations: the record of every key rotation, which only the
	// rotation function writes (issue 21).
	KeyKeyRotations = tabledef.PartitionKeyRotations
)

// TableKey grants Actions on the table only for items whose partition key
// matches one of LeadingKeys. The CDK stack turns each into one IAM
// statement conditioned on ForAllValues:StringLike dynamodb:LeadingKeys, so
// a function cannot touch an item kind it has no business with even through
// a bug: authorize, say, can put audit events but never a grant.
type TableKey struct {
	Actions     []string
	LeadingKeys []string
}

// TableKeys narrows each function's TableActions by partition key. Every
// action in TableActions appears in exactly one entry of its function.
//
// To add an item kind: add its pattern above, then to the entries of the
// functions and actions that use it. A test that calls the function through
// an OpRecorder fails with the partition key, the action and this grant
// until it is listed.
var TableKeys = map[string][]TableKey{
	Policies: {
		{Actions: []string{"GetItem"}, LeadingKeys: []string{KeySettings, KeyGroups, KeyPolicies}},
		{Actions: []string{"Query"}, LeadingKeys: []string{KeySettings, KeyGroups, KeyPolicies, KeyGroupUse, KeyBreakGlassHolds, KeyMembers}}, // a group delete reads the group's holds, then its member items; admins list break-glass holds
		{Actions: []string{"PutItem"}, LeadingKeys: []string{KeySettings, KeyGroups, KeyPolicies, KeyEvents, KeyGroupUse, KeyMembers}},
		{Actions: []string{"UpdateItem"}, LeadingKeys: []string{KeyMeta, KeyGroups, KeyPolicies, KeyBreakGlassHolds, KeyGroupUse}}, // counters: the policy cap, group references, members; a prepared delete (stamp.go); an admin releasing a break-glass hold; a deleted group's gates
		{Actions: []string{"DeleteItem"}, LeadingKeys: []string{KeyGroups, KeyPolicies, KeyGroupUse, KeyMembers}},
		{Actions: []string{"BatchGetItem"}, LeadingKeys: []string{KeyRequests}}, // a group delete reads the requests its holds name; the holds' requests
	},
	Requests: {
		{Actions: []string{"GetItem"}, LeadingKeys: []string{KeyGroups, KeyRequests, KeyDelegations, KeyProvisioning}},
		{Actions: []string{"Query"}, LeadingKeys: []string{KeyGroups, KeyDelegations}},
		{Actions: []string{"BatchGetItem"}, LeadingKeys: []string{KeySettings, KeyPolicies, KeyGrantSlots}}, // the authorization read before a submit
		// events: refused attempts; a break-glass submit also claims the
		// principal's one unratified grant; delegations are set and removed
		// here (self-service)
		{Actions: []string{"PutItem"}, LeadingKeys: []string{KeyRequests, KeyGrantSlots, KeyGroupUse, KeyBreakGlass, KeyEvents, KeyDelegations, KeyBreakGlassHolds}},
		{Actions: []string{"DeleteItem"}, LeadingKeys: []string{KeyGrantSlots, KeyDelegations}}, // cancel frees the slot
		{Actions: []string{"ConditionCheckItem"}, LeadingKeys: []string{KeyGroupUse}},           // a new request's gate on its group is open
		{Actions: []string{"UpdateItem"}, LeadingKeys: []string{KeyGrantSlots, KeyDelegations}}, // an automatic extension moves the grant's end; a delegation's removal is prepared
	},
	Approvals: {
		{Actions: []string{"GetItem"}, LeadingKeys: []string{KeyGroups, KeyRequests}},
		{Actions: []string{"Query"}, LeadingKeys: []string{KeyDelegations}},                                     // a delegate's standing at decision time
		{Actions: []string{"PutItem"}, LeadingKeys: []string{KeyRequests, KeyLinks, KeyEvents}},                 // events: refused attempts
		{Actions: []string{"UpdateItem"}, LeadingKeys: []string{KeyGrantSlots, KeyBreakGlassHolds}},             // approve turns the slot into the grant; ratify moves its end and releases the break-glass hold
		{Actions: []string{"DeleteItem"}, LeadingKeys: []string{KeyGrantSlots, KeyBreakGlass}},                  // deny and revoke free the slot; ratify and revoke release the break-glass claim
		{Actions: []string{"ConditionCheckItem"}, LeadingKeys: []string{KeyGroups, KeyMembers, KeyDelegations}}, // the decider's membership (member items; the group item for a group without them or another group) or delegation at commit
	},
	Authorize: {
		{Actions: []string{"BatchGetItem"}, LeadingKeys: []string{KeySettings, KeyPolicies, KeyGrantSlots}},
		{Actions: []string{"PutItem"}, LeadingKeys: []string{KeyEvents}},
	},
	// A grant slot's change is Elevate's only if its request says so
	// (issue 16 item 2): the audit consumer reads requests, nothing else.
	Audit: {
		{Actions: []string{"GetItem"}, LeadingKeys: []string{KeyRequests}},
	},
	Credentials: {
		{Actions: []string{"GetItem"}, LeadingKeys: []string{KeyRequests}},
		{Actions: []string{"BatchGetItem"}, LeadingKeys: []string{KeySettings, KeyPolicies, KeyGrantSlots}}, // the authorization read
		{Actions: []string{"PutItem"}, LeadingKeys: []string{KeyCredentials, KeyEvents}},                    // events: refused attempts
		{Actions: []string{"ConditionCheckItem"}, LeadingKeys: []string{KeyGrantSlots}},                     // the grant is still live at issue
	},
	Notify: {
		{Actions: []string{"GetItem"}, LeadingKeys: []string{KeyGroups}},
		{Actions: []string{"Query"}, LeadingKeys: []string{KeyDelegations}}, // delegates get the approval emails
		{Actions: []string{"PutItem", "DeleteItem"}, LeadingKeys: []string{KeyDeliveries}},
	},
	Access: {
		{Actions: []string{"GetItem"}, LeadingKeys: []string{KeyRequests, KeyAssignments}},
		{Actions: []string{"BatchGetItem"}, LeadingKeys: []string{KeyRequests}}, // the holders of an assignment
		// the sweep and the reconcile; a request's issuances, a broker role's deny entries, the broker roles
		{Actions: []string{"Query"}, LeadingKeys: []string{KeyAssignments, KeyICStarts, KeyPolicies, KeyCredentials, KeyBrokerDenies, KeyBrokerRoles}},
		// assignment records are versioned puts; deny entries and the broker roles list
		{Actions: []string{"PutItem"}, LeadingKeys: []string{KeyAssignments, KeyICStarts, KeyBrokerDenies, KeyBrokerRoles}},
		{Actions: []string{"UpdateItem"}, LeadingKeys: []string{KeyProvisioning}}, // one assignment's status at a time
		{Actions: []string{"DeleteItem"}, LeadingKeys: []string{KeyICStarts, KeyBrokerDenies}},
	},
	// The rotation record is the rotation function's only table access, and
	// no other function may write it: a key.rotated record cannot come from
	// anywhere else.
	Rotation: {
		{Actions: []string{"PutItem"}, LeadingKeys: []string{KeyKeyRotations}},
	},
}

// LeadingKeysFor is the partition-key patterns function's grant allows for
// action, nil when none.
func LeadingKeysFor(function, action string) []string {
	for _, g := range TableKeys[function] {
		if slices.Contains(g.Actions, action) {
			return g.LeadingKeys
		}
	}
	return nil
}

// TableKeyAllowed reports whether function's grant lets action touch an item
// whose partition key is pk, as IAM would evaluate it.
func TableKeyAllowed(function, action, pk string) bool {
	return slices.ContainsFunc(LeadingKeysFor(function, action), func(pattern string) bool { return StringLike(pattern, pk) })
}

// StringLike is IAM's StringLike match: case-sensitive, "*" matches any run
// of characters (none included) and "?" any single character.
func StringLike(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if StringLike(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && StringLike(pattern[1:], s[1:])
	}
	head, _, _ := strings.Cut(pattern, "*")
	if i := strings.IndexByte(head, '?'); i >= 0 {
		head = head[:i]
	}
	return strings.HasPrefix(s, head) && StringLike(pattern[len(head):], s[len(head):])
}
