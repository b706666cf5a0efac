package elevate

import (
	"strings"
	"time"
)

// ApprovalType says whether a policy's requests need a person.
type ApprovalType string

const (
	ApprovalManual ApprovalType = "Manual"
	ApprovalAuto   ApprovalType = "Auto"
)

// Policy is an approval policy (F3). Its ID is its target's Key.
type Policy struct {
	ID           string       `json:"id"`
	Type         RequestType  `json:"type"`
	Scope        string       `json:"scope"`
	Name         string       `json:"name"`
	ApprovalType ApprovalType `json:"approvalType"`
	// ApproverGroup may be empty: the settings' default group applies then,
	// resolved when a request is submitted.
	ApproverGroup     string    `json:"approverGroup"`
	MaxDurationHours  float64   `json:"maxDurationHours,omitempty"`
	RequiredApprovals int       `json:"requiredApprovals"`
	CreatedAt         time.Time `json:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt"`
	CreatedBy         string    `json:"createdBy,omitempty"`
	UpdatedBy         string    `json:"updatedBy,omitempty"`

	// Ticket references (F15): TicketPattern is RE2, matched against the
	// whole ticket.
	TicketRequired bool   `json:"ticketRequired,omitempty"`
	TicketPattern  string `json:"ticketPattern,omitempty"`

	// BreakGlass is nil when the policy never allows it (F16).
	BreakGlass *BreakGlassPolicy `json:"breakGlass,omitempty"`

	// AWS is nil when a grant under the policy issues no AWS credentials.
	AWS *AWSBinding `json:"aws,omitempty"`
	// IdentityCenter is nil when grants under the policy make no account
	// assignments (v1.2).
	IdentityCenter *IdentityCenterBinding `json:"identityCenter,omitempty"`
}

// Target returns what the policy covers.
func (p Policy) Target() Target { return Target{Type: p.Type, Scope: p.Scope, Name: p.Name} }

// PolicyInput is the body of POST and PUT /v1/policies.
type PolicyInput struct {
	Type              string   `json:"type"`
	Scope             string   `json:"scope"`
	Name              string   `json:"name"`
	ApprovalType      string   `json:"approvalType"`
	ApproverGroup     *string  `json:"approverGroup"`
	MaxDurationHours  *float64 `json:"maxDurationHours"`
	RequiredApprovals *int     `json:"requiredApprovals"`
	// v1.1: ticket references.
	TicketRequired *bool   `json:"ticketRequired"`
	TicketPattern  *string `json:"ticketPattern"`

	BreakGlass *BreakGlassInput `json:"breakGlass"`

	AWS            *AWSBindingInput       `json:"aws"`
	IdentityCenter *IdentityCenterBinding `json:"identityCenter"`
}

// NewPolicy validates input and builds a policy. Lockbox is not a policy type:
// Customer Lockbox is configured in the settings.
func NewPolicy(in PolicyInput, actor string, now time.Time) (Policy, error) {
	typ, err := ParseRequestType(in.Type)
	if err != nil {
		return Policy{}, err
	}
	if typ == TypeLockbox {
		return Policy{}, Invalid("Lockbox is configured in the settings, not by a policy")
	}
	t := Target{Type: typ, Scope: in.Scope, Name: in.Name}
	if err := t.Validate(); err != nil {
		return Policy{}, err
	}
	p := Policy{ID: t.Key(), Type: typ, Scope: in.Scope, Name: in.Name, CreatedAt: now, CreatedBy: actor}
	return p.withRules(in, actor, now)
}

// Update applies a PUT body. The target is immutable; a body may repeat it.
func (p Policy) Update(in PolicyInput, actor string, now time.Time) (Policy, error) {
	if in.Type != "" {
		typ, err := ParseRequestType(in.Type)
		if err != nil || typ != p.Type {
			return p, Invalid("a policy's type cannot change; create a new policy")
		}
	}
	if (in.Scope != "" && !strings.EqualFold(in.Scope, p.Scope)) || (in.Name != "" && !strings.EqualFold(in.Name, p.Name)) {
		return p, Invalid("a policy's target cannot change; create a new policy")
	}
	return p.withRules(in, actor, now)
}

func (p Policy) withRules(in PolicyInput, actor string, now time.Time) (Policy, error) {
	switch {
	case strings.EqualFold(in.ApprovalType, string(ApprovalManual)):
		p.ApprovalType = ApprovalManual
	case strings.EqualFold(in.ApprovalType, string(ApprovalAuto)):
		p.ApprovalType = ApprovalAuto
	default:
		return p, Invalid("approvalType must be Manual or Auto")
	}
	p.ApproverGroup = ""
	if in.ApproverGroup != nil {
		if *in.ApproverGroup != "" && !ValidName(*in.ApproverGroup) {
			return p, Invalid("approverGroup is not a valid group name")
		}
		p.ApproverGroup = *in.ApproverGroup
	}
	p.MaxDurationHours = 0
	if in.MaxDurationHours != nil {
		if !validHours(*in.MaxDurationHours, MaxDurationHours) {
			return p, Invalid("maxDurationHours must be more than one minute and at most 24")
		}
		p.MaxDurationHours = *in.MaxDurationHours
	}
	p.RequiredApprovals = 1
	if in.RequiredApprovals != nil {
		n := *in.RequiredApprovals
		if n < 1 || n > MaxRequiredApprovals {
			return p, Invalid("requiredApprovals must be between 1 and 10")
		}
		if p.ApprovalType == ApprovalAuto && n != 1 {
			return p, Invalid("an Auto policy cannot require approvals")
		}
		p.RequiredApprovals = n
	}
	if err := p.applyTicketRules(in); err != nil {
		return p, err
	}
	bg, err := breakGlassRule(in.BreakGlass)
	if err != nil {
		return p, err
	}
	p.BreakGlass = bg
	if p.AWS, err = awsBindingRule(p.Type, in.AWS); err != nil {
		return p, err
	}
	if p.IdentityCenter, err = identityCenterRule(in.IdentityCenter, p.Type); err != nil {
		return p, err
	}

	p.UpdatedAt = now
	p.UpdatedBy = actor
	return p, nil
}

// EffectiveApproverGroup resolves the fallback to the default group.
func (p Policy) EffectiveApproverGroup(s Settings) string {
	if p.ApproverGroup != "" {
		return p.ApproverGroup
	}
	return s.DefaultApproverGroup
}
