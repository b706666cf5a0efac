// Package identitycenter applies Role and RoleGroup grants through IAM
// Identity Center: it makes a grant's account assignments when the grant
// starts, removes them when it ends unless another live grant of the same
// user needs them, ends the role sessions the user opened meanwhile, and
// reconciles what Identity Center holds with what Elevate granted.
//
// It runs in the access stream consumer (request changes) and its periodic
// sweep (scheduled starts, expiries, lapsed session denies, the reconcile).
package identitycenter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Records is the table as the applier uses it (pkg/dynamo.Store).
type Records interface {
	GetRequest(ctx context.Context, id string) (elevate.Request, error)
	RequestsByID(ctx context.Context, ids []string) ([]elevate.Request, error)
	ListPolicies(ctx context.Context) ([]elevate.Policy, error)
	GetAssignmentRecord(ctx context.Context, userID string, a elevate.Assignment) (elevate.AssignmentRecord, bool, error)
	SaveAssignmentRecord(ctx context.Context, prevVersion int, next elevate.AssignmentRecord) error
	ListAssignmentRecords(ctx context.Context) ([]elevate.AssignmentRecord, error)
	SaveProvisioning(ctx context.Context, requestID string, st elevate.AssignmentStatus) error
	ScheduleStart(ctx context.Context, requestID string, at time.Time) error
	DueStarts(ctx context.Context, now time.Time) ([]elevate.ScheduledStart, error)
	DeleteStart(ctx context.Context, st elevate.ScheduledStart) error
}

// Provisioner is IAM Identity Center as the applier uses it (AWS, below).
// Create and Delete return once the change has provisioned, retrying
// ConflictException and throttling with backoff; an error is final.
type Provisioner interface {
	CreateAssignment(ctx context.Context, a elevate.Assignment, userID string) error
	DeleteAssignment(ctx context.Context, a elevate.Assignment, userID string) error
	SessionDuration(ctx context.Context, a elevate.Assignment) (time.Duration, error)
	DenySessions(ctx context.Context, a elevate.Assignment, deny elevate.SessionDeny) error
	PruneSessionDenies(ctx context.Context, instanceArn, permissionSetArn string, now time.Time) error
	ListUserAssignments(ctx context.Context, a elevate.Assignment) ([]string, error)
}

// Applier applies grants to Identity Center.
type Applier struct {
	Records Records
	AWS     Provisioner
	Clock   elevate.Clock
	Log     *slog.Logger
}

// ErrDeleteUnderWay is a transient refusal: the assignment is being
// deleted for a grant that ended; the start is retried after it.
var ErrDeleteUnderWay = errors.New("identitycenter: a delete of the assignment is under way")

// maxRecordAttempts bounds re-reads after a lost conditional write.
const maxRecordAttempts = 10

func (ap *Applier) now() time.Time { return ap.Clock() }

// StartGrant makes the assignments of a grant that is live now. A grant
// not yet started is scheduled for the sweep; one already over is left.
func (ap *Applier) StartGrant(ctx context.Context, r elevate.Request) error {
	if r.IdentityCenter == nil {
		return nil
	}
	now := ap.now()
	if !r.IsActive(now) {
		if r.Granted(now) && r.Extends == "" && r.GrantStartsAt != nil && now.Before(*r.GrantStartsAt) {
			return ap.Records.ScheduleStart(ctx, r.ID, *r.GrantStartsAt)
		}
		return nil
	}
	var errs []error
	for _, a := range r.IdentityCenter.Assignments {
		errs = append(errs, ap.hold(ctx, r, a))
	}
	return errors.Join(errs...)
}

// mutate reads an assignment record, lets change decide the next one (nil:
// nothing to write) and writes it conditioned on the version read, again on
// a lost race.
func (ap *Applier) mutate(ctx context.Context, userID string, a elevate.Assignment,
	change func(rec elevate.AssignmentRecord, found bool) (*elevate.AssignmentRecord, error)) (elevate.AssignmentRecord, bool, error) {
	for range maxRecordAttempts {
		rec, found, err := ap.Records.GetAssignmentRecord(ctx, userID, a)
		if err != nil {
			return rec, false, err
		}
		next, err := change(rec, found)
		if err != nil || next == nil {
			return rec, false, err
		}
		next.At = ap.now()
		err = ap.Records.SaveAssignmentRecord(ctx, rec.Version, *next)
		if errors.Is(err, elevate.ErrConcurrentUpdate) {
			continue
		}
		if err != nil {
			return rec, false, err
		}
		next.Version = rec.Version + 1
		return *next, true, nil
	}
	return elevate.AssignmentRecord{}, false, elevate.ErrConcurrentUpdate
}

