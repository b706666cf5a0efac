// Command audit is the Lambda function that appends the table's stream to
// the audit bucket. Composition root only: environment, clients, handler.
package main

import (
	"errors"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/audit"
	"github.com/elevate-pam/elevate/pkg/config"
)

func main() {
	var level slog.Level
	if err := level.UnmarshalText([]byte(config.Get(config.EnvLogLevel, "info"))); err != nil {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	bucket := config.Get(config.EnvAuditBucket, "")
	if bucket == "" {
		log.Error("audit: cannot start", "err", errors.New(config.EnvAuditBucket+" is required"))
		os.Exit(1)
	}
	cfg, err := lambdaConfig()
	if err != nil {
		log.Error("audit: cannot start", "err", err)
		os.Exit(1)
	}
	// Path-style only against a custom endpoint (an emulator); in AWS the
	// default virtual-hosted style is the supported one.
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	})
	lambda.Start(audit.NewHandler(audit.HandlerDeps{S3: client, Bucket: bucket, Logger: log}))
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
