package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// AssumeRoleInput is one sts:AssumeRole call for a grant.
type AssumeRoleInput struct {
	RoleARN        string
	SessionName    string
	SourceIdentity string
	Tags           map[string]string
	SessionPolicy  string
	PolicyARNs     []string
	Duration       time.Duration
}

// Credentials are temporary AWS credentials. Only the API response may
// carry the secret and the token: never a record, a log line or an error.
type Credentials struct {
	AccessKeyID     string    `json:"accessKeyId"`
	SecretAccessKey string    `json:"secretAccessKey"`
	SessionToken    string    `json:"sessionToken"`
	Expiration      time.Time `json:"expiration"`
}

// RoleAssumer is the STS port of the credentials function.
type RoleAssumer interface {
	AssumeRole(ctx context.Context, in AssumeRoleInput) (Credentials, error)
}

// ErrSTSRefused wraps STS refusing a call for a reason the policy's binding
// can fix (a malformed or oversized session policy, say): a 422.
var ErrSTSRefused = &elevate.Error{Kind: elevate.ErrUnprocessable, Code: "sts-refused",
	Message: "AWS STS refused to issue credentials for this policy's aws binding; check the role, its trust policy and the session policy"}

// Issuance is the record of credentials issued for a grant, without the
// secret or the token.
type Issuance struct {
	RequestID      string
	Principal      string
	Target         elevate.Target
	PolicyID       string
	RoleARN        string
	SessionName    string
	SourceIdentity string
	AccessKeyID    string
	IssuedAt       time.Time
	Expiration     time.Time
	// GrantEnd is when the grant ended at issue time; credentials that
	// outlive it (STS's 15-minute floor) are denied from then on.
	GrantEnd time.Time
}

// IssuanceStore records issued credentials.
type IssuanceStore interface {
	// RecordIssuance writes iss conditioned on the principal's grant slot
	// still holding the request's live grant at iss.IssuedAt; otherwise
	// ErrGrantEnded. So every credential handed out is on record before a
	// revoke can commit, and the revoke's stream event sees it.
	RecordIssuance(ctx context.Context, iss Issuance) error
}

// ErrGrantEnded refuses credentials whose grant ended while they were being
// issued; they are discarded, never returned.
var ErrGrantEnded = &elevate.Error{Kind: elevate.ErrConflict, Code: string(elevate.ReasonApprovalRequired),
	Message: "the grant ended while the credentials were being issued; authorize answers approval-required"}

// ErrNotCredentialsRequester refuses credentials for someone else's request.
var ErrNotCredentialsRequester = &elevate.Error{Kind: elevate.ErrForbidden, Code: "not-requester",
	Message: "only the requester of a grant can have its credentials"}

// IssueCredentials hands the requester of a live grant AWS credentials for
// the target's broker role, scoped by its policy's aws binding, lasting no
// longer than the grant (but at least STS's 15 minutes). The refusals, in
// order: someone else's request (403); no live grant for this request (409,
// the code being the reason authorize gives); no aws binding (422).
//
// A request's requester and target never change, so the service keeps them
// per request ID once read (CredentialTargets, when set): a repeated call for the same
// grant (the CLI's credential_process runs once per aws command) skips the
// request's GetItem and makes three round trips. Everything that can change
// (on or off, the policy and its binding, the grant's liveness and end) is
// read every time; a refusal on a remembered request is answered afresh
// from the request, so it is the answer an uncached call gives (404 for a
// request that is gone).
func (s *Service) IssueCredentials(ctx context.Context, c Caller, requestID string) (Credentials, error) {
	if s.Issuer == nil || s.Issuances == nil {
		return Credentials{}, errors.New("app: credentials are not configured (no STS or issuance store)")
	}
	r, remembered := s.CredentialTargets.get(requestID)
	if !remembered {
		full, err := s.Store.GetRequest(ctx, requestID)
		if err != nil {
			return Credentials{}, err
		}
		r = requestTarget{ID: full.ID, Requester: full.Requester, Target: full.Target()}
		s.CredentialTargets.put(r)
	}
	creds, err := s.issueCredentials(ctx, c, r)
	if remembered && refusedForTheRequest(err) {
		s.CredentialTargets.forget(requestID)
		return s.IssueCredentials(ctx, c, requestID)
	}
	return creds, err
}