func recordFor(r elevate.Request, a elevate.Assignment, rec elevate.AssignmentRecord, found bool) elevate.AssignmentRecord {
	next := rec
	if !found {
		next = elevate.AssignmentRecord{Assignment: a, State: elevate.AssignmentAbsent}
	}
	next.UserID, next.UserName, next.Principal = r.IdentityCenter.UserID, r.IdentityCenter.UserName, r.Requester
	next.Holders = slices.Clone(rec.Holders)
	next.Action, next.Reason, next.KeptFor, next.RequestID = "", "", nil, r.ID
	return next
}

// hold makes one assignment for a live grant: it joins the record's
// holders, and creates the assignment unless it is already in place.
func (ap *Applier) hold(ctx context.Context, r elevate.Request, a elevate.Assignment) error {
	userID := r.IdentityCenter.UserID
	var create bool
	_, _, err := ap.mutate(ctx, userID, a, func(rec elevate.AssignmentRecord, found bool) (*elevate.AssignmentRecord, error) {
		create = false
		if slices.Contains(rec.Holders, r.ID) && rec.State == elevate.AssignmentPresent {
			return nil, nil // a retried event: already done
		}
		if rec.State == elevate.AssignmentDeleting && ap.now().Before(rec.LeaseUntil) {
			return nil, ErrDeleteUnderWay
		}
		next := recordFor(r, a, rec, found)
		if !slices.Contains(next.Holders, r.ID) {
			next.Holders = append(next.Holders, r.ID)
		}
		if rec.State == elevate.AssignmentPresent {
			// Another live grant of the user has it: this grant shares it.
			next.Action, next.KeptFor = elevate.ActionAssignmentCreated, others(rec.Holders, r.ID)
			return &next, nil
		}
		next.State, next.LeaseUntil, create = elevate.AssignmentAbsent, time.Time{}, true
		return &next, nil
	})
	if err != nil {
		return err
	}
	if !create {
		return ap.Records.SaveProvisioning(ctx, r.ID, elevate.AssignmentStatus{Assignment: a, Status: elevate.ProvisioningDone})
	}
	if cerr := ap.AWS.CreateAssignment(ctx, a, userID); cerr != nil {
		return ap.failed(ctx, r, a, cerr)
	}
	if _, _, err := ap.mutate(ctx, userID, a, func(rec elevate.AssignmentRecord, found bool) (*elevate.AssignmentRecord, error) {
		if rec.State == elevate.AssignmentPresent && rec.Action == elevate.ActionAssignmentCreated {
			return nil, nil
		}
		next := recordFor(r, a, rec, found)
		next.State, next.Action = elevate.AssignmentPresent, elevate.ActionAssignmentCreated
		if !slices.Contains(next.Holders, r.ID) {
			next.Holders = append(next.Holders, r.ID)
		}
		return &next, nil
	}); err != nil {
		return err
	}
	ap.Log.InfoContext(ctx, "assignment created", "requestId", r.ID, "permissionSetArn", a.PermissionSetArn, "accountId", a.AccountID)
	return ap.Records.SaveProvisioning(ctx, r.ID, elevate.AssignmentStatus{Assignment: a, Status: elevate.ProvisioningDone})
}

// failed records a creation that did not provision after every retry: the
// grant no longer holds the assignment, the request shows why, and the
// record's assignment.failed is audited and emailed.
func (ap *Applier) failed(ctx context.Context, r elevate.Request, a elevate.Assignment, cause error) error {
	reason := Reason(cause)
	ap.Log.WarnContext(ctx, "assignment failed", "requestId", r.ID, "permissionSetArn", a.PermissionSetArn, "accountId", a.AccountID, "reason", reason)
	if _, _, err := ap.mutate(ctx, r.IdentityCenter.UserID, a, func(rec elevate.AssignmentRecord, found bool) (*elevate.AssignmentRecord, error) {
		next := recordFor(r, a, rec, found)
		next.Holders = others(rec.Holders, r.ID)
		next.Action, next.Reason = elevate.ActionAssignmentFailed, reason
		return &next, nil
	}); err != nil {
		return err
	}
	return ap.Records.SaveProvisioning(ctx, r.ID, elevate.AssignmentStatus{Assignment: a, Status: elevate.ProvisioningFailed, Reason: reason})
}

