package wire

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/audit"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/httpapi"
	"github.com/elevate-pam/elevate/pkg/identitycenter"
	"github.com/elevate-pam/elevate/pkg/linktoken"
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/notify"
)

// Deps are what Elevate's functions are built from, however they were
// obtained: a Lambda main reads the ones its function needs from the
// environment (wire.go, functions/notify, functions/audit), the local stack
// takes them from the emulators it started (pkg/local). The methods below
// turn them into each function's handler, so a function or a dependency is
// wired here and nowhere else.
type Deps struct {
	// Store is the store function uses; the local stack gives each function
	// a client of its own when it records their calls.
	Store func(function string) *dynamo.Store
	// Links signs (notify) and verifies (approvals) approval links.
	Links      *linktoken.Signer
	AdminGroup string
	// Tickets checks ticket references (F15); nil checks the policy's
	// pattern only.
	Tickets  app.TicketVerifier
	Identity httpapi.IdentityPolicy
	// Mail sends notify's emails (pkg/notify/sesmail over an SES client);
	// PublicURL is the base of the links in them. The SES client is built by
	// the caller, so the HTTP functions do not link it.
	Mail      notify.Sender
	PublicURL string
	// Issuer assumes roles for the credentials function (stscreds over an
	// STS client the caller builds, so the other functions link no STS).
	Issuer app.RoleAssumer
	// IdentityCenter resolves requesters (requests) and applies grants
	// (access) under Identity Center bindings; nil where it is off.
	IdentityCenter *identitycenter.AWS
	// AuditS3 and AuditBucket receive the audit trail.
	AuditS3     audit.PutAPI
	AuditBucket string
	// StreamTimePrecision is how coarsely the stream dates its records:
	// zero in AWS; DynamoDB Local rounds down to the minute.
	StreamTimePrecision time.Duration
	Log                 *slog.Logger
}

// StreamHandler is a stream consumer's Lambda handler.
type StreamHandler = func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Service is the application service function runs.
func (d Deps) Service(function string) *app.Service {
	store := d.Store(function)
	svc := &app.Service{Store: store, Clock: elevate.SystemClock, AdminGroup: d.AdminGroup, Tickets: d.Tickets}
	if d.IdentityCenter != nil {
		svc.IdentityCenter = identitycenter.APIPort{Directory: d.IdentityCenter, Provisioning: store}
	}
	if function == manifest.Credentials && d.Issuer != nil {
		svc.Issuer, svc.Issuances, svc.CredentialTargets = d.Issuer, store, &app.RequestTargets{}
	}
	return svc
}

// API is the handler of one HTTP function (manifest.APIFunctions).
func (d Deps) API(function string) httpapi.Handler {
	return httpapi.New(function, httpapi.Deps{Service: d.Service(function), Links: d.Links, Log: d.Log, Identity: d.Identity})
}

// Notify is the stream consumer that emails approvers and requesters.
func (d Deps) Notify() StreamHandler {
	return notify.NewHandler(notify.Deps{
		Store:         d.Store(manifest.Notify),
		Sender:        d.Mail,
		Signer:        d.Links,
		PublicBaseURL: d.PublicURL,
		AlertGroup:    d.AdminGroup,
		Clock:         elevate.SystemClock,
		Logger:        d.Log,
	})
}

// Audit is the stream consumer that appends the trail to the audit bucket.
func (d Deps) Audit() StreamHandler {
	return audit.NewHandler(audit.HandlerDeps{S3: d.AuditS3, Bucket: d.AuditBucket, Logger: d.Log,
		Requests: d.Store(manifest.Audit), StreamTimePrecision: d.StreamTimePrecision})
}

// Applier applies grants to Identity Center: the access function's stream
// consumer and its sweep.
func (d Deps) Applier() *identitycenter.Applier {
	return &identitycenter.Applier{Records: d.Store(manifest.Access), AWS: d.IdentityCenter, Clock: elevate.SystemClock, Log: d.Log}
}

// OneStore gives every function the same store.
func OneStore(s *dynamo.Store) func(string) *dynamo.Store {
	return func(string) *dynamo.Store { return s }
}
