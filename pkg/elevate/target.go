package elevate

import "strings"

// RequestType is the kind of thing a policy covers and a request asks for.
type RequestType string

const (
	TypeTask      RequestType = "Task"
	TypeRole      RequestType = "Role"
	TypeRoleGroup RequestType = "RoleGroup"
	// TypeLockbox is Customer Lockbox: service-provider access to customer
	// content. It is governed by the settings, never by a policy.
	TypeLockbox RequestType = "Lockbox"
)

// ParseRequestType accepts the canonical spelling case-insensitively.
// An empty string means Task.
func ParseRequestType(s string) (RequestType, error) {
	if s == "" {
		return TypeTask, nil
	}
	for _, t := range []RequestType{TypeTask, TypeRole, TypeRoleGroup, TypeLockbox} {
		if strings.EqualFold(s, string(t)) {
			return t, nil
		}
	}
	return "", Invalid("type must be one of Task, Role, RoleGroup, Lockbox")
}

// Target is what a policy covers and a request asks for, e.g.
// Task Exchange\New-MoveRequest. Matching is exact on type and
// case-insensitive on scope and name.
type Target struct {
	Type  RequestType `json:"type"`
	Scope string      `json:"scope"`
	Name  string      `json:"name"`
}

// Validate checks the shape of a target.
func (t Target) Validate() error {
	if _, err := ParseRequestType(string(t.Type)); err != nil || t.Type == "" {
		return Invalid("type must be one of Task, Role, RoleGroup, Lockbox")
	}
	if !ValidName(t.Scope) {
		return Invalid("scope must be 1-128 letters, digits, '.', '_' or '-'")
	}
	if !ValidName(t.Name) {
		return Invalid("name must be 1-128 letters, digits, '.', '_' or '-'")
	}
	return nil
}

// Key is the canonical, case-folded identity of a target. It is also the ID
// of the policy covering it, which makes "one policy per target" a property of
// the key rather than of a read-then-write check.
func (t Target) Key() string {
	return strings.ToLower(string(t.Type) + ":" + t.Scope + ":" + t.Name)
}

// String is the cmdlet-style display form, e.g. Task Exchange\New-MoveRequest.
func (t Target) String() string { return string(t.Type) + " " + t.Scope + `\` + t.Name }

// ParseTargetKey reverses Key for stored IDs; scope and name come back
// lower-cased.
func ParseTargetKey(key string) (Target, error) {
	parts := strings.Split(key, ":")
	if len(parts) != 3 {
		return Target{}, Invalid("malformed policy id")
	}
	typ, err := ParseRequestType(parts[0])
	if err != nil {
		return Target{}, Invalid("malformed policy id")
	}
	t := Target{Type: typ, Scope: parts[1], Name: parts[2]}
	if err := t.Validate(); err != nil {
		return Target{}, Invalid("malformed policy id")
	}
	return t, nil
}
