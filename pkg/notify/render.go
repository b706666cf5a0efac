package notify

import (
	"html"
	"strconv"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Email is one message to one recipient. HTML is already escaped; Text is
// plain text.
type Email struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// message is the content of one email, rendered twice: as plain text and as
// HTML. Rendering is hand-written rather than text/template or html/template
// because those use reflection to call methods by name, which stops the
// linker from dropping unused SDK methods and costs the Lambda binary
// megabytes. Every string reaches the HTML part through html.EscapeString.
type message struct {
	heading string
	lines   []string
	rows    [][2]string
	link    string
}

func (m *message) row(label, value string) {
	if value != "" {
		m.rows = append(m.rows, [2]string{label, value})
	}
}

const linkNotice = "This link is personal: it works once, only for you, until the request expires."

func (m message) text() string {
	var b strings.Builder
	b.WriteString(m.heading + "\n")
	for _, l := range m.lines {
		b.WriteString("\n" + l)
	}
	b.WriteString("\n\n")
	width := 0
	for _, r := range m.rows {
		width = max(width, len(r[0]))
	}
	for _, r := range m.rows {
		b.WriteString(r[0] + ":" + strings.Repeat(" ", width-len(r[0])+1) + r[1] + "\n")
	}
	if m.link != "" {
		b.WriteString("\nReview and decide: " + m.link + "\n" + linkNotice + "\n")
	}
	return b.String()
}

func (m message) html() string {
	esc := html.EscapeString
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><body style=\"font-family:sans-serif\">\n<h2>" + esc(m.heading) + "</h2>\n")
	for _, l := range m.lines {
		b.WriteString("<p>" + esc(l) + "</p>\n")
	}
	b.WriteString("<table cellpadding=\"4\">\n")
	for _, r := range m.rows {
		b.WriteString("<tr><th align=\"left\">" + esc(r[0]) + "</th><td>" + esc(r[1]) + "</td></tr>\n")
	}
	b.WriteString("</table>\n")
	if m.link != "" {
		b.WriteString("<p><a href=\"" + esc(m.link) + "\">Review and decide</a></p>\n<p><small>" + linkNotice + "</small></p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// requestMessage starts a message with the rows every request email shows.
func requestMessage(r elevate.Request, heading string, lines ...string) message {
	m := message{heading: heading, lines: lines}
	m.row("Request", r.ID)
	m.row("Requester", r.Requester)
	m.row("Target", r.Target().String())
	m.row("Duration", r.DurationText())
	m.row("Reason", r.Reason)
	// Scheduled start, ticket and extension (F13-F15); rows skip empty values.
	m.row("Window", r.WindowText())
	m.row("Ticket", r.Ticket)
	m.row("Extends", r.Extends)
	return m
}

// ticketSuffix names the ticket in a subject, so approvers can sort mail by it.
func ticketSuffix(r elevate.Request) string {
	if r.Ticket == "" {
		return ""
	}
	return " (ticket " + r.Ticket + ")"
}

func (m message) email(to, subject string) (Email, error) {
	return Email{To: to, Subject: oneLine(subject), Text: m.text(), HTML: m.html()}, nil
}

// oneLine keeps a subject to one line whatever the data holds, so no text
// can smuggle in a header.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// approvalRequest asks one approver to decide, with their personal link.
func approvalRequest(r elevate.Request, approver, link string) (Email, error) {
	lines := []string{r.Requester + " asks for " + r.Target().String() + " for " + r.DurationText() + "."}
	if r.Extends != "" {
		lines[0] = r.Requester + " asks to extend their access to " + r.Target().String() + " by " + r.DurationText() + "."
	} else if r.StartAt != nil {
		lines = append(lines, "The access is scheduled: "+r.WindowText()+".")
	}
	if r.RequiredApprovals > 1 {
		lines = append(lines, strconv.Itoa(r.RequiredApprovals)+" approvals are required.")
	}
	m := requestMessage(r, "Approval needed: "+r.Target().String(), lines...)
	m.row("Expires", formatTime(r.ExpiresAt)+" (the request expires if nobody decides by then)")
	m.link = link
	return m.email(approver, "[Elevate] Approval needed: "+r.Requester+" requests "+r.Target().String()+ticketSuffix(r))
}

// lastDecision is who moved the request to its current state.
func lastDecision(r elevate.Request) elevate.Decision {
	if len(r.Decisions) == 0 {
		return elevate.Decision{By: elevate.SystemActor}
	}
	return r.Decisions[len(r.Decisions)-1]
}

// outcome tells the requester what happened to their request.
func outcome(r elevate.Request) (Email, error) {
	d := lastDecision(r)
	var heading, subject, expires string
	var lines []string
	switch r.Status {
	case elevate.StatusApproved:
		heading = "Your request was approved"
		if d.By == elevate.SystemActor {
			heading = "Your request was approved automatically"
		}
		lines = []string{"You may now perform " + r.Target().String() + "."}
		if r.GrantStartsAt != nil && r.GrantStartsAt.After(d.At) {
			lines = []string{"You may perform " + r.Target().String() + " from " + formatTime(*r.GrantStartsAt) + "."}
		}
		if r.GrantExpiresAt != nil {
			expires = formatTime(*r.GrantExpiresAt)
		}
		subject = "approved"
	case elevate.StatusDenied:
		heading, subject = "Your request was denied", "denied"
	case elevate.StatusRevoked:
		heading, subject = "Your access was revoked", "revoked"
		lines = []string{"You may no longer perform " + r.Target().String() + "."}
	default:
		return Email{}, errUnexpected
	}
	m := requestMessage(r, heading, lines...)
	m.row("Decided by", d.By)
	m.row("Comment", d.Comment)
	m.row("Expires", expires)
	return m.email(r.Requester, "[Elevate] Request "+subject+": "+r.Target().String())
}

// decidedFYI tells another approver who decided, so they need not.
func decidedFYI(r elevate.Request, to string) (Email, error) {
	d := lastDecision(r)
	verb := strings.ToLower(string(r.Status))
	m := requestMessage(r, "Request "+verb+" by "+d.By, d.By+" "+verb+" the request of "+r.Requester+". No action is needed from you.")
	m.row("Decided by", d.By)
	m.row("Comment", d.Comment)
	return m.email(to, "[Elevate] "+r.Requester+"'s request for "+r.Target().String()+" was "+verb+" by "+d.By)
}

// expired tells the requester that their pending request or their grant ran
// out. Only the grant slot survives in a TTL deletion, so the email shows
// what the slot carries: no duration or reason.
func expired(g elevate.Grant, wasPending bool) (Email, error) {
	target := g.Target.String()
	m := message{heading: "Your access expired", lines: []string{"Your grant for " + target + " has ended."}}
	subject := "[Elevate] Access expired: " + target
	if wasPending {
		m = message{heading: "Your request expired", lines: []string{"Nobody decided your request for " + target + " in time. Submit a new request if you still need access."}}
		subject = "[Elevate] Request expired: " + target
	}
	m.row("Request", g.RequestID)
	m.row("Target", target)
	m.row("Expired", formatTime(g.ExpiresAt))
	return m.email(g.Principal, subject)
}
