package awsapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"
)

// The documented shapes and limits of the sso-admin operations served here
// (IAM Identity Center API reference).
var (
	instanceArnPattern      = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$`)
	permissionSetArnPattern = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::permissionSet/(sso)?ins-[a-zA-Z0-9-.]{16}/ps-[a-zA-Z0-9-./]{16}$`)
	accountIDPattern        = regexp.MustCompile(`^\d{12}$`)
	principalIDPattern      = regexp.MustCompile(`^([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$`)
	requestIDPattern        = regexp.MustCompile(`^\b[0-9a-f]{8}\b-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-\b[0-9a-f]{12}\b$`)
)

// MaxInlinePolicyChars is the documented maximum length of a permission
// set's inline policy.
const MaxInlinePolicyChars = 32768

// Status values of an asynchronous sso-admin operation.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusSucceeded  = "SUCCEEDED"
	StatusFailed     = "FAILED"
)

// SSOAdmin is an in-process IAM Identity Center (sso-admin) in the JSON 1.1
// protocol. Assignment and provisioning operations are asynchronous: they
// answer IN_PROGRESS and succeed ProvisioningDelay later; while one runs,
// any other change to the same permission set is refused with
// ConflictException, as AWS does.
type SSOAdmin struct {
	*JSONService

	mu    sync.Mutex
	now   func() time.Time
	delay time.Duration

	instances      map[string]string // instance ARN -> identity store ID
	permissionSets map[string]*permissionSet
	assignments    map[Assignment]bool
	ops            map[string]*operation
	opOrder        []string
	failNext       []string
}

// Assignment is one account assignment as sso-admin keys it.
type Assignment struct {
	InstanceArn, PermissionSetArn, AccountID, PrincipalType, PrincipalID string
}

type permissionSet struct {
	instanceArn, name, sessionDuration string
	created                            time.Time
	inlinePolicy                       string
	// provisioned is the inline policy each account holds, as the last
	// provisioning to that account left it.
	provisioned map[string]string
	deleted     bool
}

type operation struct {
	kind       string // create, delete, provision
	id         string
	ps         string
	assignment Assignment
	accounts   []string
	policy     string
	created    time.Time
	doneAt     time.Time
	status     string
	failure    string
	failWith   string
}

// NewSSOAdmin returns an empty sso-admin whose asynchronous operations take
// delay; now is its clock (time.Now when nil).
func NewSSOAdmin(delay time.Duration, now func() time.Time) *SSOAdmin {
	if now == nil {
		now = time.Now
	}
	a := &SSOAdmin{JSONService: newJSONService("SWBExternalService"), now: now, delay: delay,
		instances: map[string]string{}, permissionSets: map[string]*permissionSet{}, assignments: map[Assignment]bool{}, ops: map[string]*operation{}}
	handle(a.JSONService, "ListInstances", a.listInstances)
	handle(a.JSONService, "ListPermissionSets", a.listPermissionSets)
	handle(a.JSONService, "DescribePermissionSet", a.describePermissionSet)
	handle(a.JSONService, "CreateAccountAssignment", func(in assignmentInput) (any, error) { return a.changeAssignment("create", in) })
	handle(a.JSONService, "DeleteAccountAssignment", func(in assignmentInput) (any, error) { return a.changeAssignment("delete", in) })
	handle(a.JSONService, "DescribeAccountAssignmentCreationStatus", func(in describeAssignmentInput) (any, error) {
		return a.describeAssignmentOp("create", in.InstanceArn, in.AccountAssignmentCreationRequestID)
	})
	handle(a.JSONService, "DescribeAccountAssignmentDeletionStatus", func(in describeAssignmentInput) (any, error) {
		return a.describeAssignmentOp("delete", in.InstanceArn, in.AccountAssignmentDeletionRequestID)
	})
	handle(a.JSONService, "ListAccountAssignments", a.listAccountAssignments)
	handle(a.JSONService, "ListAccountAssignmentsForPrincipal", a.listAccountAssignmentsForPrincipal)
	handle(a.JSONService, "PutInlinePolicyToPermissionSet", a.putInlinePolicy)
	handle(a.JSONService, "GetInlinePolicyForPermissionSet", a.getInlinePolicy)
	handle(a.JSONService, "DeleteInlinePolicyFromPermissionSet", a.deleteInlinePolicy)
	handle(a.JSONService, "ProvisionPermissionSet", a.provisionPermissionSet)
	handle(a.JSONService, "DescribePermissionSetProvisioningStatus", a.describeProvisioning)
	return a
}

