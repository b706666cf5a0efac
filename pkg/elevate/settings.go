package elevate

import "time"

// Absolute bounds that no setting or policy can exceed.
const (
	MaxDurationHours      = 24.0
	LockboxCapHours       = 4.0
	MaxPendingExpiryHours = 168.0
	DefaultMaxPolicies    = 30
	MaxPoliciesLimit      = 1000
	DefaultDurationHours  = 4.0
	DefaultPendingExpiry  = 24.0
	MaxSystemAccounts     = 50
	MaxRequiredApprovals  = 10
	minimumDurationHours  = 1.0 / 60 // one minute
)

// LockboxSettings configures Customer Lockbox (F10).
type LockboxSettings struct {
	Enabled          bool    `json:"enabled"`
	ApproverGroup    string  `json:"approverGroup"`
	MaxDurationHours float64 `json:"maxDurationHours"`
}

// Settings are the organisation-wide switches (F1, F10).
type Settings struct {
	Enabled              bool            `json:"enabled"`
	DefaultApproverGroup string          `json:"defaultApproverGroup"`
	SystemAccounts       []string        `json:"systemAccounts"`
	MaxPolicies          int             `json:"maxPolicies"`
	DefaultDurationHours float64         `json:"defaultDurationHours"`
	PendingExpiryHours   float64         `json:"pendingExpiryHours"`
	Lockbox              LockboxSettings `json:"lockbox"`
	// MaxScheduleAheadHours bounds a request's startAt (F13).
	MaxScheduleAheadHours float64   `json:"maxScheduleAheadHours"`
	UpdatedAt             time.Time `json:"updatedAt,omitzero"`
	UpdatedBy             string    `json:"updatedBy,omitempty"`
	// Version guards read-modify-write updates; 0 means never stored.
	Version int `json:"-"`
}

// DefaultSettings is what an organisation has before anyone configures it:
// access off, Lockbox off.
func DefaultSettings() Settings {
	return Settings{
		SystemAccounts:        []string{},
		MaxPolicies:           DefaultMaxPolicies,
		DefaultDurationHours:  DefaultDurationHours,
		PendingExpiryHours:    DefaultPendingExpiry,
		Lockbox:               LockboxSettings{MaxDurationHours: LockboxCapHours},
		MaxScheduleAheadHours: DefaultMaxScheduleAheadHours,
	}
}

// LockboxPatch is the partial form of LockboxSettings.
type LockboxPatch struct {
	Enabled          *bool    `json:"enabled,omitempty"`
	ApproverGroup    *string  `json:"approverGroup,omitempty"`
	MaxDurationHours *float64 `json:"maxDurationHours,omitempty"`
}

// SettingsPatch carries only the fields a PATCH names.
type SettingsPatch struct {
	Enabled               *bool         `json:"enabled,omitempty"`
	DefaultApproverGroup  *string       `json:"defaultApproverGroup,omitempty"`
	SystemAccounts        *[]string     `json:"systemAccounts,omitempty"`
	MaxPolicies           *int          `json:"maxPolicies,omitempty"`
	DefaultDurationHours  *float64      `json:"defaultDurationHours,omitempty"`
	PendingExpiryHours    *float64      `json:"pendingExpiryHours,omitempty"`
	Lockbox               *LockboxPatch `json:"lockbox,omitempty"`
	MaxScheduleAheadHours *float64      `json:"maxScheduleAheadHours,omitempty"`
}

