package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/linktoken"
)

// pageStyle is the page's only styling. It is allowed by its hash rather than
// 'unsafe-inline', so an injected style could not apply.
const pageStyle = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}` +
	`dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}` +
	`label{display:block;font-weight:600;margin-top:1rem}textarea{box-sizing:border-box;width:100%;min-height:6rem;padding:.5rem;font:inherit}` +
	`button{font:inherit;padding:.5rem 1.25rem;margin:1rem .75rem 0 0;border-radius:.25rem;border:2px solid #1b1b1b;cursor:pointer}` +
	`.approve{background:#0b6e2e;color:#fff}.deny{background:#fff;color:#8a1010;border-color:#8a1010}` +
	`.note{padding:.75rem 1rem;border-left:4px solid #555;background:#f3f3f3}`

// LinkCSP is the Content-Security-Policy of every link page.
var LinkCSP = func() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

// renderPage writes the link page by hand rather than with html/template:
// the template engine calls methods by name through reflection, which stops
// the linker from dropping unused SDK methods and costs every Lambda binary
// megabytes. Every dynamic string goes through html.EscapeString.
func renderPage(d pageData) string {
	esc := html.EscapeString
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"referrer\" content=\"no-referrer\">\n" +
		"<title>" + esc(d.Title) + " · Elevate</title>\n<style>" + pageStyle + "</style>\n</head>\n<body>\n<main>\n" +
		"<h1>" + esc(d.Title) + "</h1>\n")
	if d.Message != "" {
		b.WriteString("<p class=\"note\" role=\"status\">" + esc(d.Message) + "</p>\n")
	}
	if r := d.Request; r != nil {
		until := "Ends"
		if r.Pending {
			until = "Pending until"
		}
		b.WriteString("<h2>Request</h2>\n<dl>\n")
		for _, row := range [][2]string{
			{"Requested by", r.Requester},
			{"Target", r.Type + " " + r.Scope + `\` + r.Name},
			{"Reason", r.Reason},
			{"Duration", r.Duration},
			{"Status", r.Status},
		} {
			b.WriteString("<dt>" + row[0] + "</dt><dd>" + esc(row[1]) + "</dd>\n")
		}
		// Scheduled start, ticket and extension (F13-F15), shown when set.
		for _, row := range [][2]string{{"Window", r.Window}, {"Ticket", r.Ticket}, {"Extends", r.Extends}} {
			if row[1] != "" {
				b.WriteString("<dt>" + row[0] + "</dt><dd>" + esc(row[1]) + "</dd>\n")
			}
		}
		b.WriteString("<dt>" + until + "</dt><dd><time datetime=\"" + esc(r.ExpiresISO) + "\">" + esc(r.Expires) + "</time></dd>\n" +
			"<dt>Approvals</dt><dd>" + strconv.Itoa(r.Approvals) + " of " + strconv.Itoa(r.Required) + " required</dd>\n</dl>\n")
		if len(r.Decisions) > 0 {
			b.WriteString("<h2>Decisions so far</h2>\n<ul>")
			for _, dec := range r.Decisions {
				b.WriteString("<li>" + esc(dec.By) + ": " + esc(string(dec.Decision)))
				if dec.Comment != "" {
					b.WriteString(" — “" + esc(dec.Comment) + "”")
				}
				b.WriteString("</li>")
			}
			b.WriteString("</ul>\n")
		}
	}
	if f := d.Form; f != nil {
		b.WriteString("<form method=\"post\">\n<input type=\"hidden\" name=\"request\" value=\"" + esc(f.RequestID) + "\">\n" +
			"<p>You are deciding as <strong>" + esc(f.Approver) + "</strong>.</p>\n" +
			"<label for=\"comment\">Comment (optional)</label>\n<textarea id=\"comment\" name=\"comment\" maxlength=\"1000\"></textarea>\n")
		yes, no := [2]string{"approve", "Approve"}, [2]string{"deny", "Deny"}
		if f.BreakGlass {
			yes, no = [2]string{"ratify", "Ratify"}, [2]string{"revoke", "Revoke"}
		}
		b.WriteString("<button type=\"submit\" name=\"decision\" value=\"" + yes[0] + "\" class=\"approve\">" + yes[1] + "</button>\n" +
			"<button type=\"submit\" name=\"decision\" value=\"" + no[0] + "\" class=\"deny\">" + no[1] + "</button>\n</form>\n")
	}
	b.WriteString("</main>\n</body>\n</html>\n")
	return b.String()
}

type pageData struct {
	Title   string
	Message string
	Request *requestView
	Form    *formView
}

type formView struct {
	RequestID, Approver string
	// BreakGlass offers Ratify and Revoke instead of Approve and Deny.
	BreakGlass bool
}

type requestView struct {
	Requester, Type, Scope, Name, Reason, Duration, Status string
	Pending                                                bool
	Expires, ExpiresISO                                    string
	Approvals, Required                                    int
	Decisions                                              []elevate.Decision
	// Window, Ticket and Extends are empty unless the request has them.
	Window, Ticket, Extends string
}

func viewOf(r elevate.Request) *requestView {
	return &requestView{
		Requester: r.Requester, Type: string(r.Type), Scope: r.Scope, Name: r.Name, Reason: r.Reason,
		Duration: r.DurationText(),
		Status:   string(r.Status), Pending: r.Status == elevate.StatusPending,
		Expires: r.ExpiresAt.UTC().Format("2 January 2006, 15:04 UTC"), ExpiresISO: r.ExpiresAt.UTC().Format(time.RFC3339),
		Approvals: r.Approvals(), Required: r.RequiredApprovals, Decisions: r.Decisions,
		Window: r.WindowText(), Ticket: r.Ticket, Extends: r.Extends,
	}
}

func linkHeaders() map[string]string {
	return map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": LinkCSP,
		"Cache-Control":           "no-store",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
	}
}

func (s *server) page(_ *call, status int, d pageData) (response, error) {
	return response{StatusCode: status, Headers: linkHeaders(), Body: renderPage(d)}, nil
}

// linkError renders a refusal as a human page. Each outcome of the security
// matrix has its own status: forged 403, expired 410, replayed or no longer
// pending 409, not allowed to decide 403.
func (s *server) linkError(c *call, err error) (response, error) {
	status, title, msg := http.StatusInternalServerError, "Something went wrong", "The request could not be completed. Please try again later."
	var de *elevate.Error
	switch {
	case errors.Is(err, linktoken.ErrMalformed), errors.Is(err, linktoken.ErrSignature):
		status, title, msg = http.StatusForbidden, "This link is not valid", "The link is damaged, was not issued by Elevate, or was signed by a key that has since been retired (a link outlives one key rotation, not two). Open the link from the latest email, or decide in the Elevate CLI."
	case errors.Is(err, linktoken.ErrExpired):
		status, title, msg = http.StatusGone, "This link has expired", "The request this link was for is no longer waiting for a decision."
	case errors.Is(err, elevate.ErrLinkUsed):
		status, title, msg = http.StatusConflict, "This link has already been used", "Each approval link works once. Your earlier decision stands."
	case errors.Is(err, elevate.ErrNotFound):
		status, title, msg = http.StatusGone, "This request no longer exists", "The request has expired and was removed."
	case errors.Is(err, elevate.ErrConflict):
		status, title, msg = http.StatusConflict, "This request can no longer be decided", detailOf(err, "The request is no longer pending.")
	case errors.Is(err, elevate.ErrForbidden):
		status, title, msg = http.StatusForbidden, "You cannot decide this request", detailOf(err, "You are not allowed to decide this request.")
	case errors.Is(err, errMediaType):
		status, title, msg = http.StatusUnsupportedMediaType, "The form could not be read", "Submit the form from the approval page."
	case errors.Is(err, errTooLarge):
		status, title, msg = http.StatusRequestEntityTooLarge, "The form is too large", "Shorten the comment and try again."
	case errors.Is(err, elevate.ErrInvalid):
		status, title = http.StatusBadRequest, "The form could not be accepted"
		msg = detailOf(err, "Submit the form from the approval page.")
	case unavailable(err):
		// A decision cut off by the deadline during its commit may have been
		// recorded: the link, used again, says which ("already used").
		status, title, msg = http.StatusServiceUnavailable, "Elevate is temporarily unavailable", "Please try again in a minute. If your decision was recorded, the link will say so."
	}
	if status >= 500 {
		s.log.ErrorContext(c.ctx, "link request failed", "requestId", c.req.RequestContext.RequestID, "route", c.route.RouteKey(), "status", status, "error", err.Error())
	}
	if errors.As(err, &de) && status < 500 {
		s.log.InfoContext(c.ctx, "link refused", "requestId", c.req.RequestContext.RequestID, "code", de.Code)
	}
	if status < 500 {
		s.auditLinkRefusal(c, err, status)
	}
	out, err := s.page(c, status, pageData{Title: title, Message: msg})
	if status == http.StatusServiceUnavailable {
		out.Headers["Retry-After"] = retryAfterSeconds
	}
	return out, err
}

// detailOf returns the caller-facing message of a domain or HTTP refusal.
func detailOf(err error, fallback string) string {
	var de *elevate.Error
	var he *httpError
	switch {
	case errors.As(err, &de):
		return de.Message
	case errors.As(err, &he):
		return he.detail
	}
	return fallback
}

var errNoSigner = errors.New("approval links are not configured (no link signing key)")

func (s *server) verifyLink(c *call) (app.LinkClaims, error) {
	if s.deps.Links == nil {
		return app.LinkClaims{}, errNoSigner
	}
	cl, err := s.deps.Links.VerifyContext(c.ctx, c.params["token"], s.deps.Service.Clock())
	if errors.Is(err, linktoken.ErrUnavailable) {
		// The keys could not be read: neither good nor bad yet.
		return app.LinkClaims{}, errors.Join(elevate.ErrUnavailable, err)
	}
	if errors.Is(err, linktoken.ErrExpired) {
		// Signed by us: the refusal's record can name its approver.
		if ex, ok := s.deps.Links.ExpiredClaimsContext(c.ctx, c.params["token"]); ok {
			c.link = &app.LinkClaims{ID: ex.ID, RequestID: ex.RequestID, Approver: ex.Approver}
		}
	}
	if err != nil {
		return app.LinkClaims{}, err
	}
	c.link = &app.LinkClaims{ID: cl.ID, RequestID: cl.RequestID, Approver: cl.Approver}
	return *c.link, nil
}

// linkPage shows the request behind a link. It never changes state: mail
// scanners and link previews follow links.
func linkPage(s *server, c *call) (response, error) {
	l, err := s.verifyLink(c)
	if err != nil {
		return s.linkError(c, err)
	}
	r, err := s.deps.Service.LinkRequest(c.ctx, l)
	if err != nil {
		return s.linkError(c, err)
	}
	if r.BreakGlass {
		return s.breakGlassPage(c, l, r)
	}
	d := pageData{Title: "Approve or deny access", Request: viewOf(r)}
	switch {
	case r.Status != elevate.StatusPending:
		d.Title = "This request can no longer be decided"
		d.Message = "It is " + strings.ToLower(string(r.Status)) + "."
		return s.page(c, http.StatusConflict, d)
	case alreadyApproved(r, l.Approver):
		d.Title = "You have already approved this request"
		d.Message = "It is waiting for other approvers."
		return s.page(c, http.StatusConflict, d)
	}
	d.Form = &formView{RequestID: r.ID, Approver: l.Approver}
	return s.page(c, http.StatusOK, d)
}

func alreadyApproved(r elevate.Request, approver string) bool {
	for _, d := range r.Decisions {
		if d.Decision == elevate.DecisionApprove && d.By == approver {
			return true
		}
	}
	return false
}

// LinkForm is the decoded body of POST /v1/links/{token}.
type LinkForm struct {
	Decision  elevate.DecisionKind
	Comment   string
	RequestID string
}

// ParseLinkForm strictly decodes the urlencoded approval form: decision and
// comment as documented, and the optional request the link page also sends,
// each at most once. The request, when sent, must name one.
func ParseLinkForm(body []byte) (LinkForm, error) {
	vs, err := url.ParseQuery(string(body))
	if err != nil {
		return LinkForm{}, badRequest("the form is malformed")
	}
	var f LinkForm
	for k, v := range vs {
		if len(v) != 1 {
			return LinkForm{}, badRequest("the form field " + strconv.Quote(k) + " appears more than once")
		}
		switch k {
		case "decision":
			switch v[0] {
			case "approve":
				f.Decision = elevate.DecisionApprove
			case "deny":
				f.Decision = elevate.DecisionDeny
			case "ratify":
				f.Decision = elevate.DecisionRatify
			case "revoke":
				f.Decision = elevate.DecisionRevoke
			default:
				return LinkForm{}, badRequest("decision must be approve, deny, ratify or revoke")
			}
		case "comment":
			f.Comment = v[0]
		case "request":
			if v[0] == "" {
				return LinkForm{}, badRequest("the form's request field is empty")
			}
			f.RequestID = v[0]
		default:
			return LinkForm{}, badRequest("the form has an unknown field " + strconv.Quote(k))
		}
	}
	if f.Decision == "" {
		return LinkForm{}, badRequest("choose Approve or Deny")
	}
	return f, nil
}

func linkDecide(s *server, c *call) (response, error) {
	l, err := s.verifyLink(c)
	if err != nil {
		return s.linkError(c, err)
	}
	body, err := rawBody(c.req)
	if err != nil {
		return s.linkError(c, err)
	}
	if mt, err := mediaType(c.req); err != nil || mt != "application/x-www-form-urlencoded" {
		return s.linkError(c, unsupported("the form must be application/x-www-form-urlencoded"))
	}
	f, err := ParseLinkForm(body)
	if err != nil {
		return s.linkError(c, err)
	}
	// The link page sends the request it showed; a client built to the
	// documented form (decision, comment) need not.
	if f.RequestID != "" && f.RequestID != l.RequestID {
		return s.linkError(c, errForeignForm)
	}
	r, err := s.deps.Service.DecideByLink(c.ctx, l, f.Decision, f.Comment)
	if err != nil {
		return s.linkError(c, err)
	}
	d := pageData{Request: viewOf(r)}
	switch {
	case f.Decision == elevate.DecisionRatify:
		d.Title, d.Message = "Break-glass access ratified", "The requester and the other approvers have been told by email."
	case f.Decision == elevate.DecisionRevoke:
		d.Title, d.Message = "Break-glass access revoked", "The grant has ended. The requester has been told by email."
	case r.Status == elevate.StatusApproved:
		d.Title, d.Message = "Request approved", "The requester can now perform the task until the grant ends. They have been told by email."
	case r.Status == elevate.StatusDenied:
		d.Title, d.Message = "Request denied", "The requester has been told by email."
	default:
		d.Title = "Your approval was recorded"
		d.Message = "The request needs " + strconv.Itoa(r.RequiredApprovals-r.Approvals()) + " more approval(s) before access is granted."
	}
	return s.page(c, http.StatusOK, d)
}

// breakGlassPage shows a break-glass alert's link: Ratify or Revoke while the
// ratification is pending, otherwise where it stands.
func (s *server) breakGlassPage(c *call, l app.LinkClaims, r elevate.Request) (response, error) {
	d := pageData{Title: "Ratify or revoke break-glass access", Request: viewOf(r),
		Message: r.Requester + " approved this request themselves, in an emergency. Ratify it if the access was justified; revoke it otherwise."}
	if r.Ratification != elevate.RatificationPending {
		d.Title = "This break-glass access can no longer be ratified"
		d.Message = "Its ratification is " + string(r.Ratification) + "."
		return s.page(c, http.StatusConflict, d)
	}
	d.Form = &formView{RequestID: r.ID, Approver: l.Approver, BreakGlass: true}
	return s.page(c, http.StatusOK, d)
}
