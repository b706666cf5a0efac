// Command audit is the Lambda function that appends the table's stream to
// the audit bucket. Composition root only: environment, clients, handler.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/audit"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/wire"
)

func main() {
	log := wire.Logger()
	bucket := config.Get(config.EnvAuditBucket, "")
	table := config.Get(config.EnvTable, "")
	cfg, err := wire.LambdaConfig()
	if err == nil && (bucket == "" || table == "") {
		err = wire.Missing(config.EnvAuditBucket, config.EnvTable)
	}
	if err != nil {
		wire.Fail(log, "audit", err)
	}
	// Path-style only against a custom endpoint (an emulator); in AWS the
	// default virtual-hosted style is the supported one.
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = wire.BaseEndpoint("S3")
		o.UsePathStyle = o.BaseEndpoint != nil
	})
	requests := dynamo.New(dynamodb.NewFromConfig(cfg, wire.DynamoEndpoint), table, nil)
	lambda.Start(audit.NewHandler(audit.HandlerDeps{S3: client, Bucket: bucket, Logger: log, Requests: requests}))
}
