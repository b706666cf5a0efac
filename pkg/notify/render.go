package notify

import (
	"bytes"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
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

// view is what every template sees. Every user-supplied string reaches the
// HTML part through html/template, which escapes it.
type view struct {
	Heading   string
	Lines     []string
	Request   elevate.Request
	Target    string
	Duration  string
	Expires   string
	Link      string
	Decider   string
	Comment   string
	Approvals string
}

const textBody = `{{.Heading}}
{{range .Lines}}
{{.}}{{end}}

Request:   {{.Request.ID}}
Requester: {{.Request.Requester}}
Target:    {{.Target}}
Duration:  {{.Duration}}
Reason:    {{.Request.Reason}}
{{- if .Decider}}
Decided by: {{.Decider}}{{end}}
{{- if .Comment}}
Comment:   {{.Comment}}{{end}}
{{- if .Expires}}
Expires:   {{.Expires}}{{end}}
{{- if .Link}}

Review and decide: {{.Link}}
This link is personal: it works once, only for you, until the request expires.{{end}}
`

const htmlBody = `<!doctype html>
<html><body style="font-family:sans-serif">
<h2>{{.Heading}}</h2>
{{range .Lines}}<p>{{.}}</p>
{{end}}<table cellpadding="4">
<tr><th align="left">Request</th><td>{{.Request.ID}}</td></tr>
<tr><th align="left">Requester</th><td>{{.Request.Requester}}</td></tr>
<tr><th align="left">Target</th><td>{{.Target}}</td></tr>
<tr><th align="left">Duration</th><td>{{.Duration}}</td></tr>
<tr><th align="left">Reason</th><td>{{.Request.Reason}}</td></tr>
{{- if .Decider}}
<tr><th align="left">Decided by</th><td>{{.Decider}}</td></tr>{{end}}
{{- if .Comment}}
<tr><th align="left">Comment</th><td>{{.Comment}}</td></tr>{{end}}
{{- if .Expires}}
<tr><th align="left">Expires</th><td>{{.Expires}}</td></tr>{{end}}
</table>
{{- if .Link}}
<p><a href="{{.Link}}">Review and decide</a></p>
<p><small>This link is personal: it works once, only for you, until the request expires.</small></p>{{end}}
</body></html>
`

var (
	textTmpl = texttemplate.Must(texttemplate.New("text").Parse(textBody))
	htmlTmpl = htmltemplate.Must(htmltemplate.New("html").Parse(htmlBody))
)

func render(to, subject string, v view) (Email, error) {
	v.Target = v.Request.Target().String()
	v.Duration = formatHours(v.Request.DurationHours)
	var t, h bytes.Buffer
	if err := textTmpl.Execute(&t, v); err != nil {
		return Email{}, err
	}
	if err := htmlTmpl.Execute(&h, v); err != nil {
		return Email{}, err
	}
	return Email{To: to, Subject: oneLine(subject), Text: t.String(), HTML: h.String()}, nil
}

// oneLine keeps a subject to one line whatever the data holds, so no text
// can smuggle in a header.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

func formatHours(h float64) string {
	if h == 1 {
		return "1 hour"
	}
	return strconv.FormatFloat(h, 'f', -1, 64) + " hours"
}

// approvalRequest asks one approver to decide, with their personal link.
func approvalRequest(r elevate.Request, approver, link string) (Email, error) {
	v := view{
		Heading: "Approval needed: " + r.Target().String(),
		Lines:   []string{r.Requester + " asks for " + r.Target().String() + " for " + formatHours(r.DurationHours) + "."},
		Request: r, Link: link,
		Expires: formatTime(r.ExpiresAt) + " (the request expires if nobody decides by then)",
	}
	if r.RequiredApprovals > 1 {
		v.Lines = append(v.Lines, strconv.Itoa(r.RequiredApprovals)+" approvals are required.")
	}
	return render(approver, "[Elevate] Approval needed: "+r.Requester+" requests "+r.Target().String(), v)
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
	v := view{Request: r, Decider: d.By, Comment: d.Comment}
	var subject string
	switch r.Status {
	case elevate.StatusApproved:
		v.Heading = "Your request was approved"
		if d.By == elevate.SystemActor {
			v.Heading = "Your request was approved automatically"
		}
		v.Lines = []string{"You may now perform " + r.Target().String() + "."}
		if r.GrantExpiresAt != nil {
			v.Expires = formatTime(*r.GrantExpiresAt)
		}
		subject = "approved"
	case elevate.StatusDenied:
		v.Heading = "Your request was denied"
		subject = "denied"
	case elevate.StatusRevoked:
		v.Heading = "Your access was revoked"
		v.Lines = []string{"You may no longer perform " + r.Target().String() + "."}
		subject = "revoked"
	default:
		return Email{}, errUnexpected
	}
	return render(r.Requester, "[Elevate] Request "+subject+": "+r.Target().String(), v)
}

// decidedFYI tells another approver who decided, so they need not.
func decidedFYI(r elevate.Request, to string) (Email, error) {
	d := lastDecision(r)
	verb := strings.ToLower(string(r.Status))
	v := view{
		Heading: "Request " + verb + " by " + d.By,
		Lines:   []string{d.By + " " + verb + " the request of " + r.Requester + ". No action is needed from you."},
		Request: r, Decider: d.By, Comment: d.Comment,
	}
	return render(to, "[Elevate] "+r.Requester+"'s request for "+r.Target().String()+" was "+verb+" by "+d.By, v)
}

// expired tells the requester that their pending request or their grant ran
// out. Only the grant slot survives in a TTL deletion, so the request is
// sketched from it.
func expired(g elevate.Grant, wasPending bool) (Email, error) {
	r := elevate.Request{ID: g.RequestID, Requester: g.Principal, Type: g.Target.Type, Scope: g.Target.Scope, Name: g.Target.Name}
	v := view{Request: r, Expires: formatTime(g.ExpiresAt)}
	subject := "[Elevate] Access expired: " + r.Target().String()
	if wasPending {
		v.Heading = "Your request expired"
		v.Lines = []string{"Nobody decided your request for " + r.Target().String() + " in time. Submit a new request if you still need access."}
		subject = "[Elevate] Request expired: " + r.Target().String()
	} else {
		v.Heading = "Your access expired"
		v.Lines = []string{"Your grant for " + r.Target().String() + " has ended."}
	}
	return renderSlot(g.Principal, subject, v)
}

// renderSlot renders without the request-only rows (duration, reason), which
// a grant slot does not carry.
func renderSlot(to, subject string, v view) (Email, error) {
	var t, h bytes.Buffer
	v.Target = v.Request.Target().String()
	if err := slotText.Execute(&t, v); err != nil {
		return Email{}, err
	}
	if err := slotHTML.Execute(&h, v); err != nil {
		return Email{}, err
	}
	return Email{To: to, Subject: oneLine(subject), Text: t.String(), HTML: h.String()}, nil
}

var (
	slotText = texttemplate.Must(texttemplate.New("slot").Parse(`{{.Heading}}
{{range .Lines}}
{{.}}{{end}}

Request: {{.Request.ID}}
Target:  {{.Target}}
Expired: {{.Expires}}
`))
	slotHTML = htmltemplate.Must(htmltemplate.New("slot").Parse(`<!doctype html>
<html><body style="font-family:sans-serif">
<h2>{{.Heading}}</h2>
{{range .Lines}}<p>{{.}}</p>
{{end}}<table cellpadding="4">
<tr><th align="left">Request</th><td>{{.Request.ID}}</td></tr>
<tr><th align="left">Target</th><td>{{.Target}}</td></tr>
<tr><th align="left">Expired</th><td>{{.Expires}}</td></tr>
</table>
</body></html>
`))
)
