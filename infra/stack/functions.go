package stack

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/tabledef"
)

const (
	notifyName = manifest.Notify
	auditName  = manifest.Audit
	accessName = manifest.Access
	// credentialsName is the only function that may assume broker roles.
	credentialsName = manifest.Credentials
)

// access is everything one function may touch. Each function gets its own
// role holding exactly these statements, so a bug in one handler cannot
// reach another's data paths.
type access struct {
	stream     bool // read the table's stream
	linkKey    bool // read the link-signing secret
	pageKey    bool // read the pagination-token secret
	sendEmail  bool // ses:SendEmail as the sender identity
	auditWrite bool // s3:PutObject under audit/
	adminGroup bool
	// alertGroup: the admin group's name only, to find its Elevate twin
	// group of break-glass alert recipients (no token is read)
	alertGroup bool
	publicURL  bool
	// assumeBrokers: sts:AssumeRole (with source identity and session tags)
	// on broker roles; brokerPolicy: write their Elevate inline policy.
	assumeBrokers bool
	brokerPolicy  bool
	// rotateKeys: the four steps of a rotation (RotationActions) on the link
	// and page key secrets, and nothing else of Secrets Manager.
	rotateKeys bool
}

// accessByFunction says what else each function may reach. Table and index
// actions come from manifest.TableActions and manifest.IndexActions, which tests
// check against what the handlers really call.
var accessByFunction = map[string]access{
	manifest.Policies: {
		adminGroup: true,
	},
	manifest.Requests: {
		// Its own secret, never the link key: whoever holds the link key
		// can approve anything as anyone.
		pageKey:    true,
		adminGroup: true,
	},
	manifest.Approvals: {
		linkKey:    true,
		adminGroup: true,
		publicURL:  true,
	},
	manifest.Authorize: {
		adminGroup: true,
	},
	manifest.Notify: {
		stream:     true,
		linkKey:    true,
		sendEmail:  true,
		publicURL:  true,
		alertGroup: true,
	},
	manifest.Audit: {
		stream:     true,
		auditWrite: true,
	},
	manifest.Credentials: {
		adminGroup:    true,
		assumeBrokers: true,
	},
	// Identity Center permissions come from newIdentityCenter, on the named
	// instance and permission sets only.
	manifest.Access: {
		stream:       true,
		brokerPolicy: true,
	},
	// Secrets Manager invokes it (newKeyRotation); it records each rotation.
	manifest.Rotation: {
		rotateKeys: true,
	},
}

// RotationActions are what the rotation function may do to the two key
// secrets: read their versions and labels, add the pending version, move
// AWSCURRENT. No GetRandomPassword (the key comes from crypto/rand), so
// nothing is granted on Resource "*".
var RotationActions = []string{"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"}

// StreamReadActions are what Lambda's poller needs on the stream.
var StreamReadActions = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}

// AccountLevelActions are the only actions granted on Resource "*": IAM
// offers no resource-level permission for them.
var AccountLevelActions = []string{
	"dynamodb:ListStreams",     // lists stream ARNs; no resource type in IAM
	"xray:PutTraceSegments",    // active tracing
	"xray:PutTelemetryRecords", // active tracing
}

func title(name string) string { return strings.ToUpper(name[:1]) + name[1:] }

func dynamoActions(actions []string) *[]*string {
	out := make([]*string, len(actions))
	for i, a := range actions {
		out[i] = jsii.String("dynamodb:" + a)
	}
	return &out
}

func allow(sid string, actions []string, resources ...*string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String(sid),
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	})
}

