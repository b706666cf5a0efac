package local

import (
	"maps"
	"slices"
	"testing"
)

// CheckCallsWithinGrants fails t for any DynamoDB call a function of this
// stack made outside its IAM grant in pkg/routes (actions, and the
// dynamodb:LeadingKeys patterns of routes.TableKeys). It needs
// Options.RecordCalls; functions that made no call are skipped.
func (s *Stack) CheckCallsWithinGrants(t testing.TB) {
	t.Helper()
	if s.Calls == nil {
		t.Error("local: CheckCallsWithinGrants needs Options.RecordCalls")
		return
	}
	for _, f := range slices.Sorted(maps.Keys(s.Calls)) {
		if rec := s.Calls[f]; rec.Used() {
			rec.CheckWithin(t, f)
		}
	}
}
