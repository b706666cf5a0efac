package httpapi

import (
	"errors"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/linktoken"
)

// auditRefusal records a refused attempt (issue 10 item 8) with the route
// and the request it named. It is called from the two places refusals are
// rendered: fail (every JSON API error) and linkError (the link page, which
// is outside the JWT authorizer). A failure to record is logged and changes
// nothing in the answer.
func (s *server) auditRefusal(c *call, r app.Refusal) {
	r.Route = c.route.RouteKey()
	if r.RequestID == "" {
		r.RequestID = c.params["id"]
	}
	if err := s.deps.Service.RecordRefusal(c.ctx, r); err != nil {
		s.log.ErrorContext(c.ctx, "refusal not recorded", "requestId", c.req.RequestContext.RequestID, "route", r.Route, "code", r.Code, "error", err.Error())
	}
}

// Refusal codes of the link page that have no domain error.
const (
	codeLinkMalformed = "link-malformed"
	codeLinkForged    = "link-forged"
	codeLinkExpired   = "link-expired"
	codeLinkForeign   = "link-foreign"
)

// errForeignForm refuses a form whose request is not the link's.
var errForeignForm = badRequest("this form does not belong to this link's request")

// auditLinkRefusal records a refused link. With verified claims (the link
// was signed by Elevate, even if it has expired) the approver it names is
// the actor, once per link, route and code. Without (malformed, forged) nobody is verified: the actor is
// "anonymous", what the token claims is kept as unverified, and the record
// is bounded (app.Refusal.BoundBy) because anyone can send such links.
func (s *server) auditLinkRefusal(c *call, err error, status int) {
	code, ok := app.RefusalCode(err)
	switch {
	case errors.Is(err, linktoken.ErrMalformed):
		code, ok = codeLinkMalformed, true
	case errors.Is(err, linktoken.ErrSignature):
		code, ok = codeLinkForged, true
	case errors.Is(err, linktoken.ErrExpired):
		code, ok = codeLinkExpired, true
	case errors.Is(err, errForeignForm):
		code, ok = codeLinkForeign, true
	}
	if !ok {
		return
	}
	r := app.Refusal{Code: code, Status: status}
	if c.link != nil {
		// A signed link's refusals name its approver: each is recorded once
		// per link, route and code (issue 16 item 4), or an old email would
		// write without end in the approver's name.
		r.Actor, r.RequestID = c.link.Approver, c.link.RequestID
		r.OncePer = "link\n" + c.link.ID + "\n" + c.route.RouteKey() + "\n" + code
		s.auditRefusal(c, r)
		return
	}
	token := c.params["token"]
	r.Actor, r.BoundBy = app.ActorAnonymous, token
	if cl, ok := linktoken.Unverified(token); ok {
		r.Unverified = map[string]string{"requestId": truncate(cl.RequestID), "approver": truncate(cl.Approver)}
	}
	s.auditRefusal(c, r)
}

// truncate bounds what an unverified token can put in a record.
func truncate(v string) string {
	const max = 256
	if len(v) > max {
		return v[:max]
	}
	return v
}
