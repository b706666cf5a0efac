package elevate

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const (
	brokerARN  = "arn:aws:iam::123456789012:role/elevate-broker"
	goodPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::old-*"}]}`
)

func TestAWSBindingRule(t *testing.T) {
	arns := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "arn:aws:iam::aws:policy/ReadOnlyAccess" + strings.Repeat("x", i)
		}
		return out
	}
	policyOf := func(resourceLen int) json.RawMessage {
		return json.RawMessage(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"` + strings.Repeat("r", resourceLen) + `"}}`)
	}
	compactLen := len(policyOf(0))
	cases := []struct {
		name    string
		typ     string
		in      *AWSBindingInput
		problem string // a word the 422 must name; "" means accepted
	}{
		{"a role only", "Task", &AWSBindingInput{RoleARN: brokerARN}, ""},
		{"everything", "Role", &AWSBindingInput{RoleARN: "arn:aws:iam::123456789012:role/path/to/broker", SessionPolicy: json.RawMessage(goodPolicy),
			ManagedPolicyARNs: arns(10), MaxSessionMinutes: ptr(15)}, ""},
		{"a RoleGroup policy", "RoleGroup", &AWSBindingInput{RoleARN: brokerARN}, "Task and Role"},
		{"a user ARN", "Task", &AWSBindingInput{RoleARN: "arn:aws:iam::123456789012:user/alice"}, "roleArn"},
		{"an 11-digit account", "Task", &AWSBindingInput{RoleARN: "arn:aws:iam::12345678901:role/x"}, "roleArn"},
		{"a role name with a space", "Task", &AWSBindingInput{RoleARN: "arn:aws:iam::123456789012:role/a b"}, "roleArn"},
		{"14 minutes", "Task", &AWSBindingInput{RoleARN: brokerARN, MaxSessionMinutes: ptr(14)}, "maxSessionMinutes"},
		{"61 minutes", "Task", &AWSBindingInput{RoleARN: brokerARN, MaxSessionMinutes: ptr(61)}, "maxSessionMinutes"},
		{"11 managed policies", "Task", &AWSBindingInput{RoleARN: brokerARN, ManagedPolicyARNs: arns(11)}, "at most 10"},
		{"a managed policy that is a role", "Task", &AWSBindingInput{RoleARN: brokerARN, ManagedPolicyARNs: []string{brokerARN}}, "managedPolicyArns[0]"},
		{"a session policy that is not JSON", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: json.RawMessage(`{"Version":`)}, "sessionPolicy"},
		{"a session policy that is a string", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: json.RawMessage(`"allow all"`)}, "sessionPolicy"},
		{"no Version", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: json.RawMessage(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}, "Version"},
		{"no Statement", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: json.RawMessage(`{"Version":"2012-10-17"}`)}, "Statement"},
		{"an empty Statement", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: json.RawMessage(`{"Version":"2012-10-17","Statement":[]}`)}, "Statement"},
		{"Effect Maybe", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}`)}, "Effect"},
		{"no Action", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}`)}, "Action"},
		{"no Resource", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*"}]}`)}, "Resource"},
		{"a Principal", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`)}, "Principal"},
		{"a character IAM refuses", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: json.RawMessage(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"ā"}]}`)}, "character"},
		{"2048 characters exactly", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: policyOf(2048 - compactLen)}, ""},
		{"2049 characters", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: policyOf(2049 - compactLen)}, "2048"},
		{"white space is not counted", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: json.RawMessage(strings.Replace(string(policyOf(2048-compactLen)), ",", ",    ", -1))}, ""},
		{"ARNs count with the policy", "Task", &AWSBindingInput{RoleARN: brokerARN, SessionPolicy: policyOf(2048 - compactLen), ManagedPolicyARNs: arns(1)}, "2048"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewPolicy(PolicyInput{Type: c.typ, Scope: "s3", Name: "delete-bucket", ApprovalType: "Manual", AWS: c.in}, "admin@example.com", t0)
			if c.problem == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if p.AWS == nil || p.AWS.RoleARN != c.in.RoleARN {
					t.Fatalf("binding = %+v", p.AWS)
				}
				if len(p.AWS.SessionPolicy) > 0 && strings.ContainsAny(string(p.AWS.SessionPolicy), " \n") {
					t.Errorf("session policy kept its white space: %s", p.AWS.SessionPolicy)
				}
				return
			}
			var de *Error
			if !errorsIs(err, ErrUnprocessable) || !errorsAs(err, &de) || de.Code != "invalid-aws-binding" || !strings.Contains(de.Message, c.problem) {
				t.Fatalf("err = %v, want a 422 naming %q", err, c.problem)
			}
		})
	}
	p, err := NewPolicy(PolicyInput{Type: "Task", Scope: "s3", Name: "x", ApprovalType: "Manual", AWS: &AWSBindingInput{RoleARN: brokerARN}}, "a@example.com", t0)
	if err != nil || p.AWS.MaxSessionMinutes != 60 {
		t.Fatalf("default maxSessionMinutes: %+v, %v", p.AWS, err)
	}
}

func TestCredentialsWindow(t *testing.T) {
	b := AWSBinding{RoleARN: brokerARN, MaxSessionMinutes: 60}
	cases := []struct {
		name     string
		left     time.Duration
		max      int
		want     time.Duration
		coveredB bool
	}{
		{"a long grant gets the binding's maximum", 4 * time.Hour, 60, time.Hour, true},
		{"a shorter maximum", 4 * time.Hour, 30, 30 * time.Minute, true},
		{"ends with the grant", 40*time.Minute + 500*time.Millisecond, 60, 40 * time.Minute, true},
		{"15 minutes left exactly", 15 * time.Minute, 60, 15 * time.Minute, true},
		{"under STS's floor: 15 minutes, and the deny covers the rest", 5 * time.Minute, 60, 15 * time.Minute, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b.MaxSessionMinutes = c.max
			d, covered := b.CredentialsWindow(t0, t0.Add(c.left))
			if d != c.want || covered != c.coveredB {
				t.Fatalf("window = %s covered=%v, want %s covered=%v", d, covered, c.want, c.coveredB)
			}
		})
	}
}

func TestSessionIdentityFitsAWSPatterns(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef"
	sessionPattern := `^[\w+=,.@-]{2,64}$`
	for _, principal := range []string{"alice@example.com", "o'brien+ops@example.com", strings.Repeat("long", 30) + "@example.com", "aws:x@e.c"} {
		name, source, tag := SessionIdentity(principal, id)
		for what, v := range map[string]string{"session name": name, "source identity": source} {
			if !regexpMatch(sessionPattern, v) {
				t.Errorf("%s: %s %q breaks %s", principal, what, v, sessionPattern)
			}
		}
		if strings.HasPrefix(source, "aws:") || !strings.HasSuffix(name, "-"+id) || len(tag) > 256 || strings.Contains(tag, "'") {
			t.Errorf("%s: name %q source %q tag %q", principal, name, source, tag)
		}
	}
	if _, source, tag := SessionIdentity("alice@example.com", id); source != "alice@example.com" || tag != "alice@example.com" {
		t.Errorf("a plain address changed: %q %q", source, tag)
	}
}
