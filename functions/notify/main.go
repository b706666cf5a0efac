// Command notify is the Lambda function that emails approvers and requesters
// from the table's stream. Composition root only: environment, clients,
// handler.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/linktoken"
	"github.com/elevate-pam/elevate/pkg/notify"
	"github.com/elevate-pam/elevate/pkg/notify/sesmail"
)

func main() {
	log := newLogger()
	slog.SetDefault(log)
	ctx := context.Background()
	handler, err := build(ctx, log)
	if err != nil {
		log.Error("notify: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(handler)
}

func build(ctx context.Context, log *slog.Logger) (any, error) {
	table := config.Get(config.EnvTable, "")
	sender := config.Get(config.EnvSender, "")
	publicURL := config.Get(config.EnvPublicBaseURL, "")
	if table == "" || sender == "" || publicURL == "" {
		return nil, errors.New(config.EnvTable + ", " + config.EnvSender + " and " + config.EnvPublicBaseURL + " are required")
	}
	cfg, err := lambdaConfig()
	if err != nil {
		return nil, err
	}
	key, err := linkKey(ctx, cfg)
	if err != nil {
		return nil, err
	}
	signer, err := linktoken.NewSigner(key)
	if err != nil {
		return nil, err
	}
	return notify.NewHandler(notify.Deps{
		Store:         dynamo.New(dynamodb.NewFromConfig(cfg), table, nil),
		Sender:        &sesmail.Sender{API: sesv2.NewFromConfig(cfg), From: sender},
		Signer:        signer,
		PublicBaseURL: publicURL,
		Logger:        log,
	}), nil
}

// linkKey reads the link-signing key from Secrets Manager in AWS, or from the
// environment locally. A value that is valid hex of at least 32 bytes is
// decoded; anything else is used as raw bytes. The approvals function must
// read it the same way, or links will not verify.
func linkKey(ctx context.Context, cfg aws.Config) ([]byte, error) {
	raw := config.Get(config.EnvLinkKey, "")
	if arn := config.Get(config.EnvLinkKeySecret, ""); arn != "" {
		out, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
		if err != nil {
			return nil, errors.New("cannot read the link key secret: " + err.Error())
		}
		raw = strings.TrimSpace(aws.ToString(out.SecretString))
	}
	if raw == "" {
		return nil, errors.New(config.EnvLinkKey + " or " + config.EnvLinkKeySecret + " is required")
	}
	if b, err := hex.DecodeString(raw); err == nil && len(b) >= 32 {
		return b, nil
	}
	return []byte(raw), nil
}

func newLogger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(config.Get(config.EnvLogLevel, "info"))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
}

// lambdaConfig builds the SDK configuration from what the Lambda runtime puts
// in the environment. The SDK's config loader would do the same but links in
// SSO, STS and profile support the function never uses, which would push the
// bootstrap past its 12 MB budget.
func lambdaConfig() (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || id == "" || secret == "" {
		return aws.Config{}, errors.New("AWS_REGION and the AWS credentials must be set (the Lambda runtime sets them)")
	}
	return aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))),
	}, nil
}
