package wire

import (
	"context"
	"errors"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/keyrotation"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// Rotator builds the rotation function from the environment: the table it
// records rotations in, and the secrets it may rotate (the link and page
// key secrets the stack names, ELEVATE_LINK_KEY_SECRET and
// ELEVATE_PAGE_KEY_SECRET); Secrets Manager at AWS_ENDPOINT_URL_SECRETS_MANAGER
// when set.
func Rotator(log *slog.Logger) (*keyrotation.Rotator, error) {
	table := config.Get(config.EnvTable, "")
	link, page := config.Get(config.EnvLinkKeySecret, ""), config.Get(config.EnvPageKeySecret, "")
	if table == "" || link == "" || page == "" {
		return nil, Missing(config.EnvTable, config.EnvLinkKeySecret, config.EnvPageKeySecret)
	}
	if link == page {
		return nil, errors.New(config.EnvLinkKeySecret + " and " + config.EnvPageKeySecret + " must name two secrets")
	}
	cfg, err := LambdaConfig()
	if err != nil {
		return nil, err
	}
	return &keyrotation.Rotator{
		SM:      secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = BaseEndpoint("SECRETS_MANAGER") }),
		Record:  dynamo.New(dynamodb.NewFromConfig(cfg, DynamoEndpoint), table, nil),
		Secrets: []string{link, page},
		Log:     log,
	}, nil
}

// RotationMain is the whole main of the rotation function.
func RotationMain() {
	log := Logger()
	r, err := Rotator(log)
	if err != nil {
		Fail(log, manifest.Rotation, err)
	}
	lambda.Start(func(ctx context.Context, ev keyrotation.Event) error {
		ctx, cancel := budget.Invocation(ctx, manifest.Rotation)
		defer cancel()
		return r.Handle(ctx, ev)
	})
}
