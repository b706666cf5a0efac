package awsapi

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// STS limits this endpoint enforces, from the STS API reference's
// AssumeRole parameter constraints and "IAM and AWS STS quotas".
const (
	MinSessionSeconds          = 900
	MaxSessionSeconds          = 43200
	RoleChainingMaxSeconds     = 3600
	MaxSessionPolicyChars      = 2048
	MaxSessionPolicyARNs       = 10
	MaxSessionTags             = 50
	MaxSessionTagKeyChars      = 128
	MaxSessionTagValueChars    = 256
	defaultSessionSeconds      = 3600
	minRoleARNChars, maxARNLen = 20, 2048
	// PackedBudgetBytes is this endpoint's model of the packed-size limit:
	// AWS compresses the session policy, policy ARNs and tags into the token
	// and refuses above 100% of a budget it does not publish. Here the
	// budget is this many flate-compressed bytes, so the exact point where
	// AWS refuses may differ; the error and its percentage are AWS's.
	PackedBudgetBytes = 2048
)

var (
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	tagPattern         = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	roleARNPattern     = regexp.MustCompile(`^arn:aws[\w-]*:iam::\d{12}:role/[\x21-\x7E]+$`)
	policyARNPattern   = regexp.MustCompile(`^arn:aws[\w-]*:iam::(\d{12}|aws):policy/[\x21-\x7E]+$`)
)

// Session is what STS issued for one successful AssumeRole, as tests need
// to see it: the caller, the parameters it passed, and the expiration.
type Session struct {
	AccessKeyID       string
	CallerARN         string
	RoleARN           string
	SessionName       string
	SourceIdentity    string
	Tags              map[string]string
	TransitiveTagKeys []string
	Policy            string
	PolicyARNs        []string
	DurationSeconds   int
	IssuedAt          time.Time
	Expiration        time.Time
	RoleChaining      bool
	PackedPolicySize  int
}

// STS serves the AWS Security Token Service's Query API.
type STS struct {
	keys     *Keys
	iam      *IAM
	now      func() time.Time
	mu       sync.Mutex
	sessions []Session
}

// NewSTS returns an STS that authenticates callers against keys, finds roles
// in iam, and registers the credentials it issues in keys.
func NewSTS(keys *Keys, iam *IAM, now func() time.Time) *STS {
	if now == nil {
		now = time.Now
	}
	return &STS{keys: keys, iam: iam, now: now}
}

// Service is the Query-protocol service to register under the signing name "sts".
func (s *STS) Service() *QueryService {
	return &QueryService{
		Namespace: "https://sts.amazonaws.com/doc/2011-06-15/",
		Version:   "2011-06-15",
		Actions: map[string]QueryAction{
			"GetCallerIdentity": s.getCallerIdentity,
			"AssumeRole":        s.assumeRole,
		},
	}
}

// Sessions returns every session issued so far, oldest first.
func (s *STS) Sessions() []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Session(nil), s.sessions...)
}

type callerIdentityResult struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

// getCallerIdentity needs no permission in AWS: it answers who signed.
func (s *STS) getCallerIdentity(c *Call, _ url.Values) (any, error) {
	return callerIdentityResult{Arn: c.Caller.ARN, UserID: c.Caller.UserID, Account: c.Caller.Account}, nil
}

