package awsapi

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"
)

// IAM limits this endpoint enforces ("IAM and AWS STS quotas", IAM user
// guide; the IAM API reference's parameter constraints).
const (
	// MaxRoleInlinePolicyChars is the aggregate size of all of a role's inline
	// policies, white space not counted.
	MaxRoleInlinePolicyChars = 10240
	maxPolicyDocumentChars   = 131072
)

var (
	iamNamePattern = regexp.MustCompile(`^[\w+=,.@-]+$`)
	iamPathPattern = regexp.MustCompile(`^(/|/[\x21-\x7E]*/)$`)
)

type role struct {
	Name       string
	ARN        string
	ID         string
	Path       string
	Created    time.Time
	Trust      policyDocument
	TrustText  string
	MaxSession int32
	Inline     map[string]string // policy name → compact document
}

// IAM serves the part of the IAM Query API that roles need: create and read
// them, and keep their inline policies, with IAM's limits.
type IAM struct {
	account string
	now     func() time.Time
	mu      sync.Mutex
	roles   map[string]*role
}

// NewIAM returns an IAM for account with no roles.
func NewIAM(account string, now func() time.Time) *IAM {
	if now == nil {
		now = time.Now
	}
	return &IAM{account: account, now: now, roles: map[string]*role{}}
}

// Service is the Query-protocol service to register under the signing name "iam".
func (m *IAM) Service() *QueryService {
	return &QueryService{
		Namespace: "https://iam.amazonaws.com/doc/2010-05-08/",
		Version:   "2010-05-08",
		Actions: map[string]QueryAction{
			"CreateRole":       m.createRole,
			"GetRole":          m.getRole,
			"PutRolePolicy":    m.putRolePolicy,
			"GetRolePolicy":    m.getRolePolicy,
			"DeleteRolePolicy": m.deleteRolePolicy,
			"ListRolePolicies": m.listRolePolicies,
		},
	}
}

func noSuchEntity(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "NoSuchEntity", Message: msg, Sender: true}
}

// checkName applies the constraints IAM documents for RoleName (1–64) and
// PolicyName (1–128): required, bounded, [\w+=,.@-]+.
func checkName(params url.Values, field string, maxLen int) (string, error) {
	v := params.Get(field)
	if v == "" {
		return "", &Error{Status: http.StatusBadRequest, Code: "MissingParameter", Message: "The request must contain the parameter " + field, Sender: true}
	}
	if len(v) > maxLen || !iamNamePattern.MatchString(v) {
		return "", validationError("1 validation error detected: Value '" + v + "' at '" + lowerFirst(field) + "' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length less than or equal to " + strconv.Itoa(maxLen))
	}
	return v, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}

type roleXML struct {
	Path                     string `xml:"Path"`
	RoleName                 string `xml:"RoleName"`
	RoleID                   string `xml:"RoleId"`
	Arn                      string `xml:"Arn"`
	CreateDate               string `xml:"CreateDate"`
	AssumeRolePolicyDocument string `xml:"AssumeRolePolicyDocument"`
	MaxSessionDuration       int32  `xml:"MaxSessionDuration"`
}

type roleResult struct {
	Role roleXML `xml:"Role"`
}

func (r *role) xml() roleXML {
	return roleXML{Path: r.Path, RoleName: r.Name, RoleID: r.ID, Arn: r.ARN, CreateDate: r.Created.UTC().Format(time.RFC3339),
		AssumeRolePolicyDocument: uriEncode(r.TrustText, true), MaxSessionDuration: r.MaxSession}
}

