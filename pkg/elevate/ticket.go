package elevate

import (
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Ticket bounds (F15).
const (
	MaxTicketLen        = 64
	MaxTicketPatternLen = 200
)

// Ticket refusals.
var (
	ErrTicketInvalid  = refusal(ErrUnprocessable, "ticket-invalid", "ticket must be 1-64 printable characters without spaces at either end, without '/', and not '.' or '..'")
	ErrTicketClosed   = refusal(ErrUnprocessable, "ticket-closed", "the ticket system reports this ticket as not open")
	ErrTicketUnknown  = refusal(ErrUnprocessable, "ticket-unknown", "the ticket system does not know this ticket")
	ErrWindowOver     = refusal(ErrUnprocessable, "change-window-over", "the ticket's change window has already ended")
	ErrOutsideWindow  = refusal(ErrUnprocessable, "outside-change-window", "the requested start is outside the ticket's change window")
	errPatternTooLong = Unprocessable("bad-ticket-pattern", "ticketPattern must be at most 200 characters")
)

// ChangeWindow is the interval a ticket system allows the change in; either
// end may be open. A grant for the ticket is capped to it.
type ChangeWindow struct {
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
}

// TicketPattern is a policy's compiled ticket pattern. It always matches the
// whole ticket: the pattern is anchored at both ends whatever it says.
type TicketPattern struct{ re *regexp.Regexp }

var patternCache sync.Map // source -> *regexp.Regexp; patterns are few and immutable

// CompileTicketPattern validates a pattern as RE2 syntax of at most 200
// characters. A bad pattern is a 422 that says why.
func CompileTicketPattern(src string) (TicketPattern, error) {
	if utf8.RuneCountInString(src) > MaxTicketPatternLen {
		return TicketPattern{}, errPatternTooLong
	}
	if re, ok := patternCache.Load(src); ok {
		return TicketPattern{re.(*regexp.Regexp)}, nil
	}
	// Compiled on its own first: a pattern that only compiles inside the
	// wrapper ("CHG-\d+)|(?:x") would close the wrapper's group and leave
	// the rest unanchored.
	if _, err := regexp.Compile(src); err != nil {
		return TicketPattern{}, Unprocessable("bad-ticket-pattern", "ticketPattern is not a valid RE2 expression: "+err.Error())
	}
	re, err := regexp.Compile(`^(?:` + src + `)$`)
	if err != nil {
		return TicketPattern{}, Unprocessable("bad-ticket-pattern", "ticketPattern is not a valid RE2 expression: "+err.Error())
	}
	patternCache.Store(src, re)
	return TicketPattern{re}, nil
}

// Matches reports whether the whole ticket matches.
func (p TicketPattern) Matches(ticket string) bool { return p.re == nil || p.re.MatchString(ticket) }

// ValidTicket reports whether a ticket reference is well formed: 1-64
// printable characters, no surrounding spaces.
func ValidTicket(t string) bool {
	n := utf8.RuneCountInString(t)
	if n == 0 || n > MaxTicketLen || !utf8.ValidString(t) {
		return false
	}
	for _, r := range t {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	first, _ := utf8.DecodeRuneInString(t)
	last, _ := utf8.DecodeLastRuneInString(t)
	// A ticket is sent to the ticket system as one path segment: "." and
	// ".." would walk the path, and "/" would add segments.
	return !unicode.IsSpace(first) && !unicode.IsSpace(last) && t != "." && t != ".." && !strings.ContainsRune(t, '/')
}

// CheckTicket applies a policy's ticket rules to a request's ticket: a
// missing ticket where one is required, or one that does not match the
// pattern, is a 422 naming the pattern. A nil policy (Lockbox) only checks
// the ticket's form.
func (p *Policy) CheckTicket(ticket string) error {
	if ticket != "" && !ValidTicket(ticket) {
		return ErrTicketInvalid
	}
	if p == nil {
		return nil
	}
	if ticket == "" {
		if !p.TicketRequired {
			return nil
		}
		if p.TicketPattern == "" {
			return Unprocessable("ticket-required", "this policy requires a ticket")
		}
		return Unprocessable("ticket-required", "this policy requires a ticket matching "+p.TicketPattern)
	}
	if p.TicketPattern == "" {
		return nil
	}
	pat, err := CompileTicketPattern(p.TicketPattern)
	if err != nil {
		return err
	}
	if !pat.Matches(ticket) {
		return Unprocessable("ticket-mismatch", "the ticket does not match the policy's pattern "+p.TicketPattern)
	}
	return nil
}

// applyTicketRules validates PolicyInput's ticket fields onto p.
func (p *Policy) applyTicketRules(in PolicyInput) error {
	p.TicketRequired, p.TicketPattern = false, ""
	if in.TicketRequired != nil {
		p.TicketRequired = *in.TicketRequired
	}
	if in.TicketPattern != nil && *in.TicketPattern != "" {
		if _, err := CompileTicketPattern(*in.TicketPattern); err != nil {
			return err
		}
		p.TicketPattern = *in.TicketPattern
	}
	return nil
}

// applyChangeWindow caps the request to a ticket's change window: the grant
// cannot start before the window opens or run past its end.
func (r *Request) applyChangeWindow(w *ChangeWindow, now time.Time) error {
	if w == nil || (w.Start == nil && w.End == nil) {
		return nil
	}
	if w.End != nil {
		if !now.Before(*w.End) {
			return ErrWindowOver
		}
		if r.StartAt != nil && !r.StartAt.Before(*w.End) {
			return ErrOutsideWindow
		}
		r.capEnd(*w.End)
	}
	if w.Start != nil && w.Start.After(now) && (r.StartAt == nil || r.StartAt.Before(*w.Start)) {
		s := w.Start.UTC()
		r.StartAt = &s
	}
	r.ChangeWindow = w
	return nil
}
