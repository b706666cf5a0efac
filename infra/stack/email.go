package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsses"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/elevate-pam/elevate/pkg/keyrotation"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// newLinkKey generates the HMAC key for approval-link tokens inside Secrets
// Manager, so it never appears in the template, the CLI or a deploy log.
func newLinkKey(scope constructs.Construct) awssecretsmanager.Secret {
	secret := awssecretsmanager.NewSecret(scope, jsii.String("LinkKey"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Elevate: HMAC key that signs approval-link tokens"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
		},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	return secret
}

// newPageKey generates the HMAC key for pagination tokens, a secret of its
// own: the requests function, which lists, must not hold the link key.
func newPageKey(scope constructs.Construct) awssecretsmanager.Secret {
	secret := awssecretsmanager.NewSecret(scope, jsii.String("PageKey"), &awssecretsmanager.SecretProps{
		Description: jsii.String("Elevate: HMAC key that signs pagination tokens"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
		},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	return secret
}

// newKeyRotation rotates the link and page key secrets every
// keyrotation.ScheduleDays with the rotation function (issue 21). Secrets
// Manager may invoke it only for these two secrets in this account (the
// permission's SourceArn and SourceAccount), and a deploy does not rotate
// them (RotateImmediatelyOnUpdate false). Links and page tokens name their
// key and the previous key still verifies, so one rotation breaks nothing
// in flight.
func newKeyRotation(scope constructs.Construct, e *Elevate) {
	fn := e.Functions[manifest.Rotation]
	for _, k := range []struct {
		id     string
		secret awssecretsmanager.Secret
	}{{"LinkKey", e.LinkKey}, {"PageKey", e.PageKey}} {
		invoke := awslambda.NewCfnPermission(scope, jsii.String(k.id+"RotationInvoke"), &awslambda.CfnPermissionProps{
			Action: jsii.String("lambda:InvokeFunction"), FunctionName: fn.FunctionArn(), Principal: jsii.String("secretsmanager.amazonaws.com"),
			SourceArn: k.secret.SecretArn(), SourceAccount: awscdk.Aws_ACCOUNT_ID(),
		})
		schedule := awssecretsmanager.NewCfnRotationSchedule(scope, jsii.String(k.id+"Rotation"), &awssecretsmanager.CfnRotationScheduleProps{
			SecretId:                  k.secret.SecretArn(),
			RotationLambdaArn:         fn.FunctionArn(),
			RotateImmediatelyOnUpdate: jsii.Bool(false),
			RotationRules: &awssecretsmanager.CfnRotationSchedule_RotationRulesProperty{
				AutomaticallyAfterDays: jsii.Number(keyrotation.ScheduleDays),
			},
		})
		schedule.AddDependency(invoke)
	}
}

// newEmailIdentity declares the sender domain with Easy DKIM and a default
// configuration set that suppresses bounced and complaining addresses. The
// DNS records it needs are in the SES console after deploy (see infra/README.md).
func newEmailIdentity(scope constructs.Construct, props Props) (awsses.EmailIdentity, awsses.ConfigurationSet) {
	cs := awsses.NewConfigurationSet(scope, jsii.String("EmailConfig"), &awsses.ConfigurationSetProps{
		SuppressionReasons: awsses.SuppressionReasons_BOUNCES_AND_COMPLAINTS,
		ReputationMetrics:  jsii.Bool(true),
		TlsPolicy:          awsses.ConfigurationSetTlsPolicy_REQUIRE,
	})
	id := awsses.NewEmailIdentity(scope, jsii.String("SenderIdentity"), &awsses.EmailIdentityProps{
		Identity:         awsses.Identity_Domain(jsii.String(props.SenderDomain)),
		ConfigurationSet: cs,
	})
	return id, cs
}

// sandboxRecipients lets notify send to the account's verified identities.
// While the account is in the SES sandbox, SES also authorizes each
// recipient's identity (identity/<address>), and a role allowed only its
// sender domain gets AccessDenied for every recipient. The statement is held
// to Elevate's own From address; once the account has production access it
// is never evaluated, as SES then checks the sender identity only.
func sandboxRecipients(scope constructs.Construct, props Props) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:     jsii.String("SendEmailInSandbox"),
		Effect:  awsiam.Effect_ALLOW,
		Actions: jsii.Strings("ses:SendEmail"),
		Resources: &[]*string{awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("ses"), Resource: jsii.String("identity"), ResourceName: jsii.String("*"),
		})},
		Conditions: &map[string]any{"StringEquals": map[string]any{"ses:FromAddress": props.Sender()}},
	})
}

func sesIdentityArn(scope constructs.Construct, props Props) *string {
	return awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("ses"),
		Resource:     jsii.String("identity"),
		ResourceName: jsii.String(props.SenderDomain),
	})
}

func sesConfigSetArn(scope constructs.Construct, cs awsses.ConfigurationSet) *string {
	return awscdk.Stack_Of(scope).FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("ses"),
		Resource:     jsii.String("configuration-set"),
		ResourceName: cs.ConfigurationSetName(),
	})
}
