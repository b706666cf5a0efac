package app

import (
	"context"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// TicketVerifier checks a request's ticket reference with a ticket system
// (F15). It runs before anything is written: a verifier that cannot answer
// returns an error wrapping elevate.ErrUnavailable, and the request fails
// with 503 and no trace. A nil window means the ticket system set none.
type TicketVerifier interface {
	VerifyTicket(ctx context.Context, p *elevate.Policy, ticket string) (*elevate.ChangeWindow, error)
}

// PatternVerifier is the default verifier: it checks the policy's pattern
// and nothing else, as ticket fields in other products do.
type PatternVerifier struct{}

// VerifyTicket applies the policy's ticket rules.
func (PatternVerifier) VerifyTicket(_ context.Context, p *elevate.Policy, ticket string) (*elevate.ChangeWindow, error) {
	return nil, p.CheckTicket(ticket)
}

func (s *Service) ticketVerifier() TicketVerifier {
	if s.Tickets == nil {
		return PatternVerifier{}
	}
	return s.Tickets
}

// withVerifiedTicket asks the ticket system about a valid request's ticket
// (the pattern has been checked, so nothing malformed is sent out) and, when
// it names a change window, rebuilds the request capped to it. It runs
// before anything is written.
func (s *Service) withVerifiedTicket(ctx context.Context, r elevate.Request, in elevate.SubmitInput, sub elevate.Submission) (elevate.Request, error) {
	if r.Ticket == "" {
		return r, nil
	}
	window, err := s.ticketVerifier().VerifyTicket(ctx, sub.Policy, r.Ticket)
	if err != nil || window == nil {
		return r, err
	}
	sub.Window = window
	return elevate.NewRequest(in, sub)
}