// Apply merges p into s and validates the result. It does not check that the
// named groups exist; the caller does that against the store, which also
// guards it with a condition.
func (s Settings) Apply(p SettingsPatch, actor string, now time.Time) (Settings, error) {
	n := s
	n.SystemAccounts = append([]string(nil), s.SystemAccounts...)
	if p.Enabled != nil {
		n.Enabled = *p.Enabled
	}
	if p.DefaultApproverGroup != nil {
		n.DefaultApproverGroup = *p.DefaultApproverGroup
	}
	if p.SystemAccounts != nil {
		if len(*p.SystemAccounts) > MaxSystemAccounts {
			return s, Invalid("at most 50 system accounts")
		}
		accounts := make([]string, 0, len(*p.SystemAccounts))
		seen := map[string]bool{}
		for _, a := range *p.SystemAccounts {
			norm, err := NormalizePrincipal(a)
			if err != nil {
				return s, Invalid("systemAccounts: " + err.Error())
			}
			if !seen[norm] {
				seen[norm] = true
				accounts = append(accounts, norm)
			}
		}
		n.SystemAccounts = accounts
	}
	if p.MaxPolicies != nil {
		n.MaxPolicies = *p.MaxPolicies
	}
	if p.DefaultDurationHours != nil {
		n.DefaultDurationHours = *p.DefaultDurationHours
	}
	if p.PendingExpiryHours != nil {
		n.PendingExpiryHours = *p.PendingExpiryHours
	}
	if p.Lockbox != nil {
		if p.Lockbox.Enabled != nil {
			n.Lockbox.Enabled = *p.Lockbox.Enabled
		}
		if p.Lockbox.ApproverGroup != nil {
			n.Lockbox.ApproverGroup = *p.Lockbox.ApproverGroup
		}
		if p.Lockbox.MaxDurationHours != nil {
			n.Lockbox.MaxDurationHours = *p.Lockbox.MaxDurationHours
		}
	}
	if p.MaxScheduleAheadHours != nil {
		n.MaxScheduleAheadHours = *p.MaxScheduleAheadHours
	}
	if err := n.validate(); err != nil {
		return s, err
	}
	n.UpdatedAt = now
	n.UpdatedBy = actor
	return n, nil
}

func (s Settings) validate() error {
	if s.DefaultApproverGroup != "" && !ValidName(s.DefaultApproverGroup) {
		return Invalid("defaultApproverGroup is not a valid group name")
	}
	if s.Enabled && s.DefaultApproverGroup == "" {
		return Unprocessable("no-default-group", "enabling privileged access needs a default approver group")
	}
	if s.MaxPolicies < 1 || s.MaxPolicies > MaxPoliciesLimit {
		return Invalid("maxPolicies must be between 1 and 1000")
	}
	if !validHours(s.DefaultDurationHours, MaxDurationHours) {
		return Invalid("defaultDurationHours must be more than one minute and at most 24")
	}
	if !validHours(s.PendingExpiryHours, MaxPendingExpiryHours) {
		return Invalid("pendingExpiryHours must be more than one minute and at most 168")
	}
	if s.Lockbox.ApproverGroup != "" && !ValidName(s.Lockbox.ApproverGroup) {
		return Invalid("lockbox.approverGroup is not a valid group name")
	}
	if s.Lockbox.Enabled && s.Lockbox.ApproverGroup == "" {
		return Unprocessable("no-lockbox-group", "enabling Customer Lockbox needs a Lockbox approver group")
	}
	if !validHours(s.Lockbox.MaxDurationHours, LockboxCapHours) {
		return Invalid("lockbox.maxDurationHours must be more than one minute and at most 4")
	}
	if !validHours(s.MaxScheduleAheadHours, MaxScheduleAheadLimit) {
		return Unprocessable("invalid", "maxScheduleAheadHours must be more than one minute and at most 2160 (90 days)")
	}
	return nil
}

func validHours(h, max float64) bool { return h >= minimumDurationHours && h <= max }

// IsSystemAccount reports whether a normalized principal is excluded.
func (s *Settings) IsSystemAccount(principal string) bool {
	for _, a := range s.SystemAccounts {
		if a == principal {
			return true
		}
	}
	return false
}

// ReferencedGroups lists the groups the settings depend on, so deleting one
// of them can be refused.
func (s Settings) ReferencedGroups() []string {
	var g []string
	if s.DefaultApproverGroup != "" {
		g = append(g, s.DefaultApproverGroup)
	}
	if s.Lockbox.ApproverGroup != "" && s.Lockbox.ApproverGroup != s.DefaultApproverGroup {
		g = append(g, s.Lockbox.ApproverGroup)
	}
	return g
}
