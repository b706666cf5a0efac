package elevate

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const (
	icInstance = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
	icPS1      = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"
	icPS2      = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-fedcba9876543210"
	icOtherPS  = "arn:aws:sso:::permissionSet/ssoins-aaaaaaaaaaaaaaaa/ps-0123456789abcdef"
)

func TestIdentityCenterBindingValidatedOnSave(t *testing.T) {
	manyAccounts := make([]string, MaxBindingAccounts+1)
	for i := range manyAccounts {
		manyAccounts[i] = strings.Repeat("0", 10) + string(rune('0'+i/10)) + string(rune('0'+i%10))
	}
	cases := []struct {
		name, typ string
		b         IdentityCenterBinding
		wantErr   string
	}{
		{"role with one permission set", "Role", IdentityCenterBinding{icInstance, []string{icPS1}, []string{"111122223333"}, false}, ""},
		{"role group with two", "RoleGroup", IdentityCenterBinding{icInstance, []string{icPS1, icPS2}, []string{"111122223333", "444455556666"}, true}, ""},
		{"role with two", "Role", IdentityCenterBinding{icInstance, []string{icPS1, icPS2}, []string{"111122223333"}, false}, "exactly one"},
		{"task", "Task", IdentityCenterBinding{icInstance, []string{icPS1}, []string{"111122223333"}, false}, "only Role and RoleGroup"},
		{"bad instance", "Role", IdentityCenterBinding{"arn:aws:sso:::instance/nope", []string{icPS1}, []string{"111122223333"}, false}, "instanceArn"},
		{"bad permission set", "Role", IdentityCenterBinding{icInstance, []string{"arn:aws:iam::111122223333:role/x"}, []string{"111122223333"}, false}, "permissionSetArns[0]"},
		{"permission set of another instance", "Role", IdentityCenterBinding{icInstance, []string{icOtherPS}, []string{"111122223333"}, false}, "another instance"},
		{"duplicate permission set", "RoleGroup", IdentityCenterBinding{icInstance, []string{icPS1, icPS1}, []string{"111122223333"}, false}, "twice"},
		{"no accounts", "Role", IdentityCenterBinding{icInstance, []string{icPS1}, nil, false}, "accountIds"},
		{"short account", "Role", IdentityCenterBinding{icInstance, []string{icPS1}, []string{"12345"}, false}, "12-digit"},
		{"duplicate account", "Role", IdentityCenterBinding{icInstance, []string{icPS1}, []string{"111122223333", "111122223333"}, false}, "twice"},
		{"too many accounts", "Role", IdentityCenterBinding{icInstance, []string{icPS1}, manyAccounts, false}, "between 1 and"},
		{"too many assignments", "RoleGroup", IdentityCenterBinding{icInstance, []string{icPS1, icPS2, strings.Replace(icPS1, "ps-0", "ps-1", 1)}, manyAccounts[:17], false}, "assignments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.b
			p, err := NewPolicy(PolicyInput{Type: c.typ, Scope: "aws", Name: "DatabaseAdmin", ApprovalType: "Manual", IdentityCenter: &b}, "admin@example.com", t0)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("NewPolicy: %v", err)
				}
				if p.IdentityCenter == nil || len(p.IdentityCenter.Assignments()) != len(b.PermissionSetArns)*len(b.AccountIDs) {
					t.Fatalf("binding %+v", p.IdentityCenter)
				}
				return
			}
			wantErr(t, err, ErrUnprocessable)
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %q does not name %q", err, c.wantErr)
			}
		})
	}
}

// grantAt builds an approved request of principal live on [start, end).
func grantAt(id, principal string, start, end time.Time) Request {
	return Request{ID: id, Requester: principal, Status: StatusApproved, GrantStartsAt: &start, GrantExpiresAt: &end, ExpiresAt: end}
}

