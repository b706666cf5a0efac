// Package wire is Elevate's composition: functions.go builds every
// function's handler from its dependencies (Deps), for the Lambda mains and
// the local stack alike; this file reads the dependencies of the Lambda
// functions from the environment names in pkg/config (the logger, the AWS
// clients, the keys), so each HTTP functions/<name>/main.go is one call.
package wire

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/httpapi"
	"github.com/elevate-pam/elevate/pkg/identitycenter"
	"github.com/elevate-pam/elevate/pkg/keyring"
	"github.com/elevate-pam/elevate/pkg/linktoken"
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/ticketcheck"
)

// Logger is the JSON logger on stdout at ELEVATE_LOG_LEVEL (default info),
// also installed as slog's default.
func Logger() *slog.Logger {
	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: LogLevel()}))
	slog.SetDefault(log)
	return log
}

// LogLevel reads ELEVATE_LOG_LEVEL (debug|info|warn|error), default info.
func LogLevel() slog.Level {
	var level slog.Level
	if err := level.UnmarshalText([]byte(config.Get(config.EnvLogLevel, "info"))); err != nil {
		return slog.LevelInfo
	}
	return level
}

// Missing reports required environment variables that are unset.
func Missing(names ...string) error {
	return errors.New(strings.Join(names, ", ") + " must be set")
}

// Fail logs why a function cannot start and exits. It runs only before
// lambda.Start: a handler never exits the process.
func Fail(log *slog.Logger, function string, err error) {
	log.Error("cannot start", "function", function, "error", err.Error())
	os.Exit(1)
}

// ParseKey reads a key the way every Elevate function does, so that links
// signed by notify verify in approvals: valid hex of at least 32 bytes is
// decoded, anything else is used as raw bytes.
func ParseKey(raw string) []byte { return keyring.ParseKey(raw) }

// LinkSigner builds the link signer: from the Secrets Manager secret named by
// ELEVATE_LINK_KEY_SECRET in AWS (its AWSCURRENT version signs, and links
// signed by its AWSPREVIOUS version still verify, so a rotation does not
// break the links already emailed; each key is named by its version ID; the
// keys are reread every keyring.DefaultTTL, and at once for a link naming a
// key the function does not hold), else from ELEVATE_LINK_KEY. Only the
// functions that sign or verify links (notify, approvals) read it.
func LinkSigner(ctx context.Context, cfg aws.Config) (*linktoken.Signer, error) {
	named := func(err error) error {
		return fmt.Errorf("%s or %s: %w", config.EnvLinkKey, config.EnvLinkKeySecret, err)
	}
	arn := config.Get(config.EnvLinkKeySecret, "")
	if arn == "" {
		s, err := linktoken.NewSigner(ParseKey(config.Get(config.EnvLinkKey, "")))
		if err != nil {
			return nil, named(err)
		}
		return s, nil
	}
	keys, err := SecretKeys(ctx, cfg, arn)
	if err != nil {
		return nil, named(fmt.Errorf("reading the link key secret: %w", err))
	}
	return linktoken.NewRotating(keys), nil
}

// SecretKeys is the cache of a key secret's AWSCURRENT and AWSPREVIOUS
// versions, read once now (bounded by budget.InitCallTimeout), so a function
// that cannot read its keys fails at start. Each later reread is bounded by
// the call that needs it.
func SecretKeys(ctx context.Context, cfg aws.Config, arn string) (*keyring.Cache, error) {
	ctx, cancel := context.WithTimeout(ctx, budget.InitCallTimeout)
	defer cancel()
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.BaseEndpoint = BaseEndpoint("SECRETS_MANAGER") })
	keys := keyring.New(keyring.FromSecret(sm, arn), keyring.DefaultTTL, keyring.DefaultMinRefresh, nil)
	if err := keys.Load(ctx); err != nil {
		return nil, err
	}
	return keys, nil
}

// PageKeys returns the keys that sign pagination tokens: the Secrets Manager
// secret named by ELEVATE_PAGE_KEY_SECRET in AWS (current and previous, as
// for links), else ELEVATE_PAGE_KEY, nil when neither is set. It is never
// derived from the link key, so the function that lists requests holds
// nothing that could sign an approval link.
func PageKeys(ctx context.Context, cfg aws.Config) (*keyring.Cache, error) {
	if arn := config.Get(config.EnvPageKeySecret, ""); arn != "" {
		keys, err := SecretKeys(ctx, cfg, arn)
		if err != nil {
			return nil, fmt.Errorf("reading the page key secret: %w", err)
		}
		return keys, nil
	}
	key := ParseKey(config.Get(config.EnvPageKey, ""))
	if len(key) < minPageKey {
		return nil, fmt.Errorf("%s or %s must hold a key of at least %d bytes", config.EnvPageKey, config.EnvPageKeySecret, minPageKey)
	}
	return keyring.Static(keyring.Ring{Current: keyring.Key{Secret: key}}), nil
}

// minPageKey is the shortest pagination key accepted, as for link keys.
const minPageKey = keyring.MinKeySize

