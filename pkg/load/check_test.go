package load

import (
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

var t0 = time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)

func final(id, status string, decisions ...string) finalRequest {
	f := finalRequest{ID: id, Status: status, Requester: "requester0@load.example.com", Name: "Load-1"}
	for i, d := range decisions {
		f.Decisions = append(f.Decisions, decision{By: "approver0@load.example.com", Decision: d, At: t0.Add(time.Duration(i) * time.Second)})
	}
	if status == "Approved" {
		end := t0.Add(time.Hour)
		f.GrantExpiresAt = &end
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
	res := &Result{Created: []string{"r1"}, Answers: []Answered{{Answer: ans}, {Answer: ans}}}
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

func TestCheckTrailStrayGrant(t *testing.T) {
	res := &Result{Created: []string{"r1", "r2"}}
	finals := map[string]finalRequest{"r1": final("r1", "Denied", "deny"), "r2": final("r2", "Cancelled")}
	tr := &trail{answers: map[Answer]int{}, perRequest: map[string]map[string]int{
		"r1": {auditrecord.ActionRequestCreated: 1, auditrecord.ActionRequestDenied: 1},
		"r2": {auditrecord.ActionRequestCreated: 1, auditrecord.ActionRequestCancelled: 1}}}
	if p := checkTrail(res, finals, tr); len(p) != 0 {
		t.Fatalf("a complete trail has problems: %v", p)
	}
	for id := range finals {
		tr.perRequest[id][auditrecord.ActionGrantCreated] = 1
		if p := strings.Join(checkTrail(res, finals, tr), "\n"); !strings.Contains(p, id+" is "+finals[id].Status+" with 1 grant.created") {
			t.Errorf("stray grant.created on %s: problems %q", id, p)
		}
		delete(tr.perRequest[id], auditrecord.ActionGrantCreated)
	}
}

func TestCheckStatuses(t *testing.T) {
	res := newResult()
	for _, k := range []string{"submit 201", "submit 409", "approve 200", "approve 409", "deny 409", "cancel 409", "authorize 200", "list-pending 200"} {
		res.Statuses[k] = 3
	}
	if p := checkStatuses(res); len(p) != 0 {
		t.Fatalf("expected statuses refused: %v", p)
	}
	for _, k := range []string{"authorize 409", "approve 403", "submit 400", "cancel 404", "list-pending 429"} {
		res.Statuses[k] = 1
		res.ClientErrors[k] = `{"detail":"why"}`
		if p := strings.Join(checkStatuses(res), "\n"); !strings.Contains(p, k+": 1 unexpected") || !strings.Contains(p, "why") {
			t.Errorf("%s: problems %q", k, p)
		}
		delete(res.Statuses, k)
	}
}

func TestCheckDecided(t *testing.T) {
	res := &Result{Won: map[string][]string{"r1": {"approve"}, "r2": {"deny"}, "r3": {"cancel"}}}
	if p := checkDecided(res); len(p) != 0 {
		t.Fatalf("every decision won: %v", p)
	}
	for _, d := range []string{"approve", "deny", "cancel"} {
		won := map[string][]string{}
		for id, w := range res.Won {
			if w[0] != d {
				won[id] = w
			}
		}
		if p := strings.Join(checkDecided(&Result{Won: won}), "\n"); !strings.Contains(p, "no "+d+" call") {
			t.Errorf("no %s accepted: problems %q", d, p)
		}
	}
	if p := checkDecided(&Result{}); len(p) != 3 {
		t.Fatalf("nothing decided: %v", p)
	}
}

func TestCheckGrantAnswers(t *testing.T) {
	allowed := Answer{Principal: "requester0@load.example.com", Scope: "Load", Name: "Load-1", Allowed: true, Reason: "grant"}
	at := func(a Answer, asked time.Time) Answered { return Answered{a, asked, asked.Add(100 * time.Millisecond)} }
	finals := map[string]finalRequest{"r1": final("r1", "Approved", "approve")}
	if p := checkGrantAnswers([]Answered{at(allowed, t0.Add(time.Second))}, finals); len(p) != 0 {
		t.Fatalf("an answer during the grant: %v", p)
	}
	denied := allowed
	denied.Allowed, denied.Reason = false, "approval-required"
	if p := checkGrantAnswers([]Answered{at(denied, t0.Add(-time.Minute))}, finals); len(p) != 0 {
		t.Fatalf("a refusal is not tied to a grant: %v", p)
	}
	otherTarget, otherPrincipal := allowed, allowed
	otherTarget.Name, otherPrincipal.Principal = "Load-2", "requester1@load.example.com"
	for name, a := range map[string]Answered{
		"before the approval":   at(allowed, t0.Add(-time.Second)),
		"after the grant ended": at(allowed, t0.Add(2*time.Hour)),
		"another target":        at(otherTarget, t0.Add(time.Second)),
		"another principal":     at(otherPrincipal, t0.Add(time.Second)),
	} {
		if p := checkGrantAnswers([]Answered{a}, finals); len(p) != 1 {
			t.Errorf("%s: problems %v", name, p)
		}
	}
	for _, status := range []string{"Denied", "Cancelled", "Pending"} {
		f := final("r1", status, "approve")
		if p := checkGrantAnswers([]Answered{at(allowed, t0.Add(time.Second))}, map[string]finalRequest{"r1": f}); len(p) != 1 {
			t.Errorf("allowed on a %s request: problems %v", status, p)
		}
	}
}