func TestStillNeededByKeepsAnAssignmentAnotherLiveGrantNeeds(t *testing.T) {
	now := t0.Add(2 * time.Hour)
	alice := "alice@example.com"
	first := grantAt("r1", alice, t0, now)                                // ends now
	second := grantAt("r2", alice, t0.Add(time.Hour), now.Add(time.Hour)) // overlaps, still live
	revoked := grantAt("r3", alice, t0, now.Add(time.Hour))
	revoked.Status = StatusRevoked
	expired := grantAt("r4", alice, t0, now.Add(-time.Minute))
	future := grantAt("r5", alice, now.Add(time.Hour), now.Add(2*time.Hour))
	bobs := grantAt("r6", "bob@example.com", t0, now.Add(time.Hour))
	extension := grantAt("r7", alice, t0, now.Add(time.Hour))
	extension.Extends = "r1"
	cases := []struct {
		name    string
		ending  string
		holders []Request
		want    []string
	}{
		{"alone", "r1", []Request{first}, nil},
		{"overlapping grant keeps it", "r1", []Request{first, second}, []string{"r2"}},
		{"the second ending after the first", "r2", []Request{second}, nil},
		{"revoked holder does not", "r1", []Request{first, revoked}, nil},
		{"expired holder (TTL not yet run) does not", "r1", []Request{first, expired}, nil},
		{"not yet started holder does not", "r1", []Request{first, future}, nil},
		{"another principal's grant does not", "r1", []Request{first, bobs}, nil},
		{"an extension is not a holder", "r1", []Request{first, extension}, nil},
		{"holder listed twice counts once", "r1", []Request{second, second}, []string{"r2"}},
		{"case of the principal", "r1", []Request{grantAt("r8", "Alice@Example.com", t0, now.Add(time.Hour))}, []string{"r8"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := StillNeededBy(alice, c.ending, c.holders, now)
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("StillNeededBy = %v, want %v", got, c.want)
			}
		})
	}
	// An extension moves the original's end: at the original end it is still live.
	extended := grantAt("r9", alice, t0, now.Add(-time.Minute))
	extended.GrantExpiresAt = ptr(now.Add(time.Hour))
	if got := StillNeededBy(alice, "r1", []Request{extended}, now); len(got) != 1 {
		t.Fatalf("extended grant: %v, want it to keep the assignment", got)
	}
}

func TestSessionDeniesAreAddedOnceKeptBesideTheAdminsAndDroppedWhenLapsed(t *testing.T) {
	admin := `{"Version":"2012-10-17","Statement":[{"Sid":"AdminOwn","Effect":"Allow","Action":"rds:*","Resource":"*"}]}`
	end := t0.Add(time.Hour)
	deny := SessionDeny{UserName: "alice", IssuedBefore: end, Until: end.Add(time.Hour)}
	p1, err := WithSessionDenies(admin, []SessionDeny{deny}, end, 32768)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Sid       string
			Effect    string
			Condition map[string]map[string]string
		}
	}
	if err := json.Unmarshal([]byte(p1), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Statement) != 2 || doc.Statement[0].Sid != "AdminOwn" || doc.Statement[1].Effect != "Deny" {
		t.Fatalf("statements %+v", doc.Statement)
	}
	c := doc.Statement[1].Condition
	if c["StringLike"]["aws:userid"] != "*:alice" || c["DateLessThan"]["aws:TokenIssueTime"] != end.Format(time.RFC3339) {
		t.Fatalf("condition %+v", c)
	}
	// A retried event writes the same policy.
	p2, err := WithSessionDenies(p1, []SessionDeny{deny}, end.Add(time.Second), 32768)
	if err != nil || p2 != p1 {
		t.Fatalf("retry changed the policy: %v\n%s\n%s", err, p1, p2)
	}
	if at, ok := SessionDenyLapses(p1); !ok || !at.Equal(deny.Until) {
		t.Fatalf("lapses %v %v", at, ok)
	}
	// Once every session it covers has expired, only the admin's statement stays.
	p3, err := WithSessionDenies(p2, nil, deny.Until, 32768)
	if err != nil || p3 != `{"Version":"2012-10-17","Statement":[{"Sid":"AdminOwn","Effect":"Allow","Action":"rds:*","Resource":"*"}]}` {
		t.Fatalf("after the session duration: %v %s", err, p3)
	}
	if p4, err := WithSessionDenies(p1, nil, deny.Until, 32768); err != nil || p4 == "" || strings.Contains(p4, "Deny") {
		t.Fatalf("lapsed deny kept: %v %s", err, p4)
	}
	if empty, err := WithSessionDenies("", nil, end, 32768); err != nil || empty != "" {
		t.Fatalf("nothing to write: %v %q", err, empty)
	}
	if _, err := WithSessionDenies(admin, []SessionDeny{deny}, end, 100); err == nil {
		t.Fatal("a policy over the limit was accepted")
	}
	if _, err := WithSessionDenies("not json", nil, end, 32768); err == nil {
		t.Fatal("a malformed policy was accepted")
	}
}
