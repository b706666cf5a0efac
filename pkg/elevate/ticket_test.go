package elevate

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPolicyTicketRules(t *testing.T) {
	for _, c := range []struct {
		name    string
		pattern *string
		wantErr error
	}{
		{"no pattern", nil, nil},
		{"valid RE2", ptr(`CHG-[0-9]{4,8}`), nil},
		{"bad syntax", ptr(`CHG-(`), ErrUnprocessable},
		{"backreferences are not RE2", ptr(`(a)\1`), ErrUnprocessable},
		{"too long", ptr(strings.Repeat("a", 201)), ErrUnprocessable},
		{"200 is fine", ptr(strings.Repeat("a", 200)), nil},
		// Issue 16 item 9: a pattern that compiles only inside the anchoring
		// wrapper would close its group and leave the rest unanchored.
		{"escapes the anchoring wrapper", ptr(`CHG-\d+)|(?:x`), ErrUnprocessable},
		{"closes the wrapper at the end", ptr(`CHG-\d+)|(`), ErrUnprocessable},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewPolicy(PolicyInput{Scope: "Exchange", Name: "New-MoveRequest", ApprovalType: "Manual", TicketRequired: ptr(true), TicketPattern: c.pattern}, "admin@example.com", t0)
			wantErr(t, err, c.wantErr)
		})
	}
}

func TestRequestTicket(t *testing.T) {
	p := manualPolicy()
	p.TicketRequired, p.TicketPattern = true, `CHG-[0-9]+`
	optional := manualPolicy()
	optional.TicketPattern = `INC[0-9]+`
	for _, c := range []struct {
		name     string
		policy   *Policy
		ticket   string
		wantCode string
	}{
		{"matches", p, "CHG-123", ""},
		{"missing where required names the pattern", p, "", "ticket-required"},
		{"anchored: a prefix does not match", p, "xCHG-123", "ticket-mismatch"},
		{"anchored: a suffix does not match", p, "CHG-123x", "ticket-mismatch"},
		{"optional and absent", optional, "", ""},
		{"optional but present must match", optional, "CHG-1", "ticket-mismatch"},
		{"too long", manualPolicy(), strings.Repeat("T", 65), "ticket-invalid"},
		{"control characters", manualPolicy(), "CHG\n1", "ticket-invalid"},
		{"surrounding space", manualPolicy(), " CHG-1", "ticket-invalid"},
		{"64 is fine", manualPolicy(), strings.Repeat("T", 64), ""},
		// Issue 16 item 10: a ticket is one path segment at the ticket system.
		{"a dot", manualPolicy(), ".", "ticket-invalid"},
		{"two dots", manualPolicy(), "..", "ticket-invalid"},
		{"a slash", manualPolicy(), "CHG-1/../../admin", "ticket-invalid"},
		{"dots inside are fine", manualPolicy(), "CHG-1.2", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewRequest(SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", Ticket: c.ticket},
				Submission{ID: "r1", Requester: "alice@example.com", Settings: enabledSettings(), Policy: c.policy, Now: t0})
			if c.wantCode == "" {
				wantErr(t, err, nil)
				if r.Ticket != c.ticket {
					t.Fatalf("ticket %q", r.Ticket)
				}
				return
			}
			var de *Error
			if !errorsAs(err, &de) || de.Code != c.wantCode || !errorsIs(err, ErrUnprocessable) {
				t.Fatalf("error %v, want code %s", err, c.wantCode)
			}
			if c.wantCode == "ticket-required" || c.wantCode == "ticket-mismatch" {
				if !strings.Contains(de.Message, c.policy.TicketPattern) {
					t.Fatalf("message %q does not name the pattern", de.Message)
				}
			}
		})
	}
}

func TestChangeWindowCapsTheGrant(t *testing.T) {
	auto := *manualPolicy()
	auto.ApprovalType = ApprovalAuto
	tp := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	for _, c := range []struct {
		name             string
		start            *string
		window           ChangeWindow
		wantStart, wantE time.Time
		wantErr          error
	}{
		{"end caps the grant", nil, ChangeWindow{End: tp(time.Hour)}, t0, t0.Add(time.Hour), nil},
		{"a later start moves the grant's start", nil, ChangeWindow{Start: tp(2 * time.Hour), End: tp(3 * time.Hour)}, t0.Add(2 * time.Hour), t0.Add(3 * time.Hour), nil},
		{"an open window changes nothing", nil, ChangeWindow{Start: tp(-time.Hour)}, t0, t0.Add(4 * time.Hour), nil},
		{"window over", nil, ChangeWindow{End: tp(0)}, time.Time{}, time.Time{}, ErrWindowOver},
		{"start after the window", at(5 * time.Hour), ChangeWindow{End: tp(4 * time.Hour)}, time.Time{}, time.Time{}, ErrOutsideWindow},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := c.window
			r, err := NewRequest(SubmitInput{Scope: "Exchange", Name: "New-MoveRequest", Reason: "r", Ticket: "CHG-1", StartAt: c.start},
				Submission{ID: "r1", Requester: "alice@example.com", Settings: enabledSettings(), Policy: &auto, Now: t0, Window: &w})
			wantErr(t, err, c.wantErr)
			if err != nil {
				return
			}
			if !r.GrantStartsAt.Equal(c.wantStart) || !r.GrantExpiresAt.Equal(c.wantE) {
				t.Fatalf("grant %s..%s, want %s..%s", r.GrantStartsAt, r.GrantExpiresAt, c.wantStart, c.wantE)
			}
		})
	}
}

// Issue 16 item 9: wrapped as ^(?:...)$, "CHG-\d+)|(?:x" anchored only at
// the start, so "CHG-1 junk" matched; it is refused on save, and a ticket
// with a suffix never matches a saved pattern.
func TestTicketPatternCannotEscapeItsAnchors(t *testing.T) {
	if _, err := CompileTicketPattern(`CHG-\d+)|(?:x`); !errors.Is(err, ErrUnprocessable) {
		t.Fatalf("an escaping pattern compiled: %v", err)
	}
	p, err := CompileTicketPattern(`CHG-\d+|INC-\d+`)
	if err != nil {
		t.Fatal(err)
	}
	for ticket, want := range map[string]bool{"CHG-1": true, "INC-2": true, "CHG-1 junk": false, "xINC-2": false} {
		if got := p.Matches(ticket); got != want {
			t.Errorf("Matches(%q) = %v, want %v", ticket, got, want)
		}
	}
}
