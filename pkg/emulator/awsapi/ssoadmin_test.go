package awsapi

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/identitystore/document"
	istypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
)

const (
	testInstance   = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
	testPS         = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"
	testPS2        = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-fedcba9876543210"
	testStore      = "d-0123456789"
	ssoTestAccount = "111122223333"
)

// manualClock is a clock tests move by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// serveJSON serves the services behind the SigV4-verifying server, under
// their signing names, signed with longTermKey.
func serveJSON(t *testing.T, now func() time.Time, services map[string]Handler) string {
	t.Helper()
	srv := NewServer(NewKeys(longTermKey), testRegion, now)
	for name, h := range services {
		srv.Handle(name, ProtocolJSON, h)
	}
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.Endpoint
}

func sdkConfig(endpoint string) aws.Config {
	return aws.Config{Region: testRegion, Credentials: credentials.NewStaticCredentialsProvider(longTermKey.AccessKeyID, longTermKey.SecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1}
}

func newSSOAdminFixture(t *testing.T) (*SSOAdmin, *ssoadmin.Client, *manualClock) {
	t.Helper()
	clock := &manualClock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	a := NewSSOAdmin(5*time.Second, clock.now)
	if err := a.AddInstance(testInstance, testStore); err != nil {
		t.Fatal(err)
	}
	for _, ps := range []string{testPS, testPS2} {
		if err := a.AddPermissionSet(testInstance, ps, "DatabaseAdmin", "PT1H"); err != nil {
			t.Fatal(err)
		}
	}
	return a, ssoadmin.NewFromConfig(sdkConfig(serveJSON(t, nil, map[string]Handler{"sso": a}))), clock
}

const testUser = "0123456789-01234567-89ab-cdef-0123-456789abcdef"

func createInput(ps string) *ssoadmin.CreateAccountAssignmentInput {
	return &ssoadmin.CreateAccountAssignmentInput{InstanceArn: aws.String(testInstance), PermissionSetArn: aws.String(ps),
		PrincipalId: aws.String(testUser), PrincipalType: types.PrincipalTypeUser, TargetId: aws.String(ssoTestAccount), TargetType: types.TargetTypeAwsAccount}
}

func TestSSOAdminAssignmentIsAsynchronousAndConflictsWhileInProgress(t *testing.T) {
	a, c, clock := newSSOAdminFixture(t)
	ctx := context.Background()
	out, err := c.CreateAccountAssignment(ctx, createInput(testPS))
	if err != nil {
		t.Fatal(err)
	}
	st := out.AccountAssignmentCreationStatus
	if st.Status != types.StatusValuesInProgress || aws.ToString(st.RequestId) == "" {
		t.Fatalf("status %+v, want IN_PROGRESS with a request ID", st)
	}
	// Another change to the same permission set is refused while it runs;
	// another permission set is not.
	_, err = c.CreateAccountAssignment(ctx, createInput(testPS))
	var conflict *types.ConflictException
	if !errors.As(err, &conflict) {
		t.Fatalf("second create: %v, want ConflictException", err)
	}
	if _, err := c.CreateAccountAssignment(ctx, createInput(testPS2)); err != nil {
		t.Fatalf("create on another permission set: %v", err)
	}
	if len(a.Assignments()) != 0 {
		t.Fatalf("assignments before provisioning: %v", a.Assignments())
	}

	clock.advance(5 * time.Second)
	desc, err := c.DescribeAccountAssignmentCreationStatus(ctx, &ssoadmin.DescribeAccountAssignmentCreationStatusInput{
		InstanceArn: aws.String(testInstance), AccountAssignmentCreationRequestId: st.RequestId})
	if err != nil {
		t.Fatal(err)
	}
	if desc.AccountAssignmentCreationStatus.Status != types.StatusValuesSucceeded {
		t.Fatalf("after the delay: %s, want SUCCEEDED", desc.AccountAssignmentCreationStatus.Status)
	}
	list, err := c.ListAccountAssignments(ctx, &ssoadmin.ListAccountAssignmentsInput{InstanceArn: aws.String(testInstance),
		PermissionSetArn: aws.String(testPS), AccountId: aws.String(ssoTestAccount)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.AccountAssignments) != 1 || aws.ToString(list.AccountAssignments[0].PrincipalId) != testUser {
		t.Fatalf("assignments %+v, want the user's one", list.AccountAssignments)
	}
	forUser, err := c.ListAccountAssignmentsForPrincipal(ctx, &ssoadmin.ListAccountAssignmentsForPrincipalInput{InstanceArn: aws.String(testInstance),
		PrincipalId: aws.String(testUser), PrincipalType: types.PrincipalTypeUser})
	if err != nil {
		t.Fatal(err)
	}
	if len(forUser.AccountAssignments) != 2 {
		t.Fatalf("assignments for the principal: %d, want 2", len(forUser.AccountAssignments))
	}

	del, err := c.DeleteAccountAssignment(ctx, (*ssoadmin.DeleteAccountAssignmentInput)(createInput(testPS)))
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(5 * time.Second)
	dd, err := c.DescribeAccountAssignmentDeletionStatus(ctx, &ssoadmin.DescribeAccountAssignmentDeletionStatusInput{
		InstanceArn: aws.String(testInstance), AccountAssignmentDeletionRequestId: del.AccountAssignmentDeletionStatus.RequestId})
	if err != nil || dd.AccountAssignmentDeletionStatus.Status != types.StatusValuesSucceeded {
		t.Fatalf("deletion: %v %+v", err, dd)
	}
	if got := a.Assignments(); len(got) != 1 || got[0].PermissionSetArn != testPS2 {
		t.Fatalf("assignments after delete: %v", got)
	}
}

func TestSSOAdminRefusesWhatAWSRefuses(t *testing.T) {
	a, c, _ := newSSOAdminFixture(t)
	ctx := context.Background()
	bad := createInput(testPS)
	bad.TargetId = aws.String("12345")
	var validation *types.ValidationException
	if _, err := c.CreateAccountAssignment(ctx, bad); !errors.As(err, &validation) {
		t.Errorf("short account ID: %v, want ValidationException", err)
	}
	unknown := createInput("arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-aaaaaaaaaaaaaaaa")
	var notFound *types.ResourceNotFoundException
	if _, err := c.CreateAccountAssignment(ctx, unknown); !errors.As(err, &notFound) {
		t.Errorf("unknown permission set: %v, want ResourceNotFoundException", err)
	}
	if _, err := c.DeleteAccountAssignment(ctx, (*ssoadmin.DeleteAccountAssignmentInput)(createInput(testPS))); !errors.As(err, &notFound) {
		t.Errorf("deleting an assignment that does not exist: %v, want ResourceNotFoundException", err)
	}
	huge := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"` + strings.Repeat("x", MaxInlinePolicyChars) + `"}]}`
	if _, err := c.PutInlinePolicyToPermissionSet(ctx, &ssoadmin.PutInlinePolicyToPermissionSetInput{InstanceArn: aws.String(testInstance),
		PermissionSetArn: aws.String(testPS), InlinePolicy: aws.String(huge)}); !errors.As(err, &validation) {
		t.Errorf("oversize inline policy: %v, want ValidationException", err)
	}
	if _, err := c.PutInlinePolicyToPermissionSet(ctx, &ssoadmin.PutInlinePolicyToPermissionSetInput{InstanceArn: aws.String(testInstance),
		PermissionSetArn: aws.String(testPS), InlinePolicy: aws.String("not json")}); !errors.As(err, &validation) {
		t.Errorf("malformed inline policy: %v, want ValidationException", err)
	}
	a.Faults.Throttle(1)
	var throttled *types.ThrottlingException
	if _, err := c.ListPermissionSets(ctx, &ssoadmin.ListPermissionSetsInput{InstanceArn: aws.String(testInstance)}); !errors.As(err, &throttled) {
		t.Errorf("injected throttling: %v, want ThrottlingException", err)
	}
	ps, err := c.ListPermissionSets(ctx, &ssoadmin.ListPermissionSetsInput{InstanceArn: aws.String(testInstance), MaxResults: aws.Int32(1)})
	if err != nil || len(ps.PermissionSets) != 1 || ps.NextToken == nil {
		t.Fatalf("first page: %v %+v", err, ps)
	}
	ps2, err := c.ListPermissionSets(ctx, &ssoadmin.ListPermissionSetsInput{InstanceArn: aws.String(testInstance), NextToken: ps.NextToken})
	if err != nil || len(ps2.PermissionSets) != 1 || ps2.PermissionSets[0] == ps.PermissionSets[0] {
		t.Fatalf("second page: %v %+v", err, ps2)
	}
	d, err := c.DescribePermissionSet(ctx, &ssoadmin.DescribePermissionSetInput{InstanceArn: aws.String(testInstance), PermissionSetArn: aws.String(testPS)})
	if err != nil || aws.ToString(d.PermissionSet.SessionDuration) != "PT1H" || d.PermissionSet.CreatedDate == nil {
		t.Fatalf("describe: %v %+v", err, d)
	}
}

func TestSSOAdminProvisionsTheInlinePolicyAndFailsOnADeletedPermissionSet(t *testing.T) {
	a, c, clock := newSSOAdminFixture(t)
	ctx := context.Background()
	a.Assign(Assignment{InstanceArn: testInstance, PermissionSetArn: testPS, AccountID: ssoTestAccount, PrincipalType: "USER", PrincipalID: testUser})
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`
	if _, err := c.PutInlinePolicyToPermissionSet(ctx, &ssoadmin.PutInlinePolicyToPermissionSetInput{InstanceArn: aws.String(testInstance),
		PermissionSetArn: aws.String(testPS), InlinePolicy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetInlinePolicyForPermissionSet(ctx, &ssoadmin.GetInlinePolicyForPermissionSetInput{InstanceArn: aws.String(testInstance), PermissionSetArn: aws.String(testPS)})
	if err != nil || aws.ToString(got.InlinePolicy) != policy {
		t.Fatalf("get inline policy: %v %+v", err, got)
	}
	if a.ProvisionedPolicy(testPS, ssoTestAccount) != "" {
		t.Fatal("the policy is in the account before provisioning")
	}
	prov, err := c.ProvisionPermissionSet(ctx, &ssoadmin.ProvisionPermissionSetInput{InstanceArn: aws.String(testInstance),
		PermissionSetArn: aws.String(testPS), TargetType: types.ProvisionTargetTypeAllProvisionedAccounts})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutInlinePolicyToPermissionSet(ctx, &ssoadmin.PutInlinePolicyToPermissionSetInput{InstanceArn: aws.String(testInstance),
		PermissionSetArn: aws.String(testPS), InlinePolicy: aws.String(policy)}); !errors.As(err, new(*types.ConflictException)) {
		t.Errorf("put while provisioning: %v, want ConflictException", err)
	}
	clock.advance(5 * time.Second)
	st, err := c.DescribePermissionSetProvisioningStatus(ctx, &ssoadmin.DescribePermissionSetProvisioningStatusInput{
		InstanceArn: aws.String(testInstance), ProvisionPermissionSetRequestId: prov.PermissionSetProvisioningStatus.RequestId})
	if err != nil || st.PermissionSetProvisioningStatus.Status != types.StatusValuesSucceeded {
		t.Fatalf("provisioning: %v %+v", err, st)
	}
	if a.ProvisionedPolicy(testPS, ssoTestAccount) != policy {
		t.Fatalf("provisioned policy %q", a.ProvisionedPolicy(testPS, ssoTestAccount))
	}

	out, err := c.CreateAccountAssignment(ctx, createInput(testPS2))
	if err != nil {
		t.Fatal(err)
	}
	a.DeletePermissionSet(testPS2)
	clock.advance(5 * time.Second)
	a.mu.Lock()
	a.settle()
	op := a.ops[aws.ToString(out.AccountAssignmentCreationStatus.RequestId)]
	a.mu.Unlock()
	if op.status != StatusFailed || op.failure == "" {
		t.Fatalf("operation on a deleted permission set: %s %q, want FAILED with a reason", op.status, op.failure)
	}
}

func TestIdentityStoreResolvesUsersByNameAndEmail(t *testing.T) {
	s := NewIdentityStore()
	id, err := s.AddUser(testStore, "alice", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser(testStore, "bob", "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	c := identitystore.NewFromConfig(sdkConfig(serveJSON(t, nil, map[string]Handler{"identitystore": s})))
	ctx := context.Background()
	for _, attr := range []struct{ path, value string }{{"userName", "alice"}, {"emails.value", "ALICE@example.com"}} {
		out, err := c.GetUserId(ctx, &identitystore.GetUserIdInput{IdentityStoreId: aws.String(testStore),
			AlternateIdentifier: &istypes.AlternateIdentifierMemberUniqueAttribute{Value: istypes.UniqueAttribute{
				AttributePath: aws.String(attr.path), AttributeValue: document.NewLazyDocument(attr.value)}}})
		if err != nil {
			t.Fatalf("%s: %v", attr.path, err)
		}
		if aws.ToString(out.UserId) != id {
			t.Errorf("%s: user %s, want %s", attr.path, aws.ToString(out.UserId), id)
		}
	}
	_, err = c.GetUserId(ctx, &identitystore.GetUserIdInput{IdentityStoreId: aws.String(testStore),
		AlternateIdentifier: &istypes.AlternateIdentifierMemberUniqueAttribute{Value: istypes.UniqueAttribute{
			AttributePath: aws.String("userName"), AttributeValue: document.NewLazyDocument("mallory")}}})
	var notFound *istypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("unknown user: %v, want ResourceNotFoundException", err)
	}
	list, err := c.ListUsers(ctx, &identitystore.ListUsersInput{IdentityStoreId: aws.String(testStore), MaxResults: aws.Int32(1)})
	if err != nil || len(list.Users) != 1 || aws.ToString(list.Users[0].UserName) != "alice" || len(list.Users[0].Emails) != 1 || list.NextToken == nil {
		t.Fatalf("list, first page: %v %+v", err, list)
	}
	var validation *istypes.ValidationException
	if _, err := c.ListUsers(ctx, &identitystore.ListUsersInput{IdentityStoreId: aws.String("nope")}); !errors.As(err, &validation) {
		t.Errorf("bad store ID: %v, want ValidationException", err)
	}
	d, err := c.DescribeUser(ctx, &identitystore.DescribeUserInput{IdentityStoreId: aws.String(testStore), UserId: aws.String(id)})
	if err != nil || aws.ToString(d.UserName) != "alice" {
		t.Fatalf("describe: %v %+v", err, d)
	}
}

// sso-admin and Identity Store are reached only with a valid signature.
func TestIdentityCenterRefusesABadSignature(t *testing.T) {
	a, _, _ := newSSOAdminFixture(t)
	cfg := sdkConfig(serveJSON(t, nil, map[string]Handler{"sso": a}))
	cfg.Credentials = credentials.NewStaticCredentialsProvider(longTermKey.AccessKeyID, "not-the-secret", "")
	_, err := ssoadmin.NewFromConfig(cfg).ListPermissionSets(context.Background(), &ssoadmin.ListPermissionSetsInput{InstanceArn: aws.String(testInstance)})
	var api interface{ ErrorCode() string }
	if !errors.As(err, &api) || api.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("bad signature: %v, want SignatureDoesNotMatch", err)
	}
}
