package awsapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// policyKind says which elements a policy document must and must not have:
// identity policies name resources, trust policies name principals.
type policyKind int

const (
	identityPolicy policyKind = iota + 1
	trustPolicy
)

// policyDocument is the grammar IAM checks before it stores a policy.
type policyDocument struct {
	Version   string
	Statement []policyStatement
}

type policyStatement struct {
	Sid         string
	Effect      string
	Principal   json.RawMessage
	Action      stringOrList
	NotAction   stringOrList
	Resource    stringOrList
	NotResource stringOrList
	Condition   map[string]map[string]stringOrList
}

// stringOrList is IAM's "a string or an array of strings".
type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

func malformedPolicy(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "MalformedPolicyDocument", Message: msg, Sender: true}
}

// parsePolicy checks a document the way IAM does on write and returns it
// parsed with its compact form, whose length is what IAM's size quotas
// count (IAM does not count white space).
func parsePolicy(doc string, kind policyKind) (policyDocument, string, error) {
	var p policyDocument
	for _, r := range doc {
		if r != '\t' && r != '\n' && r != '\r' && (r < 0x20 || r > 0xFF) {
			return p, "", malformedPolicy("The policy contains a character outside the allowed range.")
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(doc)); err != nil {
		return p, "", malformedPolicy("Syntax errors in policy.")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(compact.Bytes(), &raw); err != nil {
		return p, "", malformedPolicy("Syntax errors in policy.")
	}
	for k := range raw {
		if k != "Version" && k != "Statement" && k != "Id" {
			return p, "", malformedPolicy("Policy document contains an unknown element " + k + ".")
		}
	}
	if v, ok := raw["Version"]; ok {
		if err := json.Unmarshal(v, &p.Version); err != nil || (p.Version != "2012-10-17" && p.Version != "2008-10-17") {
			return p, "", malformedPolicy("The policy must contain a valid version string")
		}
	}
	st, ok := raw["Statement"]
	if !ok {
		return p, "", malformedPolicy("Policy document must contain a Statement.")
	}
	if bytes.HasPrefix(bytes.TrimSpace(st), []byte("{")) {
		st = append(append([]byte("["), st...), ']')
	}
	if err := json.Unmarshal(st, &p.Statement); err != nil || len(p.Statement) == 0 {
		return p, "", malformedPolicy("Syntax errors in policy.")
	}
	for _, s := range p.Statement {
		if s.Effect != "Allow" && s.Effect != "Deny" {
			return p, "", malformedPolicy("Statement Effect must be Allow or Deny.")
		}
		if (len(s.Action) == 0) == (len(s.NotAction) == 0) {
			return p, "", malformedPolicy("Policy statement must contain actions.")
		}
		switch kind {
		case identityPolicy:
			if len(s.Principal) != 0 {
				return p, "", malformedPolicy("Policy document should not specify a principal.")
			}
			if (len(s.Resource) == 0) == (len(s.NotResource) == 0) {
				return p, "", malformedPolicy("Policy statement must contain resources.")
			}
		case trustPolicy:
			if len(s.Principal) == 0 {
				return p, "", malformedPolicy("Has prohibited field Principal missing.")
			}
			if len(s.Resource) != 0 || len(s.NotResource) != 0 {
				return p, "", malformedPolicy("Has prohibited field Resource.")
			}
		}
	}
	return p, compact.String(), nil
}

// trustAllows reports whether the trust policy lets roleARN's sessions
// (or the account's root, which delegates to IAM) perform every action.
// Statements with a Condition are not evaluated and never allow: this
// endpoint does not model condition keys in trust policies.
func trustAllows(p policyDocument, callerRoleARN, account string, actions ...string) bool {
	allowed := map[string]bool{}
	for _, s := range p.Statement {
		if s.Condition != nil || !principalMatches(s.Principal, callerRoleARN, account) {
			continue
		}
		for _, a := range actions {
			if actionMatches(s.Action, a) {
				if s.Effect == "Deny" {
					return false
				}
				allowed[a] = true
			}
		}
	}
	for _, a := range actions {
		if !allowed[a] {
			return false
		}
	}
	return true
}

func principalMatches(raw json.RawMessage, roleARN, account string) bool {
	var p struct {
		AWS stringOrList
	}
	if json.Unmarshal(raw, &p) != nil || roleARN == "" {
		return false
	}
	for _, want := range p.AWS {
		if want == roleARN || want == account || want == "arn:aws:iam::"+account+":root" {
			return true
		}
	}
	return false
}

func actionMatches(list []string, action string) bool {
	service, _, _ := strings.Cut(action, ":")
	for _, a := range list {
		if strings.EqualFold(a, action) || a == "*" || strings.EqualFold(a, service+":*") {
			return true
		}
	}
	return false
}
