// Package elevate is Elevate's domain: settings, approver groups, approval
// policies, requests with their state machine, grants, and the authorization
// decision.
//
// It is pure: it imports nothing from AWS, performs no I/O and reads time only
// from the instants its callers pass in (taken from an injected Clock), so
// every rule can be table-tested. Adapters in sibling packages translate
// between this package and DynamoDB, HTTP, email and the audit bucket.
package elevate
