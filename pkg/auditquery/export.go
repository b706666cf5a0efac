package auditquery

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// JSONLines returns an emit function writing one record per line.
func JSONLines(w io.Writer) func(auditrecord.Record) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return func(r auditrecord.Record) error { return enc.Encode(r) }
}

// CSVHeader is the first row of a CSV export.
// timePrecision is last: set when time is only the stream's (issue 16 item 3).
var CSVHeader = []string{"id", "time", "action", "actor", "target_type", "target_scope", "target_name", "requestId", "policyId", "detail", "ticket", "timePrecision"}

// CSVWriter writes records as CSV with a header row, for spreadsheets and
// evidence exports.
type CSVWriter struct {
	w      *csv.Writer
	header bool
}

// NewCSVWriter writes to w; call Flush when done.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(w)} }

// Write emits the header on first use, then r.
func (c *CSVWriter) Write(r auditrecord.Record) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVHeader); err != nil {
			return err
		}
	}
	var tt, ts, tn, detail string
	if r.Target != nil {
		tt, ts, tn = r.Target.Type, r.Target.Scope, r.Target.Name
	}
	if len(r.Detail) > 0 {
		b, err := json.Marshal(r.Detail)
		if err != nil {
			return err
		}
		detail = string(b)
	}
	row := []string{r.ID, r.Time.UTC().Format(time.RFC3339Nano), r.Action, r.Actor, tt, ts, tn, r.RequestID, r.PolicyID, detail, r.Ticket, r.TimePrecision}
	for i, v := range row {
		row[i] = csvSafe(v)
	}
	return c.w.Write(row)
}

// Flush writes the header even when no record matched, so an empty export is
// still a well-formed CSV file.
func (c *CSVWriter) Flush() error {
	if !c.header {
		c.header = true
		if err := c.w.Write(CSVHeader); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

// csvSafe defuses spreadsheet formula injection: principals are user-chosen
// strings, and an export is typically opened in a spreadsheet. A leading
// apostrophe is the conventional neutral marker.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
