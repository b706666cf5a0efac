// Command access is the Lambda function that applies grants to AWS: IAM
// Identity Center account assignments from the table's stream, and the
// periodic sweep an EventBridge rule invokes. Composition root only.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

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
	lambda.Start(identitycenter.NewLambdaHandler(&identitycenter.Applier{
		Records: dynamo.New(dynamodb.NewFromConfig(cfg, wire.DynamoEndpoint), table, nil),
		AWS:     wire.IdentityCenter(cfg),
		Clock:   elevate.SystemClock,
		Log:     log,
	}))
}
