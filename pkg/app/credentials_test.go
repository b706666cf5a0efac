package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// stubAssumer answers every AssumeRole with fresh fake credentials.
type stubAssumer struct{ n atomic.Int64 }

func (a *stubAssumer) AssumeRole(_ context.Context, in app.AssumeRoleInput) (app.Credentials, error) {
	n := a.n.Add(1)
	return app.Credentials{AccessKeyID: "ASIASTUB" + string(rune('A'+n%26)) + time.Now().Format("150405.000000000"),
		SecretAccessKey: "secret", SessionToken: "token", Expiration: time.Now().Add(in.Duration)}, nil
}

// requestCounter counts the request reads; gone makes the request vanish.
type requestCounter struct {
	*dynamo.Store
	gets atomic.Int64
	gone atomic.Bool
}

func (s *requestCounter) GetRequest(ctx context.Context, id string) (elevate.Request, error) {
	s.gets.Add(1)
	if s.gone.Load() {
		return elevate.Request{}, elevate.ErrRequestNotFound
	}
	return s.Store.GetRequest(ctx, id)
}

// A repeated credentials call for the same grant does not read the request
// again (its requester and target never change); every refusal on a
// remembered request is answered as a first call would answer it.
func TestCredentialsRememberTheRequestButNotItsGrant(t *testing.T) {
	svc := newService(t, 1)
	store := &requestCounter{Store: svc.Store.(*dynamo.Store)}
	svc.Store, svc.Issuer, svc.Issuances, svc.CredentialTargets = store, &stubAssumer{}, store, &app.RequestTargets{}
	must(t, func() error {
		_, err := svc.CreatePolicy(ctx, admin, elevate.PolicyInput{Type: "Task", Scope: "S3", Name: "Delete-Bucket", ApprovalType: "Auto",
			AWS: &elevate.AWSBindingInput{RoleARN: "arn:aws:iam::123456789012:role/broker",
				SessionPolicy: json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}]}`)}})
		return err
	})
	r, err := svc.SubmitRequest(ctx, alice, elevate.SubmitInput{Scope: "S3", Name: "Delete-Bucket", Reason: "cleanup"})
	if err != nil || r.Status != elevate.StatusApproved {
		t.Fatalf("submit: %+v %v", r, err)
	}
	issue := func(c app.Caller) error {
		_, err := svc.IssueCredentials(ctx, c, r.ID)
		return err
	}
	// wantGets checks the request reads the calls since the last check made.
	wantGets := func(step string, n int64) {
		t.Helper()
		if got := store.gets.Swap(0); got != n {
			t.Fatalf("%s: %d request reads, want %d", step, got, n)
		}
	}
	for i := range 3 {
		if err := issue(alice); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	wantGets("three calls", 1)

	if err := issue(bob); !errors.Is(err, app.ErrNotCredentialsRequester) {
		t.Fatalf("bob: %v, want not-requester", err)
	}
	wantGets("someone else's call, answered afresh", 1)
	if err := issue(alice); err != nil {
		t.Fatal(err)
	}
	wantGets("alice again, remembered again", 0)

	if _, err := svc.Decide(ctx, admin, r.ID, elevate.DecisionRevoke, "done"); err != nil {
		t.Fatal(err)
	}
	store.gets.Store(0) // the revoke's own reads
	var refusal *elevate.Error
	if err := issue(alice); !errors.As(err, &refusal) || refusal.Code != string(elevate.ReasonApprovalRequired) {
		t.Fatalf("after the revoke: %v, want 409 approval-required", err)
	}
	wantGets("the refusal, answered afresh", 1)

	// The request is remembered again; were it gone, the answer is 404, as
	// for a first call.
	store.gone.Store(true)
	if err := issue(alice); !errors.Is(err, elevate.ErrRequestNotFound) {
		t.Fatalf("gone: %v, want request not found", err)
	}
	wantGets("gone", 1)
}