func (m *IAM) createRole(_ *Call, params url.Values) (any, error) {
	name, err := checkName(params, "RoleName", 64)
	if err != nil {
		return nil, err
	}
	path := params.Get("Path")
	if path == "" {
		path = "/"
	}
	if len(path) > 512 || !iamPathPattern.MatchString(path) {
		return nil, validationError("Path must begin and end with / and hold printable ASCII characters.")
	}
	trust, compact, err := parsePolicy(params.Get("AssumeRolePolicyDocument"), trustPolicy)
	if err != nil {
		return nil, err
	}
	maxSession := int32(3600)
	if v := params.Get("MaxSessionDuration"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 3600 || n > 43200 {
			return nil, validationError("MaxSessionDuration must be between 3600 and 43200 seconds.")
		}
		maxSession = int32(n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.roles[name]; ok {
		return nil, &Error{Status: http.StatusConflict, Code: "EntityAlreadyExists", Message: "Role with name " + name + " already exists.", Sender: true}
	}
	r := &role{Name: name, ARN: "arn:aws:iam::" + m.account + ":role" + path + name, ID: "AROA" + randomID(17), Path: path,
		Created: m.now(), Trust: trust, TrustText: compact, MaxSession: maxSession, Inline: map[string]string{}}
	m.roles[name] = r
	return roleResult{Role: r.xml()}, nil
}

// onRole checks RoleName (and PolicyName when policy) and runs fn on the
// role under the lock; NoSuchEntity when the role does not exist.
func (m *IAM) onRole(params url.Values, policy bool, fn func(r *role, policyName string) (any, error)) (any, error) {
	roleName, err := checkName(params, "RoleName", 64)
	if err != nil {
		return nil, err
	}
	policyName := ""
	if policy {
		if policyName, err = checkName(params, "PolicyName", 128); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.roles[roleName]
	if !ok {
		return nil, noSuchEntity("The role with name " + roleName + " cannot be found.")
	}
	return fn(r, policyName)
}

func noSuchPolicy(name string) *Error {
	return noSuchEntity("The role policy with name " + name + " cannot be found.")
}

func (m *IAM) getRole(_ *Call, params url.Values) (any, error) {
	return m.onRole(params, false, func(r *role, _ string) (any, error) { return roleResult{Role: r.xml()}, nil })
}

// putRolePolicy keeps the role's inline policies within IAM's aggregate
// size, a replaced policy not counting twice.
func (m *IAM) putRolePolicy(_ *Call, params url.Values) (any, error) {
	doc := params.Get("PolicyDocument")
	if doc == "" || len(doc) > maxPolicyDocumentChars {
		return nil, validationError("PolicyDocument must have length between 1 and 131072.")
	}
	_, compact, err := parsePolicy(doc, identityPolicy)
	if err != nil {
		return nil, err
	}
	return m.onRole(params, true, func(r *role, policyName string) (any, error) {
		total := len(compact)
		for name, other := range r.Inline {
			if name != policyName {
				total += len(other)
			}
		}
		if total > MaxRoleInlinePolicyChars {
			return nil, &Error{Status: http.StatusConflict, Code: "LimitExceeded", Sender: true,
				Message: "Maximum policy size of " + strconv.Itoa(MaxRoleInlinePolicyChars) + " bytes exceeded for role " + r.Name}
		}
		r.Inline[policyName] = compact
		return nil, nil
	})
}

type rolePolicyResult struct {
	RoleName       string `xml:"RoleName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

// getRolePolicy returns the document URL-encoded (RFC 3986), as IAM does.
func (m *IAM) getRolePolicy(_ *Call, params url.Values) (any, error) {
	return m.onRole(params, true, func(r *role, policyName string) (any, error) {
		doc, ok := r.Inline[policyName]
		if !ok {
			return nil, noSuchPolicy(policyName)
		}
		return rolePolicyResult{RoleName: r.Name, PolicyName: policyName, PolicyDocument: uriEncode(doc, true)}, nil
	})
}

func (m *IAM) deleteRolePolicy(_ *Call, params url.Values) (any, error) {
	return m.onRole(params, true, func(r *role, policyName string) (any, error) {
		if _, ok := r.Inline[policyName]; !ok {
			return nil, noSuchPolicy(policyName)
		}
		delete(r.Inline, policyName)
		return nil, nil
	})
}

type listRolePoliciesResult struct {
	PolicyNames []string `xml:"PolicyNames>member"`
	IsTruncated bool     `xml:"IsTruncated"`
}

func (m *IAM) listRolePolicies(_ *Call, params url.Values) (any, error) {
	return m.onRole(params, false, func(r *role, _ string) (any, error) {
		names := make([]string, 0, len(r.Inline))
		for n := range r.Inline {
			names = append(names, n)
		}
		sort.Strings(names)
		return listRolePoliciesResult{PolicyNames: names}, nil
	})
}

// roleByARN finds a role for STS. AWS matches the ARN exactly, path included.
func (m *IAM) roleByARN(arn string) (role, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.roles {
		if r.ARN == arn {
			cp := *r
			cp.Inline = nil
			return cp, true
		}
	}
	return role{}, false
}

// InlinePolicies returns a role's inline policies (compact JSON by name),
// for tests and for the endpoint's own deny evaluation.
func (m *IAM) InlinePolicies(roleName string) map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	if r, ok := m.roles[roleName]; ok {
		for k, v := range r.Inline {
			out[k] = v
		}
	}
	return out
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// randomID returns n characters in the alphabet AWS uses for unique IDs.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}
