package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/elevate-pam/elevate/pkg/access"
	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
	"github.com/elevate-pam/elevate/pkg/identitycenter"
	"github.com/elevate-pam/elevate/pkg/linktoken"
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/notify/sesmail"
	"github.com/elevate-pam/elevate/pkg/stscreds"
	"github.com/elevate-pam/elevate/pkg/wire"
)

// Defaults of the local stack (DESIGN.md, "Local stack").
const (
	DefaultAddr    = "127.0.0.1:8080"
	DefaultSESPort = 8005
	DefaultTable   = "elevate"
	DefaultBucket  = "elevate-audit"
	DefaultSender  = "elevate@example.com"
)

// Options configures Start. The zero value is valid for tests: free ports
// everywhere, random keys.
type Options struct {
	// Addr is where the API listens; "" means 127.0.0.1:0 (a free port).
	Addr string
	// SESPort is the SES emulator's port; 0 picks a free one.
	SESPort int
	// DynamoPort is DynamoDB Local's port; 0 picks a free one.
	DynamoPort int
	// DynamoEndpoint reuses a DynamoDB Local that is already running (tests
	// share one per binary); Stop leaves it alone. Give each stack its own
	// Table then.
	DynamoEndpoint string
	Table          string // default "elevate"
	Bucket         string // default "elevate-audit"
	Sender         string // default elevate@example.com
	AdminGroup     string // default app.DefaultAdminGroup
	// PublicURL is the base of links in emails; the API's URL by default.
	PublicURL string
	// LinkKey signs approval links; a random per-run key when empty.
	LinkKey []byte
	// PageKey signs pagination tokens; a random per-run key when empty. It is
	// never the link key, as in AWS where each is its own secret.
	PageKey []byte
	// PollInterval is the stream poller's idle interval; default 300 ms.
	PollInterval time.Duration
	// StreamMaxRetries bounds re-deliveries of a failing stream record before
	// it is logged and skipped; default DefaultMaxRetries.
	StreamMaxRetries int
	// Log receives the stack's JSON logs; nil discards them.
	Log *slog.Logger
	// ServiceOutput receives java's and node's own output; nil discards it.
	ServiceOutput io.Writer
	// FunctionTimeouts overrides functions' timeouts (budget.Timeouts, which
	// the CDK stack sets) for tests that stall a dependency past them.
	FunctionTimeouts map[string]time.Duration
	// Tickets checks ticket references (F15); the policy's pattern only when nil.
	Tickets app.TicketVerifier

	// TokensBeyondLoopback serves POST /_local/token even when Addr is not a
	// loopback address. Anyone who can reach that route can mint an admin
	// token, so by default it is refused (403) on any other address.
	TokensBeyondLoopback bool
	// TrustIssuer, when set, makes the gateway accept that loopback OpenID
	// provider's ID tokens besides its own (tests of elevate login).
	TrustIssuer *TrustedIssuer
	// RecordCalls gives each function its own DynamoDB client, as in AWS,
	// recording every call it makes (Stack.Calls) so tests can hold the
	// stack's behaviour to the IAM grants in pkg/manifest. The recorder keeps
	// every partition key it sees: for tests, not for make run.
	RecordCalls bool

	// ProvisioningDelay is how long the in-process sso-admin's assignments
	// and provisionings stay IN_PROGRESS (DefaultProvisioningDelay).
	ProvisioningDelay time.Duration
	// AccessClock is the clock of the access function's revocation deny
	// (entries lapse when their credentials expire); the system clock when
	// nil. Tests move it.
	AccessClock elevate.Clock
	// SweepInterval is how often the access sweep runs (DefaultSweepInterval;
	// a minute in AWS).
	SweepInterval time.Duration
	// IdentityCenterUsers are principals given a user (user name = the
	// principal) in the local Identity Store at start.
	IdentityCenterUsers []string

	// Middleware, when set, wraps the API routes (not the token route): the
	// tests put the OpenAPI validator there (pkg/openapi/openapitest), which
	// then sees every call, whoever makes it.
	Middleware func(http.Handler) http.Handler
}

