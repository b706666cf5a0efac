// Package notify turns table changes from the DynamoDB stream into emails:
// approvers get a personal approval link for each pending request, the
// requester hears about approval, denial, revocation and expiry, and the
// other approvers are told who decided.
//
// Delivery is at most once per (stream eventID, recipient): a delivery marker
// is claimed in the table before sending and released if sending fails, so a
// retried batch neither duplicates nor loses an email.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/linktoken"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// Sender sends one email.
type Sender interface {
	Send(ctx context.Context, e Email) error
}

// Store is what the consumer reads and writes in the table.
type Store interface {
	GetGroup(ctx context.Context, name string) (elevate.Group, error)
	// ClaimDelivery records that eventID is being delivered to recipient by
	// the claimant named token. It reports false if a claim already exists,
	// with that claim's token.
	ClaimDelivery(ctx context.Context, eventID, recipient, token string, now time.Time) (claimed bool, heldBy string, err error)
	ReleaseDelivery(ctx context.Context, eventID, recipient string) error
	// FailDelivery keeps the claim of a delivery the email service refused
	// for good, with the reason, so it is neither retried nor resent.
	FailDelivery(ctx context.Context, eventID, recipient, reason string, now time.Time) error
	// ListDelegations returns every approver delegation (F17).
	ListDelegations(ctx context.Context) ([]elevate.Delegation, error)
}

// Deps are the handler's collaborators.
type Deps struct {
	Store  Store
	Sender Sender
	Signer *linktoken.Signer
	// PublicBaseURL is where the API is reachable, e.g. https://x.example.com;
	// links are PublicBaseURL + /v1/links/<token>.
	PublicBaseURL string
	// AlertGroup is the Elevate group whose members stand for the admins in
	// break-glass alerts (app.Service.AlertGroup); default elevate-admins.
	AlertGroup string
	Clock      elevate.Clock
	Logger     *slog.Logger

	unsettled *unsettledClaims
}

var errUnexpected = errors.New("notify: unexpected request state")

// unsettledClaims are this process's delivery claims whose write failed
// without saying whether it was applied. Every one of them was abandoned
// before sending, so finding one of these tokens on the marker means the
// email was never sent. Lambda runs a shard's retries in the same execution
// environment as a rule (the handler returns instead of timing out, so the
// environment is kept); should a retry land elsewhere, such a marker reads
// as delivered and the email is not sent: at most once still holds.
type unsettledClaims struct {
	mu     sync.Mutex
	tokens map[string][]string // eventID + "\x00" + recipient → tokens
}

func (u *unsettledClaims) add(eventID, recipient, token string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := eventID + "\x00" + recipient
	u.tokens[k] = append(u.tokens[k], token)
}

func (u *unsettledClaims) has(eventID, recipient, token string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return token != "" && slices.Contains(u.tokens[eventID+"\x00"+recipient], token)
}

func (u *unsettledClaims) settle(eventID, recipient string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.tokens, eventID+"\x00"+recipient)
}

// newClaimToken names one delivery attempt.
func newClaimToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Errors a Sender wraps to say how a failed send may be retried. Any other
// error means the email was certainly not accepted, so it is retried.
var (
	// ErrUndeliverable: the email service refused this message for good (a
	// rejected or malformed address). Retrying cannot help and would block
	// every later record on the shard, so it is logged and given up.
	ErrUndeliverable = errors.New("undeliverable")
	// ErrUncertain: the request may have reached the email service (the
	// connection broke after it was sent). Resending could duplicate the
	// email, and delivery is at most once, so it is logged, not resent.
	ErrUncertain = errors.New("delivery uncertain")
)

// DeliveryLogKey is the log attribute that says how a delivery ended; the
// stack counts log lines with DeliveryFailed in it and alarms on them.
const (
	DeliveryLogKey = "delivery"
	DeliveryFailed = "failed"
)

// minTimeLeft is how much of the invocation a record needs: a record started
// closer to the deadline is reported for retry instead, so a timeout never
// strands a claimed-but-unsent email. The handler's context already ends a
// margin before Lambda's deadline (budget.Invocation); a short local timeout
// (tests) scales both down.
const minTimeLeft = 5 * time.Second

