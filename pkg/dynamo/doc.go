// Package dynamo is Elevate's persistence adapter: app.Store over one
// DynamoDB table (pkg/tabledef), plus the image decoders the stream
// consumers use.
//
// Every mutation is a conditional write or a transaction whose conditions
// carry the business rule, so concurrent callers can never both win; a lost
// condition comes back as the matching domain error. Infrastructure failures
// wrap elevate.ErrUnavailable.
//
// # Key design
//
// Every item has a "kind" attribute. Times are fixed-width UTC strings
// (2006-01-02T15:04:05.000Z) so string order is time order; conditions that
// compare instants use epoch-millisecond numbers (expiresEpochMs), and "ttl"
// holds epoch seconds for DynamoDB TTL.
//
//	| Entity           | PK                    | SK                        | GSI keys                                                                 | Access patterns |
//	|------------------|-----------------------|---------------------------|--------------------------------------------------------------------------|-----------------|
//	| settings         | SETTINGS              | SETTINGS                  | –                                                                        | get; versioned put |
//	| policy counter   | META                  | POLICYCOUNT               | –                                                                        | ADD ±1 with count < max (the cap) |
//	| group            | GROUP                 | <name>                    | –                                                                        | get; list = Query PK; refs counts users, delete needs refs = 0 |
//	| policy           | POLICY                | <type:scope:name> (lower) | –                                                                        | get; list = Query PK; one per target via attribute_not_exists |
//	| request          | REQ#<id>              | REQ                       | GSI1 REQUESTER#<principal>, GSI2 APPROVERS#<group>, GSI3 REQUESTS; SK <createdAt>#<id> | get; list by requester / approver group / all, newest first |
//	| grant slot       | GRANT#<principal>     | <target key>              | SLOT#… in all three (never queried; see slotIndexKeys)                   | one open request or grant per principal+target; authz read; ttl = pending or grant expiry |
//	| event            | EVENT#<id>            | EVENT                     | –                                                                        | audit-only facts; ttl = time + 1 day |
//	| link use         | LINK#<token id>       | LINK                      | –                                                                        | single-use approval links; ttl 7 days |
//	| delivery marker  | DELIVERY#<eventID>    | <recipient>               | –                                                                        | email at most once per event and recipient; ttl 7 days |
//	| group hold       | GROUPUSE#<group>      | <request id>              | its own keys in all three (never queried)                                | a request naming the group; group delete Queries the partition and reads the requests (groupuse.go); ttl = latest end + 30 days |
//	| group delete lock| GROUPUSE#<group>      | #DELETE                   | –                                                                        | a group delete in progress; new requests condition-check it; lapses after 30 s (no ttl) |
//	| break-glass claim| BREAKGLASS#<principal>| UNRATIFIED                | BREAKGLASS#… in all three (never queried)                                | one unratified break-glass grant per principal; ttl = ratification deadline, its TTL REMOVE is the missed ratification |
//	| delegation       | DELEGATION            | <approver>                | –                                                                        | one per approver; list = Query; the decision condition-checks delegate, window and groups; stamped; prepared delete |
//
// Every write to an entity item (settings, group, policy, request, grant
// slot) stamps updatedBy and a per-change changeId, and API deletes are
// prepared first (deletedBy), so the audit consumer reads every change's
// actor from the item and flags changes Elevate did not make (stamp.go).
//
// A request's stored status is never Expired: a Pending request whose
// expiresEpochMs has passed reads as Expired, and listings filter on that.
// The grant slot is written with the request (Pending), becomes the grant on
// final approval (Approved, ttl = grant end) and is deleted on deny, cancel
// and revoke. The store never filters expired grants: the domain decides
// liveness at read time, because TTL deletion lags.
//
// IAM narrows each function's table grant by the PK prefixes above
// (dynamodb:LeadingKeys, manifest.TableKeys): a new entity needs its PK pattern
// there, for the functions and actions that use it, or the tests that record
// every DynamoDB call fail naming the key.
//
// Scheduled start, tickets and extensions (F13-F15) add attributes, no kinds:
//
//	| Item       | Attribute                     | Meaning |
//	|------------|-------------------------------|---------|
//	| request    | startAt, grantStartsAt        | requested start; when the approved grant starts (the window does not slide) |
//	| request    | ticket, windowStart/End       | ticket reference (filter of ?ticket=); the ticket system's change window |
//	| request    | notAfter                      | cap on the grant's end (change window; an extension's policy max from the original start) |
//	| request    | extends                       | on an extension: the original's ID (it has no slot of its own) |
//	| request    | pendingExtension, extensions  | on an original: the one pending extension (the transaction's guard) and the approved ones |
//	| grant slot | startsAt                      | a scheduled grant's start, read by authorization in the same BatchGetItem |
//
// An extension is written with its original in one transaction conditioned
// on the original's version and live grant; approving it moves the
// original's grantExpiresAt and its slot's expiry in the decision's
// transaction.
package dynamo
