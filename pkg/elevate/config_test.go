package elevate

import (
	"testing"
	"time"
)

func TestSettingsApply(t *testing.T) {
	base := DefaultSettings()
	cases := []struct {
		name    string
		patch   SettingsPatch
		wantErr error
		check   func(Settings) bool
	}{
		{"enable with group", SettingsPatch{Enabled: ptr(true), DefaultApproverGroup: ptr("ops")}, nil, func(s Settings) bool { return s.Enabled && s.DefaultApproverGroup == "ops" }},
		{"enable without group", SettingsPatch{Enabled: ptr(true)}, ErrUnprocessable, nil},
		{"system accounts normalized and deduplicated", SettingsPatch{SystemAccounts: &[]string{"Svc@Example.com", "svc@example.com"}}, nil, func(s Settings) bool { return len(s.SystemAccounts) == 1 && s.SystemAccounts[0] == "svc@example.com" }},
		{"bad system account", SettingsPatch{SystemAccounts: &[]string{"not-an-email"}}, ErrInvalid, nil},
		{"max policies configurable", SettingsPatch{MaxPolicies: ptr(5)}, nil, func(s Settings) bool { return s.MaxPolicies == 5 }},
		{"max policies zero", SettingsPatch{MaxPolicies: ptr(0)}, ErrInvalid, nil},
		{"default duration over 24h", SettingsPatch{DefaultDurationHours: ptr(25.0)}, ErrInvalid, nil},
		{"pending expiry zero", SettingsPatch{PendingExpiryHours: ptr(0.0)}, ErrInvalid, nil},
		{"lockbox over 4h", SettingsPatch{Lockbox: &LockboxPatch{MaxDurationHours: ptr(5.0)}}, ErrInvalid, nil},
		{"lockbox on without group", SettingsPatch{Lockbox: &LockboxPatch{Enabled: ptr(true)}}, ErrUnprocessable, nil},
		{"lockbox on", SettingsPatch{Lockbox: &LockboxPatch{Enabled: ptr(true), ApproverGroup: ptr("lockbox")}}, nil, func(s Settings) bool { return s.Lockbox.Enabled && s.Lockbox.ApproverGroup == "lockbox" }},
		{"bad group name", SettingsPatch{DefaultApproverGroup: ptr("ops team")}, ErrInvalid, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := base.Apply(c.patch, "admin@example.com", t0)
			wantErr(t, err, c.wantErr)
			if err != nil {
				if got.Enabled != base.Enabled || got.MaxPolicies != base.MaxPolicies {
					t.Fatal("a refused patch changed the settings")
				}
				return
			}
			if !c.check(got) || got.UpdatedBy != "admin@example.com" || !got.UpdatedAt.Equal(t0) {
				t.Fatalf("unexpected result %+v", got)
			}
		})
	}
	// Turning access off keeps everything else.
	on, err := base.Apply(SettingsPatch{Enabled: ptr(true), DefaultApproverGroup: ptr("ops"), SystemAccounts: &[]string{"svc@example.com"}}, "a@example.com", t0)
	if err != nil {
		t.Fatal(err)
	}
	off, err := on.Apply(SettingsPatch{Enabled: ptr(false)}, "a@example.com", t0)
	if err != nil || off.Enabled || off.DefaultApproverGroup != "ops" || len(off.SystemAccounts) != 1 {
		t.Fatalf("disable lost configuration: %+v %v", off, err)
	}
}