// NewHandler returns the Lambda handler for the table's stream.
//
// Failure semantics: with ReportBatchItemFailures, Lambda checkpoints at the
// lowest reported sequence number and retries every record from there on,
// whatever else is reported. So the handler stops at the first record it
// cannot fully deliver and reports only that one: processing later records
// would only send them out of order (an "approved" notice before the
// approval request it answers). Within the failing record, every recipient
// that can be served is; the delivery markers keep the retry from sending
// those again.
func NewHandler(d Deps) func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	if d.AlertGroup == "" {
		d.AlertGroup = app.DefaultAdminGroup
	}
	if d.Clock == nil {
		d.Clock = elevate.SystemClock
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	d.PublicBaseURL = strings.TrimRight(d.PublicBaseURL, "/")
	d.unsettled = &unsettledClaims{tokens: map[string][]string{}}
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		need := min(minTimeLeft, budget.Timeout(manifest.Notify)/4)
		if deadline, ok := ctx.Deadline(); ok {
			need = min(minTimeLeft, time.Until(deadline)/4)
		}
		ctx, cancel := budget.Invocation(ctx, manifest.Notify)
		defer cancel()
		resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
		for _, rec := range ev.Records {
			if !budget.Enough(ctx, need) {
				d.Logger.WarnContext(ctx, "notify: invocation almost out of time; the rest of the batch will be retried", "eventID", rec.EventID)
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
				break
			}
			if err := d.deliver(ctx, rec); err != nil {
				d.Logger.ErrorContext(ctx, "notify: record not delivered; it will be retried",
					"eventID", rec.EventID, "sequenceNumber", rec.Change.SequenceNumber, "err", err)
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
				break
			}
		}
		return resp, nil
	}
}

func (d Deps) deliver(ctx context.Context, rec events.DynamoDBEventRecord) error {
	if e, key, ok, err := policyChanged(rec); err != nil || ok {
		if err != nil {
			return err
		}
		return d.sendOnce(ctx, key, e)
	}
	emails, err := d.plan(ctx, rec)
	if err != nil {
		return err
	}
	var failed error
	for _, e := range emails {
		if err := d.sendOnce(ctx, rec.EventID, e); err != nil {
			failed = errors.Join(failed, err)
		}
	}
	return failed
}

func (d Deps) sendOnce(ctx context.Context, eventID string, e Email) error {
	token := newClaimToken()
	claimed, heldBy, err := d.Store.ClaimDelivery(ctx, eventID, e.To, token, d.Clock())
	if err != nil {
		// The claim may have been written all the same (a table that stalled
		// past the deadline applies the write when it resumes). Nothing was
		// sent under it, so the retry may take it over.
		d.unsettled.add(eventID, e.To, token)
		return fmt.Errorf("claim delivery: %w", err)
	}
	if !claimed && !d.unsettled.has(eventID, e.To, heldBy) {
		d.Logger.DebugContext(ctx, "notify: already delivered", "eventID", eventID, "to", e.To)
		return nil
	}
	if !claimed {
		d.Logger.InfoContext(ctx, "notify: taking over a claim whose write timed out; nothing was sent under it", "eventID", eventID, "to", e.To)
	}
	d.unsettled.settle(eventID, e.To)
	err = d.Sender.Send(ctx, e)
	switch {
	case err == nil:
	case errors.Is(err, ErrUndeliverable):
		// Recorded and passed over: retrying cannot help, and a retried record
		// would hold every later one on its shard.
		d.Logger.ErrorContext(ctx, "notify: email refused for good; recorded as a failed delivery, not retried",
			DeliveryLogKey, DeliveryFailed, "eventID", eventID, "to", e.To, "err", err)
		if ferr := d.Store.FailDelivery(ctx, eventID, e.To, err.Error(), d.Clock()); ferr != nil {
			// The claim stands either way, so the email is not resent; only
			// the reason is missing from the table.
			d.Logger.ErrorContext(ctx, "notify: could not record the failed delivery", "eventID", eventID, "to", e.To, "err", ferr)
		}
		return nil
	case errors.Is(err, ErrUncertain):
		d.Logger.ErrorContext(ctx, "notify: email may or may not have been sent; not resent, to avoid a duplicate", "eventID", eventID, "to", e.To, "err", err)
		return nil
	default:
		// Released so the retry sends it; if the release fails too, the email
		// is lost rather than duplicated, which is what "at most once" means.
		rctx, cancel := budget.Cleanup(ctx)
		defer cancel()
		if rerr := d.Store.ReleaseDelivery(rctx, eventID, e.To); rerr != nil {
			d.Logger.ErrorContext(ctx, "notify: release of a failed delivery failed; this email will not be retried",
				"eventID", eventID, "to", e.To, "err", rerr)
		}
		return fmt.Errorf("send to %s: %w", e.To, err)
	}
	d.Logger.InfoContext(ctx, "notify: email sent", "eventID", eventID, "to", e.To, "subject", e.Subject)
	return nil
}