// SetDelay changes how long asynchronous operations started from now on take.
func (a *SSOAdmin) SetDelay(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.delay = d
}

// AddInstance registers an Identity Center instance and its identity store.
func (a *SSOAdmin) AddInstance(instanceArn, identityStoreID string) error {
	if !instanceArnPattern.MatchString(instanceArn) {
		return fmt.Errorf("awsapi: %q is not an instance ARN", instanceArn)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.instances[instanceArn] = identityStoreID
	return nil
}

// AddPermissionSet creates a permission set in an instance, as an
// administrator would in the console; sessionDuration is ISO 8601 (PT1H).
func (a *SSOAdmin) AddPermissionSet(instanceArn, arn, name, sessionDuration string) error {
	if !permissionSetArnPattern.MatchString(arn) {
		return fmt.Errorf("awsapi: %q is not a permission set ARN", arn)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.instances[instanceArn]; !ok {
		return fmt.Errorf("awsapi: unknown instance %s", instanceArn)
	}
	a.permissionSets[arn] = &permissionSet{instanceArn: instanceArn, name: name, sessionDuration: sessionDuration, created: a.now(), provisioned: map[string]string{}}
	return nil
}

// DeletePermissionSet removes a permission set, as an administrator could
// while Elevate still names it: operations in flight on it fail.
func (a *SSOAdmin) DeletePermissionSet(arn string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ps := a.permissionSets[arn]; ps != nil {
		ps.deleted = true
	}
}

// Assign makes an assignment at once, as a hand-made one in the console.
func (a *SSOAdmin) Assign(as Assignment) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.assignments[as] = true
	if ps := a.permissionSets[as.PermissionSetArn]; ps != nil {
		if _, ok := ps.provisioned[as.AccountID]; !ok {
			ps.provisioned[as.AccountID] = ps.inlinePolicy
		}
	}
}

// Assignments lists the assignments in effect now.
func (a *SSOAdmin) Assignments() []Assignment {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settle()
	var out []Assignment
	for as := range a.assignments {
		out = append(out, as)
	}
	slices.SortFunc(out, compareAssignments)
	return out
}

// ProvisionedPolicy is the inline policy the permission set's role in
// account holds now: what was last provisioned there.
func (a *SSOAdmin) ProvisionedPolicy(permissionSetArn, account string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settle()
	if ps := a.permissionSets[permissionSetArn]; ps != nil {
		return ps.provisioned[account]
	}
	return ""
}

func compareAssignments(x, y Assignment) int {
	for _, c := range [][2]string{{x.PermissionSetArn, y.PermissionSetArn}, {x.AccountID, y.AccountID}, {x.PrincipalID, y.PrincipalID}} {
		if c[0] != c[1] {
			if c[0] < c[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// settle completes the operations whose time has come. The caller holds mu.
func (a *SSOAdmin) settle() {
	now := a.now()
	for _, id := range a.opOrder {
		op := a.ops[id]
		if op.status != StatusInProgress || now.Before(op.doneAt) {
			continue
		}
		ps := a.permissionSets[op.ps]
		switch {
		case ps == nil || ps.deleted:
			op.status, op.failure = StatusFailed, "The permission set was deleted while the operation ran."
			continue
		case op.failWith != "":
			op.status, op.failure = StatusFailed, op.failWith
			continue
		}
		op.status = StatusSucceeded
		switch op.kind {
		case "create":
			a.assignments[op.assignment] = true
			if _, ok := ps.provisioned[op.assignment.AccountID]; !ok {
				ps.provisioned[op.assignment.AccountID] = op.policy
			}
		case "delete":
			delete(a.assignments, op.assignment)
		case "provision":
			for _, acct := range op.accounts {
				ps.provisioned[acct] = op.policy
			}
		}
	}
}

// FailNextOperation makes the next asynchronous operation started end in
// FAILED with reason, as AWS reports a provisioning that did not complete.
func (a *SSOAdmin) FailNextOperation(reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failNext = append(a.failNext, reason)
}

// begin starts an asynchronous operation on a permission set, refusing it
// while another runs there. The caller holds mu.
func (a *SSOAdmin) begin(op *operation) *operation {
	now := a.now()
	op.id, op.created, op.doneAt, op.status = newRequestID(), now, now.Add(a.delay), StatusInProgress
	if len(a.failNext) > 0 {
		op.failWith, a.failNext = a.failNext[0], a.failNext[1:]
	}
	a.ops[op.id] = op
	a.opOrder = append(a.opOrder, op.id)
	if a.delay <= 0 {
		a.settle()
	}
	return op
}

// changeable is permissionSetOf for a change: refused with
// ConflictException while another operation runs on the permission set.
// The caller holds mu.
func (a *SSOAdmin) changeable(instanceArn, psArn string) (*permissionSet, error) {
	ps, err := a.permissionSetOf(instanceArn, psArn)
	if err == nil && a.busy(psArn) {
		return nil, jsonConflict("Another operation is in progress on this permission set. Retry after it completes.")
	}
	return ps, err
}

func (a *SSOAdmin) busy(psArn string) bool {
	for _, op := range a.ops {
		if op.ps == psArn && op.status == StatusInProgress {
			return true
		}
	}
	return false
}

// permissionSetOf checks an instance and a permission set of it. The caller
// holds mu.
func (a *SSOAdmin) permissionSetOf(instanceArn, psArn string) (*permissionSet, error) {
	if !instanceArnPattern.MatchString(instanceArn) {
		return nil, jsonValidation("1 validation error detected: Value at 'instanceArn' failed to satisfy constraint")
	}
	if !permissionSetArnPattern.MatchString(psArn) {
		return nil, jsonValidation("1 validation error detected: Value at 'permissionSetArn' failed to satisfy constraint")
	}
	if _, ok := a.instances[instanceArn]; !ok {
		return nil, jsonAccessDenied("User is not authorized to perform this action on the instance")
	}
	ps := a.permissionSets[psArn]
	if ps == nil || ps.deleted || ps.instanceArn != instanceArn {
		return nil, jsonNotFound("Could not find PermissionSet with ARN " + psArn)
	}
	return ps, nil
}

type listInstancesInput struct {
	MaxResults *int
	NextToken  *string
}

type instanceMetadata struct {
	InstanceArn     string
	IdentityStoreId string
	Status          string
}

func (a *SSOAdmin) listInstances(in listInstancesInput) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var all []instanceMetadata
	for arn, store := range a.instances {
		all = append(all, instanceMetadata{InstanceArn: arn, IdentityStoreId: store, Status: "ACTIVE"})
	}
	slices.SortFunc(all, func(x, y instanceMetadata) int { return compareStrings(x.InstanceArn, y.InstanceArn) })
	items, next, err := page(all, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Instances": items, "NextToken": next}, nil
}

func compareStrings(x, y string) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

type instanceInput struct {
	InstanceArn      string
	PermissionSetArn string
	MaxResults       *int
	NextToken        *string
}

func (a *SSOAdmin) listPermissionSets(in instanceInput) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.instances[in.InstanceArn]; !ok {
		return nil, jsonAccessDenied("User is not authorized to perform this action on the instance")
	}
	var all []string
	for arn, ps := range a.permissionSets {
		if ps.instanceArn == in.InstanceArn && !ps.deleted {
			all = append(all, arn)
		}
	}
	slices.Sort(all)
	items, next, err := page(all, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	return map[string]any{"PermissionSets": items, "NextToken": next}, nil
}

func (a *SSOAdmin) describePermissionSet(in instanceInput) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ps, err := a.permissionSetOf(in.InstanceArn, in.PermissionSetArn)
	if err != nil {
		return nil, err
	}
	return map[string]any{"PermissionSet": map[string]any{"Name": ps.name, "PermissionSetArn": in.PermissionSetArn,
		"SessionDuration": ps.sessionDuration, "CreatedDate": epoch(ps.created)}}, nil
}

// epoch is the JSON protocols' default timestamp form: seconds since the
// epoch, as a number.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

type assignmentInput struct {
	InstanceArn      string
	PermissionSetArn string
	PrincipalId      string
	PrincipalType    string
	TargetId         string
	TargetType       string
}

func (a *SSOAdmin) changeAssignment(kind string, in assignmentInput) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settle()
	switch {
	case !accountIDPattern.MatchString(in.TargetId):
		return nil, jsonValidation("1 validation error detected: Value at 'targetId' failed to satisfy constraint: Member must satisfy regular expression pattern: \\d{12}")
	case in.TargetType != "AWS_ACCOUNT":
		return nil, jsonValidation("1 validation error detected: Value at 'targetType' failed to satisfy enum value set: [AWS_ACCOUNT]")
	case in.PrincipalType != "USER" && in.PrincipalType != "GROUP":
		return nil, jsonValidation("1 validation error detected: Value at 'principalType' failed to satisfy enum value set: [USER, GROUP]")
	case !principalIDPattern.MatchString(in.PrincipalId):
		return nil, jsonValidation("1 validation error detected: Value at 'principalId' failed to satisfy constraint")
	}
	ps, err := a.changeable(in.InstanceArn, in.PermissionSetArn)
	if err != nil {
		return nil, err
	}
	as := Assignment{InstanceArn: in.InstanceArn, PermissionSetArn: in.PermissionSetArn, AccountID: in.TargetId, PrincipalType: in.PrincipalType, PrincipalID: in.PrincipalId}
	if kind == "delete" && !a.assignments[as] {
		return nil, jsonNotFound("The account assignment does not exist")
	}
	op := a.begin(&operation{kind: kind, ps: in.PermissionSetArn, assignment: as, policy: ps.inlinePolicy})
	name := "AccountAssignmentCreationStatus"
	if kind == "delete" {
		name = "AccountAssignmentDeletionStatus"
	}
	return map[string]any{name: assignmentStatus(op)}, nil
}

func assignmentStatus(op *operation) map[string]any {
	out := map[string]any{"RequestId": op.id, "Status": op.status, "CreatedDate": epoch(op.created),
		"PermissionSetArn": op.ps, "PrincipalId": op.assignment.PrincipalID, "PrincipalType": op.assignment.PrincipalType,
		"TargetId": op.assignment.AccountID, "TargetType": "AWS_ACCOUNT"}
	if op.failure != "" {
		out["FailureReason"] = op.failure
	}
	return out
}

type describeAssignmentInput struct {
	InstanceArn                        string
	AccountAssignmentCreationRequestID string `json:"AccountAssignmentCreationRequestId"`
	AccountAssignmentDeletionRequestID string `json:"AccountAssignmentDeletionRequestId"`
}

func (a *SSOAdmin) describeAssignmentOp(kind, instanceArn, id string) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settle()
	if !requestIDPattern.MatchString(id) {
		return nil, jsonValidation("1 validation error detected: Value at 'accountAssignment" + map[string]string{"create": "Creation", "delete": "Deletion"}[kind] + "RequestId' failed to satisfy constraint")
	}
	op := a.ops[id]
	if op == nil || op.kind != kind || op.assignment.InstanceArn != instanceArn {
		return nil, jsonNotFound("Could not find the request " + id)
	}
	name := "AccountAssignmentCreationStatus"
	if kind == "delete" {
		name = "AccountAssignmentDeletionStatus"
	}
	return map[string]any{name: assignmentStatus(op)}, nil
}

type listAssignmentsInput struct {
	InstanceArn      string
	AccountId        string
	PermissionSetArn string
	MaxResults       *int
	NextToken        *string
}

type accountAssignment struct {
	AccountId        string
	PermissionSetArn string
	PrincipalId      string
	PrincipalType    string
}

func (a *SSOAdmin) listAccountAssignments(in listAssignmentsInput) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settle()
	if !accountIDPattern.MatchString(in.AccountId) {
		return nil, jsonValidation("1 validation error detected: Value at 'accountId' failed to satisfy constraint")
	}
	if _, err := a.permissionSetOf(in.InstanceArn, in.PermissionSetArn); err != nil {
		return nil, err
	}
	return a.listWhere(in.MaxResults, in.NextToken, func(as Assignment) bool {
		return as.InstanceArn == in.InstanceArn && as.PermissionSetArn == in.PermissionSetArn && as.AccountID == in.AccountId
	})
}

type listForPrincipalInput struct {
	InstanceArn   string
	PrincipalId   string
	PrincipalType string
	Filter        *struct{ AccountId string }
	MaxResults    *int
	NextToken     *string
}

func (a *SSOAdmin) listAccountAssignmentsForPrincipal(in listForPrincipalInput) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settle()
	if !principalIDPattern.MatchString(in.PrincipalId) || (in.PrincipalType != "USER" && in.PrincipalType != "GROUP") {
		return nil, jsonValidation("1 validation error detected: Value at 'principalId' failed to satisfy constraint")
	}
	if _, ok := a.instances[in.InstanceArn]; !ok {
		return nil, jsonAccessDenied("User is not authorized to perform this action on the instance")
	}
	return a.listWhere(in.MaxResults, in.NextToken, func(as Assignment) bool {
		return as.InstanceArn == in.InstanceArn && as.PrincipalID == in.PrincipalId && as.PrincipalType == in.PrincipalType &&
			(in.Filter == nil || in.Filter.AccountId == "" || in.Filter.AccountId == as.AccountID)
	})
}

