package elevate

import (
	"fmt"
	"testing"
	"time"
)

func TestNewRequest(t *testing.T) {
	auto := *manualPolicy()
	auto.ApprovalType = ApprovalAuto
	capped := *manualPolicy()
	capped.MaxDurationHours = 2
	ownGroup := *manualPolicy()
	ownGroup.ApproverGroup = "exchange-admins"
	disabled := enabledSettings()
	disabled.Enabled = false
	noLockbox := enabledSettings()
	noLockbox.Lockbox.Enabled = false
	noDefault := enabledSettings()
	noDefault.DefaultApproverGroup = ""

	cases := []struct {
		name       string
		in         SubmitInput
		settings   Settings
		policy     *Policy
		wantErr    error
		wantStatus Status
		wantGroup  string
		wantHours  float64
		wantExpiry time.Time
	}{
		{name: "manual defaults", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r"}, settings: enabledSettings(), policy: manualPolicy(),
			wantStatus: StatusPending, wantGroup: "ops", wantHours: 4, wantExpiry: t0.Add(24 * time.Hour)},
		{name: "policy group wins over default", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r"}, settings: enabledSettings(), policy: &ownGroup,
			wantStatus: StatusPending, wantGroup: "exchange-admins", wantHours: 4, wantExpiry: t0.Add(24 * time.Hour)},
		{name: "fractional hours", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", DurationHours: ptr(0.5)}, settings: enabledSettings(), policy: manualPolicy(),
			wantStatus: StatusPending, wantGroup: "ops", wantHours: 0.5, wantExpiry: t0.Add(24 * time.Hour)},
		{name: "auto approves at once and the grant clock starts now", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", DurationHours: ptr(2.0)}, settings: enabledSettings(), policy: &auto,
			wantStatus: StatusApproved, wantGroup: "ops", wantHours: 2, wantExpiry: t0.Add(2 * time.Hour)},
		{name: "lockbox is manual with its own group", in: SubmitInput{Type: "Lockbox", Scope: "Exchange", Name: "mailbox-42", Reason: "case 7", DurationHours: ptr(4.0)}, settings: enabledSettings(), policy: &auto,
			wantStatus: StatusPending, wantGroup: "lockbox-approvers", wantHours: 4, wantExpiry: t0.Add(24 * time.Hour)},
		{name: "lockbox capped at 4h", in: SubmitInput{Type: "Lockbox", Scope: "Exchange", Name: "mailbox-42", Reason: "r", DurationHours: ptr(4.5)}, settings: enabledSettings(), wantErr: ErrDurationTooLong},
		{name: "lockbox off", in: SubmitInput{Type: "Lockbox", Scope: "Exchange", Name: "mailbox-42", Reason: "r"}, settings: noLockbox, wantErr: ErrLockboxDisabled},
		{name: "no policy", in: SubmitInput{Scope: "Exchange", Name: "Get-Mailbox", Reason: "r"}, settings: enabledSettings(), wantErr: ErrNoPolicy},
		{name: "access off", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r"}, settings: disabled, policy: manualPolicy(), wantErr: ErrAccessDisabled},
		{name: "over policy max", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", DurationHours: ptr(3.0)}, settings: enabledSettings(), policy: &capped, wantErr: ErrDurationTooLong},
		{name: "over absolute max", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", DurationHours: ptr(25.0)}, settings: enabledSettings(), policy: manualPolicy(), wantErr: ErrDurationTooLong},
		{name: "zero duration", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", DurationHours: ptr(0.0)}, settings: enabledSettings(), policy: manualPolicy(), wantErr: ErrInvalid},
		{name: "negative duration", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", DurationHours: ptr(-1.0)}, settings: enabledSettings(), policy: manualPolicy(), wantErr: ErrInvalid},
		{name: "missing reason", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest"}, settings: enabledSettings(), policy: manualPolicy(), wantErr: ErrInvalid},
		// Issue 16 item 6: a minimum is of characters other than spaces.
		{name: "reason of spaces only", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: " \t\n "}, settings: enabledSettings(), policy: manualPolicy(), wantErr: ErrInvalid},
		{name: "bad type", in: SubmitInput{Type: "Admin", Scope: "Exchange", Name: "New-MoveRequest", Reason: "r"}, settings: enabledSettings(), policy: manualPolicy(), wantErr: ErrInvalid},
		{name: "bad scope", in: SubmitInput{Scope: "Ex change", Name: "New-MoveRequest", Reason: "r"}, settings: enabledSettings(), policy: manualPolicy(), wantErr: ErrInvalid},
		{name: "manual with no group anywhere", in: SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r"}, settings: noDefault, policy: manualPolicy(), wantErr: ErrNoApproverGroup},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewRequest(c.in, Submission{ID: "r1", Requester: "alice@example.com", Settings: c.settings, Policy: c.policy, Now: t0})
			wantErr(t, err, c.wantErr)
			if c.wantErr != nil {
				return
			}
			if r.Status != c.wantStatus || r.ApproverGroup != c.wantGroup || r.DurationHours != c.wantHours || !r.ExpiresAt.Equal(c.wantExpiry) {
				t.Fatalf("got status=%s group=%s hours=%v expires=%v", r.Status, r.ApproverGroup, r.DurationHours, r.ExpiresAt)
			}
			if c.wantStatus == StatusApproved {
				if g, ok := r.Grant(); !ok || !g.ExpiresAt.Equal(c.wantExpiry) || g.Principal != "alice@example.com" {
					t.Fatalf("auto-approved request has grant %+v ok=%v", g, ok)
				}
			}
			if c.in.Type == "Lockbox" && r.ApprovalType != ApprovalManual {
				t.Fatalf("lockbox approval type = %s", r.ApprovalType)
			}
		})
	}
}

func TestDecisions(t *testing.T) {
	bob := Decider{Principal: "bob@example.com", InGroup: true}
	carol := Decider{Principal: "carol@example.com", InGroup: true}
	alice := Decider{Principal: "alice@example.com", InGroup: true}
	dave := Decider{Principal: "dave@example.com"}
	admin := Decider{Principal: "root@example.com", Admin: true}
	later := t0.Add(time.Hour)
	afterPending := t0.Add(25 * time.Hour)

	approved := func(t *testing.T) Request {
		r, err := pendingRequest(t, 1).Approve(bob, "ok", later)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	denied := func(t *testing.T) Request {
		r, err := pendingRequest(t, 1).Deny(bob, "no", later)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	type step func(Request) (Request, error)
	cases := []struct {
		name       string
		start      func(*testing.T) Request
		do         step
		wantErr    error
		wantStatus Status
	}{
		{"approve", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Approve(bob, "ok", later) }, nil, StatusApproved},
		{"deny", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Deny(bob, "no", later) }, nil, StatusDenied},
		{"self approval refused", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Approve(alice, "", later) }, ErrSelfApproval, StatusPending},
		{"self denial refused", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Deny(alice, "", later) }, ErrSelfApproval, StatusPending},
		{"non-member approval refused", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Approve(dave, "", later) }, ErrNotApprover, StatusPending},
		{"admin is not an approver", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Approve(admin, "", later) }, ErrNotApprover, StatusPending},
		{"approve after pending expiry", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Approve(bob, "", afterPending) }, ErrRequestExpired, StatusExpired},
		{"approve approved", approved, func(r Request) (Request, error) { return r.Approve(carol, "", later) }, ErrNotPending, StatusApproved},
		{"deny approved", approved, func(r Request) (Request, error) { return r.Deny(carol, "", later) }, ErrNotPending, StatusApproved},
		{"approve denied", denied, func(r Request) (Request, error) { return r.Approve(carol, "", later) }, ErrNotPending, StatusDenied},
		{"cancel by requester", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Cancel(alice, "", later) }, nil, StatusCancelled},
		{"cancel by admin", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Cancel(admin, "", later) }, nil, StatusCancelled},
		{"cancel by approver refused", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Cancel(bob, "", later) }, ErrNotRequester, StatusPending},
		{"cancel approved refused", approved, func(r Request) (Request, error) { return r.Cancel(alice, "", later) }, ErrNotPending, StatusApproved},
		{"revoke by approver", approved, func(r Request) (Request, error) { return r.Revoke(bob, "done", later.Add(time.Minute)) }, nil, StatusRevoked},
		{"revoke by requester", approved, func(r Request) (Request, error) { return r.Revoke(alice, "", later.Add(time.Minute)) }, nil, StatusRevoked},
		{"revoke by admin", approved, func(r Request) (Request, error) { return r.Revoke(admin, "", later.Add(time.Minute)) }, nil, StatusRevoked},
		{"revoke by outsider refused", approved, func(r Request) (Request, error) { return r.Revoke(dave, "", later.Add(time.Minute)) }, ErrNotRevoker, StatusApproved},
		{"revoke pending refused", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Revoke(bob, "", later) }, ErrNotActive, StatusPending},
		{"revoke after grant expiry refused", approved, func(r Request) (Request, error) { return r.Revoke(bob, "", later.Add(5*time.Hour)) }, ErrNotActive, StatusApproved},
		{"revoke twice refused", func(t *testing.T) Request {
			r, err := approved(t).Revoke(bob, "", later.Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, func(r Request) (Request, error) { return r.Revoke(bob, "", later.Add(2*time.Minute)) }, ErrNotActive, StatusRevoked},
		{"comment too long", func(t *testing.T) Request { return pendingRequest(t, 1) }, func(r Request) (Request, error) { return r.Approve(bob, string(make([]byte, 1001)), later) }, ErrInvalid, StatusPending},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := c.start(t)
			got, err := c.do(start)
			wantErr(t, err, c.wantErr)
			at := later.Add(2 * time.Minute)
			if c.wantStatus == StatusExpired {
				at = afterPending
			}
			if err != nil {
				if got.Version != start.Version || len(got.Decisions) != len(start.Decisions) {
					t.Fatalf("a refused decision changed the request")
				}
			}
			if s := got.EffectiveStatus(at); s != c.wantStatus {
				t.Fatalf("status = %s, want %s", s, c.wantStatus)
			}
		})
	}
}