// refusedForTheRequest reports a refusal that a request which is gone
// would answer differently (404): someone else's request, no live grant.
// Faults are not among them: they are not retried here.
func refusedForTheRequest(err error) bool {
	var e *elevate.Error
	return errors.Is(err, ErrNotCredentialsRequester) || (errors.As(err, &e) && e.Kind == elevate.ErrConflict)
}

func (s *Service) issueCredentials(ctx context.Context, c Caller, r requestTarget) (Credentials, error) {
	if r.Requester != c.Principal {
		return Credentials{}, ErrNotCredentialsRequester
	}
	read, err := s.Store.ReadAuthz(ctx, r.Requester, r.Target)
	if err != nil {
		return Credentials{}, err
	}
	now := s.Clock()
	ans := elevate.Authorize(&elevate.AuthzQuestion{Principal: r.Requester, Target: r.Target, Settings: &read.Settings, Policy: read.Policy, Grant: read.Grant, Now: now})
	if ans.Reason != elevate.ReasonGrant || ans.RequestID != r.ID {
		reason := ans.Reason
		if ans.Reason == elevate.ReasonGrant {
			reason = elevate.ReasonApprovalRequired // a newer request holds the slot
		}
		return Credentials{}, &elevate.Error{Kind: elevate.ErrConflict, Code: string(reason),
			Message: "the request has no live grant; authorize answers " + string(reason)}
	}
	if read.Policy == nil || read.Policy.AWS == nil {
		return Credentials{}, elevate.ErrNoAWSBinding
	}
	b := *read.Policy.AWS
	duration, _ := b.CredentialsWindow(now, ans.ExpiresAt)
	sessionName, sourceIdentity, principalTag := elevate.SessionIdentity(r.Requester, r.ID)
	creds, err := s.Issuer.AssumeRole(ctx, AssumeRoleInput{
		RoleARN: b.RoleARN, SessionName: sessionName, SourceIdentity: sourceIdentity,
		Tags:          map[string]string{elevate.SessionTagRequest: r.ID, elevate.SessionTagPrincipal: principalTag},
		SessionPolicy: string(b.SessionPolicy), PolicyARNs: b.ManagedPolicyARNs, Duration: duration,
	})
	if err != nil {
		return Credentials{}, err
	}
	iss := Issuance{RequestID: r.ID, Principal: r.Requester, Target: r.Target, PolicyID: read.Policy.ID, RoleARN: b.RoleARN,
		SessionName: sessionName, SourceIdentity: sourceIdentity, AccessKeyID: creds.AccessKeyID,
		IssuedAt: now, Expiration: creds.Expiration, GrantEnd: ans.ExpiresAt}
	if err := s.Issuances.RecordIssuance(ctx, iss); err != nil {
		return Credentials{}, err
	}
	return creds, nil
}

// requestTarget is what never changes about a request and the credentials
// route needs: who asked, for what.
type requestTarget struct {
	ID        string
	Requester string
	Target    elevate.Target
}

// maxRequestTargets bounds the remembered requests (about 200 bytes each);
// when full, the map starts over.
const maxRequestTargets = 4096

// RequestTargets remembers requestTarget by request ID, for the life of the
// function's process. The zero value is ready; a nil one remembers nothing.
type RequestTargets struct {
	mu sync.Mutex
	m  map[string]requestTarget
}

func (t *RequestTargets) get(id string) (requestTarget, bool) {
	if t == nil {
		return requestTarget{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.m[id]
	return r, ok
}

func (t *RequestTargets) put(r requestTarget) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil || len(t.m) >= maxRequestTargets {
		t.m = make(map[string]requestTarget)
	}
	t.m[r.ID] = r
}

func (t *RequestTargets) forget(id string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, id)
}

// Revocation is one request's entry in the deny a broker role's Elevate
// inline policy holds: sessions tagged with the request are denied from
// NotAfter on (at once when Ended). It stays until Until, when the last
// credentials issued for the request expire.
type Revocation struct {
	RoleARN      string
	RequestID    string
	Principal    string
	Target       elevate.Target
	Ended        bool
	NotAfter     time.Time
	Until        time.Time
	LastIssuedAt time.Time
}

// RevocationCutoff is the fallback when the entries no longer fit IAM's
// inline policy size: every Elevate session of the role issued before Before
// is denied, until Until.
type RevocationCutoff struct {
	RoleARN string
	Before  time.Time
	Until   time.Time
}
