package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsses"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Elevate is the synthesized stack and the resources tests and callers may
// want to reach.
type Elevate struct {
	Stack     awscdk.Stack
	Table     awsdynamodb.Table
	Functions map[string]awslambda.Function
	Audit     awss3.Bucket
	Results   awss3.Bucket
	LinkKey   awssecretsmanager.Secret
	PageKey   awssecretsmanager.Secret
	Identity  awsses.EmailIdentity
	EmailSet  awsses.ConfigurationSet
	Failures  map[string]awssqs.Queue
	Logs      map[string]awslogs.LogGroup
}

// featureFlags are the CDK behaviours the stack depends on.
var featureFlags = map[string]any{
	// Server access logs are delivered through a bucket policy; the legacy
	// ACL cannot coexist with BucketOwnerEnforced ownership.
	"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
}

// New declares the whole deployment in scope. props must be valid.
func New(scope constructs.Construct, props Props) *Elevate {
	st := awscdk.NewStack(scope, jsii.String(props.StackName), &awscdk.StackProps{
		Description: jsii.String("Elevate: just-in-time privileged access (API, functions, table, audit trail)"),
	})
	// Set on the stack, not only in cdk.json, so tests and `go run ./infra`
	// synthesize the same template as the CLI. They must precede children.
	for flag, v := range featureFlags {
		st.Node().SetContext(jsii.String(flag), v)
	}
	e := &Elevate{Stack: st, Functions: map[string]awslambda.Function{}, Failures: map[string]awssqs.Queue{}, Logs: map[string]awslogs.LogGroup{}}
	e.Table = newTable(st)
	e.Audit, e.Results = newAuditBuckets(st, props)
	e.LinkKey = newLinkKey(st)
	e.PageKey = newPageKey(st)
	e.Identity, e.EmailSet = newEmailIdentity(st, props)
	api := newHTTPAPI(st, props)
	publicURL := api.Endpoint
	if props.PublicURL != "" {
		publicURL = jsii.String(props.PublicURL)
	}
	for _, name := range functionNames() {
		e.Functions[name], e.Logs[name] = newFunction(st, e, props, name, publicURL)
	}
	api.addRoutes(st, e.Functions)
	newKeyRotation(st, e)
	for _, name := range []string{notifyName, auditName, accessName} {
		e.Failures[name] = newStreamConsumer(st, title(name), e.Table, e.Functions[name], streamSettings[name])
	}
	if props.BrokerRoleName != "" {
		NewBrokerRole(st, "BrokerRole", props.BrokerRoleName, e.Functions[credentialsName].Role())
	}
	newIdentityCenter(st, props, e)
	newAuditCatalog(st, props, e.Audit, e.Results)
	newAlarms(st, props, e, api)
	newOutputs(st, props, e, api, publicURL)
	return e
}