func TestGrantClockStartsAtApproval(t *testing.T) {
	r := pendingRequest(t, 1)
	approvedAt := t0.Add(3 * time.Hour)
	r, err := r.Approve(Decider{Principal: "bob@example.com", InGroup: true}, "", approvedAt)
	if err != nil {
		t.Fatal(err)
	}
	want := approvedAt.Add(4 * time.Hour)
	if r.GrantExpiresAt == nil || !r.GrantExpiresAt.Equal(want) || !r.ExpiresAt.Equal(want) {
		t.Fatalf("grant ends %v, want %v", r.GrantExpiresAt, want)
	}
	if !r.View(want.Add(-time.Second)).Active || r.View(want).Active {
		t.Fatal("active must be true until the grant ends and false from then on")
	}
}

func TestNOfM(t *testing.T) {
	members := func(p string) bool { return p == "bob@example.com" || p == "carol@example.com" }
	bob := Decider{Principal: "bob@example.com", InGroup: true, StillApprover: members}
	carol := Decider{Principal: "carol@example.com", InGroup: true, StillApprover: members}
	r := pendingRequest(t, 2)
	r1, err := r.Approve(bob, "one", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r1.Status != StatusPending || r1.Approvals() != 1 || r1.Version != r.Version+1 {
		t.Fatalf("after one of two approvals: status %s approvals %d", r1.Status, r1.Approvals())
	}
	if _, err := r1.Approve(bob, "again", t0.Add(2*time.Minute)); !errorsIs(err, ErrAlreadyDecided) {
		t.Fatalf("same approver twice: %v", err)
	}
	r2, err := r1.Approve(carol, "two", t0.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r2.Status != StatusApproved || !r2.GrantExpiresAt.Equal(t0.Add(3*time.Minute+4*time.Hour)) {
		t.Fatalf("after two approvals: %s, grant %v", r2.Status, r2.GrantExpiresAt)
	}
	if fmt.Sprint(r2.CountedBy) != "[bob@example.com carol@example.com]" {
		t.Fatalf("counted approvers %v", r2.CountedBy)
	}
	// One denial ends an N-of-M request even after partial approval.
	d, err := r1.Deny(carol, "no", t0.Add(3*time.Minute))
	if err != nil || d.Status != StatusDenied {
		t.Fatalf("deny after partial approval: %v %s", err, d.Status)
	}
	// The original value is untouched: decisions copy, never alias.
	if len(r.Decisions) != 0 || len(r1.Decisions) != 1 {
		t.Fatal("decision history aliased between versions")
	}
}

func TestReadTimeExpiry(t *testing.T) {
	r := pendingRequest(t, 1)
	if r.EffectiveStatus(r.ExpiresAt.Add(-time.Nanosecond)) != StatusPending {
		t.Fatal("pending just before expiry")
	}
	if r.EffectiveStatus(r.ExpiresAt) != StatusExpired || r.View(r.ExpiresAt).Status != StatusExpired {
		t.Fatal("expired at expiry")
	}
	if r.Status != StatusPending {
		t.Fatal("the stored status never becomes Expired")
	}
}

func TestDurationText(t *testing.T) {
	for h, want := range map[float64]string{1: "1 hour", 1.5: "1.5 hours", 4: "4 hours", 0.25: "0.25 hours"} {
		if got := (Request{DurationHours: h}).DurationText(); got != want {
			t.Errorf("DurationText(%v) = %q, want %q", h, got, want)
		}
	}
}

// Issue 10 item 6: an approval from someone who has since left the group no
// longer counts toward N of M; the request stays Pending until enough
// current members approve.
func TestNOfMCountsOnlyCurrentApprovers(t *testing.T) {
	current := map[string]bool{"carol@example.com": true, "dave@example.com": true}
	still := func(p string) bool { return current[p] }
	r := pendingRequest(t, 2)
	r, err := r.Approve(Decider{Principal: "bob@example.com", InGroup: true, StillApprover: still}, "", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// Bob has left: Carol's approval is the second recorded but the first counted.
	r, err = r.Approve(Decider{Principal: "carol@example.com", InGroup: true, StillApprover: still}, "", t0.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusPending || r.CountedBy != nil || r.Approvals() != 2 {
		t.Fatalf("a departed approver was counted: status %s counted %v", r.Status, r.CountedBy)
	}
	r, err = r.Approve(Decider{Principal: "dave@example.com", InGroup: true, StillApprover: still}, "", t0.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusApproved || fmt.Sprint(r.CountedBy) != "[carol@example.com dave@example.com]" {
		t.Fatalf("two current approvers: status %s counted %v", r.Status, r.CountedBy)
	}
	// Without a view of the group, no earlier approval counts (fail closed).
	p := pendingRequest(t, 2)
	p, err = p.Approve(Decider{Principal: "carol@example.com", InGroup: true}, "", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if p, err = p.Approve(Decider{Principal: "dave@example.com", InGroup: true}, "", t0.Add(2*time.Minute)); err != nil || p.Status != StatusPending || p.Approvals() != 2 {
		t.Fatalf("nil StillApprover counted an earlier approval: %s %v", p.Status, err)
	}
}

// Issue 10 item 5: a revoke records the right it was made under, so the
// commit can re-check membership when that right is membership.
func TestRevokeRecordsItsRight(t *testing.T) {
	for _, c := range []struct {
		d    Decider
		want string
	}{
		{Decider{Principal: "alice@example.com", InGroup: true}, RevokeAsRequester},
		{Decider{Principal: "root@example.com", InGroup: true, Admin: true}, RevokeAsAdmin},
		{Decider{Principal: "bob@example.com", InGroup: true}, RevokeAsApprover},
	} {
		r, err := pendingRequest(t, 1).Approve(Decider{Principal: "bob@example.com", InGroup: true}, "", t0)
		if err != nil {
			t.Fatal(err)
		}
		r, err = r.Revoke(c.d, "", t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Decisions[len(r.Decisions)-1].As; got != c.want {
			t.Errorf("%s revoked as %q, want %q", c.d.Principal, got, c.want)
		}
	}
}
