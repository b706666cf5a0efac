package elevate

import (
	"errors"
	"regexp"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func enabledSettings() Settings {
	s := DefaultSettings()
	s.Enabled = true
	s.DefaultApproverGroup = "ops"
	s.SystemAccounts = []string{"svc-backup@example.com"}
	s.Lockbox = LockboxSettings{Enabled: true, ApproverGroup: "lockbox-approvers", MaxDurationHours: 4}
	return s
}

func manualPolicy() *Policy {
	p, err := NewPolicy(PolicyInput{Type: "Task", Scope: "Exchange", Name: "New-MoveRequest", ApprovalType: "Manual"}, "admin@example.com", t0)
	if err != nil {
		panic(err)
	}
	return &p
}

func pendingRequest(t *testing.T, required int) Request {
	t.Helper()
	p := manualPolicy()
	p.RequiredApprovals = required
	r, err := NewRequest(SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "migrate mailbox"},
		Submission{ID: "r1", Requester: "alice@example.com", Settings: enabledSettings(), Policy: p, Now: t0})
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	return r
}

func wantErr(t *testing.T, got, want error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("unexpected error: %v", got)
		}
		return
	}
	if !errors.Is(got, want) {
		t.Fatalf("error = %v, want %v", got, want)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
