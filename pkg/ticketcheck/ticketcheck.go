// Package ticketcheck is the HTTPS adapter of app.TicketVerifier: it asks a
// ticket system whether a ticket is open and for its change window.
//
// The contract is GET <base>/<ticket> answering 200 with JSON
// {"open": bool, "windowStart"?: RFC 3339, "windowEnd"?: RFC 3339}. A 404 is
// an unknown ticket. Anything else (a transport error, a timeout, a 5xx, a
// body that is not that JSON) means the ticket system cannot answer now: the
// error wraps elevate.ErrUnavailable, so the caller answers 503 and writes
// nothing.
package ticketcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// DefaultTimeout bounds one call: a submission waits for it.
const DefaultTimeout = 3 * time.Second

// maxBody bounds what is read of an answer.
const maxBody = 16 << 10

// Verifier calls a ticket system over HTTPS.
type Verifier struct {
	base   *url.URL
	client *http.Client
}

var _ app.TicketVerifier = (*Verifier)(nil)

// New returns a verifier for the https base URL. client may be nil (a client
// with DefaultTimeout); tests pass the client of their TLS test server.
func New(base string, client *http.Client) (*Verifier, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("ticketcheck: the ticket system URL must be an absolute https URL without query, got %q", base)
	}
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	// Never follow a redirect: it could lead anywhere, over plain http too.
	// A copy, so the caller's client is left as it was.
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Verifier{base: u, client: &c}, nil
}

type answer struct {
	Open        *bool      `json:"open"`
	WindowStart *time.Time `json:"windowStart"`
	WindowEnd   *time.Time `json:"windowEnd"`
}

// VerifyTicket checks the policy's pattern first, so nothing malformed is
// sent out, then asks the ticket system.
func (v *Verifier) VerifyTicket(ctx context.Context, p *elevate.Policy, ticket string) (*elevate.ChangeWindow, error) {
	if err := p.CheckTicket(ticket); err != nil {
		return nil, err
	}
	if !elevate.ValidTicket(ticket) { // a nil policy checks nothing
		return nil, elevate.ErrTicketInvalid
	}
	u := *v.base
	u.Path = v.base.Path + "/" + ticket
	u.RawPath = v.base.EscapedPath() + "/" + url.PathEscape(ticket)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, down(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, down(err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, elevate.ErrTicketUnknown
	case resp.StatusCode != http.StatusOK: // a redirect too: never followed
		return nil, down(fmt.Errorf("status %d", resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, down(err)
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil || a.Open == nil {
		return nil, down(errors.New("the answer is not {open, windowStart?, windowEnd?}"))
	}
	if !*a.Open {
		return nil, elevate.ErrTicketClosed
	}
	if a.WindowStart == nil && a.WindowEnd == nil {
		return nil, nil
	}
	if a.WindowStart != nil && a.WindowEnd != nil && !a.WindowStart.Before(*a.WindowEnd) {
		return nil, down(errors.New("the change window ends before it starts"))
	}
	w := &elevate.ChangeWindow{}
	if a.WindowStart != nil {
		t := a.WindowStart.UTC().Truncate(time.Millisecond)
		w.Start = &t
	}
	if a.WindowEnd != nil {
		t := a.WindowEnd.UTC().Truncate(time.Millisecond)
		w.End = &t
	}
	return w, nil
}

// down wraps a failure to get an answer; the ticket system's URL and error
// text stay in the log, never in the response.
func down(err error) error {
	return fmt.Errorf("ticketcheck: ticket system unavailable: %w", errors.Join(elevate.ErrUnavailable, err))
}
