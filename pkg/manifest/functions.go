// Package manifest says, for each Lambda function, what it is and what it may
// do: the HTTP routes it serves (routes.go), the DynamoDB actions its IAM
// grant allows (here) and the partition keys each action may touch
// (tablekeys.go). The CDK stack grants exactly this, the local gateway and
// the handlers' routers route by it, and tests that record every DynamoDB
// call hold the code to it.
package manifest

// Function names; each is functions/<name>/main.go.
const (
	Policies  = "policies"
	Requests  = "requests"
	Approvals = "approvals"
	Authorize = "authorize"
	Notify    = "notify"
	Audit     = "audit"
	// Credentials issues AWS credentials for live grants (v1.2): the only
	// function that may call sts:AssumeRole.
	Credentials = "credentials"
	// Access applies grants to AWS (v1.2): Identity Center assignments, and
	// the deny on broker roles that ends the sessions of ended grants.
	Access = "access"
	// Rotation rotates the link-signing and pagination key secrets (issue
	// 21): Secrets Manager invokes it for each step of a rotation.
	Rotation = "rotation"
)

// APIFunctions serve HTTP; StreamFunctions consume the table's stream;
// SecretFunctions are invoked by Secrets Manager (key rotation).
var (
	APIFunctions    = []string{Policies, Requests, Approvals, Authorize, Credentials}
	StreamFunctions = []string{Notify, Audit, Access}
	SecretFunctions = []string{Rotation}
)

// Functions is every function, each functions/<name>/main.go.
func Functions() []string {
	out := append(append([]string{}, APIFunctions...), StreamFunctions...)
	return append(out, SecretFunctions...)
}

// TableActions are the DynamoDB actions each function performs on the table,
// and IndexActions those on its indexes: the CDK stack grants exactly these,
// and tests that run the handlers against DynamoDB Local check that every
// call they make is covered. IAM authorizes a TransactWriteItems call by the
// per-item actions inside it, so transactions appear as PutItem, UpdateItem,
// DeleteItem and ConditionCheckItem.
var (
	TableActions = map[string][]string{
		Policies:    {"GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "BatchGetItem"},
		Requests:    {"GetItem", "Query", "BatchGetItem", "PutItem", "DeleteItem", "ConditionCheckItem", "UpdateItem"},
		Approvals:   {"GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"},
		Authorize:   {"BatchGetItem", "PutItem"},
		Notify:      {"GetItem", "Query", "PutItem", "DeleteItem"},
		Audit:       {"GetItem"}, // the request a grant slot's change is checked against
		Credentials: {"GetItem", "BatchGetItem", "PutItem", "ConditionCheckItem"},
		// Access: Identity Center assignments (issue 20); a request and its
		// issuances, the role's deny entries, and the list of broker roles.
		Access: {"GetItem", "Query", "BatchGetItem", "PutItem", "UpdateItem", "DeleteItem"},
		// Rotation records each rotation, once (an insert-only item).
		Rotation: {"PutItem"},
	}
	IndexActions = map[string][]string{
		Requests: {"Query"},
	}
)
