// Command access is the Lambda function that applies grants to AWS from the
// table's stream, and runs the periodic sweep an EventBridge rule invokes:
// IAM Identity Center account assignments, and the deny on broker roles
// that ends the sessions of ended grants. Composition root only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/elevate-pam/elevate/pkg/access"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/identitycenter"
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/wire"
)

func main() {
	log := wire.Logger()
	table := config.Get(config.EnvTable, "")
	if table == "" {
		wire.Fail(log, manifest.Access, wire.Missing(config.EnvTable))
	}
	cfg, err := wire.LambdaConfig()
	if err != nil {
		wire.Fail(log, manifest.Access, err)
	}
	store := dynamo.New(dynamodb.NewFromConfig(cfg, wire.DynamoEndpoint), table, nil)
	ic := &identitycenter.Applier{Records: store, AWS: wire.IdentityCenter(cfg), Clock: elevate.SystemClock, Log: log}
	revocations := access.Deps{Store: store, Clock: elevate.SystemClock, Logger: log,
		IAM: iam.NewFromConfig(cfg, func(o *iam.Options) {
			if ep := config.Get(config.EnvIAMEndpoint, ""); ep != "" {
				o.BaseEndpoint = aws.String(ep)
			}
		})}
	lambda.Start(access.NewLambdaHandler(
		access.Part{Stream: identitycenter.NewHandler(ic), Sweep: ic.Sweep},
		revocations.Part(),
	))
}
