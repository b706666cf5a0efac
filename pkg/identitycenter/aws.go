package identitycenter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/identitystore/document"
	istypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
	"github.com/aws/smithy-go"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// MaxInlinePolicyChars is IAM Identity Center's documented limit on a
// permission set's inline policy.
const MaxInlinePolicyChars = 32768

// AWS is the Provisioner and Directory over the real sso-admin and Identity
// Store clients.
type AWS struct {
	Admin *ssoadmin.Client
	Users *identitystore.Client
	// UserAttribute is how a principal is looked up: "userName" (default) or
	// "emails.value".
	UserAttribute string
	// IdentityStoreID, when set, is the instance's identity store, so no
	// sso:ListInstances call (granted only on "*") is needed.
	IdentityStoreID string
	// Poll is the interval between provisioning status reads (default 1 s);
	// Backoff the first wait after ConflictException or throttling, doubled
	// each time up to 10 s (default 500 ms); Deadline bounds one change,
	// retries and provisioning included (default 40 s, inside the stream
	// function's timeout).
	Poll, Backoff, Deadline time.Duration
	Clock                   elevate.Clock

	mu     sync.Mutex
	stores map[string]string // instance ARN -> identity store ID
}

var (
	_ Provisioner = (*AWS)(nil)
	_ Directory   = (*AWS)(nil)
)

// Directory resolves principals to Identity Store users.
type Directory interface {
	ResolveUser(ctx context.Context, instanceArn, principal string) (elevate.IdentityUser, error)
}

func (w *AWS) settings() (poll, backoff, deadline time.Duration) {
	poll, backoff, deadline = w.Poll, w.Backoff, w.Deadline
	if poll <= 0 {
		poll = time.Second
	}
	if backoff <= 0 {
		backoff = 500 * time.Millisecond
	}
	if deadline <= 0 {
		deadline = 40 * time.Second
	}
	return
}

// retryable: AWS asks the caller to come back later.
func retryable(err error) bool {
	var conflict *types.ConflictException
	var throttled *types.ThrottlingException
	var internal *types.InternalServerException
	return errors.As(err, &conflict) || errors.As(err, &throttled) || errors.As(err, &internal)
}

