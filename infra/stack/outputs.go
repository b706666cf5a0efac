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

func newOutputs(scope constructs.Construct, props Props, e *Elevate, api *httpAPI, publicURL *string) {
	out := func(id string, v *string, desc string) {
		awscdk.NewCfnOutput(scope, jsii.String(id), &awscdk.CfnOutputProps{Value: v, Description: jsii.String(desc)})
	}
	out(OutApiURL, publicURL, "Base URL of the API: export "+"ELEVATE_API_URL=<this>")
	if api.UserPool != nil {
		out(OutUserPoolID, api.UserPool.UserPoolId(), "Cognito user pool holding Elevate's users")
		out(OutUserPoolClient, api.Client.UserPoolClientId(), "App client to sign in with (USER_PASSWORD_AUTH or SRP); use the ID token")
	}
	out(OutAuditBucket, e.Audit.BucketName(), "Audit bucket: export "+config.EnvAuditBucket+"=<this>")
	out(OutTable, e.Table.TableName(), "DynamoDB table")
	out(OutWorkGroup, jsii.String(WorkGroupName(props.StackName)), "Athena workgroup for audit queries")
	for i, r := range *e.Identity.DkimRecords() {
		out(fmt.Sprintf("%s%d", OutDkimPrefix, i+1), awscdk.Fn_Join(jsii.String(" CNAME "), &[]*string{r.Name, r.Value}),
			"DNS record that verifies the sender domain with Easy DKIM")
	}
	out(OutGlueDatabase, jsii.String(GlueDatabaseName(props.StackName)), "Glue database; the table is "+AuditTableName)
}
