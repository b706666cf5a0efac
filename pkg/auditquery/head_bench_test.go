package auditquery

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// BenchmarkDecodeHead reads lines shaped like the writer's (the audit
// scale benchmark's records), as the query's inner loop does.
func BenchmarkDecodeHead(b *testing.B) {
	var lines [][]byte
	day := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	for i := range 200 {
		actor := fmt.Sprintf("user%d@example.com", i*37%5000)
		line, err := json.Marshal(auditrecord.Record{
			ID: fmt.Sprintf("%016x%016x", uint64(i)*0x9e3779b97f4a7c15, uint64(i)*0xbf58476d1ce4e5b9), Time: day.Add(time.Duration(i) * 1234567 * time.Microsecond),
			Action: auditrecord.ActionAuthorizeAllowed, Actor: actor, Target: &auditrecord.Target{Type: "Task", Scope: "Exchange", Name: fmt.Sprintf("Cmdlet-%d", i%30)},
			RequestID: fmt.Sprintf("%016x", uint64(i)*0x94d049bb133111eb), Detail: map[string]any{"reason": "grant", "askedBy": actor},
		})
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, line)
	}
	var h recordHead
	var t auditrecord.Target
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := decodeHeadInto(lines[i%len(lines)], &h, &t); err != nil {
			b.Fatal(err)
		}
	}
}
