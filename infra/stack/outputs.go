package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/elevate-pam/elevate/pkg/config"
)

// Output names, as `cdk deploy` prints them and infra/README.md refers to them.
const (
	OutApiURL         = "ApiUrl"
	OutUserPoolID     = "UserPoolId"
	OutUserPoolClient = "UserPoolClientId"
	OutAuditBucket    = "AuditBucketName"
	OutTable          = "TableName"
	OutWorkGroup      = "AthenaWorkGroup"
	OutGlueDatabase   = "GlueDatabase"
	OutDkimPrefix     = "SenderDkimRecord"
)

// Issue 23 outputs: what `elevate login` and `elevate ops redrive` need, and
// the Glue table's name so no document has to spell it.
const (
	OutLoginIssuer    = "LoginIssuer"
	OutLoginCommand   = "LoginCommand"
	OutGlueTable      = "GlueTable"
	OutNotifyFailures = "NotifyFailureQueueUrl"
	OutAuditFailures  = "AuditFailureQueueUrl"
	OutNotifyFunction = "NotifyFunctionName"
	OutAuditFunction  = "AuditFunctionName"
)

func newOutputs(scope constructs.Construct, props Props, e *Elevate, api *httpAPI, publicURL *string) {
	out := func(id string, v *string, desc string) {
		awscdk.NewCfnOutput(scope, jsii.String(id), &awscdk.CfnOutputProps{Value: v, Description: jsii.String(desc)})
	}
	out(OutApiURL, publicURL, "Base URL of the API: export "+"ELEVATE_API_URL=<this>")
	if api.UserPool != nil {
		out(OutUserPoolID, api.UserPool.UserPoolId(), "Cognito user pool holding Elevate's users")
		out(OutUserPoolClient, api.Client.UserPoolClientId(), "App client that elevate login signs in with (hosted UI, authorization code with PKCE)")
		out(OutLoginIssuer, api.UserPool.UserPoolProviderUrl(), "OpenID issuer for elevate login --issuer")
		out(OutLoginCommand, awscdk.Fn_Join(jsii.String(""), &[]*string{
			jsii.String("elevate login --issuer "), api.UserPool.UserPoolProviderUrl(),
			jsii.String(" --client-id "), api.Client.UserPoolClientId(),
		}), "Signs the CLI in through the hosted UI (TOTP enrolment at the first sign-in)")
	} else {
		out(OutLoginIssuer, jsii.String(props.OIDCIssuer), "OpenID issuer for elevate login --issuer (with your IdP's client ID for the CLI)")
	}
	out(OutAuditBucket, e.Audit.BucketName(), "Audit bucket: export "+config.EnvAuditBucket+"=<this>")
	out(OutTable, e.Table.TableName(), "DynamoDB table")
	out(OutWorkGroup, jsii.String(WorkGroupName(props.StackName)), "Athena workgroup for audit queries")
	for i, r := range *e.Identity.DkimRecords() {
		out(fmt.Sprintf("%s%d", OutDkimPrefix, i+1), awscdk.Fn_Join(jsii.String(" CNAME "), &[]*string{r.Name, r.Value}),
			"DNS record that verifies the sender domain with Easy DKIM")
	}
	out(OutGlueDatabase, jsii.String(GlueDatabaseName(props.StackName)), "Glue database of the audit table")
	out(OutGlueTable, jsii.String(AuditTableName), "Glue table over the audit bucket, for Athena")
	out(OutNotifyFailures, e.Failures[notifyName].QueueUrl(), "Failure queue of notify's stream consumer: elevate ops redrive --queue-url <this>")
	out(OutAuditFailures, e.Failures[auditName].QueueUrl(), "Failure queue of audit's stream consumer: elevate ops redrive --queue-url <this>")
	out(OutNotifyFunction, e.Functions[notifyName].FunctionName(), "notify function: elevate ops redrive --function <this>")
	out(OutAuditFunction, e.Functions[auditName].FunctionName(), "audit function: elevate ops redrive --function <this>")
}
