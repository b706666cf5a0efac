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
//	| group            | GROUP                 | <name>                    | –                                                                        | get; list = Query PK; refs counts users, delete needs refs = 0; members is the record of membership; gen names this incarnation (absent on groups written before member items) |
//	| member           | MEMBERS#<group>       | <gen>#<principal>         | –                                                                        | one per member of the incarnation gen, put and deleted with the members set (members.go); a decision condition-checks those it rests on; a delete Queries <gen># and removes them after the group |
//	| policy           | POLICY                | <type:scope:name> (lower) | –                                                                        | get; list = Query PK; one per target via attribute_not_exists |
//	| request          | REQ#<id>              | REQ                       | GSI1 REQUESTER#<principal>, GSI2 APPROVERS#<group>, GSI3 REQUESTS, GSI4 PENDING only while Pending; SK <createdAt>#<id> | get; list by requester / approver group / all, newest first; all Pending or Expired = Query GSI4 (sparse: a decided request leaves it) |
//	| grant slot       | GRANT#<principal>     | <target key>              | SLOT#… in all four (never queried; see slotIndexKeys)                    | one open request or grant per principal+target; authz read; ttl = pending or grant expiry |
//	| event            | EVENT#<id>            | EVENT                     | –                                                                        | audit-only facts; ttl = time + 1 day |
//	| link use         | LINK#<token id>       | LINK                      | –                                                                        | single-use approval links; ttl 7 days |
//	| delivery marker  | DELIVERY#<eventID>    | <recipient>               | –                                                                        | email at most once per event and recipient; ttl 7 days |
//	| group hold       | GROUPUSE#<group>      | <request id>              | –                                                                        | a request naming the group, written in its creating transaction; group delete Queries the partition and reads the requests (groupuse.go); ttl = latest end + 30 days |
//	| group gate       | GROUPUSE#<group>      | #GATE#<0..31>             | –                                                                        | absent = open; a new request condition-checks the one its ID picks; a delete closes all 32 (lapse after 30 s, no ttl) and leaves them deleted (tombstones) with the group; creating the group removes them |
//	| break-glass claim| BREAKGLASS#<principal>| UNRATIFIED                | BREAKGLASS#… in all four (never queried)                                 | one unratified break-glass grant per principal; ttl = ratification deadline, its TTL REMOVE is the missed ratification |
//	| break-glass hold | BREAKGLASSHOLD        | <principal>               | its own keys in all four (never queried)                                 | taken with every break-glass grant; released only by its ratification or an admin (issue 16 item 5); list = Query PK; stamped; ttl 7 days once released |
//	| delegation       | DELEGATION            | <approver>                | –                                                                        | one per approver; list = Query; the decision condition-checks delegate, window and groups; stamped; prepared delete |
//	| assignment record| ICASSIGN              | <user id>#<ps arn>#<acct> | –                                                                        | one per Identity Center user × permission set × account: holders (live grants), state, last outcome; every write a put conditioned on version; the sweep and reconcile Query the partition (identitycenter.go) |
//	| provisioning     | PROV#<request id>     | PROVISIONING              | –                                                                        | a request's per-assignment status, one attribute per assignment (SET, never a lost update); read with the request |
//	| scheduled start  | ICSTART               | <start>#<request id>      | –                                                                        | a scheduled grant's assignments to make; the sweep Queries SK <= now, then deletes it |
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
//	| request    | slotLog                       | every state Elevate gave the request's slot, "<version>|<status>|<startsAt>|<expiresAt>", appended by the write that changes it; the audit consumer holds slot changes to it (slotlog.go) |
//
// An extension is written with its original in one transaction conditioned
// on the original's version and live grant; approving it moves the
// original's grantExpiresAt and its slot's expiry in the decision's
// transaction.
//
// # Rules of the data
//
//   - Expiry is decided at read time. A grant whose expiresAt has passed is
//     refused even while its item still exists; TTL deletion is garbage
//     collection and the source of the "expired" events. A Pending request past
//     its expiry reads as Expired.
//   - Every decision is a conditional transaction. Approve/deny/cancel are
//     conditioned on the request's version, status = Pending, not expired, and
//     (approve) this approver not yet counted; an approver's group membership is
//     checked in the same transaction, the grant is written in it, and an email
//     link's single-use marker too. Revoke deletes the grant and updates the
//     request atomically. 20 concurrent approve/deny calls give exactly one
//     outcome (tested).
//   - Membership at the moment of the decision, held until the commit (issue 10
//     items 5, 6). The service reads who is an approver (app.approversOf) and
//     hands the group it read to SaveDecision; the decision's transaction
//     condition-checks the same thing (dynamo.approverChecks) for everyone
//     the decision rests on: the approver or denier; a revoker acting as an
//     approver (a revoke records as: requester|admin|approver; the
//     requester's and an admin's rights do not rest on membership); a
//     ratifier who is an approver; and on the approval that completes N of
//     M, every approver counted. An approval from someone who has since left
//     the group no longer counts: the request stays Pending (the approval is
//     recorded, the audit record says final:false) until enough current
//     members have approved, and the approved request names them in
//     countedBy. A member removed between the read and the commit makes the
//     commit fail and the retry re-count.
//   - No decision touches an item that every decision for its group touches
//     (issue 17 item 12). Each member of a group has a member item,
//     MEMBERS#<group>/<gen>#<principal>, written and deleted in the same
//     transaction as the group item's members set (members.go), and a
//     decision condition-checks one per approver it rests on (at most 10:
//     requiredApprovals ≤ 10, so a decision's transaction stays within
//     about 16 items of DynamoDB's 100). Two decisions for one group meet
//     only on an approver both rest on. gen is a random name for one
//     incarnation of the group, set when it is created: a group deleted and
//     created again under its name gets a new one, so the old group's
//     member items (which its delete removes afterwards, or leaves should
//     the deleter die) never count for the new one. The gen the service read
//     stays the group's until the commit because the request's hold (below)
//     keeps its group from being deleted while it is pending or its grant
//     not over (for a minute more at least, else the decision checks the
//     group item). A group of up to 500 members has its member items written
//     ahead of its group item when they do not fit in the creating
//     transaction; items whose gen no group item carries are never checked,
//     and a missing one refuses the decision: the checks fail closed.
//     The group item's contains(members, …) check, one ConditionCheck for
//     all approvers, remains for decisions resting on a group the request
//     does not hold (a break-glass ratification or revocation by the alert
//     group, a ratification after the grant ended: their group can be
//     deleted meanwhile) and for groups without gen.
//   - Upgrading a table from v1.1: its groups have no gen and no member
//     items, and decisions keep checking their group items until the
//     group's next membership change, which writes the member items of the
//     new membership under a fresh gen and sets gen in one transaction with
//     the change (ahead of it when they do not fit), conditioned on the
//     group item's changeId being the one read. Adding an existing member
//     (idempotent) migrates a group without changing it; nothing else is
//     needed, and gen is bookkeeping the audit consumer ignores.
//   - A group cannot be deleted while pending requests or live grants name it
//     (issue 10 item 7), even after every policy moved away from it, so a group
//     recreated under the same name never inherits them. A reference count would
//     have to be released when a request lapses, which happens at read time with
//     nothing written, so lapsed requests would block the delete until TTL
//     caught up (days in AWS). Instead each request naming a group holds it
//     with an item of its own, GROUPUSE#<group>/<request id>; whether that
//     request still needs its group (pending, or a grant not yet over) is read
//     from the request itself at delete time, so decisions, extensions and
//     lapses never touch the hold. No request touches an item that every
//     other request for its group touches (issue 17 item 12): instead of one
//     group item and one lock item that every request condition-checked,
//     the group's open or closed state is spread over 32 gate items, and a
//     request's transaction condition-checks the one its ID picks (open:
//     absent, or a lapsed closing), so two requests for one busy group meet
//     on a gate by chance, 1 in 32. The delete does the work: it closes every
//     gate in one transaction (a closing that lapses after 30 s should the
//     deleter die), Queries the holds (strongly consistent), refuses with 409
//     group-in-use if a hold's request still needs the group (reopening the
//     gates), and otherwise deletes the group and the ended holds and turns
//     every gate into a tombstone in one transaction, conditioned on every
//     gate still being closed by it with 10 s to spare. A request that
//     committed before its gate closed is seen by the Query; after, it fails
//     on the closed gate or the tombstone (ErrUnknownGroup). Creating a group
//     removes a former group's tombstones in its transaction.
//   - One policy per target is the key itself: a policy's ID is its target
//     (task:exchange:new-moverequest), created with attribute_not_exists; the
//     cap is an atomic counter in the same transaction; groups count their
//     references so a group in use cannot be deleted.
//   - One open request per principal and target: the request claims a "grant
//     slot" item that later becomes the grant. Authorization reads settings,
//     policy and slot in one strongly consistent BatchGetItem, then writes one
//     audit item.
//   - The table write is the commit; the stream is the outbox. Emails and audit
//     records come only from the stream. Consumers are idempotent (email
//     delivery markers; audit records carry the stream eventID; deterministic
//     object keys per batch) and report BatchItemFailures.
//   - Authorization semantics (F8), in order: access turned off → allowed,
//     disabled (as with PAM turned off; Lockbox has its own switch); a system
//     account → allowed, system-account; no policy covers the target → allowed,
//     no-policy (only covered tasks are privileged); a live grant → allowed,
//     grant; otherwise denied, approval-required.
//
// # Break-glass, delegation and index keys
//
// Scheduled start, extensions and tickets (F13–F15) add attributes, no item
// kinds: a request gets startAt, grantStartsAt, ticket (the ?ticket= filter),
// windowStart/windowEnd (the ticket system's change window) and notAfter (the
// cap on the grant's end); an extension is a request with extends and no slot
// of its own, and its original carries pendingExtension (the guard that keeps
// one pending extension per grant: an extension is written with its original
// in one transaction conditioned on the original's version and live grant) and
// extensions; the grant slot gets startsAt, so authorization still reads
// everything in its one BatchGetItem.
//
// Break-glass (F16) adds to a request breakGlass, ratification,
// ratifyBy/ratifyByEpochMs (the ?ratification= filter: pending and missed are
// told apart by the deadline, like Pending and Expired) and, while a pending
// ratification would cut a live grant short, missRevokesEpochMs, so
// ?status=Approved|Revoked read such a request as Revoked from the deadline
// on; its grant slot expires at the earlier of the grant's end and the
// deadline until it is ratified, so authorize needs no rule of its own.
// Delegation (F17) adds onBehalfOf and via (the group the decision rested on)
// to a decision, and the delegator to approvedBy.
//
// The pending index (GSI4, issue 17 item 11) is sparse: a request carries
// GSI4PK/GSI4SK only while it is stored as Pending (pendingIndexKeys, set by
// toRequestItem, so every write of a request puts it in or takes it out), and
// the Pending and Expired listings of all requests (an admin's, or an
// approver's through the visibility filter) Query it instead of reading past
// every decided request in GSI3. Its remaining cost: a request that lapses
// undecided stays stored as Pending, so it stays in the index and an Expired
// or a short Pending page reads past such requests (newest first, up to the
// page's Query cap). Requests written before this index existed carry no
// GSI4 keys: after an upgrade, those still pending are missing from these
// two listings (not from the by-requester and by-group ones) until a decision
// rewrites them or they lapse (pendingExpiryHours, 24 by default).
//
// Grant slots carry index keys in partitions nothing reads because DynamoDB
// Local 1.25.1 never TTL-deletes an item that is missing from a GSI; without
// them no expiry would ever reach the local stream. Pagination next tokens are
// HMAC-signed and bound to their query, so they cannot be edited into reading
// other keys.
package dynamo
