package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
	"github.com/elevate-pam/elevate/pkg/identitycenter"
	"github.com/elevate-pam/elevate/pkg/localstack"
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

// awsEndpoints is the in-process sso-admin and Identity Store, served on a
// loopback port.
type awsEndpoints struct {
	url    string
	admin  *awsapi.SSOAdmin
	users  *awsapi.IdentityStore
	server *http.Server
	done   chan struct{}
}

func startAWSEndpoints(delay time.Duration) (*awsEndpoints, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local: aws endpoints: %w", err)
	}
	e := &awsEndpoints{url: "http://" + ln.Addr().String(), admin: awsapi.NewSSOAdmin(delay, nil), users: awsapi.NewIdentityStore(), done: make(chan struct{})}
	if err := errors.Join(e.admin.AddInstance(LocalInstanceArn, LocalIdentityStoreID),
		e.admin.AddPermissionSet(LocalInstanceArn, LocalPermissionSetArn, "DatabaseAdmin", "PT1H")); err != nil {
		ln.Close()
		return nil, err
	}
	e.server = &http.Server{Handler: awsapi.Route(e.admin.JSONService, e.users.JSONService), ReadHeaderTimeout: 10 * time.Second}
	go func() { defer close(e.done); _ = e.server.Serve(ln) }()
	return e, nil
}

func (e *awsEndpoints) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = e.server.Shutdown(ctx)
	<-e.done
}

// config is the SDK configuration the stack's functions reach the local
// AWS endpoints with.
func (e *awsEndpoints) config() aws.Config {
	return aws.Config{Region: localstack.Region, BaseEndpoint: aws.String(e.url),
		Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKeyID, localstack.SecretAccessKey, "")}
}

// identityCenterAWS is the adapter over the local endpoints, polling fast:
// the local provisioning delay is a fraction of a second.
func (e *awsEndpoints) identityCenterAWS() *identitycenter.AWS {
	cfg := e.config()
	return &identitycenter.AWS{Admin: ssoadmin.NewFromConfig(cfg), Users: identitystore.NewFromConfig(cfg),
		Poll: 50 * time.Millisecond, Backoff: 100 * time.Millisecond, Deadline: 30 * time.Second}
}

// runSweep runs the access sweep every interval until ctx is done, as the
// EventBridge rule does in AWS.
func runSweep(ctx context.Context, ap *identitycenter.Applier, interval time.Duration, log *slog.Logger) {
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

func newApplier(store *dynamo.Store, aws identitycenter.Provisioner, log *slog.Logger) *identitycenter.Applier {
	return &identitycenter.Applier{Records: store, AWS: aws, Clock: elevate.SystemClock, Log: log}
}

// accessConsumer names the stream consumer that applies grants to AWS.
const accessConsumer = "access"
