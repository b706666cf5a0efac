package awsapi

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
)

const testAccount = "111122223333"

// brokerTrust lets the function's role assume the broker role, tag the
// session and set its source identity.
var brokerTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + sessionKey.RoleARN + `"},
 "Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}]}`

func startEndpoint(t *testing.T) *Endpoint {
	t.Helper()
	e, err := Start(Options{Account: testAccount, Region: testRegion, Keys: []Identity{longTermKey, sessionKey}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func iamClient(endpoint string, id Identity) *iam.Client {
	return iam.New(iam.Options{BaseEndpoint: aws.String(endpoint), Region: testRegion, Credentials: static(id), RetryMaxAttempts: 1})
}

// createRole makes a role whose own maximum session is 12 hours, so only
// role chaining caps a session at one hour.
func createRole(t *testing.T, e *Endpoint, name, trust string) string {
	t.Helper()
	out, err := iamClient(e.Endpoint, longTermKey).CreateRole(context.Background(), &iam.CreateRoleInput{
		RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust), MaxSessionDuration: aws.Int32(43200)})
	if err != nil {
		t.Fatalf("CreateRole %s: %v", name, err)
	}
	return aws.ToString(out.Role.Arn)
}

func TestAssumeRoleIssuesAndRecordsASession(t *testing.T) {
	e := startEndpoint(t)
	roleARN := createRole(t, e, "broker", brokerTrust)
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`
	out, err := stsClient(e.Endpoint, testRegion, static(sessionKey)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("alice@example.com.r1"), DurationSeconds: aws.Int32(900),
		SourceIdentity: aws.String("alice@example.com"), Policy: aws.String(policy),
		PolicyArns: []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}},
		Tags:       []ststypes.Tag{{Key: aws.String("elevate-request"), Value: aws.String("r1")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sessions := e.STS.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("%d sessions recorded, want 1", len(sessions))
	}
	s := sessions[0]
	if s.AccessKeyID != aws.ToString(out.Credentials.AccessKeyId) || s.SourceIdentity != "alice@example.com" || s.Tags["elevate-request"] != "r1" ||
		s.Policy != policy || len(s.PolicyARNs) != 1 || s.DurationSeconds != 900 || !s.RoleChaining || s.CallerARN != sessionKey.ARN {
		t.Fatalf("recorded session = %+v", s)
	}
	if got := aws.ToTime(out.Credentials.Expiration); !got.Equal(s.Expiration) || s.Expiration.Sub(s.IssuedAt) != 900*time.Second {
		t.Fatalf("expiration %s, recorded %s issued %s", got, s.Expiration, s.IssuedAt)
	}
	if aws.ToString(out.SourceIdentity) != "alice@example.com" {
		t.Errorf("SourceIdentity in the response = %q", aws.ToString(out.SourceIdentity))
	}

	// The issued credentials sign requests as the assumed role.
	issued := Identity{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), SessionToken: aws.ToString(out.Credentials.SessionToken)}
	who, err := stsClient(e.Endpoint, testRegion, static(issued)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "arn:aws:sts::" + testAccount + ":assumed-role/broker/alice@example.com.r1"; aws.ToString(who.Arn) != want {
		t.Errorf("caller = %s, want %s", aws.ToString(who.Arn), want)
	}
}

func TestAssumeRoleRefusesWhatAWSRefuses(t *testing.T) {
	e := startEndpoint(t)
	roleARN := createRole(t, e, "broker", brokerTrust)
	untaggable := createRole(t, e, "untaggable", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+sessionKey.RoleARN+`"},"Action":"sts:AssumeRole"}]}`)
	tags := func(n, keyLen, valueLen int) []ststypes.Tag {
		out := make([]ststypes.Tag, n)
		for i := range out {
			k := fmt.Sprintf("k%0*d", max(keyLen-1, 1), i)
			out[i] = ststypes.Tag{Key: aws.String(k[:max(keyLen, len(k))]), Value: aws.String(strings.Repeat("v", valueLen))}
		}
		return out
	}
	arns := func(n int) []ststypes.PolicyDescriptorType {
		out := make([]ststypes.PolicyDescriptorType, n)
		for i := range out {
			out[i] = ststypes.PolicyDescriptorType{Arn: aws.String(fmt.Sprintf("arn:aws:iam::aws:policy/P%d", i))}
		}
		return out
	}
	// Random-looking values do not compress, so 50 of them overflow the packed budget.
	noisyTags := make([]ststypes.Tag, 50)
	for i := range noisyTags {
		noisyTags[i] = ststypes.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String(randomID(250))}
	}
	valid := func(mod func(*sts.AssumeRoleInput)) *sts.AssumeRoleInput {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("alice.r1"), DurationSeconds: aws.Int32(900)}
		mod(in)
		return in
	}
	cases := []struct {
		name string
		in   *sts.AssumeRoleInput
		code string
	}{
		{"duration over the role-chaining hour", valid(func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(3601) }), "ValidationError"},
		{"duration under 15 minutes", valid(func(in *sts.AssumeRoleInput) { in.DurationSeconds = aws.Int32(899) }), "ValidationError"},
		{"session name of one character", valid(func(in *sts.AssumeRoleInput) { in.RoleSessionName = aws.String("a") }), "ValidationError"},
		{"session name of 65 characters", valid(func(in *sts.AssumeRoleInput) { in.RoleSessionName = aws.String(strings.Repeat("a", 65)) }), "ValidationError"},
		{"session name with a space", valid(func(in *sts.AssumeRoleInput) { in.RoleSessionName = aws.String("alice r1") }), "ValidationError"},
		{"source identity with aws: prefix", valid(func(in *sts.AssumeRoleInput) { in.SourceIdentity = aws.String("aws:alice") }), "ValidationError"},
		{"source identity of 65 characters", valid(func(in *sts.AssumeRoleInput) { in.SourceIdentity = aws.String(strings.Repeat("a", 65)) }), "ValidationError"},
		{"source identity with a slash", valid(func(in *sts.AssumeRoleInput) { in.SourceIdentity = aws.String("alice/x") }), "ValidationError"},
		{"51 session tags", valid(func(in *sts.AssumeRoleInput) { in.Tags = tags(51, 3, 1) }), "ValidationError"},
		{"a tag key of 129 characters", valid(func(in *sts.AssumeRoleInput) { in.Tags = tags(1, 129, 1) }), "ValidationError"},
		{"a tag value of 257 characters", valid(func(in *sts.AssumeRoleInput) { in.Tags = tags(1, 3, 257) }), "ValidationError"},
		{"an aws: tag key", valid(func(in *sts.AssumeRoleInput) {
			in.Tags = []ststypes.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}
		}), "ValidationError"},
		{"tag keys equal but for case", valid(func(in *sts.AssumeRoleInput) {
			in.Tags = []ststypes.Tag{{Key: aws.String("Team"), Value: aws.String("1")}, {Key: aws.String("team"), Value: aws.String("2")}}
		}), "ValidationError"},
		{"11 policy ARNs", valid(func(in *sts.AssumeRoleInput) { in.PolicyArns = arns(11) }), "ValidationError"},
		{"a policy ARN that is not one", valid(func(in *sts.AssumeRoleInput) {
			in.PolicyArns = []ststypes.PolicyDescriptorType{{Arn: aws.String("arn:aws:s3:::bucket-name-here")}}
		}), "ValidationError"},
		{"a session policy of 2049 characters", valid(func(in *sts.AssumeRoleInput) {
			in.Policy = aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"` + strings.Repeat("a", 2049-88) + `"}]}`)
		}), "ValidationError"},
		{"a session policy that is not JSON", valid(func(in *sts.AssumeRoleInput) { in.Policy = aws.String(`{"Version":`) }), "MalformedPolicyDocument"},
		{"a session policy without Resource", valid(func(in *sts.AssumeRoleInput) {
			in.Policy = aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}`)
		}), "MalformedPolicyDocument"},
		{"tags that overflow the packed size", valid(func(in *sts.AssumeRoleInput) { in.Tags = noisyTags }), "PackedPolicyTooLarge"},
		{"a role that does not exist", valid(func(in *sts.AssumeRoleInput) { in.RoleArn = aws.String("arn:aws:iam::" + testAccount + ":role/nope") }), "AccessDenied"},
		{"tags on a role whose trust lacks sts:TagSession", valid(func(in *sts.AssumeRoleInput) {
			in.RoleArn = aws.String(untaggable)
			in.Tags = tags(1, 3, 1)
		}), "AccessDenied"},
		{"source identity on a role whose trust lacks sts:SetSourceIdentity", valid(func(in *sts.AssumeRoleInput) {
			in.RoleArn = aws.String(untaggable)
			in.SourceIdentity = aws.String("alice")
		}), "AccessDenied"},
	}
	client := stsClient(e.Endpoint, testRegion, static(sessionKey))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.AssumeRole(context.Background(), tc.in)
			if got := apiCode(err); got != tc.code {
				t.Fatalf("error code = %q (%v), want %q", got, err, tc.code)
			}
		})
	}
	if n := len(e.STS.Sessions()); n != 0 {
		t.Fatalf("%d sessions issued by refused calls", n)
	}
	// The limits themselves are allowed: the role-chaining hour, 50 tags, 10 ARNs.
	if _, err := client.AssumeRole(context.Background(), valid(func(in *sts.AssumeRoleInput) {
		in.DurationSeconds, in.Tags, in.PolicyArns = aws.Int32(3600), tags(50, 128, 1), arns(10)
	})); err != nil {
		t.Fatalf("at the limits: %v", err)
	}
	// A long-term key is not role chaining: the role's own maximum is the cap.
	accountTrusted := createRole(t, e, "account-trusted", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+testAccount+`:root"},"Action":"sts:AssumeRole"}]}`)
	user := stsClient(e.Endpoint, testRegion, static(longTermKey))
	if _, err := user.AssumeRole(context.Background(), valid(func(in *sts.AssumeRoleInput) {
		in.RoleArn, in.DurationSeconds = aws.String(accountTrusted), aws.Int32(43200)
	})); err != nil {
		t.Fatalf("12 hours without role chaining: %v", err)
	}
	if _, err := user.AssumeRole(context.Background(), valid(func(in *sts.AssumeRoleInput) {
		in.RoleArn, in.DurationSeconds = aws.String(accountTrusted), aws.Int32(43201)
	})); apiCode(err) != "ValidationError" {
		t.Fatalf("over 12 hours: %v", err)
	}
}

