package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/elevate-pam/elevate/infra/stack"
	"github.com/elevate-pam/elevate/pkg/config"
)

const (
	icTestInstance = "arn:aws:sso:::instance/ssoins-7223d1e0d1e6a1b5"
	icTestPS       = "arn:aws:sso:::permissionSet/ssoins-7223d1e0d1e6a1b5/ps-1a2b3c4d5e6f7a8b"
)

// identityCenterContext is what a deployment with IAM Identity Center sets.
var identityCenterContext = obj{
	stack.CtxIdentityCenterInstanceArn:    icTestInstance,
	stack.CtxIdentityStoreID:              "d-9067a1b2c3",
	stack.CtxIdentityCenterPermissionSets: icTestPS,
}

// ssoStatements lists, per role policy, the statements granting any sso: or
// identitystore: action.
func ssoStatements(t *testing.T, d template) map[string][]statement {
	t.Helper()
	out := map[string][]statement{}
	for id, r := range d.Resources {
		if r.Type != "AWS::IAM::Policy" {
			continue
		}
		for _, s := range statements(t, r) {
			if slices.ContainsFunc(strs(s.Action), func(a string) bool { return strings.HasPrefix(a, "sso:") || strings.HasPrefix(a, "identitystore:") }) {
				out[id] = append(out[id], s)
			}
		}
	}
	return out
}

// The default deployment names no instance: no function may touch Identity
// Center, but the access function's sweep and failure alarm exist.
func TestIdentityCenterOffByDefault(t *testing.T) {
	if got := ssoStatements(t, doc); len(got) != 0 {
		t.Errorf("sso or identitystore permissions without an instance: %v", got)
	}
	one(t, "AWS::Events::Rule", "AccessSweep")
	one(t, "AWS::CloudWatch::Alarm", "AccessAssignmentFailures")
}

// With an instance: only the access function may change assignments and
// inline policies, only on the named instance and permission sets (and
// accounts); only the requests function reads the named identity store; the
// sweep runs every minute on the access function.
func TestIdentityCenterLeastPrivilege(t *testing.T) {
	e, err := synth(t.TempDir(), "identitycenter", identityCenterContext)
	if err != nil {
		t.Fatal(err)
	}
	var d template
	if err := decode(assertions.Template_FromStack(e.Stack, nil), &d); err != nil {
		t.Fatal(err)
	}
	got := ssoStatements(t, d)
	var policies []string
	for id := range got {
		policies = append(policies, id)
	}
	slices.Sort(policies)
	if len(policies) != 2 || !strings.HasPrefix(policies[0], "AccessRoleDefaultPolicy") || !strings.HasPrefix(policies[1], "RequestsRoleDefaultPolicy") {
		t.Fatalf("policies granting sso/identitystore: %v, want the access and requests roles only", policies)
	}
	access, requests := got[policies[0]], got[policies[1]]
	if len(access) != 1 || !slices.Equal(strs(access[0].Action), stack.AccessAssignmentActions) {
		t.Fatalf("access statements %+v", access)
	}
	var res []string
	for _, r := range list(access[0].Resource) {
		if s, ok := r.(string); ok {
			res = append(res, s)
		} else {
			res = append(res, "account") // the partition-joined account ARN
		}
	}
	if !slices.Equal(res, []string{icTestInstance, icTestPS, "account"}) {
		t.Errorf("access resources %v, want the instance, the permission set and accounts", res)
	}
	for _, a := range strs(access[0].Action) {
		if strings.Contains(a, "*") {
			t.Errorf("wildcard action %s", a)
		}
	}
	if len(requests) != 1 || !slices.Equal(strs(requests[0].Action), stack.RequestsUserActions) {
		t.Fatalf("requests statements %+v", requests)
	}
	var rule resource
	for id, r := range d.Resources {
		if r.Type == "AWS::Events::Rule" && strings.HasPrefix(id, "AccessSweep") {
			rule = r
		}
	}
	if get(rule.Properties, "ScheduleExpression") != stack.SweepSchedule {
		t.Errorf("sweep schedule %v, want %s", get(rule.Properties, "ScheduleExpression"), stack.SweepSchedule)
	}
	targets := list(get(rule.Properties, "Targets"))
	if len(targets) != 1 || !strings.Contains(strings.Join(strs(get(targets[0], "Arn", "Fn::GetAtt")), "."), "AccessFunction") {
		t.Errorf("sweep targets %v, want the access function", targets)
	}
	for id, r := range d.Resources {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		on := get(r.Properties, "Environment", "Variables", config.EnvIdentityCenter)
		wantOn := strings.HasPrefix(id, "AccessFunction") || strings.HasPrefix(id, "RequestsFunction")
		if wantOn != (on == "true") {
			t.Errorf("%s %s = %v", id, config.EnvIdentityCenter, on)
		}
	}
}

func TestIdentityCenterContextValidated(t *testing.T) {
	for name, ctx := range map[string]obj{
		"store without instance": {stack.CtxIdentityStoreID: "d-9067a1b2c3"},
		"bad instance":           {stack.CtxIdentityCenterInstanceArn: "arn:aws:sso:::instance/nope", stack.CtxIdentityStoreID: "d-9067a1b2c3", stack.CtxIdentityCenterPermissionSets: icTestPS},
		"no permission set":      {stack.CtxIdentityCenterInstanceArn: icTestInstance, stack.CtxIdentityStoreID: "d-9067a1b2c3"},
		"other instance's set":   {stack.CtxIdentityCenterInstanceArn: icTestInstance, stack.CtxIdentityStoreID: "d-9067a1b2c3", stack.CtxIdentityCenterPermissionSets: "arn:aws:sso:::permissionSet/ssoins-aaaaaaaaaaaaaaaa/ps-1a2b3c4d5e6f7a8b"},
		"bad store":              {stack.CtxIdentityCenterInstanceArn: icTestInstance, stack.CtxIdentityStoreID: "store", stack.CtxIdentityCenterPermissionSets: icTestPS},
		"unknown user attribute": {stack.CtxIdentityCenterInstanceArn: icTestInstance, stack.CtxIdentityStoreID: "d-9067a1b2c3", stack.CtxIdentityCenterPermissionSets: icTestPS, stack.CtxIdentityCenterUserAttribute: "nickName"},
	} {
		t.Run(name, func(t *testing.T) {
			p := stack.DefaultProps()
			applyIdentityCenterContext(&p, ctx)
			if err := p.Validate(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func applyIdentityCenterContext(p *stack.Props, ctx obj) {
	str := func(k string) string { s, _ := ctx[k].(string); return s }
	p.IdentityCenterInstanceArn, p.IdentityStoreID, p.IdentityCenterUserAttribute = str(stack.CtxIdentityCenterInstanceArn), str(stack.CtxIdentityStoreID), str(stack.CtxIdentityCenterUserAttribute)
	if s := str(stack.CtxIdentityCenterPermissionSets); s != "" {
		p.IdentityCenterPermissionSetArns = strings.Split(s, ",")
	}
}