// call runs fn until it succeeds, fails for good, or the deadline passes,
// backing off (with jitter) on ConflictException and throttling.
func (w *AWS) call(ctx context.Context, fn func(context.Context) error) error {
	_, backoff, deadline := w.settings()
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	for {
		err := fn(ctx)
		if err == nil || !retryable(err) {
			return err
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// await polls an asynchronous operation's status until it leaves
// IN_PROGRESS.
func (w *AWS) await(ctx context.Context, describe func(context.Context) (types.StatusValues, string, error)) error {
	poll, _, deadline := w.settings()
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	for {
		var status types.StatusValues
		var reason string
		err := w.call(ctx, func(ctx context.Context) (err error) {
			status, reason, err = describe(ctx)
			return err
		})
		switch {
		case err != nil:
			return err
		case status == types.StatusValuesSucceeded:
			return nil
		case status == types.StatusValuesFailed:
			return fmt.Errorf("provisioning failed: %s", reason)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("provisioning still in progress after %s", deadline)
		case <-time.After(poll):
		}
	}
}

// CreateAssignment assigns the permission set on the account to the user
// and waits for it to provision.
func (w *AWS) CreateAssignment(ctx context.Context, a elevate.Assignment, userID string) error {
	var id *string
	if err := w.call(ctx, func(ctx context.Context) error {
		out, err := w.Admin.CreateAccountAssignment(ctx, &ssoadmin.CreateAccountAssignmentInput{InstanceArn: aws.String(a.InstanceArn),
			PermissionSetArn: aws.String(a.PermissionSetArn), PrincipalId: aws.String(userID), PrincipalType: types.PrincipalTypeUser,
			TargetId: aws.String(a.AccountID), TargetType: types.TargetTypeAwsAccount})
		if err == nil {
			id = out.AccountAssignmentCreationStatus.RequestId
		}
		return err
	}); err != nil {
		return err
	}
	return w.await(ctx, func(ctx context.Context) (types.StatusValues, string, error) {
		out, err := w.Admin.DescribeAccountAssignmentCreationStatus(ctx, &ssoadmin.DescribeAccountAssignmentCreationStatusInput{
			InstanceArn: aws.String(a.InstanceArn), AccountAssignmentCreationRequestId: id})
		if err != nil {
			return "", "", err
		}
		return out.AccountAssignmentCreationStatus.Status, aws.ToString(out.AccountAssignmentCreationStatus.FailureReason), nil
	})
}

// DeleteAssignment removes the user's assignment and waits for it; one
// already gone is not an error.
func (w *AWS) DeleteAssignment(ctx context.Context, a elevate.Assignment, userID string) error {
	var id *string
	err := w.call(ctx, func(ctx context.Context) error {
		out, err := w.Admin.DeleteAccountAssignment(ctx, &ssoadmin.DeleteAccountAssignmentInput{InstanceArn: aws.String(a.InstanceArn),
			PermissionSetArn: aws.String(a.PermissionSetArn), PrincipalId: aws.String(userID), PrincipalType: types.PrincipalTypeUser,
			TargetId: aws.String(a.AccountID), TargetType: types.TargetTypeAwsAccount})
		if err == nil {
			id = out.AccountAssignmentDeletionStatus.RequestId
		}
		return err
	})
	var gone *types.ResourceNotFoundException
	if errors.As(err, &gone) {
		return nil
	}
	if err != nil {
		return err
	}
	return w.await(ctx, func(ctx context.Context) (types.StatusValues, string, error) {
		out, err := w.Admin.DescribeAccountAssignmentDeletionStatus(ctx, &ssoadmin.DescribeAccountAssignmentDeletionStatusInput{
			InstanceArn: aws.String(a.InstanceArn), AccountAssignmentDeletionRequestId: id})
		if err != nil {
			return "", "", err
		}
		return out.AccountAssignmentDeletionStatus.Status, aws.ToString(out.AccountAssignmentDeletionStatus.FailureReason), nil
	})
}

var isoDuration = regexp.MustCompile(`^PT(?:(\d+)H)?(?:(\d+)M)?$`)

// SessionDuration is how long a role session of the permission set lasts
// (ISO 8601, PT1H by default in AWS).
func (w *AWS) SessionDuration(ctx context.Context, a elevate.Assignment) (time.Duration, error) {
	var out *ssoadmin.DescribePermissionSetOutput
	if err := w.call(ctx, func(ctx context.Context) (err error) {
		out, err = w.Admin.DescribePermissionSet(ctx, &ssoadmin.DescribePermissionSetInput{InstanceArn: aws.String(a.InstanceArn), PermissionSetArn: aws.String(a.PermissionSetArn)})
		return err
	}); err != nil {
		return 0, err
	}
	m := isoDuration.FindStringSubmatch(aws.ToString(out.PermissionSet.SessionDuration))
	if m == nil || (m[1] == "" && m[2] == "") {
		return time.Hour, nil
	}
	h, _ := strconv.Atoi("0" + m[1])
	mins, _ := strconv.Atoi("0" + m[2])
	return time.Duration(h)*time.Hour + time.Duration(mins)*time.Minute, nil
}

// DenySessions adds the deny to the permission set's inline policy and
// provisions it to the assignment's account, so the user's sessions issued
// before the deny's moment fail from then on.
func (w *AWS) DenySessions(ctx context.Context, a elevate.Assignment, deny elevate.SessionDeny) error {
	return w.rewritePolicy(ctx, a.InstanceArn, a.PermissionSetArn, []elevate.SessionDeny{deny}, &a.AccountID)
}

// PruneSessionDenies drops the denies whose sessions have all expired, and
// provisions the result to every account the permission set is in.
func (w *AWS) PruneSessionDenies(ctx context.Context, instanceArn, psArn string, now time.Time) error {
	policy, err := w.inlinePolicy(ctx, instanceArn, psArn)
	if err != nil {
		return err
	}
	if at, ok := elevate.SessionDenyLapses(policy); !ok || now.Before(at) {
		return nil
	}
	return w.rewritePolicy(ctx, instanceArn, psArn, nil, nil)
}

func (w *AWS) inlinePolicy(ctx context.Context, instanceArn, psArn string) (string, error) {
	var out *ssoadmin.GetInlinePolicyForPermissionSetOutput
	err := w.call(ctx, func(ctx context.Context) (err error) {
		out, err = w.Admin.GetInlinePolicyForPermissionSet(ctx, &ssoadmin.GetInlinePolicyForPermissionSetInput{InstanceArn: aws.String(instanceArn), PermissionSetArn: aws.String(psArn)})
		return err
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.InlinePolicy), nil
}

// rewritePolicy reads, rewrites and puts the inline policy, then provisions
// it to account (all provisioned accounts when nil). Put and provision are
// retried on ConflictException like every change.
func (w *AWS) rewritePolicy(ctx context.Context, instanceArn, psArn string, add []elevate.SessionDeny, account *string) error {
	policy, err := w.inlinePolicy(ctx, instanceArn, psArn)
	if err != nil {
		return err
	}
	next, err := elevate.WithSessionDenies(policy, add, w.now(), MaxInlinePolicyChars)
	if err != nil {
		return err
	}
	if next == policy {
		return nil
	}
	if err := w.call(ctx, func(ctx context.Context) error {
		if next == "" {
			_, err := w.Admin.DeleteInlinePolicyFromPermissionSet(ctx, &ssoadmin.DeleteInlinePolicyFromPermissionSetInput{InstanceArn: aws.String(instanceArn), PermissionSetArn: aws.String(psArn)})
			return err
		}
		_, err := w.Admin.PutInlinePolicyToPermissionSet(ctx, &ssoadmin.PutInlinePolicyToPermissionSetInput{InstanceArn: aws.String(instanceArn),
			PermissionSetArn: aws.String(psArn), InlinePolicy: aws.String(next)})
		return err
	}); err != nil {
		return err
	}
	in := &ssoadmin.ProvisionPermissionSetInput{InstanceArn: aws.String(instanceArn), PermissionSetArn: aws.String(psArn), TargetType: types.ProvisionTargetTypeAllProvisionedAccounts}
	if account != nil {
		in.TargetType, in.TargetId = types.ProvisionTargetTypeAwsAccount, account
	}
	var id *string
	if err := w.call(ctx, func(ctx context.Context) error {
		out, err := w.Admin.ProvisionPermissionSet(ctx, in)
		if err == nil {
			id = out.PermissionSetProvisioningStatus.RequestId
		}
		return err
	}); err != nil {
		return err
	}
	return w.await(ctx, func(ctx context.Context) (types.StatusValues, string, error) {
		out, err := w.Admin.DescribePermissionSetProvisioningStatus(ctx, &ssoadmin.DescribePermissionSetProvisioningStatusInput{
			InstanceArn: aws.String(instanceArn), ProvisionPermissionSetRequestId: id})
		if err != nil {
			return "", "", err
		}
		return out.PermissionSetProvisioningStatus.Status, aws.ToString(out.PermissionSetProvisioningStatus.FailureReason), nil
	})
}

func (w *AWS) now() time.Time {
	if w.Clock == nil {
		return time.Now()
	}
	return w.Clock()
}

// ListUserAssignments lists the users holding the assignment.
func (w *AWS) ListUserAssignments(ctx context.Context, a elevate.Assignment) ([]string, error) {
	var users []string
	in := &ssoadmin.ListAccountAssignmentsInput{InstanceArn: aws.String(a.InstanceArn), PermissionSetArn: aws.String(a.PermissionSetArn), AccountId: aws.String(a.AccountID)}
	for {
		var out *ssoadmin.ListAccountAssignmentsOutput
		if err := w.call(ctx, func(ctx context.Context) (err error) {
			out, err = w.Admin.ListAccountAssignments(ctx, in)
			return err
		}); err != nil {
			return nil, err
		}
		for _, as := range out.AccountAssignments {
			if as.PrincipalType == types.PrincipalTypeUser {
				users = append(users, aws.ToString(as.PrincipalId))
			}
		}
		if out.NextToken == nil {
			return users, nil
		}
		in.NextToken = out.NextToken
	}
}

// ResolveUser finds the principal's Identity Store user in the instance's
// store: by user name, or the configured attribute. No such user is
// ErrNoIdentityCenterUser; anything else AWS answers is unavailability.
func (w *AWS) ResolveUser(ctx context.Context, instanceArn, principal string) (elevate.IdentityUser, error) {
	store, err := w.identityStore(ctx, instanceArn)
	if err != nil {
		return elevate.IdentityUser{}, err
	}
	attr := w.UserAttribute
	if attr == "" {
		attr = "userName"
	}
	id, err := w.Users.GetUserId(ctx, &identitystore.GetUserIdInput{IdentityStoreId: aws.String(store),
		AlternateIdentifier: &istypes.AlternateIdentifierMemberUniqueAttribute{Value: istypes.UniqueAttribute{
			AttributePath: aws.String(attr), AttributeValue: document.NewLazyDocument(principal)}}})
	var missing *istypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		return elevate.IdentityUser{}, elevate.ErrNoIdentityCenterUser
	}
	if err != nil {
		return elevate.IdentityUser{}, unavailable("identity store: get user ID", err)
	}
	u, err := w.Users.DescribeUser(ctx, &identitystore.DescribeUserInput{IdentityStoreId: aws.String(store), UserId: id.UserId})
	if err != nil {
		return elevate.IdentityUser{}, unavailable("identity store: describe user", err)
	}
	return elevate.IdentityUser{ID: aws.ToString(u.UserId), UserName: aws.ToString(u.UserName)}, nil
}

func (w *AWS) identityStore(ctx context.Context, instanceArn string) (string, error) {
	if w.IdentityStoreID != "" {
		return w.IdentityStoreID, nil
	}
	w.mu.Lock()
	store, ok := w.stores[instanceArn]
	w.mu.Unlock()
	if ok {
		return store, nil
	}
	p := ssoadmin.NewListInstancesPaginator(w.Admin, &ssoadmin.ListInstancesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return "", unavailable("sso-admin: list instances", err)
		}
		for _, in := range out.Instances {
			if aws.ToString(in.InstanceArn) == instanceArn {
				w.mu.Lock()
				if w.stores == nil {
					w.stores = map[string]string{}
				}
				w.stores[instanceArn] = aws.ToString(in.IdentityStoreId)
				w.mu.Unlock()
				return aws.ToString(in.IdentityStoreId), nil
			}
		}
	}
	return "", elevate.Unprocessable("unknown-instance", "the policy's Identity Center instance is not visible to Elevate")
}

func unavailable(op string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		return fmt.Errorf("identitycenter: %s: %w", op, errors.Join(elevate.ErrUnavailable, errors.New(api.ErrorCode())))
	}
	return fmt.Errorf("identitycenter: %s: %w", op, errors.Join(elevate.ErrUnavailable, err))
}

// APIPort is what the API functions need (app.IdentityCenterPort): users
// from the Identity Store, provisioning statuses from the table.
type APIPort struct {
	Directory
	Provisioning interface {
		GetProvisioning(ctx context.Context, requestID string) ([]elevate.AssignmentStatus, error)
	}
}

// GetProvisioning reads a request's recorded provisioning statuses.
func (p APIPort) GetProvisioning(ctx context.Context, requestID string) ([]elevate.AssignmentStatus, error) {
	return p.Provisioning.GetProvisioning(ctx, requestID)
}
