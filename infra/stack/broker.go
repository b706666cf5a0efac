package stack

import (
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// A broker role is a role in the customer's account that the credentials
// function assumes for a grant's session, and whose Elevate inline policy
// the access function writes to end sessions. The stack may use a role
// that it is told about (CtxBrokerRoleARNs) or that carries this tag in the
// stack's own account.
const (
	BrokerRoleTagKey   = "elevate-broker"
	BrokerRoleTagValue = "true"
)

// Actions on broker roles, each granted to one function only.
var (
	BrokerAssumeActions = []string{"sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"}
	BrokerPolicyActions = []string{"iam:PutRolePolicy", "iam:DeleteRolePolicy"}
)

var roleARNRE = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/[\x21-\x7E]{1,512}$`)

// brokerGrants gives sid-prefixed statements for actions on the listed
// broker roles and on the stack account's roles tagged as brokers.
func brokerGrants(role awsiam.Role, props Props, sid string, actions []string) {
	if len(props.BrokerRoleARNs) > 0 {
		role.AddToPrincipalPolicy(allow(sid+"Listed", actions, *jsii.Strings(props.BrokerRoleARNs...)...))
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String(sid + "Tagged"),
		Actions: jsii.Strings(actions...),
		Resources: &[]*string{awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("arn:"), awscdk.Aws_PARTITION(), jsii.String(":iam::"), awscdk.Aws_ACCOUNT_ID(), jsii.String(":role/*")})},
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:ResourceTag/" + BrokerRoleTagKey: BrokerRoleTagValue}},
	}))
	suppress(role, "AwsSolutions-IAM5", "Broker roles are the customer's and come and go; the statement holds only for roles of this account tagged "+BrokerRoleTagKey+"="+BrokerRoleTagValue+" (aws:ResourceTag condition)",
		map[string]any{"regex": `/^Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role\/\*$/`})
}

// NewBrokerRole is a broker role whose trust policy lets the credentials
// function's role assume it, tag the session (the revocation deny matches
// the session's elevate-request tag) and set its source identity (the
// requester, which CloudTrail shows for every call). It carries the broker
// tag, so the stack's grants cover it. Its own permissions are the
// customer's to attach: what the task needs, the session policy narrowing
// them per grant.
func NewBrokerRole(scope constructs.Construct, id, name string, credentialsRole awsiam.IRole) awsiam.Role {
	trust := awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("ElevateCredentials"),
			Actions:    jsii.Strings(BrokerAssumeActions...),
			Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(credentialsRole.RoleArn())},
		}),
	}})
	r := awsiam.NewRole(scope, jsii.String(id), &awsiam.RoleProps{
		RoleName:    jsii.String(name),
		AssumedBy:   awsiam.NewArnPrincipal(credentialsRole.RoleArn()),
		Description: jsii.String("Elevate broker role: assumed for a live grant's session, scoped by the policy's session policy"),
		// Role chaining caps the session at one hour whatever this says.
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	// The trust policy is replaced whole, so it holds exactly the statement above.
	cfn := r.Node().DefaultChild().(awsiam.CfnRole)
	cfn.SetAssumeRolePolicyDocument(trust)
	awscdk.Tags_Of(r).Add(jsii.String(BrokerRoleTagKey), jsii.String(BrokerRoleTagValue), nil)
	return r
}
