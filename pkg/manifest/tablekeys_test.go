package manifest

import (
	"slices"
	"testing"
)

// Every table action a function is granted is narrowed by exactly one
// TableKeys entry, and no entry grants an action outside TableActions.
func TestTableKeysCoverTableActions(t *testing.T) {
	for _, f := range Functions() {
		seen := map[string]int{}
		for _, g := range TableKeys[f] {
			if len(g.LeadingKeys) == 0 || len(g.Actions) == 0 {
				t.Errorf("%s: empty entry %+v", f, g)
			}
			for _, a := range g.Actions {
				seen[a]++
				if !slices.Contains(TableActions[f], a) {
					t.Errorf("%s: TableKeys narrows %s, which TableActions does not grant", f, a)
				}
			}
		}
		for _, a := range TableActions[f] {
			if seen[a] != 1 {
				t.Errorf("%s: %s appears in %d TableKeys entries, want exactly 1", f, a, seen[a])
			}
		}
	}
}

func TestTableKeyAllowed(t *testing.T) {
	cases := []struct {
		function, action, pk string
		want                 bool
	}{
		{Authorize, "PutItem", "EVENT#0123", true},
		{Authorize, "PutItem", "GRANT#alice@example.com", false},
		{Authorize, "PutItem", "EVENT", false}, // the prefix needs its '#'
		{Authorize, "BatchGetItem", "SETTINGS", true},
		{Authorize, "BatchGetItem", "SETTINGSX", false},
		{Authorize, "DeleteItem", "EVENT#1", false}, // no such action granted
		{Notify, "PutItem", "DELIVERY#ev-1", true},
		{Notify, "PutItem", "REQ#1", false},
		{Approvals, "PutItem", "LINK#abc", true},
		{Approvals, "PutItem", "GRANT#bob@example.com", false},
		{Audit, "GetItem", "SETTINGS", false},
		{Audit, "GetItem", "REQ#r-1", true},
		{Audit, "PutItem", "REQ#r-1", false},
	}
	for _, c := range cases {
		if got := TableKeyAllowed(c.function, c.action, c.pk); got != c.want {
			t.Errorf("TableKeyAllowed(%s, %s, %q) = %v, want %v", c.function, c.action, c.pk, got, c.want)
		}
	}
}

func TestStringLike(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"REQ#*", "REQ#", true},
		{"REQ#*", "REQ#abc", true},
		{"REQ#*", "req#abc", false},
		{"REQ#*", "XREQ#abc", false},
		{"GROUP", "GROUP", true},
		{"GROUP", "GROUPS", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*", "", true},
	}
	for _, c := range cases {
		if got := StringLike(c.pattern, c.s); got != c.want {
			t.Errorf("StringLike(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}
