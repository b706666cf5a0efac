package local

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// TestParallelDecisionsOneOutcomeInTheTrail sends 20 approve and deny calls
// for one request at once through the gateway and follows them all the way
// to the audit bucket: one call wins, one outcome is stored, at most one
// grant exists, and the trail records that outcome (and its grant) once.
func TestParallelDecisionsOneOutcomeInTheTrail(t *testing.T) {
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	alice := st.client(t, "alice@example.com")
	var members []string
	for i := range 20 {
		members = append(members, fmt.Sprintf("approver%02d@example.com", i))
	}
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": members})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual"})
	id, _ := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": "race"})["id"].(string)

	codes := make([]int, len(members))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, m := range members {
		verb := "approve"
		if i%2 == 1 {
			verb = "deny"
		}
		c := st.client(t, m)
		wg.Go(func() {
			<-start
			codes[i], _ = c.do("POST", "/v1/requests/"+id+"/"+verb, map[string]any{"comment": m})
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, code := range codes {
		switch code {
		case 200:
			wins++
		case 409:
		default:
			t.Errorf("call %d answered %d", i, code)
		}
	}
	if wins != 1 {
		t.Fatalf("%d calls won, want exactly 1 (codes %v)", wins, codes)
	}
	final := alice.must(200, "GET", "/v1/requests/"+id, nil)
	status, _ := final["status"].(string)
	decisions, _ := final["decisions"].([]any)
	if len(decisions) != 1 || (status != "Approved" && status != "Denied") {
		t.Fatalf("stored outcome: %s with %d decisions", status, len(decisions))
	}
	if status == "Approved" {
		alice.authorize("New-MoveRequest", true, "grant")
	} else {
		alice.authorize("New-MoveRequest", false, "approval-required")
	}

	outcome := auditrecord.ActionRequestApproved
	if status == "Denied" {
		outcome = auditrecord.ActionRequestDenied
	}
	count := func() map[string]int {
		n := map[string]int{}
		for _, r := range auditRecords(t, st) {
			if r.RequestID == id {
				n[r.Action]++
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	n := count()
	for n[outcome] == 0 || (status == "Approved" && n[auditrecord.ActionGrantCreated] == 0) {
		if time.Now().After(deadline) {
			t.Fatalf("outcome never reached the trail: %v", n)
		}
		time.Sleep(200 * time.Millisecond)
		n = count()
	}
	time.Sleep(time.Second) // let any stray record land before counting
	n = count()
	wantGrants := 0
	if status == "Approved" {
		wantGrants = 1
	}
	if n[auditrecord.ActionRequestApproved]+n[auditrecord.ActionRequestDenied] != 1 || n[auditrecord.ActionGrantCreated] != wantGrants || n[auditrecord.ActionRequestCreated] != 1 {
		t.Fatalf("audit records for the request: %v, want one %s and %d grant.created", n, outcome, wantGrants)
	}
}