func newFunction(scope constructs.Construct, e *Elevate, props Props, name string, publicURL *string) (awslambda.Function, awslogs.LogGroup) {
	id := title(name)
	acc, ok := accessByFunction[name]
	if !ok {
		panic("stack: no access declared for function " + name)
	}
	stream := acc.stream

	logs := awslogs.NewLogGroup(scope, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     retentions[props.LogRetentionDays],
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Elevate " + name + " function"),
	})
	// Written out instead of AWSLambdaBasicExecutionRole, whose logs
	// statements apply to every log group in the account.
	role.AddToPrincipalPolicy(allow("Logs", []string{"logs:CreateLogStream", "logs:PutLogEvents"}, logs.LogGroupArn()))

	env := map[string]*string{config.EnvLogLevel: jsii.String("info")}
	if len(manifest.TableActions[name]) > 0 {
		// One statement per manifest.TableKeys entry: its actions, only on
		// items whose partition key matches its patterns. ForAllValues
		// holds every key of a batch or transaction to them.
		for i, g := range manifest.TableKeys[name] {
			role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid: jsii.String(fmt.Sprintf("Table%d", i+1)), Actions: dynamoActions(g.Actions), Resources: &[]*string{e.Table.TableArn()},
				Conditions: &map[string]any{"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": g.LeadingKeys}},
			}))
		}
		env[config.EnvTable] = e.Table.TableName()
	}
	if len(manifest.IndexActions[name]) > 0 {
		// Each index by name rather than index/*: an index added later is
		// granted only when it is added here.
		var indexes []*string
		for _, ix := range tabledef.Indexes {
			indexes = append(indexes, awscdk.Fn_Join(jsii.String(""), &[]*string{e.Table.TableArn(), jsii.String("/index/" + ix.Name)}))
		}
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: jsii.String("Indexes"), Actions: dynamoActions(manifest.IndexActions[name]), Resources: &indexes,
		}))
	}
	suppress(role, "AwsSolutions-IAM5", "Only AccountLevelActions (X-Ray tracing; dynamodb:ListStreams for stream consumers) are granted on Resource *: IAM has no resource type for them (TestNoWildcardGrants holds every role to this)", "Resource::*")
	if stream {
		role.AddToPrincipalPolicy(allow("Stream", StreamReadActions, e.Table.TableStreamArn()))
		role.AddToPrincipalPolicy(allow("ListStreams", []string{"dynamodb:ListStreams"}, jsii.String("*")))
	}
	if acc.linkKey {
		role.AddToPrincipalPolicy(allow("LinkKey", []string{"secretsmanager:GetSecretValue"}, e.LinkKey.SecretArn()))
		env[config.EnvLinkKeySecret] = e.LinkKey.SecretArn()
	}
	if acc.pageKey {
		role.AddToPrincipalPolicy(allow("PageKey", []string{"secretsmanager:GetSecretValue"}, e.PageKey.SecretArn()))
		env[config.EnvPageKeySecret] = e.PageKey.SecretArn()
	}
	if acc.rotateKeys {
		role.AddToPrincipalPolicy(allow("RotateKeys", RotationActions, e.LinkKey.SecretArn(), e.PageKey.SecretArn()))
		env[config.EnvLinkKeySecret] = e.LinkKey.SecretArn()
		env[config.EnvPageKeySecret] = e.PageKey.SecretArn()
	}
	if acc.sendEmail {
		role.AddToPrincipalPolicy(allow("SendEmail", []string{"ses:SendEmail"}, sesIdentityArn(scope, props), sesConfigSetArn(scope, e.EmailSet)))
		role.AddToPrincipalPolicy(sandboxRecipients(scope, props))
		suppress(role, "AwsSolutions-IAM5", "In the SES sandbox, SES authorizes each recipient's identity too, and recipients are not known at deploy time; the statement is held to Elevate's own From address by its ses:FromAddress condition (see sandboxRecipients)",
			map[string]any{"regex": `/^Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity\/\*$/`})
		env[config.EnvSender] = jsii.String(props.Sender())
	}
	if acc.auditWrite {
		role.AddToPrincipalPolicy(allow("AuditWrite", []string{"s3:PutObject"}, e.Audit.ArnForObjects(jsii.String(auditrecord.Prefix+"*"))))
		suppress(role, "AwsSolutions-IAM5", "Audit object keys (date partition, record ID) are made at run time; the grant is s3:PutObject only, under the audit/ prefix, and Object Lock keeps what is written",
			map[string]any{"regex": `/^Resource::<AuditBucket[0-9A-F]*\.Arn>\/` + auditrecord.Prefix + `\*$/`})
		env[config.EnvAuditBucket] = e.Audit.BucketName()
	}
	if acc.assumeBrokers {
		brokerGrants(role, props, "AssumeBrokerRoles", BrokerAssumeActions)
	}
	if acc.brokerPolicy {
		brokerGrants(role, props, "WriteBrokerDeny", BrokerPolicyActions)
	}
	if acc.adminGroup {
		env[config.EnvAdminGroup] = jsii.String(props.AdminGroup)
		// The same functions read identities from tokens.
		if props.AllowMissingEmailVerified {
			env[config.EnvAllowMissingEmailVerified] = jsii.String("true")
		}
	}
	if acc.alertGroup {
		env[config.EnvAdminGroup] = jsii.String(props.AdminGroup)
	}
	if acc.publicURL {
		env[config.EnvPublicBaseURL] = publicURL
	}
	if name == manifest.Requests && props.TicketURL != "" {
		env[config.EnvTicketURL] = jsii.String(props.TicketURL)
	}

	// The local runtime gives each invocation the same deadline.
	timeout := awscdk.Duration_Seconds(jsii.Number(budget.Timeout(name).Seconds()))
	fp := &awslambda.FunctionProps{
		Description:           jsii.String("Elevate " + name),
		Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:          awslambda.Architecture_ARM_64(),
		Handler:               jsii.String("bootstrap"),
		Code:                  awslambda.Code_FromAsset(jsii.String(filepath.Join(props.AssetDir, name)), nil),
		MemorySize:            jsii.Number(256),
		Timeout:               timeout,
		Role:                  role,
		Environment:           &env,
		LogGroup:              logs,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
		Tracing:               awslambda.Tracing_ACTIVE,
	}
	if props.ReservedConcurrency > 0 {
		fp.ReservedConcurrentExecutions = jsii.Number(props.ReservedConcurrency)
	}
	return awslambda.NewFunction(scope, jsii.String(id+"Function"), fp), logs
}
