package elevate

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// AWS's limits on what a policy's aws binding passes to sts:AssumeRole
// (STS API reference, AssumeRole; IAM user guide, "IAM and AWS STS quotas").
const (
	// MaxSessionPolicyChars bounds the plaintext of the inline session policy
	// and the managed policy ARNs together.
	MaxSessionPolicyChars = 2048
	MaxManagedPolicyARNs  = 10
	// MinSessionMinutes is STS's shortest session; MaxSessionMinutes is the
	// role-chaining hour (the credentials function assumes the broker role
	// with its own role's credentials).
	MinSessionMinutes = 15
	MaxSessionMinutes = 60
	maxARNChars       = 2048
)

var (
	roleARNShape   = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::\d{12}:role/([\x21-\x7E]{0,510}/)?[\w+=,.@-]{1,64}$`)
	policyARNShape = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::(\d{12}|aws):policy/([\x21-\x7E]{0,510}/)?[\w+=,.@-]{1,128}$`)
)

// AWSBinding makes a grant AWS access (v1.2): the credentials route assumes
// RoleARN, a broker role in the customer's account, scoped by the session
// policy and managed policy ARNs to the task.
type AWSBinding struct {
	RoleARN string `json:"roleArn"`
	// SessionPolicy is an IAM policy document, stored compact.
	SessionPolicy     json.RawMessage `json:"sessionPolicy,omitempty"`
	ManagedPolicyARNs []string        `json:"managedPolicyArns,omitempty"`
	MaxSessionMinutes int             `json:"maxSessionMinutes"`
}

// AWSBindingInput is the aws member of a policy body.
type AWSBindingInput struct {
	RoleARN           string          `json:"roleArn"`
	SessionPolicy     json.RawMessage `json:"sessionPolicy"`
	ManagedPolicyARNs []string        `json:"managedPolicyArns"`
	MaxSessionMinutes *int            `json:"maxSessionMinutes"`
}

// ErrNoAWSBinding refuses credentials for a policy that names no role.
var ErrNoAWSBinding = refusal(ErrUnprocessable, "no-aws-binding", "the target's policy has no aws binding, so it grants no AWS credentials")

func invalidBinding(msg string) error { return Unprocessable("invalid-aws-binding", "aws."+msg) }

// awsBindingRule validates a binding with AWS's own limits, so that a policy
// saved here is one STS will accept. nil in, nil out.
func awsBindingRule(typ RequestType, in *AWSBindingInput) (*AWSBinding, error) {
	if in == nil {
		return nil, nil
	}
	if typ != TypeTask && typ != TypeRole {
		return nil, invalidBinding("roleArn: only Task and Role policies may name an aws binding")
	}
	if len(in.RoleARN) > maxARNChars || !roleARNShape.MatchString(in.RoleARN) {
		return nil, invalidBinding("roleArn must be an IAM role ARN, arn:aws:iam::<12-digit account>:role/<name>")
	}
	b := &AWSBinding{RoleARN: in.RoleARN, MaxSessionMinutes: MaxSessionMinutes}
	if in.MaxSessionMinutes != nil {
		if *in.MaxSessionMinutes < MinSessionMinutes || *in.MaxSessionMinutes > MaxSessionMinutes {
			return nil, invalidBinding("maxSessionMinutes must be between 15 and 60 (STS's minimum, and its limit for role chaining)")
		}
		b.MaxSessionMinutes = *in.MaxSessionMinutes
	}
	if len(in.ManagedPolicyARNs) > MaxManagedPolicyARNs {
		return nil, invalidBinding("managedPolicyArns: at most 10 ARNs")
	}
	plaintext := 0
	for i, arn := range in.ManagedPolicyARNs {
		if len(arn) > maxARNChars || !policyARNShape.MatchString(arn) {
			return nil, invalidBinding("managedPolicyArns[" + strconv.Itoa(i) + "] must be an IAM policy ARN, arn:aws:iam::<account or aws>:policy/<name>")
		}
		plaintext += len(arn)
	}
	b.ManagedPolicyARNs = append([]string(nil), in.ManagedPolicyARNs...)
	if len(in.SessionPolicy) > 0 && !bytes.Equal(bytes.TrimSpace(in.SessionPolicy), []byte("null")) {
		doc, err := sessionPolicyRule(in.SessionPolicy)
		if err != nil {
			return nil, err
		}
		b.SessionPolicy = doc
		plaintext += len(doc)
	}
	if plaintext > MaxSessionPolicyChars {
		return nil, invalidBinding("sessionPolicy: with the managed policy ARNs it is " + strconv.Itoa(plaintext) +
			" characters without white space; STS allows 2048")
	}
	return b, nil
}

// sessionStatement is the grammar IAM requires of one statement of a
// session (identity) policy.
type sessionStatement struct {
	Sid          string          `json:"Sid"`
	Effect       string          `json:"Effect"`
	Action       json.RawMessage `json:"Action"`
	NotAction    json.RawMessage `json:"NotAction"`
	Resource     json.RawMessage `json:"Resource"`
	NotResource  json.RawMessage `json:"NotResource"`
	Condition    json.RawMessage `json:"Condition"`
	Principal    json.RawMessage `json:"Principal"`
	NotPrincipal json.RawMessage `json:"NotPrincipal"`
}

