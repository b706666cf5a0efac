// Command access is the Lambda function that applies grants to AWS from the
// table's stream: the deny on broker roles that ends the sessions of ended
// grants, and its scheduled sweep. Composition root only.
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
	"github.com/elevate-pam/elevate/pkg/wire"
)

func main() {
	log := wire.Logger()
	table := config.Get(config.EnvTable, "")
	if table == "" {
		wire.Fail(log, "access", wire.Missing(config.EnvTable))
	}
	cfg, err := wire.LambdaConfig()
	if err != nil {
		wire.Fail(log, "access", err)
	}
	lambda.Start(access.NewHandler(access.Deps{
		Store: dynamo.New(dynamodb.NewFromConfig(cfg, wire.DynamoEndpoint), table, nil),
		IAM: iam.NewFromConfig(cfg, func(o *iam.Options) {
			if ep := config.Get(config.EnvIAMEndpoint, ""); ep != "" {
				o.BaseEndpoint = aws.String(ep)
			}
		}),
		Clock:  elevate.SystemClock,
		Logger: log,
	}))
}
