// Package access applies grants to AWS from the table's stream: it keeps
// the deny on each broker role that ends the sessions of grants that have
// ended (the access function), and sweeps the entries whose credentials
// have all expired.
package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Store is what the access function reads and writes in the table.
type Store interface {
	RequestIssuances(ctx context.Context, requestID string) (*elevate.Request, []app.Issuance, error)
	PutRevocation(ctx context.Context, r app.Revocation) (changed bool, err error)
	DeleteLiveRevocation(ctx context.Context, roleARN, requestID string) error
	Revocations(ctx context.Context, roleARN string) ([]app.Revocation, *app.RevocationCutoff, error)
	PutRevocationCutoff(ctx context.Context, c app.RevocationCutoff) error
	DeleteExpiredRevocation(ctx context.Context, roleARN, requestID string, until time.Time) error
	BrokerRoles(ctx context.Context) ([]string, error)
}

var _ Store = (*dynamo.Store)(nil)

// IAMAPI is the part of the IAM client the access function uses: only the
// broker roles' Elevate inline policy.
type IAMAPI interface {
	PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, optFns ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, optFns ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error)
}

// Deps are the access function's adapters.
type Deps struct {
	Store  Store
	IAM    IAMAPI
	Clock  elevate.Clock
	Logger *slog.Logger
}

// maxApplyRounds bounds how often apply rewrites a role's policy because
// another invocation changed the role's entries meanwhile.
const maxApplyRounds = 5

// minTimeLeft is the invocation time below which the rest of a batch is
// left for the retry.
const minTimeLeft = 2 * time.Second