func (a *SSOAdmin) listWhere(maxResults *int, token *string, keep func(Assignment) bool) (any, error) {
	var all []Assignment
	for as := range a.assignments {
		if keep(as) {
			all = append(all, as)
		}
	}
	slices.SortFunc(all, compareAssignments)
	items, next, err := page(all, maxResults, token)
	if err != nil {
		return nil, err
	}
	out := make([]accountAssignment, 0, len(items))
	for _, as := range items {
		out = append(out, accountAssignment{AccountId: as.AccountID, PermissionSetArn: as.PermissionSetArn, PrincipalId: as.PrincipalID, PrincipalType: as.PrincipalType})
	}
	return map[string]any{"AccountAssignments": out, "NextToken": next}, nil
}

type inlinePolicyInput struct {
	InstanceArn      string
	PermissionSetArn string
	InlinePolicy     *string
}

func (a *SSOAdmin) putInlinePolicy(in inlinePolicyInput) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settle()
	if in.InlinePolicy == nil || len(*in.InlinePolicy) < 1 || len(*in.InlinePolicy) > MaxInlinePolicyChars {
		return nil, jsonValidation(fmt.Sprintf("1 validation error detected: Value at 'inlinePolicy' failed to satisfy constraint: Member must have length between 1 and %d", MaxInlinePolicyChars))
	}
	var doc struct {
		Version   string
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(*in.InlinePolicy), &doc); err != nil || doc.Version == "" || len(doc.Statement) == 0 {
		return nil, jsonValidation("The policy is not valid JSON or lacks Version and Statement")
	}
	ps, err := a.changeable(in.InstanceArn, in.PermissionSetArn)
	if err != nil {
		return nil, err
	}
	ps.inlinePolicy = *in.InlinePolicy
	return map[string]any{}, nil
}