type assumeRoleResult struct {
	Credentials struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string `xml:"SecretAccessKey"`
		SessionToken    string `xml:"SessionToken"`
		Expiration      string `xml:"Expiration"`
	} `xml:"Credentials"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string `xml:"Arn"`
	} `xml:"AssumedRoleUser"`
	PackedPolicySize int    `xml:"PackedPolicySize"`
	SourceIdentity   string `xml:"SourceIdentity,omitempty"`
}

func constraint(field, value, rule string) *Error {
	return validationError(fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, field, rule))
}

// assumeRole checks the request against AWS's documented constraints, the
// role's existence and trust policy, then issues and records a session.
func (s *STS) assumeRole(c *Call, params url.Values) (any, error) {
	in := Session{CallerARN: c.Caller.ARN, RoleARN: params.Get("RoleArn"), SessionName: params.Get("RoleSessionName"),
		SourceIdentity: params.Get("SourceIdentity"), Policy: params.Get("Policy"), Tags: map[string]string{}}
	if in.RoleARN == "" || in.SessionName == "" {
		return nil, &Error{Status: http.StatusBadRequest, Code: "MissingParameter", Message: "RoleArn and RoleSessionName are required.", Sender: true}
	}
	if len(in.RoleARN) < minRoleARNChars || len(in.RoleARN) > maxARNLen || !roleARNPattern.MatchString(in.RoleARN) {
		return nil, constraint("roleArn", in.RoleARN, "Member must be a role ARN with length between 20 and 2048")
	}
	if !sessionNamePattern.MatchString(in.SessionName) {
		return nil, constraint("roleSessionName", in.SessionName, `Member must satisfy regular expression pattern: [\w+=,.@-]* and have length between 2 and 64`)
	}
	if _, ok := params["SourceIdentity"]; ok {
		if !sessionNamePattern.MatchString(in.SourceIdentity) {
			return nil, constraint("sourceIdentity", in.SourceIdentity, `Member must satisfy regular expression pattern: [\w+=,.@-]* and have length between 2 and 64`)
		}
		if strings.HasPrefix(strings.ToLower(in.SourceIdentity), "aws:") {
			return nil, validationError("SourceIdentity cannot begin with the reserved prefix aws:")
		}
	}
	if c.Caller.SourceIdentity != "" && in.SourceIdentity != "" && in.SourceIdentity != c.Caller.SourceIdentity {
		return nil, validationError("The source identity of a chained session cannot be changed.")
	}
	if in.SourceIdentity == "" {
		in.SourceIdentity = c.Caller.SourceIdentity
	}

	in.RoleChaining = c.Caller.RoleARN != ""
	in.DurationSeconds = defaultSessionSeconds
	if v, ok := params["DurationSeconds"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < MinSessionSeconds || n > MaxSessionSeconds {
			return nil, constraint("durationSeconds", v[0], "Member must have value between 900 and 43200")
		}
		in.DurationSeconds = n
	}
	if in.RoleChaining && in.DurationSeconds > RoleChainingMaxSeconds {
		return nil, validationError("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}

	if _, ok := params["Policy"]; ok {
		if len(in.Policy) < 1 || len(in.Policy) > MaxSessionPolicyChars {
			return nil, constraint("policy", "(policy)", "Member must have length less than or equal to 2048")
		}
		if _, _, err := parsePolicy(in.Policy, identityPolicy); err != nil {
			return nil, err
		}
	}
	arns, err := members(params, "PolicyArns")
	if err != nil {
		return nil, err
	}
	if len(arns) > MaxSessionPolicyARNs {
		return nil, constraint("policyArns", strconv.Itoa(len(arns)), "Member must have length less than or equal to 10")
	}
	for _, m := range arns {
		arn := m["arn"]
		if len(arn) < minRoleARNChars || len(arn) > maxARNLen || !policyARNPattern.MatchString(arn) {
			return nil, constraint("policyArns.member.arn", arn, "Member must be a policy ARN with length between 20 and 2048")
		}
		in.PolicyARNs = append(in.PolicyARNs, arn)
	}

	tags, err := members(params, "Tags")
	if err != nil {
		return nil, err
	}
	if len(tags) > MaxSessionTags {
		return nil, constraint("tags", strconv.Itoa(len(tags)), "Member must have length less than or equal to 50")
	}
	lowered := map[string]bool{}
	for k := range c.Caller.Tags {
		if containsFold(c.Caller.TransitiveTagKeys, k) {
			lowered[strings.ToLower(k)] = true
		}
	}
	for _, t := range tags {
		k, v := t["Key"], t["Value"]
		if len(k) < 1 || len(k) > MaxSessionTagKeyChars || !tagPattern.MatchString(k) {
			return nil, constraint("tags.member.key", k, `Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+ and have length between 1 and 128`)
		}
		if len(v) > MaxSessionTagValueChars || !tagPattern.MatchString(v) {
			return nil, constraint("tags.member.value", v, `Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]* and have length less than or equal to 256`)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return nil, validationError("Tag keys cannot begin with the reserved prefix aws:")
		}
		if lowered[strings.ToLower(k)] {
			return nil, validationError("Duplicate tag keys found, or a tag key that the calling session passes as transitive: " + k)
		}
		lowered[strings.ToLower(k)] = true
		in.Tags[k] = v
	}
	transitive, err := members(params, "TransitiveTagKeys")
	if err != nil {
		return nil, err
	}
	if len(transitive) > MaxSessionTags {
		return nil, constraint("transitiveTagKeys", strconv.Itoa(len(transitive)), "Member must have length less than or equal to 50")
	}
	for _, t := range transitive {
		if _, ok := in.Tags[t[""]]; !ok {
			return nil, validationError("Transitive tag key " + t[""] + " is not one of the session tags.")
		}
		in.TransitiveTagKeys = append(in.TransitiveTagKeys, t[""])
	}
	for _, k := range c.Caller.TransitiveTagKeys {
		in.Tags[k] = c.Caller.Tags[k]
		in.TransitiveTagKeys = append(in.TransitiveTagKeys, k)
	}

	r, ok := s.iam.roleByARN(in.RoleARN)
	principal := c.Caller.RoleARN
	if principal == "" {
		principal = c.Caller.ARN
	}
	actions := []string{"sts:AssumeRole"}
	if len(in.Tags) > 0 {
		actions = append(actions, "sts:TagSession")
	}
	if params.Get("SourceIdentity") != "" {
		actions = append(actions, "sts:SetSourceIdentity")
	}
	if !ok || !trustAllows(r.Trust, principal, c.Caller.Account, actions...) {
		return nil, &Error{Status: http.StatusForbidden, Code: "AccessDenied", Sender: true,
			Message: "User: " + c.Caller.ARN + " is not authorized to perform: sts:AssumeRole on resource: " + in.RoleARN}
	}
	if in.DurationSeconds > int(r.MaxSession) {
		return nil, validationError("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}

	in.PackedPolicySize = packedPercent(in)
	if in.PackedPolicySize > 100 {
		return nil, &Error{Status: http.StatusBadRequest, Code: "PackedPolicyTooLarge", Sender: true,
			Message: fmt.Sprintf("Packed policy consumes %d%% of allotted space, please use smaller policy.", in.PackedPolicySize)}
	}

	in.IssuedAt = s.now().UTC().Truncate(time.Second)
	in.Expiration = in.IssuedAt.Add(time.Duration(in.DurationSeconds) * time.Second)
	in.AccessKeyID = "ASIA" + randomID(16)
	secret, token := randomSecret(30), randomSecret(120)
	roleName := r.Name
	sessionARN := "arn:aws:sts::" + c.Caller.Account + ":assumed-role/" + roleName + "/" + in.SessionName
	if acct := strings.Split(in.RoleARN, ":"); len(acct) > 4 {
		sessionARN = "arn:aws:sts::" + acct[4] + ":assumed-role/" + roleName + "/" + in.SessionName
	}
	s.keys.Add(Identity{AccessKeyID: in.AccessKeyID, SecretAccessKey: secret, SessionToken: token, Expiration: in.Expiration,
		Account: strings.Split(in.RoleARN, ":")[4], ARN: sessionARN, UserID: r.ID + ":" + in.SessionName, RoleARN: in.RoleARN,
		SessionName: in.SessionName, SourceIdentity: in.SourceIdentity, Tags: in.Tags, TransitiveTagKeys: in.TransitiveTagKeys, IssuedAt: in.IssuedAt})
	s.mu.Lock()
	s.sessions = append(s.sessions, in)
	s.mu.Unlock()

	var out assumeRoleResult
	out.Credentials.AccessKeyID, out.Credentials.SecretAccessKey, out.Credentials.SessionToken = in.AccessKeyID, secret, token
	out.Credentials.Expiration = in.Expiration.Format(time.RFC3339)
	out.AssumedRoleUser.AssumedRoleID, out.AssumedRoleUser.Arn = r.ID+":"+in.SessionName, sessionARN
	out.PackedPolicySize, out.SourceIdentity = in.PackedPolicySize, in.SourceIdentity
	return out, nil
}

// packedPercent is the share of PackedBudgetBytes that the compressed
// session policy, policy ARNs and tags take, rounded up.
func packedPercent(in Session) int {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write([]byte(in.Policy))
	for _, a := range in.PolicyARNs {
		_, _ = w.Write([]byte(a))
	}
	for k, v := range in.Tags {
		_, _ = w.Write([]byte(k + "=" + v))
	}
	_ = w.Close()
	if in.Policy == "" && len(in.PolicyARNs) == 0 && len(in.Tags) == 0 {
		return 0
	}
	return (buf.Len()*100 + PackedBudgetBytes - 1) / PackedBudgetBytes
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func randomSecret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
