package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func pendingRequest() elevate.Request {
	return elevate.Request{
		ID: "r1", Type: elevate.TypeTask, Scope: "Exchange", Name: "New-MoveRequest",
		Requester: "rita@example.com", Reason: `move <b>mailbox</b> & "fix" <script>alert(1)</script>`,
		DurationHours: 1.5, Status: elevate.StatusPending, ApprovalType: elevate.ApprovalManual,
		ApproverGroup: "ops", RequiredApprovals: 2, CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
	}
}

func TestApprovalRequestEscapesUserTextAndCarriesLink(t *testing.T) {
	link := "https://elevate.example.com/v1/links/abc.def"
	e, err := approvalRequest(pendingRequest(), "alice@example.com", link)
	if err != nil {
		t.Fatal(err)
	}
	if e.To != "alice@example.com" {
		t.Fatalf("To = %q", e.To)
	}
	if strings.Contains(e.HTML, "<script>") || strings.Contains(e.HTML, "<b>mailbox") {
		t.Fatalf("HTML part carries unescaped user text:\n%s", e.HTML)
	}
	if !strings.Contains(e.HTML, "&lt;script&gt;") {
		t.Fatalf("HTML part lost the reason:\n%s", e.HTML)
	}
	for _, want := range []string{"rita@example.com", `Task Exchange\New-MoveRequest`, "1.5 hours", "2025-03-02 10:00 UTC", link, "2 approvals are required", `<script>alert(1)</script>`} {
		if !strings.Contains(e.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, e.Text)
		}
	}
	if !strings.Contains(e.HTML, `href="`+link+`"`) {
		t.Errorf("HTML part lacks the link:\n%s", e.HTML)
	}
	if !strings.Contains(e.Subject, "rita@example.com") || strings.ContainsAny(e.Subject, "\r\n") {
		t.Errorf("subject = %q", e.Subject)
	}
}

func TestOutcomeAndFYI(t *testing.T) {
	r := pendingRequest()
	end := t0.Add(3 * time.Hour)
	r.Status, r.GrantExpiresAt = elevate.StatusApproved, &end
	r.Decisions = []elevate.Decision{{By: "bob@example.com", Decision: elevate.DecisionApprove, Comment: "ok <i>go</i>", At: t0}}
	e, err := outcome(r)
	if err != nil {
		t.Fatal(err)
	}
	if e.To != r.Requester || !strings.Contains(e.Subject, "approved") || !strings.Contains(e.Text, "bob@example.com") ||
		!strings.Contains(e.Text, "2025-03-01 13:00 UTC") || strings.Contains(e.HTML, "<i>go") {
		t.Fatalf("approved outcome = %+v", e)
	}
	f, err := decidedFYI(r, "carol@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if f.To != "carol@example.com" || !strings.Contains(f.Subject, "approved by bob@example.com") || strings.Contains(f.Text, "/v1/links/") {
		t.Fatalf("fyi = %+v", f)
	}
	r.Status = elevate.StatusCancelled
	if _, err := outcome(r); err == nil {
		t.Fatal("outcome of a cancelled request should be refused")
	}
}

func TestExpiredNotices(t *testing.T) {
	g := elevate.Grant{RequestID: "r1", Principal: "rita@example.com", Target: elevate.Target{Type: elevate.TypeTask, Scope: "Exchange", Name: "X"}, ExpiresAt: t0}
	for _, tc := range []struct {
		pending bool
		want    string
	}{{true, "Request expired"}, {false, "Access expired"}} {
		e, err := expired(g, tc.pending)
		if err != nil {
			t.Fatal(err)
		}
		if e.To != g.Principal || !strings.Contains(e.Subject, tc.want) || !strings.Contains(e.Text, "r1") || !strings.Contains(e.HTML, "2025-03-01 10:00 UTC") {
			t.Fatalf("pending=%v: %+v", tc.pending, e)
		}
	}
}

// A scheduled request with a ticket: the approver's email shows the window
// and the ticket, and its subject names the ticket.
func TestApprovalRequestShowsWindowAndTicket(t *testing.T) {
	r := pendingRequest()
	start := t0.Add(5 * time.Hour)
	r.StartAt, r.Ticket = &start, "CHG-4711"
	e, err := approvalRequest(r, "alice@example.com", "https://elevate.example.com/v1/links/abc.def")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Subject, "(ticket CHG-4711)") {
		t.Errorf("subject %q does not name the ticket", e.Subject)
	}
	for _, want := range []string{"Window:", "2025-03-01 15:00 – 2025-03-01 16:30 UTC", "Ticket:", "CHG-4711", "The access is scheduled"} {
		if !strings.Contains(e.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, e.Text)
		}
	}
	if !strings.Contains(e.HTML, "<th align=\"left\">Ticket</th><td>CHG-4711</td>") {
		t.Errorf("HTML part lacks the ticket row:\n%s", e.HTML)
	}
	plain, _ := approvalRequest(pendingRequest(), "alice@example.com", "https://x")
	if strings.Contains(plain.Text, "Window:") || strings.Contains(plain.Subject, "ticket") {
		t.Errorf("a request without schedule or ticket shows them:\n%s", plain.Text)
	}
}

// The requester of a scheduled grant is told when it starts, not "now".
func TestOutcomeOfScheduledApproval(t *testing.T) {
	r := pendingRequest()
	start := t0.Add(5 * time.Hour)
	r.StartAt, r.RequiredApprovals = &start, 1
	approved, err := r.Approve(elevate.Decider{Principal: "bob@example.com", InGroup: true}, "", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e, err := outcome(approved)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Text, "from 2025-03-01 15:00 UTC") || strings.Contains(e.Text, "may now perform") {
		t.Errorf("scheduled approval email:\n%s", e.Text)
	}
}