func TestNewPolicy(t *testing.T) {
	cases := []struct {
		name    string
		in      PolicyInput
		wantErr error
		wantID  string
	}{
		{"manual task", PolicyInput{Type: "Task", Scope: "Exchange", Name: "New-MoveRequest", ApprovalType: "Manual"}, nil, "task:exchange:new-moverequest"},
		{"role, case-insensitive enums", PolicyInput{Type: "role", Scope: "Exchange", Name: "Mailbox-Import", ApprovalType: "auto"}, nil, "role:exchange:mailbox-import"},
		{"rolegroup with N of M", PolicyInput{Type: "RoleGroup", Scope: "Exchange", Name: "Org-Mgmt", ApprovalType: "Manual", RequiredApprovals: ptr(2), MaxDurationHours: ptr(8.0), ApproverGroup: ptr("ops")}, nil, "rolegroup:exchange:org-mgmt"},
		{"lockbox is not a policy", PolicyInput{Type: "Lockbox", Scope: "Exchange", Name: "x", ApprovalType: "Manual"}, ErrInvalid, ""},
		{"unknown approval", PolicyInput{Type: "Task", Scope: "Exchange", Name: "x", ApprovalType: "Maybe"}, ErrInvalid, ""},
		{"auto cannot need approvals", PolicyInput{Type: "Task", Scope: "Exchange", Name: "x", ApprovalType: "Auto", RequiredApprovals: ptr(2)}, ErrInvalid, ""},
		{"too many approvals", PolicyInput{Type: "Task", Scope: "Exchange", Name: "x", ApprovalType: "Manual", RequiredApprovals: ptr(11)}, ErrInvalid, ""},
		{"max duration over 24h", PolicyInput{Type: "Task", Scope: "Exchange", Name: "x", ApprovalType: "Manual", MaxDurationHours: ptr(48.0)}, ErrInvalid, ""},
		{"missing scope", PolicyInput{Type: "Task", Name: "x", ApprovalType: "Manual"}, ErrInvalid, ""},
		{"path characters in name", PolicyInput{Type: "Task", Scope: "Exchange", Name: "../x", ApprovalType: "Manual"}, ErrInvalid, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewPolicy(c.in, "admin@example.com", t0)
			wantErr(t, err, c.wantErr)
			if err == nil && p.ID != c.wantID {
				t.Fatalf("id = %q, want %q", p.ID, c.wantID)
			}
		})
	}
}

func TestPolicyUpdateKeepsTarget(t *testing.T) {
	p := *manualPolicy()
	later := t0.Add(time.Hour)
	u, err := p.Update(PolicyInput{ApprovalType: "Auto"}, "admin2@example.com", later)
	if err != nil || u.ApprovalType != ApprovalAuto || u.ID != p.ID || !u.CreatedAt.Equal(p.CreatedAt) || !u.UpdatedAt.Equal(later) {
		t.Fatalf("update: %+v %v", u, err)
	}
	if _, err := p.Update(PolicyInput{Name: "Other", ApprovalType: "Manual"}, "a@example.com", later); !errorsIs(err, ErrInvalid) {
		t.Fatalf("changing the target must be refused: %v", err)
	}
	if _, err := p.Update(PolicyInput{Type: "Role", ApprovalType: "Manual"}, "a@example.com", later); !errorsIs(err, ErrInvalid) {
		t.Fatalf("changing the type must be refused: %v", err)
	}
	if _, err := p.Update(PolicyInput{Scope: "EXCHANGE", Name: "new-moverequest", ApprovalType: "Manual"}, "a@example.com", later); err != nil {
		t.Fatalf("repeating the target in another case is fine: %v", err)
	}
}

func TestGroupsAndPrincipals(t *testing.T) {
	g, err := NewGroup(NewGroupInput{Name: "ops", Members: []string{"Bob@Example.com", "bob@example.com", "carol@example.com"}}, "a@example.com", t0)
	if err != nil || len(g.Members) != 2 || !g.HasMember("bob@example.com") || g.HasMember("Bob@Example.com") {
		t.Fatalf("group: %+v %v", g, err)
	}
	for _, bad := range []NewGroupInput{{Name: "", Members: []string{}}, {Name: "a b", Members: []string{}}, {Name: "ops"}, {Name: "ops", Members: []string{"nobody"}}} {
		if _, err := NewGroup(bad, "a@example.com", t0); !errorsIs(err, ErrInvalid) {
			t.Errorf("NewGroup(%+v) = %v, want invalid", bad, err)
		}
	}
	for in, want := range map[string]string{" Alice@Example.COM ": "alice@example.com", "a.b+c@x.io": "a.b+c@x.io"} {
		if got, err := NormalizePrincipal(in); err != nil || got != want {
			t.Errorf("NormalizePrincipal(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "alice", "@example.com", "alice@", "a@b@c", "a b@example.com", "a/b@example.com", "<a@example.com>", "\u212aate@corp.com", "b\u00f6b@example.com"} {
		if _, err := NormalizePrincipal(bad); !errorsIs(err, ErrInvalid) {
			t.Errorf("NormalizePrincipal(%q) should be invalid, got %v", bad, err)
		}
	}
}

func TestTargetKeyRoundTrip(t *testing.T) {
	tg := Target{Type: TypeRoleGroup, Scope: "Exchange", Name: "Org-Mgmt"}
	back, err := ParseTargetKey(tg.Key())
	if err != nil || back.Key() != tg.Key() {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	for _, bad := range []string{"", "task:exchange", "admin:x:y", "task:ex change:y", "task:x:y:z"} {
		if _, err := ParseTargetKey(bad); err == nil {
			t.Errorf("ParseTargetKey(%q) should fail", bad)
		}
	}
}
