package benchmarks

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
	"github.com/elevate-pam/elevate/pkg/local"
)

// BenchmarkIdentityCenterLatency measures, on the local stack, approval →
// the account assignment in place (the approve response to the assignment
// listed by the in-process sso-admin), and revoke → the assignment gone
// with the session deny provisioned to the account. Both include the
// emulator's provisioning delay (reported beside them): each assignment
// and each provisioning of the inline policy stays IN_PROGRESS that long,
// as AWS's do for seconds.
func BenchmarkIdentityCenterLatency(b *testing.B) {
	st, admin := stack(b)
	admin.must(201, "POST", "/v1/policies", `{"type":"Role","scope":"aws","name":"DatabaseAdmin","approvalType":"Manual",`+
		`"identityCenter":{"instanceArn":"`+local.LocalInstanceArn+`","permissionSetArns":["`+local.LocalPermissionSetArn+`"],"accountIds":["111122223333"]}}`)
	bob := newCaller(b, st, "bob@example.com")
	wait := func(what string, start time.Time, done func() bool) {
		for !done() {
			if time.Since(start) > 30*time.Second {
				b.Fatalf("%s not within 30 s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	var toAssign, toRemove []time.Duration
	for i := 0; b.Loop(); i++ {
		principal := fmt.Sprintf("dba%d@example.com", i)
		userID, err := st.AWS.IdentityStore.AddUser(local.LocalIdentityStoreID, principal, principal)
		if err != nil {
			b.Fatal(err)
		}
		as := awsapi.Assignment{InstanceArn: local.LocalInstanceArn, PermissionSetArn: local.LocalPermissionSetArn, AccountID: "111122223333", PrincipalType: "USER", PrincipalID: userID}
		assigned := func() bool { return slices.Contains(st.AWS.SSOAdmin.Assignments(), as) }
		requester := newCaller(b, st, principal)
		var req struct{ ID string }
		if err := json.Unmarshal(requester.must(201, "POST", "/v1/requests", `{"type":"Role","scope":"aws","name":"DatabaseAdmin","reason":"bench","durationHours":1}`), &req); err != nil {
			b.Fatal(err)
		}
		bob.must(200, "POST", "/v1/requests/"+req.ID+"/approve", `{"comment":"ok"}`)
		start := time.Now()
		wait("assignment", start, assigned)
		toAssign = append(toAssign, time.Since(start))

		requester.must(200, "POST", "/v1/requests/"+req.ID+"/revoke", `{"comment":"done"}`)
		start = time.Now()
		wait("removal and session deny", start, func() bool {
			return !assigned() && strings.Contains(st.AWS.SSOAdmin.ProvisionedPolicy(local.LocalPermissionSetArn, "111122223333"), "*:"+principal)
		})
		toRemove = append(toRemove, time.Since(start))
	}
	figure(b, "ic_approval_to_assignment_p50_ms", round3(micros(p50(toAssign))/1000), "p50-ms")
	figure(b, "ic_end_to_removal_p50_ms", round3(micros(p50(toRemove))/1000), "p50-ms")
	figure(b, "ic_provisioning_delay_ms", float64(local.DefaultProvisioningDelay.Milliseconds()), "ms")
}
