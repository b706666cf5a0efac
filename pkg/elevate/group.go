package elevate

import "time"

const maxGroupMembers = 500

// Group is a named set of approvers (F2). Members are normalized principals.
type Group struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Members     []string  `json:"members"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	UpdatedBy   string    `json:"updatedBy,omitempty"`
	// Generation names this incarnation of the group in the store (a group
	// deleted and created again under its name gets a new one), so that a
	// decision's commit checks the members of the group the service read.
	// Empty for a group the store keeps no per-member items for. Not part
	// of the API.
	Generation string `json:"-"`
}

// NewGroupInput is the body of POST /v1/groups.
type NewGroupInput struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Members     []string `json:"members"`
}

// NewGroup validates input and builds a group.
func NewGroup(in NewGroupInput, actor string, now time.Time) (Group, error) {
	if !ValidName(in.Name) {
		return Group{}, Invalid("name must be 1-128 letters, digits, '.', '_' or '-'")
	}
	if err := checkText("description", in.Description, 0, 500); err != nil {
		return Group{}, err
	}
	if in.Members == nil {
		return Group{}, Invalid("members is required (it may be empty)")
	}
	if len(in.Members) > maxGroupMembers {
		return Group{}, Invalid("a group has at most 500 members")
	}
	members := make([]string, 0, len(in.Members))
	seen := map[string]bool{}
	for _, m := range in.Members {
		p, err := NormalizePrincipal(m)
		if err != nil {
			return Group{}, Invalid("members: " + err.Error())
		}
		if !seen[p] {
			seen[p] = true
			members = append(members, p)
		}
	}
	return Group{Name: in.Name, Description: in.Description, Members: members, CreatedAt: now, UpdatedAt: now, UpdatedBy: actor}, nil
}

// HasMember reports whether a normalized principal belongs to the group.
func (g Group) HasMember(principal string) bool {
	for _, m := range g.Members {
		if m == principal {
			return true
		}
	}
	return false
}