// Stack is a running local Elevate. Stop ends everything it started.
type Stack struct {
	URL            string // the API, e.g. http://127.0.0.1:8080
	SESEndpoint    string // the SES emulator and its viewer
	S3Endpoint     string
	DynamoEndpoint string
	Bucket         string
	Table          string
	Region         string
	AdminGroup     string

	// The processes, exposed so fault tests can stop or break them. Dynamo
	// is nil when Options.DynamoEndpoint was given.
	Dynamo *emulator.Process
	SES    *emulator.SESProcess
	S3     *emulator.S3Server
	Poller *Poller

	// Calls records each function's DynamoDB calls when Options.RecordCalls.
	Calls map[string]*emulator.OpRecorder

	// AWS is the in-process STS, IAM, sso-admin and Identity Store.
	AWS *awsapi.Endpoint
	// Access is the access function's revocation deny, for tests that run
	// its sweep.
	Access access.Deps

	authority *Authority
	keys      *keys
	server    *http.Server
	served    chan struct{}
	cancel    context.CancelFunc
	polled    chan struct{}
	stopOnce  sync.Once
	stopErr   error
}

// Start runs DynamoDB Local, the SES emulator, an in-process S3 and the
// in-process AWS endpoints, creates the table and the audit bucket, serves
// the API through the local gateway and feeds the stream to the notify,
// audit and access handlers. It returns once the API accepts connections.
// On error, whatever was started is stopped.
//
// It has three steps: start the emulators, build the functions from them
// through pkg/wire (as the Lambda mains do), serve.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	o = withDefaults(o)
	st := &Stack{Bucket: o.Bucket, Table: o.Table, Region: emulator.Region, AdminGroup: o.AdminGroup}
	defer func() {
		if err != nil {
			_ = st.Stop()
		}
	}()

	// Bind first: a taken port should fail before java and node start.
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("local: listen on %s: %w", o.Addr, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()
	st.URL = "http://" + ln.Addr().String()
	if st.authority, err = NewAuthority(st.URL+"/_local", DefaultAudience); err != nil {
		return nil, err
	}

	streamARN, err := st.startEmulators(ctx, o)
	if err != nil {
		return nil, err
	}
	deps, err := st.functionDeps(ctx, o)
	if err != nil {
		return nil, err
	}
	verifier, err := st.verifier(ctx, o)
	if err != nil {
		return nil, err
	}
	st.serve(ln, o, deps, verifier, streamARN)
	o.Log.Info("local stack started", "api", st.URL, "ses", st.SESEndpoint, "s3", st.S3Endpoint, "dynamodb", st.DynamoEndpoint, "table", st.Table, "bucket", st.Bucket)
	return st, nil
}

// startEmulators starts DynamoDB Local (unless one was given), the SES
// emulator, the S3 server and the in-process AWS endpoints, and creates the
// table. It returns the table's stream ARN.
func (st *Stack) startEmulators(ctx context.Context, o Options) (string, error) {
	// They start concurrently: DynamoDB Local's JVM is the slow one.
	var wg sync.WaitGroup
	var dynErr, sesErr, s3Err, awsErr error
	if o.DynamoEndpoint == "" {
		wg.Go(func() {
			st.Dynamo, dynErr = emulator.StartDynamoDB(ctx, emulator.DynamoOptions{Port: o.DynamoPort, LogWriter: o.ServiceOutput})
		})
	}
	wg.Go(func() { st.SES, sesErr = emulator.StartSES(ctx, o.SESPort, o.ServiceOutput) })
	wg.Go(func() { st.S3, s3Err = emulator.StartS3(o.Bucket) })
	wg.Go(func() { st.AWS, awsErr = startAWS(o.ProvisioningDelay, o.IdentityCenterUsers) })
	wg.Wait()
	if err := errors.Join(dynErr, sesErr, s3Err, awsErr); err != nil {
		return "", err
	}
	st.DynamoEndpoint, st.SESEndpoint, st.S3Endpoint = o.DynamoEndpoint, st.SES.Endpoint, st.S3.Endpoint
	if st.Dynamo != nil {
		st.DynamoEndpoint = st.Dynamo.Endpoint
	}

	db := emulator.DynamoClient(st.DynamoEndpoint)
	if err := dynamo.CreateTable(ctx, db, o.Table); err != nil {
		return "", err
	}
	td, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(o.Table)})
	if err != nil {
		return "", fmt.Errorf("local: describe table: %w", err)
	}
	streamARN := aws.ToString(td.Table.LatestStreamArn)
	if streamARN == "" {
		return "", errors.New("local: the table has no stream")
	}
	return streamARN, nil
}

