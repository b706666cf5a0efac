package auditquery

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// blockTrail writes days of objects whose text spans several of the
// reader's blocks (lines cut at block ends, one line longer than a block,
// an object's last block part empty) and returns every record written,
// with the stored line of each, copies included.
func blockTrail(t *testing.T, c *recordingS3, days int) (Filter, []auditrecord.Record, map[string][]byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(17, 4))
	first := at("2025-04-01T00:00:00Z")
	var all []auditrecord.Record
	lines := map[string][]byte{}
	for d := range days {
		day := first.AddDate(0, 0, d)
		var dayRecs []auditrecord.Record
		for o := range 4 {
			n := 150 + rng.IntN(400)
			recs := make([]auditrecord.Record, n)
			for i := range recs {
				actor := fmt.Sprintf("user%d@example.com", rng.IntN(7))
				recs[i] = auditrecord.Record{
					ID:     fmt.Sprintf("%016x", rng.Uint64()),
					Time:   day.Add(time.Duration(rng.IntN(86_400_000)) * time.Millisecond),
					Action: auditrecord.ActionAuthorizeAllowed, Actor: actor,
					Target: &auditrecord.Target{Type: "Task", Scope: "Exchange", Name: fmt.Sprintf("Cmdlet-%d", rng.IntN(9))},
					Detail: map[string]any{"pad": strings.Repeat("x", rng.IntN(600))},
				}
			}
			if d == 1 && o == 2 {
				recs[n/2].Detail = map[string]any{"pad": strings.Repeat("y", lineBlock+lineBlock/2)}
			}
			if o == 3 && len(dayRecs) > 0 {
				// Copies of records already stored that day, as a retried
				// batch leaves them: they must be dropped, whichever block
				// either copy sits in.
				recs = append(recs, dayRecs[rng.IntN(len(dayRecs))], dayRecs[len(dayRecs)-1])
			}
			dayRecs = append(dayRecs, recs...)
			put(t, c, auditrecord.ObjectKey(day, fmt.Sprintf("o%d", o)), gzLines(t, recs...))
		}
		all = append(all, dayRecs...)
	}
	for _, r := range all {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		lines[r.ID] = b
	}
	return Filter{Since: first, Until: first.AddDate(0, 0, days).Add(-time.Nanosecond)}, all, lines
}

// Lines are read into blocks that are reused once their day is printed.
// Whatever the filter, every printed line must be byte for byte the stored
// one, once, in time order: a block given back too early, or an id left
// viewing a block its line was moved out of, shows here as a changed, lost
// or repeated line.
func TestQueryLinesSurviveBlockReuse(t *testing.T) {
	c := startS3(t)
	f, all, stored := blockTrail(t, c, 6)
	byLine := map[string]auditrecord.Record{}
	for _, r := range all {
		byLine[string(stored[r.ID])] = r
	}
	for _, tc := range []struct {
		name   string
		filter func(Filter) Filter
	}{
		{"everything", func(f Filter) Filter { return f }},
		{"one actor", func(f Filter) Filter { f.Actor = "user3@example.com"; return f }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.filter(f)
			var want [][]byte
			seen := map[string]bool{}
			for _, r := range all {
				if !seen[r.ID] && f.Match(r) {
					seen[r.ID] = true
					want = append(want, stored[r.ID])
				}
			}
			slices.SortStableFunc(want, func(a, b []byte) int {
				ra, rb := byLine[string(a)], byLine[string(b)]
				return cmp.Or(ra.Time.Compare(rb.Time), strings.Compare(ra.ID, rb.ID))
			})
			for _, parallel := range []int{1, 3, 16} {
				var got [][]byte
				err := QueryWith(context.Background(), c, testBucket, f, nil, QueryOptions{Parallel: parallel, Lines: func(l Line) error {
					got = append(got, bytes.Clone(l))
					return nil
				}})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("parallel %d: %d lines, want %d", parallel, len(got), len(want))
				}
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("parallel %d: line %d:\n got  %.200s\n want %.200s", parallel, i, got[i], want[i])
					}
				}
			}
		})
	}
}