func (a *SSOAdmin) deleteInlinePolicy(in inlinePolicyInput) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settle()
	ps, err := a.changeable(in.InstanceArn, in.PermissionSetArn)
	if err != nil {
		return nil, err
	}
	ps.inlinePolicy = ""
	return map[string]any{}, nil
}

func (a *SSOAdmin) getInlinePolicy(in inlinePolicyInput) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ps, err := a.permissionSetOf(in.InstanceArn, in.PermissionSetArn)
	if err != nil {
		return nil, err
	}
	return map[string]any{"InlinePolicy": ps.inlinePolicy}, nil
}

type provisionInput struct {
	InstanceArn      string
	PermissionSetArn string
	TargetId         *string
	TargetType       string
}

func (a *SSOAdmin) provisionPermissionSet(in provisionInput) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settle()
	ps, err := a.changeable(in.InstanceArn, in.PermissionSetArn)
	if err != nil {
		return nil, err
	}
	var accounts []string
	switch in.TargetType {
	case "AWS_ACCOUNT":
		if in.TargetId == nil || !accountIDPattern.MatchString(*in.TargetId) {
			return nil, jsonValidation("TargetId must be a 12-digit account ID when TargetType is AWS_ACCOUNT")
		}
		accounts = []string{*in.TargetId}
	case "ALL_PROVISIONED_ACCOUNTS":
		for acct := range ps.provisioned {
			accounts = append(accounts, acct)
		}
		slices.Sort(accounts)
	default:
		return nil, jsonValidation("1 validation error detected: Value at 'targetType' failed to satisfy enum value set: [AWS_ACCOUNT, ALL_PROVISIONED_ACCOUNTS]")
	}
	op := a.begin(&operation{kind: "provision", ps: in.PermissionSetArn, accounts: accounts, policy: ps.inlinePolicy,
		assignment: Assignment{InstanceArn: in.InstanceArn}})
	return map[string]any{"PermissionSetProvisioningStatus": provisioningStatus(op, in.TargetId)}, nil
}

func provisioningStatus(op *operation, account *string) map[string]any {
	out := map[string]any{"RequestId": op.id, "Status": op.status, "CreatedDate": epoch(op.created), "PermissionSetArn": op.ps}
	if account != nil {
		out["AccountId"] = *account
	}
	if op.failure != "" {
		out["FailureReason"] = op.failure
	}
	return out
}

type describeProvisioningInput struct {
	InstanceArn                     string
	ProvisionPermissionSetRequestID string `json:"ProvisionPermissionSetRequestId"`
}

func (a *SSOAdmin) describeProvisioning(in describeProvisioningInput) (any, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.settle()
	op := a.ops[in.ProvisionPermissionSetRequestID]
	if op == nil || op.kind != "provision" || op.assignment.InstanceArn != in.InstanceArn {
		return nil, jsonNotFound("Could not find the request " + in.ProvisionPermissionSetRequestID)
	}
	var account *string
	if len(op.accounts) == 1 {
		account = &op.accounts[0]
	}
	return map[string]any{"PermissionSetProvisioningStatus": provisioningStatus(op, account)}, nil
}