// functionDeps are the functions' dependencies, taken from the emulators;
// pkg/wire builds each function from them exactly as in AWS.
func (st *Stack) functionDeps(ctx context.Context, o Options) (wire.Deps, error) {
	if _, err := linktoken.NewSigner(o.LinkKey); err != nil {
		return wire.Deps{}, fmt.Errorf("local: link key: %w", err)
	}
	publicURL := o.PublicURL
	if publicURL == "" {
		publicURL = st.URL
	}
	store := dynamo.New(emulator.DynamoClient(st.DynamoEndpoint), o.Table, nil)
	storeOf := func(function string) *dynamo.Store {
		if !o.RecordCalls {
			return store
		}
		if st.Calls == nil {
			st.Calls = map[string]*emulator.OpRecorder{}
		}
		rec := emulator.NewOpRecorder()
		st.Calls[function] = rec
		return dynamo.New(emulator.DynamoClient(st.DynamoEndpoint, rec.Option), o.Table, nil)
	}
	// The keys live in the local Secrets Manager and rotate there.
	if err := st.startKeys(ctx, o, storeOf); err != nil {
		return wire.Deps{}, err
	}
	storeWithKeys := func(function string) *dynamo.Store { return storeOf(function).WithPageKeys(st.keys.pageKey) }
	return wire.Deps{
		Store:          storeWithKeys,
		Links:          linktoken.NewRotating(st.keys.linkKeys),
		AdminGroup:     o.AdminGroup,
		Tickets:        o.Tickets,
		Mail:           &sesmail.Sender{API: emulator.SESClient(st.SESEndpoint, sesmail.ClientOptions), From: o.Sender},
		PublicURL:      publicURL,
		IdentityCenter: identityCenterAWS(st.AWS.Endpoint),
		Issuer:         stscreds.Assumer{STS: emulator.STSClient(st.AWS.Endpoint)},
		AuditS3:        emulator.S3Client(st.S3Endpoint),
		AuditBucket:    o.Bucket,
		// DynamoDB Local rounds the stream's times down to the minute.
		StreamTimePrecision: time.Minute,
		Log:                 o.Log,
	}, nil
}

// verifier checks the gateway's bearer tokens: the stack's own, and those of
// Options.TrustIssuer when given.
func (st *Stack) verifier(ctx context.Context, o Options) (TokenVerifier, error) {
	if o.TrustIssuer == nil {
		return st.authority, nil
	}
	iv, err := newIssuerVerifier(ctx, *o.TrustIssuer)
	if err != nil {
		return nil, err
	}
	return verifiers{st.authority, iv}, nil
}

