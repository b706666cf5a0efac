package elevate

import (
	"testing"
	"time"
)

func TestNewDelegation(t *testing.T) {
	day := 24 * time.Hour
	cases := []struct {
		name string
		in   DelegationInput
		want error
	}{
		{"a week", DelegationInput{Delegate: "Carol@Example.com", From: t0, Until: t0.Add(7 * day)}, nil},
		{"exactly 30 days", DelegationInput{Delegate: "carol@example.com", From: t0, Until: t0.Add(30 * day)}, nil},
		{"started already", DelegationInput{Delegate: "carol@example.com", From: t0.Add(-day), Until: t0.Add(day)}, nil},
		{"to yourself", DelegationInput{Delegate: "BOB@example.com", From: t0, Until: t0.Add(day)}, ErrDelegateSelf},
		{"over 30 days", DelegationInput{Delegate: "carol@example.com", From: t0, Until: t0.Add(30*day + time.Second)}, ErrDelegationTooLong},
		{"until before from", DelegationInput{Delegate: "carol@example.com", From: t0.Add(day), Until: t0}, ErrDelegationWindow},
		{"empty window", DelegationInput{Delegate: "carol@example.com", From: t0, Until: t0}, ErrDelegationWindow},
		{"already over", DelegationInput{Delegate: "carol@example.com", From: t0.Add(-2 * day), Until: t0.Add(-day)}, ErrDelegationOver},
		{"no window", DelegationInput{Delegate: "carol@example.com"}, ErrInvalid},
		{"bad delegate", DelegationInput{Delegate: "carol", From: t0, Until: t0.Add(day)}, ErrInvalid},
		{"bad group", DelegationInput{Delegate: "carol@example.com", From: t0, Until: t0.Add(day), Groups: []string{"not a group"}}, ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDelegation("bob@example.com", c.in, "bob@example.com", t0)
			wantErr(t, err, c.want)
			if c.want == nil && (d.Delegate != "carol@example.com" || d.Principal != "bob@example.com") {
				t.Fatalf("delegation %+v", d)
			}
		})
	}
}

func TestStandsInFor(t *testing.T) {
	members := map[string]bool{"bob@example.com": true, "carol@example.com": true}
	isMember := func(p string) bool { return members[p] }
	bobToDave := Delegation{Principal: "bob@example.com", Delegate: "dave@example.com", From: t0, Until: t0.Add(time.Hour)}
	onlyOps := bobToDave
	onlyOps.Groups = []string{"ops"}
	daveToErin := Delegation{Principal: "dave@example.com", Delegate: "erin@example.com", From: t0, Until: t0.Add(time.Hour)}
	all := []Delegation{bobToDave, daveToErin}
	cases := []struct {
		name                       string
		ds                         []Delegation
		delegate, requester, group string
		at                         time.Time
		want                       bool
	}{
		{"inside the window", all, "dave@example.com", "alice@example.com", "ops", t0.Add(time.Minute), true},
		{"before the window", all, "dave@example.com", "alice@example.com", "ops", t0.Add(-time.Second), false},
		{"at the window's end", all, "dave@example.com", "alice@example.com", "ops", t0.Add(time.Hour), false},
		{"not transitive", all, "erin@example.com", "alice@example.com", "ops", t0.Add(time.Minute), false},
		{"the delegator's own request", all, "dave@example.com", "bob@example.com", "ops", t0.Add(time.Minute), false},
		{"a group not delegated", []Delegation{onlyOps}, "dave@example.com", "alice@example.com", "exchange-admins", t0.Add(time.Minute), false},
		{"a group delegated", []Delegation{onlyOps}, "dave@example.com", "alice@example.com", "ops", t0.Add(time.Minute), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, got := StandsInFor(c.ds, c.delegate, c.requester, c.group, isMember, c.at); got != c.want {
				t.Fatalf("StandsInFor = %v, want %v", got, c.want)
			}
		})
	}
	members["bob@example.com"] = false
	if _, ok := StandsInFor(all, "dave@example.com", "alice@example.com", "ops", isMember, t0.Add(time.Minute)); ok {
		t.Fatal("a delegation outlives the approver's membership")
	}
}
