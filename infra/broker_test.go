package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"

	"github.com/elevate-pam/elevate/infra/stack"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// brokerActionsByPolicy collects, per IAM policy, the statements that grant
// any action on broker roles (sts:* or iam:*).
func brokerActionsByPolicy(t *testing.T, d struct{ Resources map[string]resource }) map[string][]statement {
	t.Helper()
	out := map[string][]statement{}
	for id, r := range d.Resources {
		if r.Type != "AWS::IAM::Policy" {
			continue
		}
		var d struct{ Statement []statement }
		b, _ := json.Marshal(get(r.Properties, "PolicyDocument"))
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		for _, s := range d.Statement {
			for _, a := range strs(s.Action) {
				if strings.HasPrefix(a, "sts:") || strings.HasPrefix(a, "iam:") {
					out[id] = append(out[id], s)
					break
				}
			}
		}
	}
	return out
}

// TestBrokerGrants: only the credentials function may assume broker roles
// (with source identity and session tags), only the access function may
// write their Elevate inline policy, and without a listed role both reach
// only roles of the stack's account that carry the broker tag.
func TestBrokerGrants(t *testing.T) {
	var d struct{ Resources map[string]resource }
	b, _ := json.Marshal(doc)
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	got := brokerActionsByPolicy(t, d)
	want := map[string][]string{
		"CredentialsRoleDefaultPolicy": stack.BrokerAssumeActions,
		"AccessRoleDefaultPolicy":      stack.BrokerPolicyActions,
	}
	for id, sts := range got {
		var policy string
		for p := range want {
			if strings.HasPrefix(id, p) {
				policy = p
			}
		}
		if policy == "" {
			t.Errorf("%s grants %v: only the credentials and access functions may act on broker roles", id, sts)
			continue
		}
		for _, s := range sts {
			if !reflect.DeepEqual(strs(s.Action), want[policy]) {
				t.Errorf("%s statement %s grants %v, want %v", id, s.Sid, strs(s.Action), want[policy])
			}
			tag := get(s.Condition, "StringEquals", "aws:ResourceTag/"+stack.BrokerRoleTagKey)
			resource, _ := json.Marshal(s.Resource)
			if tag != stack.BrokerRoleTagValue || !strings.Contains(string(resource), `:role/*`) || !strings.Contains(string(resource), "AWS::AccountId") {
				t.Errorf("%s statement %s: resource %s, tag condition %v; want this account's roles tagged %s=%s", id, s.Sid, resource, tag, stack.BrokerRoleTagKey, stack.BrokerRoleTagValue)
			}
		}
		delete(want, policy)
	}
	if len(want) > 0 {
		t.Errorf("no broker grant for %v", want)
	}
}

// TestBrokerRoleConstruct synthesizes with a listed broker role and the
// stack's own broker role: the listed ARN is granted by name, and the
// role's trust policy lets exactly the credentials function's role assume
// it, tag the session and set its source identity.
func TestBrokerRoleConstruct(t *testing.T) {
	const listed = "arn:aws:iam::111122223333:role/elevate-broker-prod"
	e, err := synth(t.TempDir(), "broker", obj{stack.CtxBrokerRoleARNs: listed, stack.CtxBrokerRole: "elevate-broker"})
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ Resources map[string]resource }
	if err := decode(assertions.Template_FromStack(e.Stack, nil), &d); err != nil {
		t.Fatal(err)
	}
	listedBy := map[string]bool{}
	for id, sts := range brokerActionsByPolicy(t, d) {
		for _, s := range sts {
			if slices.Contains(strs(s.Resource), listed) {
				listedBy[strings.TrimSuffix(id[:strings.Index(id, "Role")], "")] = true
			}
		}
	}
	if !listedBy["Credentials"] || !listedBy["Access"] || len(listedBy) != 2 {
		t.Errorf("the listed broker role is granted to %v, want Credentials and Access", listedBy)
	}
	var role resource
	var credentialsRole string
	for id, r := range d.Resources {
		if r.Type != "AWS::IAM::Role" {
			continue
		}
		if strings.HasPrefix(id, "BrokerRole") {
			role = r
		}
		if strings.HasPrefix(id, "CredentialsRole") {
			credentialsRole = id
		}
	}
	if role.Type == "" || credentialsRole == "" {
		t.Fatalf("broker role %v, credentials role %q", role, credentialsRole)
	}
	var trust struct{ Statement []statement }
	b, _ := json.Marshal(get(role.Properties, "AssumeRolePolicyDocument"))
	if err := json.Unmarshal(b, &trust); err != nil {
		t.Fatal(err)
	}
	if len(trust.Statement) != 1 {
		t.Fatalf("trust policy %s, want one statement", b)
	}
	s := trust.Statement[0]
	principal, _ := json.Marshal(get(s.Principal, "AWS"))
	if s.Effect != "Allow" || !reflect.DeepEqual(strs(s.Action), stack.BrokerAssumeActions) || !strings.Contains(string(principal), credentialsRole) {
		t.Errorf("trust statement %+v (principal %s), want %v for %s", s, principal, stack.BrokerAssumeActions, credentialsRole)
	}
	tags, _ := json.Marshal(get(role.Properties, "Tags"))
	if !strings.Contains(string(tags), `"Key":"`+stack.BrokerRoleTagKey+`","Value":"`+stack.BrokerRoleTagValue+`"`) {
		t.Errorf("broker role tags %s", tags)
	}
}

// TestAccessSweepAndStream: the access function consumes the stream with a
// failure destination like the other consumers, and a schedule runs its
// sweep.
func TestAccessSweepAndStream(t *testing.T) {
	fnID, _ := one(t, "AWS::Lambda::Function", "AccessFunction")
	found := false
	for _, r := range ofType("AWS::Events::Rule") {
		if get(r.Properties, "ScheduleExpression") != stack.SweepSchedule {
			continue
		}
		for _, target := range list(get(r.Properties, "Targets")) {
			if refTo(get(target, "Arn"), fnID) {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no %s rule targets %s", stack.SweepSchedule, fnID)
	}
	if !slices.Contains(manifest.StreamFunctions, manifest.Access) {
		t.Fatal("access is not a stream function")
	}
	mapped := false
	for _, r := range ofType("AWS::Lambda::EventSourceMapping") {
		if refTo(get(r.Properties, "FunctionName"), fnID) && get(r.Properties, "DestinationConfig", "OnFailure", "Destination") != nil &&
			get(r.Properties, "FunctionResponseTypes") != nil {
			mapped = true
		}
	}
	if !mapped {
		t.Errorf("the access function has no stream mapping with a failure destination and batch item failures")
	}
}
