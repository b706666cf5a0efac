package app

import (
	"context"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// IdentityCenterPort is what the API needs of IAM Identity Center (v1.2):
// the requester's Identity Store user, resolved when a request is submitted
// so that a requester without one is refused before any approver is asked,
// and the provisioning statuses the access consumer recorded.
type IdentityCenterPort interface {
	ResolveUser(ctx context.Context, instanceArn, principal string) (elevate.IdentityUser, error)
	GetProvisioning(ctx context.Context, requestID string) ([]elevate.AssignmentStatus, error)
}

// errIdentityCenterUnconfigured: a policy names a binding but this
// deployment gave the function no Identity Center access.
var errIdentityCenterUnconfigured = elevate.Unprocessable("identity-center-unconfigured", "the policy names an Identity Center binding, but Elevate is not configured for IAM Identity Center")

// bindIdentityCenter fixes the request's Identity Center user and
// assignments when its policy names a binding.
func (s *Service) bindIdentityCenter(ctx context.Context, r *elevate.Request, p *elevate.Policy) error {
	if p == nil || p.IdentityCenter == nil || r.Type == elevate.TypeLockbox {
		return nil
	}
	if s.IdentityCenter == nil {
		return errIdentityCenterUnconfigured
	}
	u, err := s.IdentityCenter.ResolveUser(ctx, p.IdentityCenter.InstanceArn, r.Requester)
	if err != nil {
		return err
	}
	r.BindIdentityCenter(*p.IdentityCenter, u)
	*r = r.WithProvisioning(nil)
	return nil
}

// withProvisioning adds the assignments' provisioning statuses to a request
// under a binding.
func (s *Service) withProvisioning(ctx context.Context, r elevate.Request) (elevate.Request, error) {
	if r.IdentityCenter == nil || s.IdentityCenter == nil {
		return r, nil
	}
	recorded, err := s.IdentityCenter.GetProvisioning(ctx, r.ID)
	if err != nil {
		return r, err
	}
	return r.WithProvisioning(recorded), nil
}
