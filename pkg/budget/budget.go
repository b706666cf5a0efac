// Package budget is how long each function may run and how that time is
// shared among its calls to AWS. The CDK stack sets each Lambda's timeout
// from Timeouts; the local gateway and stream poller give each invocation the
// same deadline, as Lambda's context does; the handlers derive every AWS
// call's deadline from the invocation's, keeping a margin to answer.
//
// A new AWS client needs nothing of its own: one built from wire's
// aws.Config carries the retry policy and HTTP timeouts below, and one called
// with the handler's context stops at the handler's deadline (the API
// handlers' context already ends a margin early). A call that must not be
// repeated (one without an idempotency token) sets Once as its retryer. A new
// stream consumer starts its handler with Invocation, checks Enough before
// each record and does what must follow a failure with Cleanup, as notify,
// audit and access do. A new function gets its timeout from its place in the
// manifest's lists.
package budget

import (
	"context"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/elevate-pam/elevate/pkg/manifest"
)

// Function timeouts. An API call is a person waiting (and API Gateway gives
// up at 30 s); a stream batch is up to 100 records, each possibly emails.
const (
	APITimeout    = 10 * time.Second
	StreamTimeout = 60 * time.Second
	// RotationTimeout bounds one step of a key rotation (a few Secrets
	// Manager calls and one table write); Secrets Manager retries a failed step.
	RotationTimeout = 30 * time.Second
)

// Timeouts is every function's timeout, keyed by manifest function name: an
// API function's is APITimeout, a stream consumer's StreamTimeout, so a
// function added to the manifest's lists has its budget at once.
var Timeouts = func() map[string]time.Duration {
	m := map[string]time.Duration{}
	for _, fn := range manifest.APIFunctions {
		m[fn] = APITimeout
	}
	for _, fn := range manifest.StreamFunctions {
		m[fn] = StreamTimeout
	}
	for _, fn := range manifest.SecretFunctions {
		m[fn] = RotationTimeout
	}
	return m
}()

// Timeout is function's timeout; APITimeout for a name it does not know.
func Timeout(function string) time.Duration {
	if t, ok := Timeouts[function]; ok {
		return t
	}
	return APITimeout
}

// InitCallTimeout bounds a call made while a function starts (reading its
// secrets): Lambda allows an init phase 10 s, and a cold start that gives up
// is retried by the next invocation.
const InitCallTimeout = 5 * time.Second

// Margins kept back from the deadline to answer: an API function renders its
// 503 and logs; a stream consumer releases a failed email claim (up to
// ReleaseTimeout) and returns its BatchItemFailures.
const (
	APIMargin    = 1 * time.Second
	StreamMargin = 5 * time.Second
)

// Margin is what an invocation of function with timeout keeps back: the
// margin of its kind, never more than a quarter of the timeout (tests run
// the local stack with timeouts of a few seconds).
func Margin(function string, timeout time.Duration) time.Duration {
	m := APIMargin
	if slices.Contains(manifest.StreamFunctions, function) {
		m = StreamMargin
	}
	return min(m, timeout/4)
}

// Invocation bounds ctx for one invocation of function: its calls must end
// by the invocation's deadline less the margin. Lambda's context always has a
// deadline; one without (a handler called directly, e.g. by a test) is given
// the function's timeout from now.
func Invocation(ctx context.Context, function string) (context.Context, context.CancelFunc) {
	timeout := Timeout(function)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(timeout)
	} else if left := time.Until(deadline); left < timeout {
		// The margin is taken from the time the invocation really has.
		timeout = max(left, 0)
	}
	ctx = context.WithValue(ctx, invocationDeadline{}, deadline)
	return context.WithDeadline(ctx, deadline.Add(-Margin(function, timeout)))
}

type invocationDeadline struct{}

// Cleanup is a context for the little work that must still run once the
// calls' deadline has passed (releasing a claim that failed): it ignores
// ctx's cancellation and ends at the invocation's own deadline, inside the
// margin Invocation kept back.
func Cleanup(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Value(invocationDeadline{}).(time.Time)
	if !ok {
		deadline = time.Now().Add(APIMargin)
	}
	return context.WithDeadline(context.WithoutCancel(ctx), deadline)
}

// Enough reports whether ctx leaves at least need before its deadline: a
// consumer stops taking on records that could not finish in time.
func Enough(ctx context.Context, need time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) >= need
}

// Retry policy of every SDK client: a few quick attempts, backoff capped well
// under an API function's budget. The retryer sleeps with the call's context,
// so no retry outlives the deadline.
const (
	MaxAttempts = 3
	MaxBackoff  = 500 * time.Millisecond
)

// HTTP timeouts of every SDK client. They bound one attempt's phases so that
// a dead connection leaves time to retry on a fresh one; the context bounds
// the whole call.
const (
	DialTimeout           = 2 * time.Second
	TLSHandshakeTimeout   = 3 * time.Second
	ResponseHeaderTimeout = 5 * time.Second
)

// Retryer is the SDK retryer with the policy above.
func Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = MaxAttempts
		o.MaxBackoff = MaxBackoff
	})
}

// Once is the retryer of a call that is not idempotent (SES SendEmail): a
// retried attempt could send what a timed-out one already sent, so the call
// is made once and its caller decides what a failure means.
func Once() aws.Retryer { return retry.AddWithMaxAttempts(Retryer(), 1) }

// HTTPClient is the SDK HTTP client with the timeouts above.
func HTTPClient() aws.HTTPClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = DialTimeout }).
		WithTransportOptions(func(t *http.Transport) {
			t.TLSHandshakeTimeout = TLSHandshakeTimeout
			t.ResponseHeaderTimeout = ResponseHeaderTimeout
		})
}

// Apply sets the retry policy and HTTP client on an SDK configuration; every
// client built from it (DynamoDB, SES, S3, Secrets Manager, STS, IAM, …)
// inherits them.
func Apply(cfg *aws.Config) {
	cfg.Retryer = Retryer
	cfg.HTTPClient = HTTPClient()
}