func TestRoleInlinePoliciesKeepIAMsLimits(t *testing.T) {
	e := startEndpoint(t)
	createRole(t, e, "broker", brokerTrust)
	c := iamClient(e.Endpoint, longTermKey)
	ctx := context.Background()
	doc := func(resourceLen int) string {
		return `{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "` + strings.Repeat("r", resourceLen) + `"}]}`
	}
	put := func(name, document string) error {
		_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("broker"), PolicyName: aws.String(name), PolicyDocument: aws.String(document)})
		return err
	}
	if err := put("elevate", doc(10)); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("broker"), PolicyName: aws.String("elevate")})
	if err != nil {
		t.Fatal(err)
	}
	// IAM answers URL-encoded and stores the document without white space.
	decoded, err := url.QueryUnescape(aws.ToString(got.PolicyDocument))
	if err != nil || decoded != strings.ReplaceAll(doc(10), " ", "") {
		t.Fatalf("GetRolePolicy = %q (%v)", decoded, err)
	}
	// 10,240 characters in all, white space not counted; a replaced policy does not count twice.
	compactLen := len(strings.ReplaceAll(doc(0), " ", ""))
	if err := put("elevate", doc(MaxRoleInlinePolicyChars-compactLen)); err != nil {
		t.Fatalf("exactly at the limit: %v", err)
	}
	if err := put("elevate", doc(MaxRoleInlinePolicyChars-compactLen+1)); apiCode(err) != "LimitExceeded" {
		t.Fatalf("one over the limit: %v", err)
	}
	if err := put("other", doc(1)); apiCode(err) != "LimitExceeded" {
		t.Fatalf("a second policy past the aggregate: %v", err)
	}
	for name, bad := range map[string]string{
		"not JSON":        `{"Statement":`,
		"no Effect":       `{"Version":"2012-10-17","Statement":[{"Action":"*","Resource":"*"}]}`,
		"a Principal":     `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}`,
		"a wrong Version": `{"Version":"2020-01-01","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`,
	} {
		if err := put("bad", bad); apiCode(err) != "MalformedPolicyDocument" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("broker"), PolicyName: aws.String("elevate")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("broker"), PolicyName: aws.String("elevate")}); apiCode(err) != "NoSuchEntity" {
		t.Fatalf("after delete: %v", err)
	}
	if err := put("elevate", doc(1)); err != nil {
		t.Fatalf("room again after delete: %v", err)
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("nope"), PolicyName: aws.String("p"), PolicyDocument: aws.String(doc(1))}); apiCode(err) != "NoSuchEntity" {
		t.Fatalf("unknown role: %v", err)
	}
}