// sessionPolicyRule checks the document and returns it compact, which is
// the form Elevate passes to STS and whose length AWS counts.
func sessionPolicyRule(raw json.RawMessage) (json.RawMessage, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, invalidBinding("sessionPolicy is not valid JSON")
	}
	for _, r := range compact.String() {
		if r != '\t' && r != '\n' && r != '\r' && (r < 0x20 || r > 0xFF) {
			return nil, invalidBinding("sessionPolicy holds a character outside the range IAM accepts (tab, newline, U+0020 to U+00FF)")
		}
	}
	var doc struct {
		Version   *string         `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	dec := json.NewDecoder(bytes.NewReader(compact.Bytes()))
	if err := dec.Decode(&doc); err != nil {
		return nil, invalidBinding("sessionPolicy must be a JSON object with Version and Statement")
	}
	if doc.Version == nil || (*doc.Version != "2012-10-17" && *doc.Version != "2008-10-17") {
		return nil, invalidBinding(`sessionPolicy.Version must be "2012-10-17"`)
	}
	if len(doc.Statement) == 0 {
		return nil, invalidBinding("sessionPolicy.Statement is required")
	}
	var statements []sessionStatement
	if doc.Statement[0] == '{' {
		var one sessionStatement
		if err := json.Unmarshal(doc.Statement, &one); err != nil {
			return nil, invalidBinding("sessionPolicy.Statement must be an object or an array of objects")
		}
		statements = []sessionStatement{one}
	} else if err := json.Unmarshal(doc.Statement, &statements); err != nil || len(statements) == 0 {
		return nil, invalidBinding("sessionPolicy.Statement must be an object or a non-empty array of objects")
	}
	for i, s := range statements {
		at := "sessionPolicy.Statement[" + strconv.Itoa(i) + "]"
		switch {
		case s.Effect != "Allow" && s.Effect != "Deny":
			return nil, invalidBinding(at + ".Effect must be Allow or Deny")
		case !stringOrStrings(s.Action) && !stringOrStrings(s.NotAction):
			return nil, invalidBinding(at + " needs Action (or NotAction): a string or an array of strings")
		case !stringOrStrings(s.Resource) && !stringOrStrings(s.NotResource):
			return nil, invalidBinding(at + " needs Resource (or NotResource): a string or an array of strings")
		case len(s.Principal) > 0 || len(s.NotPrincipal) > 0:
			return nil, invalidBinding(at + " must not name a Principal: a session policy applies to the session")
		}
	}
	return json.RawMessage(compact.Bytes()), nil
}

// stringOrStrings: IAM's "a string or a non-empty array of strings".
func stringOrStrings(raw json.RawMessage) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one != ""
	}
	var many []string
	return json.Unmarshal(raw, &many) == nil && len(many) > 0
}

// CredentialsWindow is how long credentials issued at now for a grant that
// ends at grantEnd last: until the grant ends, at most the binding's
// maximum, and never under STS's 15 minutes. When the grant ends sooner than
// that floor, the revocation deny covers the remainder (Covered is false).
func (b AWSBinding) CredentialsWindow(now, grantEnd time.Time) (d time.Duration, coveredByGrant bool) {
	d = min(grantEnd.Sub(now), time.Duration(b.MaxSessionMinutes)*time.Minute)
	d = d.Truncate(time.Second)
	if d < MinSessionMinutes*time.Minute {
		return MinSessionMinutes * time.Minute, false
	}
	return d, true
}

// Session tags on every Elevate session: the revocation deny matches the
// request tag, and CloudTrail shows both.
const (
	SessionTagRequest   = "elevate-request"
	SessionTagPrincipal = "elevate-principal"
)

// AWS's patterns: session names and source identities are [\w+=,.@-]{2,64};
// tag values are [\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}.
var (
	notSessionChar = regexp.MustCompile(`[^\w+=,.@-]`)
	notTagChar     = regexp.MustCompile(`[^\p{L}\p{Z}\p{N}_.:/=+\-@]`)
)

// SessionIdentity names the STS session of principal's credentials for a
// request within AWS's patterns and lengths: the session name is the
// principal (cut to 31 characters) and the request ID, so both show in the
// assumed-role ARN; the source identity is the principal (cut to 64); the
// principal tag keeps up to 256 characters. Characters AWS does not accept
// become '_'; the audit record keeps the principal as it is.
func SessionIdentity(principal, requestID string) (sessionName, sourceIdentity, principalTag string) {
	safe := notSessionChar.ReplaceAllString(principal, "_")
	sourceIdentity = safe[:min(len(safe), 64)]
	if len(sourceIdentity) < 2 || strings.HasPrefix(strings.ToLower(sourceIdentity), "aws:") {
		sourceIdentity = "elevate-" + sourceIdentity
	}
	sessionName = safe[:min(len(safe), 31)] + "-" + requestID[:min(len(requestID), 32)]
	principalTag = notTagChar.ReplaceAllString(principal, "_")
	principalTag = principalTag[:min(len(principalTag), 256)]
	return sessionName, sourceIdentity, principalTag
}