// HTTPHandler builds the handler of one API function from the environment.
// Only the approvals function reads the link key, and only the requests
// function, which lists, the page key. The others never issue page tokens
// and sign with a random per-process key should they ever have to.
//
// extras add what one function alone needs (the credentials function's STS
// client), so the others do not link it.
func HTTPHandler(ctx context.Context, function string, log *slog.Logger, extras ...Extra) (httpapi.Handler, error) {
	table := config.Get(config.EnvTable, "")
	if table == "" {
		return nil, errors.New(config.EnvTable + " is required")
	}
	cfg, err := LambdaConfig()
	if err != nil {
		return nil, err
	}
	var links *linktoken.Signer
	if function == manifest.Approvals {
		if links, err = LinkSigner(ctx, cfg); err != nil {
			return nil, err
		}
	}
	store := dynamo.New(dynamodb.NewFromConfig(cfg, DynamoEndpoint), table, nil)
	if function == manifest.Requests {
		keys, err := PageKeys(ctx, cfg)
		if err != nil {
			return nil, err
		}
		store = store.WithPageKeys(keys)
	} else {
		pageKey := make([]byte, minPageKey)
		if _, err := rand.Read(pageKey); err != nil {
			return nil, err
		}
		store = store.WithPageKeys(keyring.Static(keyring.Ring{Current: keyring.Key{Secret: pageKey}}))
	}
	d := Deps{
		Store:      OneStore(store),
		Links:      links,
		AdminGroup: config.Get(config.EnvAdminGroup, app.DefaultAdminGroup),
		Identity:   IdentityPolicy(),
		Log:        log,
	}
	for _, extend := range extras {
		extend(&d, cfg)
	}
	if u := config.Get(config.EnvTicketURL, ""); u != "" && function == manifest.Requests {
		v, err := ticketcheck.New(u, nil)
		if err != nil {
			return nil, err
		}
		d.Tickets = v
	}
	if function == manifest.Requests && config.Get(config.EnvIdentityCenter, "") == "true" {
		d.IdentityCenter = IdentityCenter(cfg)
	}
	return d.API(function), nil
}

// IdentityCenter is the sso-admin and Identity Store adapter, looking users
// up by the attribute ELEVATE_IDENTITY_CENTER_USER_ATTRIBUTE names.
func IdentityCenter(cfg aws.Config) *identitycenter.AWS {
	return &identitycenter.AWS{Admin: ssoadmin.NewFromConfig(cfg), Users: identitystore.NewFromConfig(cfg),
		UserAttribute: config.Get(config.EnvIdentityCenterUserAttribute, "userName"), IdentityStoreID: config.Get(config.EnvIdentityStoreID, "")}
}

// IdentityPolicy reads which verified tokens name a caller: by default a
// token must say email_verified=true; ELEVATE_ALLOW_MISSING_EMAIL_VERIFIED=true
// also accepts one without the claim (an OIDC issuer that never sends it).
func IdentityPolicy() httpapi.IdentityPolicy {
	return httpapi.IdentityPolicy{AllowMissingEmailVerified: config.Get(config.EnvAllowMissingEmailVerified, "false") == "true"}
}

// LambdaConfig builds the SDK configuration from what the Lambda runtime puts
// in the environment (region and the execution role's credentials), with
// pkg/budget's retry policy and HTTP timeouts. The SDK's
// config.LoadDefaultConfig would find the same values, but it links in SSO,
// STS and shared-profile support that a function never uses and that push the
// bootstrap past its 12 MB budget.
func LambdaConfig() (aws.Config, error) {
	region := os.Getenv("AWS_REGION")
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if region == "" || id == "" || secret == "" {
		return aws.Config{}, errors.New("AWS_REGION and the AWS credentials must be set (the Lambda runtime sets them)")
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))),
	}
	// Every client built from it retries briefly and times out its attempts
	// (pkg/budget); the handler's context bounds each call.
	budget.Apply(&cfg)
	return cfg, nil
}

// DynamoEndpoint honours AWS_ENDPOINT_URL_DYNAMODB, which LoadDefaultConfig
// would have read, so a main can run against DynamoDB Local. DynamoDB Local's
// response checksums don't match what the SDK computes, so validation is off
// for such an endpoint only.
func DynamoEndpoint(o *dynamodb.Options) {
	if ep := config.Get(config.EnvDynamoEndpoint, ""); ep != "" {
		o.BaseEndpoint = aws.String(ep)
		o.DisableValidateResponseChecksum = true
	}
}

// BaseEndpoint is AWS_ENDPOINT_URL_<SERVICE> (the SDK's service endpoint
// variable, e.g. SESV2 or S3), which LoadDefaultConfig would have read, or nil
// when unset: the stream functions then reach emulators under the Lambda
// runtime emulator as they reach AWS in Lambda.
func BaseEndpoint(service string) *string {
	if ep := os.Getenv("AWS_ENDPOINT_URL_" + service); ep != "" {
		return aws.String(ep)
	}
	return nil
}

// Extra adds to the dependencies what one function alone needs, from the
// shared configuration.
type Extra func(d *Deps, cfg aws.Config)

// Main is the whole main of an HTTP function: build, then serve forever.
func Main(function string, extras ...Extra) {
	log := Logger()
	h, err := HTTPHandler(context.Background(), function, log, extras...)
	if err != nil {
		Fail(log, function, err)
	}
	lambda.Start(h)
}