// HandleStream applies each record in order and stops at the first that
// fails, reporting it (Lambda retries from the lowest reported sequence
// number, so later records would only be applied out of order).
func (d Deps) HandleStream(ctx context.Context, ev events.DynamoDBEvent) events.DynamoDBEventResponse {
	d = d.withDefaults()
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	for _, rec := range ev.Records {
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < minTimeLeft {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
			break
		}
		if err := d.Apply(ctx, rec); err != nil {
			d.Logger.ErrorContext(ctx, "access: record not applied; it will be retried",
				"eventID", rec.EventID, "sequenceNumber", rec.Change.SequenceNumber, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
			break
		}
	}
	return resp
}

// Apply handles one stream record: credentials issued, a request changed
// (revoked, extended, ratified, ended) or its grant slot lapsing reconcile
// that request; a deny entry lapsing rewrites its role's policy.
func (d Deps) Apply(ctx context.Context, rec events.DynamoDBEventRecord) error {
	img := rec.Change.NewImage
	if rec.EventName == string(events.DynamoDBOperationTypeRemove) {
		img = rec.Change.OldImage
	}
	switch dynamo.ImageKind(img) {
	case dynamo.KindCredentials, dynamo.KindRequest, dynamo.KindGrant:
		id := img["requestId"]
		if dynamo.ImageKind(img) == dynamo.KindRequest {
			id = img["id"]
		}
		if id.DataType() != events.DataTypeString || id.String() == "" {
			return errors.New("access: stream image without a request ID")
		}
		return d.Reconcile(ctx, id.String())
	case dynamo.KindRevocation, dynamo.KindRevocationCutoff:
		if rec.EventName != string(events.DynamoDBOperationTypeRemove) {
			return nil // written by apply itself, which has already written the policy
		}
		role := img["roleArn"]
		if role.DataType() != events.DataTypeString {
			return errors.New("access: revocation image without a role")
		}
		return d.applyRole(ctx, role.String())
	}
	return nil
}

// Reconcile brings the deny entries of one request in line with its state:
// for each broker role it has credentials for, an entry is needed when some
// of those credentials outlive the grant, ended or not.
func (d Deps) Reconcile(ctx context.Context, requestID string) error {
	req, issued, err := d.Store.RequestIssuances(ctx, requestID)
	if err != nil || len(issued) == 0 {
		return err
	}
	now := d.Clock()
	ended, end := grantEnd(req, issued, now)
	byRole := map[string]app.Revocation{}
	for _, iss := range issued {
		r, ok := byRole[iss.RoleARN]
		if !ok {
			r = app.Revocation{RoleARN: iss.RoleARN, RequestID: requestID, Principal: iss.Principal, Target: iss.Target, Ended: ended, NotAfter: end}
		}
		r.Until = maxTime(r.Until, iss.Expiration)
		r.LastIssuedAt = maxTime(r.LastIssuedAt, iss.IssuedAt)
		byRole[iss.RoleARN] = r
	}
	var errs []error
	for role, r := range byRole {
		needed := r.Until.After(now) && (ended || r.Until.After(end))
		if needed {
			if _, err := d.Store.PutRevocation(ctx, r); err != nil {
				errs = append(errs, err)
				continue
			}
		} else if !ended {
			// A grant that moved its end past its credentials' (an extension,
			// a ratification) must not be cut at the old end.
			if err := d.Store.DeleteLiveRevocation(ctx, role, requestID); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		errs = append(errs, d.applyRole(ctx, role))
	}
	return errors.Join(errs...)
}

// grantEnd reads when the request's grant ends: a live grant at its end
// (LiveUntil: the expiry, or a pending ratification's deadline); an ended
// one when it ended, as recorded.
func grantEnd(req *elevate.Request, issued []app.Issuance, now time.Time) (ended bool, end time.Time) {
	if req != nil && req.Status == elevate.StatusApproved && req.Extends == "" && now.Before(req.LiveUntil()) {
		return false, req.LiveUntil()
	}
	if req != nil && req.Status == elevate.StatusApproved {
		return true, req.LiveUntil()
	}
	if req != nil && len(req.Decisions) > 0 {
		return true, req.Decisions[len(req.Decisions)-1].At
	}
	for _, iss := range issued {
		end = maxTime(end, iss.GrantEnd)
	}
	return true, end
}

func (d Deps) withDefaults() Deps {
	if d.Clock == nil {
		d.Clock = elevate.SystemClock
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return d
}

// Sweep rewrites every broker role's policy, which drops the entries whose
// credentials have all expired.
func (d Deps) Sweep(ctx context.Context) error {
	d = d.withDefaults()
	roles, err := d.Store.BrokerRoles(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, role := range roles {
		errs = append(errs, d.applyRole(ctx, role))
	}
	return errors.Join(errs...)
}

// applyRole writes the role's Elevate policy from its entries in the table.
// IAM has no conditional write, so two invocations may race: each re-reads
// the entries after writing and writes again until what it wrote covers
// every entry it reads. The last writer re-reads after every other
// invocation's entry was stored, so nothing stays uncovered.
func (d Deps) applyRole(ctx context.Context, roleARN string) error {
	name, err := roleName(roleARN)
	if err != nil {
		return err
	}
	for range maxApplyRounds {
		entries, cutoff, err := d.active(ctx, roleARN)
		if err != nil {
			return err
		}
		doc := render(entries, cutoff)
		if len(doc.text) > MaxInlinePolicyChars {
			if err := d.fallBack(ctx, roleARN, entries, cutoff); err != nil {
				return err
			}
			continue
		}
		if err := d.write(ctx, name, doc.text); err != nil {
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorCode() == "LimitExceeded" {
				if err := d.fallBack(ctx, roleARN, entries, cutoff); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("access: write the deny on %s: %w", roleARN, err)
		}
		after, afterCutoff, err := d.active(ctx, roleARN)
		if err != nil {
			return err
		}
		if coversAll(doc, after, afterCutoff) {
			return nil
		}
	}
	return fmt.Errorf("access: the deny on %s did not settle after %d rounds", roleARN, maxApplyRounds)
}

func coversAll(doc rendered, entries []app.Revocation, cutoff *app.RevocationCutoff) bool {
	if cutoff != nil && !doc.cutoff.Equal(cutoff.Before) {
		return false
	}
	for _, e := range entries {
		if !doc.covers(e) {
			return false
		}
	}
	return true
}

// active reads the role's entries and cutoff, deleting those whose
// credentials have all expired.
func (d Deps) active(ctx context.Context, roleARN string) ([]app.Revocation, *app.RevocationCutoff, error) {
	entries, cutoff, err := d.Store.Revocations(ctx, roleARN)
	if err != nil {
		return nil, nil, err
	}
	now := d.Clock()
	live := entries[:0]
	for _, e := range entries {
		if now.Before(e.Until) {
			live = append(live, e)
			continue
		}
		if err := d.Store.DeleteExpiredRevocation(ctx, roleARN, e.RequestID, e.Until); err != nil {
			return nil, nil, err
		}
	}
	if cutoff != nil && !now.Before(cutoff.Until) {
		if err := d.Store.DeleteExpiredRevocation(ctx, roleARN, "", cutoff.Until); err != nil {
			return nil, nil, err
		}
		cutoff = nil
	}
	return live, cutoff, nil
}

// fallBack replaces the entries by a deny of every Elevate session of the
// role issued before now: broader (live grants fetch new credentials), still
// safe, and small.
func (d Deps) fallBack(ctx context.Context, roleARN string, entries []app.Revocation, prev *app.RevocationCutoff) error {
	c := app.RevocationCutoff{RoleARN: roleARN, Before: d.Clock()}
	if prev != nil {
		c.Until = prev.Until
	}
	for _, e := range entries {
		c.Until = maxTime(c.Until, e.Until)
	}
	d.Logger.WarnContext(ctx, "access: the deny no longer fits the inline policy; denying every Elevate session issued before now",
		"roleArn", roleARN, "entries", len(entries))
	return d.Store.PutRevocationCutoff(ctx, c)
}

func (d Deps) write(ctx context.Context, roleName, text string) error {
	if text == "" {
		_, err := d.IAM.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(roleName), PolicyName: aws.String(PolicyName)})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchEntity" {
			return nil
		}
		return err
	}
	_, err := d.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(roleName), PolicyName: aws.String(PolicyName), PolicyDocument: aws.String(text)})
	return err
}

// roleName is the last segment of a role ARN (IAM's APIs take the name).
func roleName(roleARN string) (string, error) {
	_, rest, ok := strings.Cut(roleARN, ":role/")
	if !ok || rest == "" {
		return "", fmt.Errorf("access: %q is not a role ARN", roleARN)
	}
	return rest[strings.LastIndex(rest, "/")+1:], nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