func others(holders []string, id string) []string {
	return slices.DeleteFunc(slices.Clone(holders), func(h string) bool { return h == id })
}

// EndGrant releases the assignments of a grant that has ended.
func (ap *Applier) EndGrant(ctx context.Context, r elevate.Request) error {
	if r.IdentityCenter == nil {
		return nil
	}
	var errs []error
	for _, a := range r.IdentityCenter.Assignments {
		errs = append(errs, ap.release(ctx, r, a))
	}
	return errors.Join(errs...)
}

// release drops an ended grant from an assignment's holders. It deletes the
// assignment only when no other live grant of the user needs it, and then
// denies the sessions opened under it. The record's version serialises this
// against grants starting: the delete is claimed (state deleting, with a
// lease) in the same conditional write that found no other holder, and a
// grant starting meanwhile waits for it.
func (ap *Applier) release(ctx context.Context, r elevate.Request, a elevate.Assignment) error {
	userID := r.IdentityCenter.UserID
	var del bool
	_, _, err := ap.mutate(ctx, userID, a, func(rec elevate.AssignmentRecord, found bool) (*elevate.AssignmentRecord, error) {
		del = false
		if rec.State == elevate.AssignmentDeleting && rec.RequestID == r.ID {
			del = true // a retried event resumes its own delete
			return nil, nil
		}
		if !found || !slices.Contains(rec.Holders, r.ID) {
			return nil, nil
		}
		holders, err := ap.Records.RequestsByID(ctx, rec.Holders)
		if err != nil {
			return nil, err
		}
		next := recordFor(r, a, rec, found)
		if needed := elevate.StillNeededBy(r.Requester, r.ID, holders, ap.now()); len(needed) > 0 {
			next.Holders, next.Action, next.KeptFor = needed, elevate.ActionAssignmentKept, needed
			return &next, nil
		}
		next.Holders, next.State, next.LeaseUntil, del = []string{}, elevate.AssignmentDeleting, ap.now().Add(deleteLease), true
		return &next, nil
	})
	if err != nil || !del {
		return err
	}
	return ap.deleteAndDeny(ctx, r.ID, userID, a)
}

// deleteLease bounds a claimed delete; a deleter that dies leaves the
// record to the next event after it.
const deleteLease = 5 * time.Minute

func (ap *Applier) deleteAndDeny(ctx context.Context, requestID, userID string, a elevate.Assignment) error {
	rec, found, err := ap.Records.GetAssignmentRecord(ctx, userID, a)
	if err != nil || !found {
		return err
	}
	if err := ap.AWS.DeleteAssignment(ctx, a, userID); err != nil {
		return fmt.Errorf("identitycenter: delete assignment: %w", err)
	}
	issued := ap.now()
	d, err := ap.AWS.SessionDuration(ctx, a)
	if err != nil {
		return err
	}
	if err := ap.AWS.DenySessions(ctx, a, elevate.SessionDeny{UserName: rec.UserName, IssuedBefore: issued, Until: issued.Add(d)}); err != nil {
		return fmt.Errorf("identitycenter: deny sessions: %w", err)
	}
	_, _, err = ap.mutate(ctx, userID, a, func(rec elevate.AssignmentRecord, _ bool) (*elevate.AssignmentRecord, error) {
		if rec.State != elevate.AssignmentDeleting || rec.RequestID != requestID {
			return nil, nil
		}
		next := rec
		next.State, next.LeaseUntil, next.Action, next.Reason, next.KeptFor = elevate.AssignmentAbsent, time.Time{}, elevate.ActionAssignmentDeleted, "", nil
		return &next, nil
	})
	if err == nil {
		ap.Log.InfoContext(ctx, "assignment deleted, sessions denied", "requestId", requestID, "permissionSetArn", a.PermissionSetArn, "accountId", a.AccountID)
	}
	return err
}

// Reason is a failure as the request and the record show it: the AWS
// error's own message, never a credential.
func Reason(err error) string {
	var r interface{ ErrorMessage() string }
	var c interface{ ErrorCode() string }
	if errors.As(err, &c) && errors.As(err, &r) {
		return c.ErrorCode() + ": " + r.ErrorMessage()
	}
	return err.Error()
}
