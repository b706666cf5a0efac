package access

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// PolicyName is the broker role's inline policy that Elevate owns; it
// holds nothing but the deny.
const PolicyName = "elevate-revocations"

// MaxInlinePolicyChars is IAM's limit on a role's inline policies together,
// white space not counted.
const MaxInlinePolicyChars = 10240

const requestTagKey = "aws:PrincipalTag/" + elevate.SessionTagRequest

// statement is one IAM policy statement of the deny.
type statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    string                    `json:"Action"`
	Resource  string                    `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition"`
}

type document struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

// rendered is what a deny document covers: by request, whether it is denied
// outright (ended) or from a time on; and the cutoff, if any.
type rendered struct {
	text   string
	ended  map[string]bool
	from   map[string]time.Time
	cutoff time.Time
}

// covers reports whether the rendered document denies everything e asks for.
func (r rendered) covers(e app.Revocation) bool {
	if !r.cutoff.IsZero() && e.LastIssuedAt.Before(r.cutoff) {
		return true
	}
	if r.ended[e.RequestID] {
		return true
	}
	from, ok := r.from[e.RequestID]
	return !e.Ended && ok && !from.After(e.NotAfter)
}

// render builds the deny for a role's active entries and cutoff. Ended
// requests are denied outright, in one statement; requests whose grant is
// still live but whose credentials outlive it (STS's 15-minute floor) are
// denied from the grant's end, one statement per end time; the cutoff denies
// every Elevate session issued before it. Entries the cutoff covers are left
// out. The output depends only on its input, so a retried event writes the
// same document. text is "" when there is nothing to deny.
func render(entries []app.Revocation, cutoff *app.RevocationCutoff) rendered {
	out := rendered{ended: map[string]bool{}, from: map[string]time.Time{}}
	var doc document
	doc.Version = "2012-10-17"
	if cutoff != nil {
		out.cutoff = cutoff.Before
		doc.Statement = append(doc.Statement, statement{Sid: "ElevateIssuedBefore", Effect: "Deny", Action: "*", Resource: "*",
			Condition: map[string]map[string]any{
				"Null":         {requestTagKey: "false"},
				"DateLessThan": {"aws:TokenIssueTime": cutoff.Before.UTC().Format(time.RFC3339)},
			}})
	}
	var ended []string
	byEnd := map[time.Time][]string{}
	for _, e := range entries {
		if cutoff != nil && e.LastIssuedAt.Before(cutoff.Before) {
			continue
		}
		if e.Ended {
			ended = append(ended, e.RequestID)
			out.ended[e.RequestID] = true
			continue
		}
		end := e.NotAfter.UTC().Truncate(time.Second)
		byEnd[end] = append(byEnd[end], e.RequestID)
		out.from[e.RequestID] = end
	}
	if len(ended) > 0 {
		slices.Sort(ended)
		doc.Statement = append(doc.Statement, statement{Sid: "ElevateEnded", Effect: "Deny", Action: "*", Resource: "*",
			Condition: map[string]map[string]any{"StringEquals": {requestTagKey: ended}}})
	}
	ends := make([]time.Time, 0, len(byEnd))
	for t := range byEnd {
		ends = append(ends, t)
	}
	slices.SortFunc(ends, time.Time.Compare)
	for _, t := range ends {
		ids := byEnd[t]
		slices.Sort(ids)
		doc.Statement = append(doc.Statement, statement{Sid: "ElevateEnds" + strings.NewReplacer("-", "", ":", "", "T", "", "Z", "").Replace(t.Format(time.RFC3339)),
			Effect: "Deny", Action: "*", Resource: "*",
			Condition: map[string]map[string]any{
				"StringEquals":    {requestTagKey: ids},
				"DateGreaterThan": {"aws:CurrentTime": t.Format(time.RFC3339)},
			}})
	}
	if len(doc.Statement) == 0 {
		return out
	}
	b, _ := json.Marshal(doc) // maps of strings and string slices always marshal
	out.text = string(b)
	return out
}
