package emulatortest

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"testing"

	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// CheckWithin fails the test for any action the function performed that its
// IAM grant (manifest.TableActions / IndexActions) would refuse in AWS, for
// any item whose partition key falls outside the dynamodb:LeadingKeys
// patterns its grant has for that action (manifest.TableKeys), and when it
// recorded nothing at all (the check would then prove nothing).
func CheckWithin(t testing.TB, rec *emulator.OpRecorder, function string) {
	t.Helper()
	calls := rec.Calls()
	if len(calls.Table)+len(calls.Index) == 0 {
		t.Errorf("function %s made no DynamoDB call", function)
	}
	for _, c := range []struct {
		used    []string
		granted []string
		where   string
	}{{slices.Collect(maps.Keys(calls.Table)), manifest.TableActions[function], "table"}, {calls.Index, manifest.IndexActions[function], "indexes"}} {
		var missing []string
		for _, op := range c.used {
			if !slices.Contains(c.granted, op) {
				missing = append(missing, op)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("function %s calls %v on the %s, which its IAM grant %v lacks", function, missing, c.where, c.granted)
		}
	}
	for _, action := range slices.Sorted(maps.Keys(calls.Table)) {
		var outside []string
		for _, pk := range calls.Table[action] {
			if !manifest.TableKeyAllowed(function, action, pk) {
				outside = append(outside, pk)
			}
		}
		if len(outside) == 0 {
			continue
		}
		more := ""
		if len(outside) > 1 {
			more = fmt.Sprintf(" (and %d more such keys)", len(outside)-1)
		}
		t.Errorf("function %s calls %s on partition key %q%s, outside its dynamodb:LeadingKeys grant %v for %s (add the item kind's pattern to manifest.TableKeys if this access is intended)",
			function, action, outside[0], more, manifest.LeadingKeysFor(function, action), action)
	}
}

// CheckCallsWithinGrants runs CheckWithin for every function of a local
// stack that made a call (local.Stack.Calls, filled when
// local.Options.RecordCalls is set).
func CheckCallsWithinGrants(t testing.TB, calls map[string]*emulator.OpRecorder) {
	t.Helper()
	if calls == nil {
		t.Error("emulatortest: CheckCallsWithinGrants needs local.Options.RecordCalls")
		return
	}
	for _, f := range slices.Sorted(maps.Keys(calls)) {
		if rec := calls[f]; rec.Used() {
			CheckWithin(t, rec, f)
		}
	}
}