// plan decides which emails a stream record calls for.
func (d Deps) plan(ctx context.Context, rec events.DynamoDBEventRecord) ([]Email, error) {
	if g, wasPending, lapsed, err := dynamo.LapsedSlot(rec); err != nil || lapsed {
		if err != nil {
			return nil, fmt.Errorf("decode grant: %w", err)
		}
		return one(expired(g, wasPending))
	}
	if m, missed, err := dynamo.MissedRatificationOf(rec); err != nil || missed {
		if err != nil {
			return nil, fmt.Errorf("decode ratification: %w", err)
		}
		return d.ratificationMissed(ctx, m)
	}
	if dynamo.ImageKind(rec.Change.NewImage) == dynamo.KindAssignment {
		return d.assignmentFailed(ctx, rec)
	}
	if dynamo.ImageKind(rec.Change.NewImage) != dynamo.KindRequest {
		return nil, nil
	}
	r, err := dynamo.RequestFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	switch events.DynamoDBOperationType(rec.EventName) {
	case events.DynamoDBOperationTypeInsert:
		switch r.Status {
		case elevate.StatusPending:
			return d.approvalRequests(ctx, r)
		case elevate.StatusApproved: // approved automatically by its policy, or break-glass
			if r.BreakGlass {
				return d.breakGlassAlerts(ctx, r)
			}
			return one(outcome(r))
		}
	case events.DynamoDBOperationTypeModify:
		prev, err := dynamo.RequestFromImage(rec.Change.OldImage)
		if err != nil {
			return nil, fmt.Errorf("decode old request: %w", err)
		}
		if prev.Ratification == elevate.RatificationPending && r.Ratification == elevate.RatificationRatified {
			return d.ratified(ctx, r)
		}
		if prev.Status == r.Status {
			return nil, nil
		}
		switch r.Status {
		case elevate.StatusApproved, elevate.StatusDenied:
			return d.decided(ctx, r)
		case elevate.StatusRevoked:
			return one(outcome(r))
		}
	}
	return nil, nil
}

func one(e Email, err error) ([]Email, error) {
	if err != nil {
		return nil, err
	}
	return []Email{e}, nil
}

// approvers reads the group now: membership at the moment of the change is
// what counts. A group deleted since yields nobody rather than a record that
// can never succeed.
func (d Deps) approvers(ctx context.Context, r elevate.Request, except ...string) ([]string, error) {
	return d.members(ctx, r.ID, r.ApproverGroup, append(except, r.Requester)...)
}

// members lists a group's members now, less except.
func (d Deps) members(ctx context.Context, requestID, group string, except ...string) ([]string, error) {
	g, err := d.Store.GetGroup(ctx, group)
	if errors.Is(err, elevate.ErrNotFound) {
		d.Logger.WarnContext(ctx, "notify: group no longer exists", "requestId", requestID, "group", group)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read approver group: %w", err)
	}
	var out []string
next:
	for _, m := range g.Members {
		// Nobody approves their own request, so the requester never gets a
		// link: callers pass the requester in except.
		for _, x := range except {
			if m == x {
				continue next
			}
		}
		out = append(out, m)
	}
	return out, nil
}

func (d Deps) approvalRequests(ctx context.Context, r elevate.Request) ([]Email, error) {
	members, err := d.approvers(ctx, r)
	if err != nil {
		return nil, err
	}
	stand, onBehalfOf, err := d.delegates(ctx, r, members)
	if err != nil {
		return nil, err
	}
	emails := make([]Email, 0, len(members)+len(stand))
	for _, m := range append(members, stand...) {
		tok, err := d.Signer.SignContext(ctx, r.ID, m, r.ExpiresAt)
		if err != nil {
			return nil, fmt.Errorf("sign link: %w", err)
		}
		e, err := approvalRequest(r, m, d.PublicBaseURL+"/v1/links/"+url.PathEscape(tok), onBehalfOf[m]...)
		if err != nil {
			return nil, err
		}
		emails = append(emails, e)
	}
	return emails, nil
}

func (d Deps) decided(ctx context.Context, r elevate.Request) ([]Email, error) {
	first, err := outcome(r)
	if err != nil {
		return nil, err
	}
	emails := []Email{first}
	others, err := d.approvers(ctx, r, lastDecision(r).By)
	if err != nil {
		return nil, err
	}
	for _, m := range others {
		e, err := decidedFYI(r, m)
		if err != nil {
			return nil, err
		}
		emails = append(emails, e)
	}
	return emails, nil
}
