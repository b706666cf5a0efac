// Command notify is the Lambda function that emails approvers and requesters
// from the table's stream. Composition root only: environment, clients,
// handler.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/notify/sesmail"
	"github.com/elevate-pam/elevate/pkg/wire"
)

func main() {
	log := wire.Logger()
	table := config.Get(config.EnvTable, "")
	sender := config.Get(config.EnvSender, "")
	publicURL := config.Get(config.EnvPublicBaseURL, "")
	if table == "" || sender == "" || publicURL == "" {
		wire.Fail(log, "notify", wire.Missing(config.EnvTable, config.EnvSender, config.EnvPublicBaseURL))
	}
	cfg, err := wire.LambdaConfig()
	if err != nil {
		wire.Fail(log, "notify", err)
	}
	signer, err := wire.LinkSigner(context.Background(), cfg)
	if err != nil {
		wire.Fail(log, "notify", err)
	}
	lambda.Start(wire.Deps{
		Store:      wire.OneStore(dynamo.New(dynamodb.NewFromConfig(cfg, wire.DynamoEndpoint), table, nil)),
		Links:      signer,
		AdminGroup: config.Get(config.EnvAdminGroup, app.DefaultAdminGroup),
		Mail: &sesmail.Sender{API: sesv2.NewFromConfig(cfg, sesmail.ClientOptions, func(o *sesv2.Options) { o.BaseEndpoint = wire.BaseEndpoint("SESV2") }),
			From: sender},
		PublicURL: publicURL,
		Log:       log,
	}.Notify())
}
