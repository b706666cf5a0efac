package load

import (
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

func final(id, status string, decisions ...string) finalRequest {
	f := finalRequest{ID: id, Status: status}
	for _, d := range decisions {
		f.Decisions = append(f.Decisions, struct {
			By       string `json:"by"`
			Decision string `json:"decision"`
		}{By: "approver0@load.example.com", Decision: d})
	}
	return f
}

func TestCheckOutcome(t *testing.T) {
	cases := []struct {
		name string
		won  []string
		f    finalRequest
		want string // "" means no problem
	}{
		{"approved once", []string{"approve"}, final("r", "Approved", "approve"), ""},
		{"denied once", []string{"deny"}, final("r", "Denied", "deny"), ""},
		{"cancelled", []string{"cancel"}, final("r", "Cancelled"), ""},
		{"still pending", nil, final("r", "Pending"), ""},
		{"two winners", []string{"approve", "deny"}, final("r", "Approved", "approve"), "were all accepted"},
		{"status differs from the winner", []string{"deny"}, final("r", "Approved", "approve"), "deny was accepted but the request is Approved"},
		{"decided with no winner", nil, final("r", "Denied", "deny"), "no decision was accepted"},
		{"two decisions recorded", []string{"approve"}, final("r", "Approved", "approve", "deny"), "2 approve/deny decisions"},
		{"missing", nil, finalRequest{}, "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(checkOutcome("r", tc.won, tc.f), "\n")
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("problems %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckTrail(t *testing.T) {
	ans := Answer{Principal: "requester0@load.example.com", Scope: "Load", Name: "Load-1", Allowed: false, Reason: "approval-required"}
	res := &Result{Created: []string{"r1"}, Answers: []Answer{ans, ans}}
	finals := map[string]finalRequest{"r1": final("r1", "Approved", "approve")}
	good := func() *trail {
		return &trail{answers: map[Answer]int{ans: 2}, perRequest: map[string]map[string]int{
			"r1": {auditrecord.ActionRequestCreated: 1, auditrecord.ActionRequestApproved: 1, auditrecord.ActionGrantCreated: 1}}}
	}
	if p := checkTrail(res, finals, good()); len(p) != 0 {
		t.Fatalf("a complete trail has problems: %v", p)
	}
	cases := map[string]func(*trail){
		"answer audited once":   func(tr *trail) { tr.answers[ans] = 1 },
		"answer audited thrice": func(tr *trail) { tr.answers[ans] = 3 },
		"unanswered audit":      func(tr *trail) { tr.answers[Answer{Principal: "x", Scope: "Load", Name: "Load-2"}] = 1 },
		"creation missing":      func(tr *trail) { delete(tr.perRequest["r1"], auditrecord.ActionRequestCreated) },
		"outcome missing":       func(tr *trail) { delete(tr.perRequest["r1"], auditrecord.ActionRequestApproved) },
		"second outcome":        func(tr *trail) { tr.perRequest["r1"][auditrecord.ActionRequestDenied] = 1 },
		"grant missing":         func(tr *trail) { delete(tr.perRequest["r1"], auditrecord.ActionGrantCreated) },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			tr := good()
			breakIt(tr)
			if p := checkTrail(res, finals, tr); len(p) == 0 {
				t.Fatal("no problem found")
			}
		})
	}
}
