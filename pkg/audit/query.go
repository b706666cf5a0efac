package audit

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// S3Reader is the part of the S3 API a query needs.
type S3Reader interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

var _ S3Reader = (*s3.Client)(nil)

// MaxQueryDays bounds how many daily partitions one query lists, so a typo in
// --since (year 0001) cannot turn into a million ListObjectsV2 calls.
const MaxQueryDays = 3700

// ErrInvalidFilter marks a filter the caller got wrong (a usage error).
var ErrInvalidFilter = errors.New("invalid audit filter")

// Filter selects records. Zero-valued fields match everything except Since,
// which is required. Times are inclusive at both ends.
type Filter struct {
	Since time.Time
	Until time.Time // zero means now, resolved by Query
	// Action matches exactly, or as a prefix when it ends in "*" or "." (e.g.
	// "request.*" or "request.").
	Action    string
	Actor     string // case-insensitive
	RequestID string
	// Target matches case-insensitively on scope and name; an empty Type
	// matches any type.
	Target *Target
}

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidFilter, fmt.Sprintf(format, a...))
}

// Validate reports a filter that cannot be run.
func (f Filter) Validate() error {
	if f.Since.IsZero() {
		return invalidf("since is required")
	}
	if !f.Until.IsZero() && f.Until.Before(f.Since) {
		return invalidf("until is before since")
	}
	return nil
}

// Match reports whether r passes every field of the filter.
func (f Filter) Match(r Record) bool {
	if r.Time.Before(f.Since) || (!f.Until.IsZero() && r.Time.After(f.Until)) {
		return false
	}
	if f.Action != "" {
		if p, ok := strings.CutSuffix(f.Action, "*"); ok || strings.HasSuffix(f.Action, ".") {
			if !ok {
				p = f.Action
			}
			if !strings.HasPrefix(r.Action, p) {
				return false
			}
		} else if r.Action != f.Action {
			return false
		}
	}
	if f.Actor != "" && !strings.EqualFold(r.Actor, f.Actor) {
		return false
	}
	if f.RequestID != "" && r.RequestID != f.RequestID {
		return false
	}
	if t := f.Target; t != nil {
		if r.Target == nil {
			return false
		}
		if t.Type != "" && !strings.EqualFold(t.Type, r.Target.Type) {
			return false
		}
		if !strings.EqualFold(t.Scope, r.Target.Scope) || !strings.EqualFold(t.Name, r.Target.Name) {
			return false
		}
	}
	return true
}

// ParseTargetFilter reads "Type:Scope\Name" or "Scope\Name" (any type). A
// forward slash is accepted in place of the backslash, which shells mangle.
func ParseTargetFilter(s string) (*Target, error) {
	var t Target
	rest := s
	if typ, after, ok := strings.Cut(s, ":"); ok {
		rt, err := elevate.ParseRequestType(typ)
		if err != nil || typ == "" {
			return nil, invalidf("target type must be one of Task, Role, RoleGroup, Lockbox")
		}
		t.Type, rest = string(rt), after
	}
	i := strings.IndexAny(rest, `\/`)
	if i < 0 {
		return nil, invalidf(`target must look like Scope\Name or Type:Scope\Name`)
	}
	t.Scope, t.Name = rest[:i], rest[i+1:]
	if !elevate.ValidName(t.Scope) || !elevate.ValidName(t.Name) {
		return nil, invalidf(`target must look like Scope\Name or Type:Scope\Name`)
	}
	return &t, nil
}

// Partitions lists the partition prefixes of every UTC day from since to
// until inclusive. Only these are listed: the writer files each record under
// its own day, so no other partition can hold a matching record.
func Partitions(since, until time.Time) ([]string, error) {
	first := truncateDay(since)
	last := truncateDay(until)
	if last.Before(first) {
		return nil, invalidf("until is before since")
	}
	days := int(last.Sub(first).Hours()/24) + 1
	if days > MaxQueryDays {
		return nil, invalidf("the range spans %d days; at most %d are allowed", days, MaxQueryDays)
	}
	out := make([]string, 0, days)
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		out = append(out, PartitionPrefix(d))
	}
	return out, nil
}

func truncateDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Query reads the partitions of [f.Since, f.Until], drops records repeated
// across retried batches (same id), filters, and hands the matches to emit in
// time order. Objects are streamed; only matching records are held. progress,
// if not nil, is told after each object read.
func Query(ctx context.Context, c S3Reader, bucket string, f Filter, emit func(Record) error, progress func(done, total int)) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if f.Until.IsZero() {
		f.Until = time.Now()
	}
	prefixes, err := Partitions(f.Since, f.Until)
	if err != nil {
		return err
	}
	var keys []string
	for _, prefix := range prefixes {
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
			}
			for _, o := range page.Contents {
				if k := aws.ToString(o.Key); isAuditObject(k) {
					keys = append(keys, k)
				}
			}
		}
	}
	seen := map[string]struct{}{}
	var matched []Record
	for i, key := range keys {
		err := readObject(ctx, c, bucket, key, func(r Record) {
			if r.ID != "" {
				if _, dup := seen[r.ID]; dup {
					return
				}
				seen[r.ID] = struct{}{}
			}
			if f.Match(r) {
				matched = append(matched, r)
			}
		})
		if err != nil {
			return err
		}
		if progress != nil {
			progress(i+1, len(keys))
		}
	}
	sort.SliceStable(matched, func(i, j int) bool {
		if !matched[i].Time.Equal(matched[j].Time) {
			return matched[i].Time.Before(matched[j].Time)
		}
		return matched[i].ID < matched[j].ID
	})
	for _, r := range matched {
		if err := emit(r); err != nil {
			return err
		}
	}
	return nil
}

func isAuditObject(key string) bool {
	for _, ext := range []string{".json.gz", ".jsonl.gz", ".json", ".jsonl"} {
		if strings.HasSuffix(key, ext) {
			return true
		}
	}
	return false
}

// readObject decodes one object record by record. It sniffs the gzip magic
// rather than trusting the key, so an object stored uncompressed (or
// transparently decompressed by a proxy) still reads.
func readObject(ctx context.Context, c S3Reader, bucket, key string, each func(Record)) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	br := bufio.NewReader(out.Body)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
		}
		defer gz.Close()
		r = gz
	}
	dec := json.NewDecoder(r)
	for {
		var rec Record
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("decode s3://%s/%s: %w", bucket, key, err)
		}
		each(rec)
	}
}

// JSONLines returns an emit function writing one record per line.
func JSONLines(w io.Writer) func(Record) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return func(r Record) error { return enc.Encode(r) }
}

// CSVHeader is the first row of a CSV export.
var CSVHeader = []string{"id", "time", "action", "actor", "target_type", "target_scope", "target_name", "requestId", "policyId", "detail", "ticket"}

// CSVWriter writes records as CSV with a header row, for spreadsheets and
// evidence exports.
type CSVWriter struct {
	w      *csv.Writer
	header bool
}

// NewCSVWriter writes to w; call Flush when done.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(w)} }

// Write emits the header on first use, then r.
func (c *CSVWriter) Write(r Record) error {
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
	row := []string{r.ID, r.Time.UTC().Format(time.RFC3339Nano), r.Action, r.Actor, tt, ts, tn, r.RequestID, r.PolicyID, detail, r.Ticket}
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
