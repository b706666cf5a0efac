package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"

	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
	"github.com/elevate-pam/elevate/pkg/identitycenter"
)

// The local IAM Identity Center: one instance with its identity store and
// one permission set, which tests and the README walkthrough bind policies
// to. Users are added per principal (Stack.IdentityStore.AddUser).
const (
	LocalInstanceArn      = "arn:aws:sso:::instance/ssoins-7223d1e0d1e6a1b5"
	LocalIdentityStoreID  = "d-9067a1b2c3"
	LocalPermissionSetArn = "arn:aws:sso:::permissionSet/ssoins-7223d1e0d1e6a1b5/ps-1a2b3c4d5e6f7a8b"
)

// Local defaults of the Identity Center timing.
const (
	DefaultProvisioningDelay = 300 * time.Millisecond
	DefaultSweepInterval     = time.Second
)

// startAWS serves the in-process AWS endpoints (STS, IAM, sso-admin,
// Identity Store), verifying SigV4 with the stack's local credentials, and
// seeds the local Identity Center instance.
func startAWS(delay time.Duration, users []string) (*awsapi.Endpoint, error) {
	e, err := emulator.StartAWSAPI(awsapi.Options{ProvisioningDelay: delay})
	if err != nil {
		return nil, fmt.Errorf("local: aws endpoints: %w", err)
	}
	if err := errors.Join(e.SSOAdmin.AddInstance(LocalInstanceArn, LocalIdentityStoreID),
		e.SSOAdmin.AddPermissionSet(LocalInstanceArn, LocalPermissionSetArn, "DatabaseAdmin", "PT1H")); err != nil {
		_ = e.Close()
		return nil, err
	}
	for _, u := range users {
		if _, err := e.IdentityStore.AddUser(LocalIdentityStoreID, u, u); err != nil {
			_ = e.Close()
			return nil, err
		}
	}
	return e, nil
}

// identityCenterAWS is the adapter over the local endpoints, polling fast:
// the local provisioning delay is a fraction of a second.
func identityCenterAWS(endpoint string) *identitycenter.AWS {
	cfg := aws.Config{Region: emulator.Region, BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(emulator.AccessKeyID, emulator.SecretAccessKey, "")}
	return &identitycenter.AWS{Admin: ssoadmin.NewFromConfig(cfg), Users: identitystore.NewFromConfig(cfg), IdentityStoreID: LocalIdentityStoreID,
		Poll: 50 * time.Millisecond, Backoff: 100 * time.Millisecond, Deadline: 30 * time.Second}
}

// sweeper is one part of the access function's sweep.
type sweeper interface{ Sweep(context.Context) error }

// runSweep runs the access sweep every interval until ctx is done, as the
// EventBridge rule does in AWS.
func runSweep(ctx context.Context, ap sweeper, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := ap.Sweep(ctx); err != nil && ctx.Err() == nil {
				log.Warn("access sweep", "error", err)
			}
		}
	}
}
