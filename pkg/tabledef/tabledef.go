// Package tabledef is the single definition of Elevate's DynamoDB table.
//
// Both the local stack (which creates the table in DynamoDB Local) and the
// CDK stack (which declares it in CloudFormation) read this package, so the
// key schema, indexes, TTL attribute and stream settings cannot drift apart.
// It deliberately imports no AWS package: each side maps it to its own types.
package tabledef

// All key attributes are strings.
const (
	PartitionKey = "PK"
	SortKey      = "SK"
	// TTLAttribute holds epoch seconds. DynamoDB deletes the item some time
	// after that instant; Elevate never relies on the deletion for security.
	TTLAttribute = "ttl"
	// StreamView is NEW_AND_OLD_IMAGES: the audit consumer diffs old and new.
	StreamView = "NEW_AND_OLD_IMAGES"
)

// Partition-key values of the single-partition collections, and prefixes of
// the per-entity partitions, one spelling each: pkg/dynamo builds every key
// from them, and pkg/manifest derives each function's IAM
// dynamodb:LeadingKeys patterns from them.
const (
	PartitionSettings    = "SETTINGS"   // the settings item
	PartitionMeta        = "META"       // the policy counter
	PartitionGroups      = "GROUP"      // every group
	PartitionPolicies    = "POLICY"     // every policy
	PartitionDelegations = "DELEGATION" // every approver delegation
	// PartitionBreakGlassHolds: every principal's break-glass hold (issue 16 item 5).
	PartitionBreakGlassHolds = "BREAKGLASSHOLD"

	PrefixRequest    = "REQ#"        // one request
	PrefixGrant      = "GRANT#"      // a principal's grant slots
	PrefixEvent      = "EVENT#"      // audit-only facts
	PrefixLink       = "LINK#"       // consumed approval links
	PrefixDelivery   = "DELIVERY#"   // email delivery markers
	PrefixGroupUse   = "GROUPUSE#"   // holds of requests naming a group, and a group delete's lock
	PrefixMembers    = "MEMBERS#"    // a group's member items, one per principal per incarnation
	PrefixBreakGlass = "BREAKGLASS#" // a principal's unratified break-glass claim

	PrefixCredentials    = "CRED#"       // credentials issued for a request (never the secret)
	PrefixBrokerDenies   = "BROKER#"     // a broker role's deny entries and cutoff
	PartitionBrokerRoles = "BROKERROLES" // every broker role that has had a deny
	// IAM Identity Center (v1.2).
	PartitionAssignments = "ICASSIGN" // every Identity Center assignment record
	PartitionICStarts    = "ICSTART"  // scheduled grant starts awaiting the sweep
	PrefixProvisioning   = "PROV#"    // a request's provisioning statuses
	// PartitionKeyRotations: every rotation of a key secret (issue 21).
	PartitionKeyRotations = "KEYROTATION"
)

// Index is a global secondary index projecting all attributes.
type Index struct {
	Name         string
	PartitionKey string
	SortKey      string
}

// Indexes are the table's GSIs. See pkg/dynamo's package documentation for
// the access pattern each serves.
var Indexes = []Index{
	{Name: "GSI1", PartitionKey: "GSI1PK", SortKey: "GSI1SK"},
	{Name: "GSI2", PartitionKey: "GSI2PK", SortKey: "GSI2SK"},
	{Name: "GSI3", PartitionKey: "GSI3PK", SortKey: "GSI3SK"},
	// GSI4 is sparse: only Pending requests carry its keys (issue 17 item 11).
	{Name: "GSI4", PartitionKey: "GSI4PK", SortKey: "GSI4SK"},
}

// KeyAttributes lists every attribute that appears in a key schema, in a
// stable order, for AttributeDefinitions.
func KeyAttributes() []string {
	attrs := []string{PartitionKey, SortKey}
	for _, ix := range Indexes {
		attrs = append(attrs, ix.PartitionKey, ix.SortKey)
	}
	return attrs
}
