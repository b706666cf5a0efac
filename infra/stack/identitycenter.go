package stack

import (
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// Issue 20 context keys: the IAM Identity Center instance, its identity
// store and the permission sets Elevate may assign. Unset, grants make no
// assignments and no function holds any sso or identitystore permission.
const (
	CtxIdentityCenterInstanceArn    = "elevate:identityCenterInstanceArn"
	CtxIdentityStoreID              = "elevate:identityStoreId"
	CtxIdentityCenterPermissionSets = "elevate:identityCenterPermissionSetArns" // comma-separated
	CtxIdentityCenterUserAttribute  = "elevate:identityCenterUserAttribute"     // userName (default) or emails.value
)

var (
	icInstanceRE      = regexp.MustCompile(`^arn:aws[a-z-]*:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$`)
	icPermissionSetRE = regexp.MustCompile(`^arn:aws[a-z-]*:sso:::permissionSet/(sso)?ins-[a-zA-Z0-9-.]{16}/ps-[a-zA-Z0-9-./]{16}$`)
	icStoreRE         = regexp.MustCompile(`^d-[0-9a-f]{10}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// SweepSchedule is how often the access function's sweep runs: scheduled
// starts, expiries, lapsed session denies, the reconcile.
const SweepSchedule = "rate(1 minute)"

// AccessFailuresMetric counts assignments that failed to provision (the
// access function's log line "assignment failed").
const AccessFailuresMetric = "AssignmentFailures"

// AccessAssignmentActions are what the access function may do, only on the
// named instance and permission sets (and the accounts they name).
var AccessAssignmentActions = []string{
	"sso:CreateAccountAssignment", "sso:DeleteAccountAssignment",
	"sso:DescribeAccountAssignmentCreationStatus", "sso:DescribeAccountAssignmentDeletionStatus",
	"sso:ListAccountAssignments", "sso:DescribePermissionSet",
	"sso:GetInlinePolicyForPermissionSet", "sso:PutInlinePolicyToPermissionSet", "sso:DeleteInlinePolicyFromPermissionSet",
	"sso:ProvisionPermissionSet", "sso:DescribePermissionSetProvisioningStatus",
}

// RequestsUserActions are what the requests function may do to resolve a
// requester to their Identity Store user, only in the named store.
var RequestsUserActions = []string{"identitystore:GetUserId", "identitystore:DescribeUser"}

func (p Props) identityCenterEnabled() bool { return p.IdentityCenterInstanceArn != "" }

func (p Props) validateIdentityCenter(add func(string, ...any)) {
	if !p.identityCenterEnabled() {
		if p.IdentityStoreID != "" || len(p.IdentityCenterPermissionSetArns) > 0 {
			add("%s is required when %s or %s is set", CtxIdentityCenterInstanceArn, CtxIdentityStoreID, CtxIdentityCenterPermissionSets)
		}
		return
	}
	if !icInstanceRE.MatchString(p.IdentityCenterInstanceArn) {
		add("%s %q is not an instance ARN", CtxIdentityCenterInstanceArn, p.IdentityCenterInstanceArn)
	}
	if !icStoreRE.MatchString(p.IdentityStoreID) {
		add("%s %q is not an identity store ID", CtxIdentityStoreID, p.IdentityStoreID)
	}
	if len(p.IdentityCenterPermissionSetArns) == 0 {
		add("%s names no permission set", CtxIdentityCenterPermissionSets)
	}
	for _, ps := range p.IdentityCenterPermissionSetArns {
		if !icPermissionSetRE.MatchString(ps) || !strings.Contains(ps, strings.TrimPrefix(p.IdentityCenterInstanceArn[strings.LastIndex(p.IdentityCenterInstanceArn, "/"):], "/")) {
			add("%s: %q is not a permission set of %s", CtxIdentityCenterPermissionSets, ps, p.IdentityCenterInstanceArn)
		}
	}
	if a := p.IdentityCenterUserAttribute; a != "" && a != "userName" && a != "emails.value" {
		add("%s must be userName or emails.value", CtxIdentityCenterUserAttribute)
	}
}

func readIdentityCenter(r *ctxReader, p *Props) {
	r.str(CtxIdentityCenterInstanceArn, &p.IdentityCenterInstanceArn)
	r.str(CtxIdentityStoreID, &p.IdentityStoreID)
	var sets string
	r.str(CtxIdentityCenterPermissionSets, &sets)
	for _, s := range strings.Split(sets, ",") {
		if s = strings.TrimSpace(s); s != "" {
			p.IdentityCenterPermissionSetArns = append(p.IdentityCenterPermissionSetArns, s)
		}
	}
	r.str(CtxIdentityCenterUserAttribute, &p.IdentityCenterUserAttribute)
}

// newIdentityCenter gives the access function its Identity Center
// permissions, its one-minute sweep and the alarm on failed provisioning,
// and the requests function its Identity Store look-ups.
func newIdentityCenter(scope constructs.Construct, props Props, e *Elevate) {
	access, requests := e.Functions[manifest.Access], e.Functions[manifest.Requests]
	rule := awsevents.NewRule(scope, jsii.String("AccessSweep"), &awsevents.RuleProps{
		Description: jsii.String("Elevate: the access sweep (scheduled starts, expiries, session denies, reconcile)"),
		Schedule:    awsevents.Schedule_Expression(jsii.String(SweepSchedule)),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(access, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(0)}))

	logs, ok := scope.Node().TryFindChild(jsii.String(title(manifest.Access) + "Logs")).(awslogs.LogGroup)
	if ok {
		m := awslogs.NewMetricFilter(scope, jsii.String("AccessFailedFilter"), &awslogs.MetricFilterProps{
			LogGroup:        logs,
			FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$.msg"), jsii.String("="), jsii.String("assignment failed")),
			MetricNamespace: jsii.String("Elevate"),
			MetricName:      jsii.String(AccessFailuresMetric),
			MetricValue:     jsii.String("1"),
		})
		awscloudwatch.NewAlarm(scope, jsii.String("AccessAssignmentFailures"), &awscloudwatch.AlarmProps{
			Metric:             m.Metric(&awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			AlarmDescription:   jsii.String("Elevate: an Identity Center assignment failed to provision after its retries"),
		})
	}
	if !props.identityCenterEnabled() {
		return
	}
	partition := awscdk.Aws_PARTITION()
	arn := func(rest string) *string {
		return awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), partition, jsii.String(rest)})
	}
	resources := []*string{jsii.String(props.IdentityCenterInstanceArn)}
	for _, ps := range props.IdentityCenterPermissionSetArns {
		resources = append(resources, jsii.String(ps))
	}
	// Policies name their accounts at run time; assignments and
	// provisioning also name the account as a resource.
	resources = append(resources, arn(":sso:::account/*"))
	access.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("IdentityCenterAssignments"),
		Actions: jsii.Strings(AccessAssignmentActions...), Resources: &resources}))
	requests.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Sid: jsii.String("IdentityStoreUsers"),
		Actions: jsii.Strings(RequestsUserActions...),
		Resources: &[]*string{
			awscdk.Fn_Join(jsii.String(""), &[]*string{jsii.String("arn:"), partition, jsii.String(":identitystore::"), awscdk.Aws_ACCOUNT_ID(), jsii.String(":identitystore/" + props.IdentityStoreID)}),
			arn(":identitystore:::user/*"),
		}}))
	for _, fn := range []string{manifest.Access, manifest.Requests} {
		f := e.Functions[fn]
		f.AddEnvironment(jsii.String(config.EnvIdentityCenter), jsii.String("true"), nil)
		f.AddEnvironment(jsii.String(config.EnvIdentityStoreID), jsii.String(props.IdentityStoreID), nil)
	}
	if props.IdentityCenterUserAttribute != "" {
		requests.AddEnvironment(jsii.String(config.EnvIdentityCenterUserAttribute), jsii.String(props.IdentityCenterUserAttribute), nil)
	}
}
