package emulator

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
)

// The local AWS account of the in-process STS and IAM: the stack's local
// credentials are a session of the functions' role (so assuming the broker
// role is role chaining, as for a Lambda function), and the broker role
// trusts that role as the documented trust policy does.
const (
	LocalAccount         = "000000000000"
	LocalFunctionRoleARN = "arn:aws:iam::" + LocalAccount + ":role/elevate-local-functions"
	BrokerRoleName       = "elevate-broker"
	BrokerRoleARN        = "arn:aws:iam::" + LocalAccount + ":role/" + BrokerRoleName
)

// BrokerTrustPolicy is the broker role's trust policy: the credentials
// function's role may assume it, tag the session and set its source
// identity (infra/README.md shows the same document for AWS).
func BrokerTrustPolicy(functionRoleARN string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"ElevateCredentials","Effect":"Allow","Principal":{"AWS":"` + functionRoleARN +
		`"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}]}`
}

// StartAWSAPI serves the in-process AWS endpoints on a free loopback port
// with the local credentials, as a session of the functions' role, and the
// broker role. o's account, region and keys are the local ones.
func StartAWSAPI(o awsapi.Options) (*awsapi.Endpoint, error) {
	o.Account, o.Region = LocalAccount, Region
	o.Keys = []awsapi.Identity{{
		AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Account: LocalAccount,
		ARN: "arn:aws:sts::" + LocalAccount + ":assumed-role/elevate-local-functions/local", UserID: "AROALOCALFUNCTIONS:local",
		RoleARN: LocalFunctionRoleARN,
	}}
	e, err := awsapi.Start(o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := IAMClient(e.Endpoint).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(BrokerRoleName),
		AssumeRolePolicyDocument: aws.String(BrokerTrustPolicy(LocalFunctionRoleARN))}); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("awsapi: create the broker role: %w", err)
	}
	return e, nil
}

// STSClient is an SDK client for the local STS with the local credentials.
func STSClient(endpoint string) *sts.Client {
	return sts.New(sts.Options{BaseEndpoint: aws.String(endpoint), Region: Region, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")})
}

// SecretsClient is an SDK client for the local Secrets Manager with the local
// credentials.
func SecretsClient(endpoint string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{BaseEndpoint: aws.String(endpoint), Region: Region, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")})
}

// IAMClient is an SDK client for the local IAM with the local credentials.
func IAMClient(endpoint string) *iam.Client {
	return iam.New(iam.Options{BaseEndpoint: aws.String(endpoint), Region: Region, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")})
}
