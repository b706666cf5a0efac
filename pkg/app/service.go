package app

import (
	"crypto/rand"
	"encoding/hex"
	"slices"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Default group names; the admin group is configurable.
const (
	DefaultAdminGroup = "elevate-admins"
	AuthorizersGroup  = "elevate-authorizers"
)

// ErrAdminOnly refuses a non-admin on an admin route.
var ErrAdminOnly = &elevate.Error{Kind: elevate.ErrForbidden, Code: "admin-only", Message: "this operation needs the admin group"}

// ErrAuthorizeOthers refuses asking about another principal without rights.
var ErrAuthorizeOthers = &elevate.Error{Kind: elevate.ErrForbidden, Code: "authorize-others", Message: "asking about another principal needs the admin or elevate-authorizers group"}

// Caller is the authenticated principal and the identity provider's groups
// (from the JWT). Approver-group membership is a different thing: it lives in
// Elevate's own groups and is read from the store at decision time.
type Caller struct {
	Principal string
	Groups    []string
}

// Service implements the use cases. All fields are required except NewID.
type Service struct {
	Store      Store
	Clock      elevate.Clock
	AdminGroup string
	// NewID returns a new unique ID; random 128-bit hex by default.
	NewID func() string
	// Tickets checks ticket references; PatternVerifier when nil.
	Tickets TicketVerifier
	// MaxDelegations bounds the stored delegations; elevate.MaxDelegations
	// when zero (tests lower it).
	MaxDelegations int

	// Issuer and Issuances serve the credentials route (v1.2); only the
	// credentials function sets them.
	Issuer    RoleAssumer
	Issuances IssuanceStore
	// CredentialTargets remembers each request's requester and target for
	// the credentials route (credentials.go); nil reads the request on
	// every call.
	CredentialTargets *RequestTargets
	// IdentityCenter resolves requesters under an Identity Center binding
	// and reads their assignments' provisioning (v1.2); nil where the
	// function has no Identity Center access.
	IdentityCenter IdentityCenterPort
}

func (s *Service) id() string {
	if s.NewID != nil {
		return s.NewID()
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Service) adminGroup() string {
	if s.AdminGroup == "" {
		return DefaultAdminGroup
	}
	return s.AdminGroup
}

// IsAdmin reports whether the caller holds the admin group.
func (s *Service) IsAdmin(c Caller) bool { return slices.Contains(c.Groups, s.adminGroup()) }

func (s *Service) requireAdmin(c Caller) error {
	if !s.IsAdmin(c) {
		return ErrAdminOnly
	}
	return nil
}

func (s *Service) event(c Caller, action string) Event {
	return Event{ID: s.id(), Time: s.Clock(), Action: action, Actor: c.Principal}
}