// serve feeds the stream to the stream functions (and runs the access
// sweep, as EventBridge does in AWS) and serves the API functions, behind
// the token route, on ln.
func (st *Stack) serve(ln net.Listener, o Options, d wire.Deps, verifier TokenVerifier, streamARN string) {
	log := o.Log
	gw := &Gateway{Functions: APIHandlers(d), Verifier: verifier, Log: log.With("component", "gateway"), Timeouts: o.FunctionTimeouts}
	tokens := guardTokens(st.authority.TokenHandler(), ln.Addr(), o.TokensBeyondLoopback, log)
	rotate := guardTokens(st.rotateKeysHandler(), ln.Addr(), o.TokensBeyondLoopback, log)

	// The access function's two parts (Identity Center assignments, the
	// revocation deny) and their sweeps share its store, as they share its
	// Lambda in AWS.
	accessFn := loggedAs(d, manifest.Access)
	accessFn.Store = wire.OneStore(d.Store(manifest.Access))
	sweeper := accessFn
	sweeper.Log = accessFn.Log.With("component", "sweep")
	st.Access = access.Deps{Store: accessFn.Store(manifest.Access), IAM: emulator.IAMClient(st.AWS.Endpoint), Clock: o.AccessClock, Logger: accessFn.Log}
	if st.Access.Clock == nil {
		st.Access.Clock = elevate.SystemClock
	}
	st.Poller = &Poller{
		Streams:    emulator.StreamsClient(st.DynamoEndpoint),
		StreamARN:  streamARN,
		Region:     st.Region,
		Interval:   o.PollInterval,
		MaxRetries: o.StreamMaxRetries,
		Log:        log.With("component", "poller"),
		Consumers: []Consumer{
			{Name: manifest.Notify, Timeout: o.FunctionTimeouts[manifest.Notify], Handle: loggedAs(d, manifest.Notify).Notify()},
			{Name: manifest.Audit, Timeout: o.FunctionTimeouts[manifest.Audit], Handle: loggedAs(d, manifest.Audit).Audit()},
			{Name: manifest.Access, Timeout: o.FunctionTimeouts[manifest.Access], Handle: StreamHandler(access.Stream(
				access.Part{Stream: identitycenter.NewHandler(accessFn.Applier())},
				st.Access.Part(),
			))},
		},
	}
	pctx, cancel := context.WithCancel(context.Background())
	st.cancel, st.polled = cancel, make(chan struct{})
	sweep := sweeper.Applier()
	go func() {
		defer close(st.polled)
		var wg sync.WaitGroup
		wg.Go(func() { runSweep(pctx, sweep, o.SweepInterval, log) })
		wg.Go(func() { runSweep(pctx, st.Access, o.SweepInterval, log) })
		st.Poller.Run(pctx)
		wg.Wait()
	}()

	var api http.Handler = gw
	if o.Middleware != nil {
		api = o.Middleware(gw)
	}
	st.server = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case TokenPath:
				tokens.ServeHTTP(w, r)
				return
			case RotateKeysPath:
				rotate.ServeHTTP(w, r)
				return
			}
			api.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	st.served = make(chan struct{})
	go func() {
		defer close(st.served)
		if err := st.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server stopped", "error", err)
		}
	}()
}

// loggedAs tags a stream function's logs with its name: in AWS each has a
// log group of its own, here they share one.
func loggedAs(d wire.Deps, function string) wire.Deps {
	d.Log = d.Log.With("function", function)
	return d
}

func withDefaults(o Options) Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	if o.Sender == "" {
		o.Sender = DefaultSender
	}
	if o.AdminGroup == "" {
		o.AdminGroup = app.DefaultAdminGroup
	}
	if len(o.LinkKey) == 0 {
		o.LinkKey = randomBytes(32)
	}
	if len(o.PageKey) == 0 {
		o.PageKey = randomBytes(32)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ProvisioningDelay == 0 {
		o.ProvisioningDelay = DefaultProvisioningDelay
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	return o
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// Token mints a JWT for principal with the given identity-provider groups.
func (s *Stack) Token(principal string, groups ...string) (string, error) {
	tok, _, err := s.authority.Mint(principal, groups)
	return tok, err
}

// Authority is the stack's token issuer (for tests that forge tokens).
func (s *Stack) Authority() *Authority { return s.authority }

// Exports are the shell lines that point the CLI at this stack.
func (s *Stack) Exports(token string) []string {
	return []string{
		"export ELEVATE_API_URL=" + s.URL,
		"export ELEVATE_TOKEN=" + token,
		"export ELEVATE_AUDIT_BUCKET=" + s.Bucket,
		"export AWS_ENDPOINT_URL_S3=" + s.S3Endpoint,
		"export AWS_ENDPOINT_URL_STS=" + s.AWS.Endpoint,
		"export AWS_ENDPOINT_URL_IAM=" + s.AWS.Endpoint,
		"export AWS_REGION=" + s.Region,
		"export AWS_ACCESS_KEY_ID=" + emulator.AccessKeyID,
		"export AWS_SECRET_ACCESS_KEY=" + emulator.SecretAccessKey,
	}
}

// Stop shuts the API down gracefully, stops the poller, and kills the SES
// emulator's and DynamoDB Local's process groups. It is safe to call twice.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.server.Shutdown(ctx); err != nil {
				_ = s.server.Close()
			}
			cancel()
			<-s.served
		}
		if s.cancel != nil {
			s.cancel()
			<-s.polled
		}
		if s.SES != nil {
			errs = append(errs, s.SES.Stop())
		}
		if s.Dynamo != nil {
			errs = append(errs, s.Dynamo.Stop())
		}
		if s.S3 != nil {
			s.S3.Close()
		}
		if s.AWS != nil {
			errs = append(errs, s.AWS.Close())
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
