package app

import (
	"context"
	"errors"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// approversOf answers "is this principal an approver of group now?" at the
// moment of a decision, not when the request or the email was made. It is
// the one read-side membership check (deciding, counting earlier N-of-M
// approvals, showing a link page, seeing a request); the store holds the
// same answer until the decision commits (SaveDecision, given the group
// read here). A group that no longer exists has no approvers: the zero
// Group.
func (s *Service) approversOf(ctx context.Context, group string) (elevate.Group, error) {
	g, err := s.Store.GetGroup(ctx, group)
	if err != nil && !errors.Is(err, elevate.ErrNotFound) {
		return elevate.Group{}, err
	}
	if err != nil {
		return elevate.Group{}, nil
	}
	return g, nil
}
