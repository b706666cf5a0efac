package notify

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Break-glass emails (F16): the alert with a personal Ratify/Revoke link to
// every approver and every member of the alert group, the requester's notice,
// the ratification, and the missed deadline.

// alertRecipients are the approvers and the alert group's members, less the
// requester and except, each once.
func (d Deps) alertRecipients(ctx context.Context, requestID, requester, approverGroup string, except ...string) ([]string, error) {
	out, err := d.members(ctx, requestID, approverGroup, append(except, requester)...)
	if err != nil {
		return nil, err
	}
	admins, err := d.members(ctx, requestID, d.AlertGroup, append(except, requester)...)
	if err != nil {
		return nil, err
	}
	for _, a := range admins {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (d Deps) breakGlassAlerts(ctx context.Context, r elevate.Request) ([]Email, error) {
	first, err := breakGlassActive(r)
	if err != nil {
		return nil, err
	}
	emails := []Email{first}
	to, err := d.alertRecipients(ctx, r.ID, r.Requester, r.ApproverGroup)
	if err != nil {
		return nil, err
	}
	// Delegates standing in for the approvers get the alert too (F17).
	approvers, err := d.approvers(ctx, r)
	if err != nil {
		return nil, err
	}
	stand, onBehalfOf, err := d.delegates(ctx, r, approvers)
	if err != nil {
		return nil, err
	}
	for _, m := range stand {
		if !slices.Contains(to, m) {
			to = append(to, m)
		}
	}
	for _, m := range to {
		// The link lives as long as the ratification can happen.
		tok, err := d.Signer.SignContext(ctx, r.ID, m, *r.RatifyBy)
		if err != nil {
			return nil, fmt.Errorf("sign link: %w", err)
		}
		e, err := breakGlassAlert(r, m, d.PublicBaseURL+"/v1/links/"+url.PathEscape(tok), onBehalfOf[m]...)
		if err != nil {
			return nil, err
		}
		emails = append(emails, e)
	}
	return emails, nil
}

func (d Deps) ratified(ctx context.Context, r elevate.Request) ([]Email, error) {
	dec := lastDecision(r)
	m := requestMessage(r, "Your break-glass access was ratified", decidedBy(dec)+" confirmed that your break-glass access was justified.")
	m.row("Ratified by", decidedBy(dec))
	m.row("Comment", dec.Comment)
	first, err := m.email(r.Requester, "[Elevate] Break-glass ratified: "+r.Target().String())
	if err != nil {
		return nil, err
	}
	emails := []Email{first}
	others, err := d.alertRecipients(ctx, r.ID, r.Requester, r.ApproverGroup, dec.By)
	if err != nil {
		return nil, err
	}
	for _, to := range others {
		fyi := requestMessage(r, "Break-glass access ratified by "+decidedBy(dec), decidedBy(dec)+" ratified the break-glass access of "+r.Requester+". No action is needed from you.")
		fyi.row("Comment", dec.Comment)
		e, err := fyi.email(to, "[Elevate] BREAK-GLASS ratified: "+r.Requester+" on "+r.Target().String()+" by "+dec.By)
		if err != nil {
			return nil, err
		}
		emails = append(emails, e)
	}
	return emails, nil
}

// ratificationMissed tells the requester and the alert group that nobody
// ratified in time, and whether that cut the grant short.
func (d Deps) ratificationMissed(ctx context.Context, m dynamo.MissedRatification) ([]Email, error) {
	target := m.Target.String()
	ended := "The grant had already ended."
	if m.GrantRevoked {
		ended = "The grant was revoked at the deadline."
	}
	msg := message{heading: "Break-glass ratification missed", lines: []string{
		"Nobody ratified the break-glass access of " + m.Principal + " to " + target + " by " + formatTime(m.RatifyBy) + ". " + ended}}
	msg.row("Request", m.RequestID)
	msg.row("Requester", m.Principal)
	msg.row("Target", target)
	msg.row("Deadline", formatTime(m.RatifyBy))
	admins, err := d.members(ctx, m.RequestID, d.AlertGroup, m.Principal)
	if err != nil {
		return nil, err
	}
	var emails []Email
	for _, to := range append([]string{m.Principal}, admins...) {
		e, err := msg.email(to, "[Elevate] BREAK-GLASS ratification missed: "+m.Principal+" on "+target)
		if err != nil {
			return nil, err
		}
		emails = append(emails, e)
	}
	return emails, nil
}

// breakGlassActive tells the requester their self-approved access is live
// and must be ratified.
func breakGlassActive(r elevate.Request) (Email, error) {
	m := requestMessage(r, "Your break-glass access is active",
		"You may now perform "+r.Target().String()+". Your approvers and the admins have been alerted.",
		"An approver must ratify it by "+formatTime(*r.RatifyBy)+", or the access ends then.")
	if r.GrantExpiresAt != nil {
		m.row("Expires", formatTime(*r.GrantExpiresAt))
	}
	m.row("Ratify by", formatTime(*r.RatifyBy))
	return m.email(r.Requester, "[Elevate] Break-glass access active: "+r.Target().String())
}

// breakGlassAlert asks one approver or admin to ratify or revoke.
func breakGlassAlert(r elevate.Request, to, link string, asDelegateOf ...string) (Email, error) {
	lines := []string{r.Requester + " used break-glass access to " + r.Target().String() + " for " + r.DurationText() + ", without an approver.",
		"Ratify it if it was justified, or revoke it; unratified by " + formatTime(*r.RatifyBy) + ", it is revoked and the admins are told."}
	if len(asDelegateOf) > 0 {
		lines = append(lines, "You receive this as the delegate of "+strings.Join(asDelegateOf, ", ")+"; your decision is recorded as made on their behalf.")
	}
	m := requestMessage(r, "BREAK-GLASS: "+r.Requester+" approved their own access", lines...)
	m.row("Ratify by", formatTime(*r.RatifyBy))
	m.link, m.linkText = link, "Ratify or revoke"
	return m.email(to, "[Elevate] BREAK-GLASS: "+r.Requester+" self-approved "+r.Target().String()+" - ratify or revoke")
}

// decidedBy names a decider, with whom a delegate stood in for.
func decidedBy(dec elevate.Decision) string {
	if dec.OnBehalfOf != "" {
		return dec.By + " (on behalf of " + dec.OnBehalfOf + ")"
	}
	return dec.By
}
