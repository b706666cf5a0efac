package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
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
	Since time.Time `json:"since"`
	Until time.Time `json:"until"` // zero means now, resolved by Query
	// Action matches exactly, or as a prefix when it ends in "*" or "." (e.g.
	// "request.*" or "request.").
	Action    string `json:"action,omitempty"`
	Actor     string `json:"actor,omitempty"` // case-insensitive
	RequestID string `json:"requestId,omitempty"`
	// Target matches case-insensitively on scope and name; an empty Type
	// matches any type.
	Target *Target `json:"target,omitempty"`
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

// Match reports whether r passes every field of the filter. A record whose
// time is the stream's (timePrecision) matches Since when its change may
// have happened at or after it: within [time, time+precision).
func (f Filter) Match(r Record) bool {
	if r.Time.Before(f.Since) && !r.Time.Add(r.Precision()).After(f.Since) {
		return false
	}
	if !f.Until.IsZero() && r.Time.After(f.Until) {
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

// Partitions lists the partition prefixes of every UTC day from since (less
// MaxTimePrecision) to until inclusive. Only these are listed: the writer
// files each record under its own day, so no other partition can hold a
// matching record; a record timed by the stream just before since, in the
// day before, may still match.
func Partitions(since, until time.Time) ([]string, error) {
	first := truncateDay(since.Add(-MaxTimePrecision))
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

// partitionDay is the day of an object's dt= partition.
func partitionDay(key string) (time.Time, bool) {
	_, dt, ok := strings.Cut(path.Dir(key), "dt=")
	if !ok {
		return time.Time{}, false
	}
	day, err := time.Parse(time.DateOnly, dt)
	return day, err == nil
}

func truncateDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// DefaultParallel is how many objects a query reads at once unless told
// otherwise. Each S3 GET costs a round trip; sixteen in flight hide it
// without holding many partly read bodies.
const DefaultParallel = 16

// QueryOptions tune how a query reads, beyond what it selects.
type QueryOptions struct {
	// Parallel is how many objects are read (and listings made) at once;
	// zero means DefaultParallel.
	Parallel int
	// Progress, if set, is told after each object is read.
	Progress func(done, total int)
	// Objects, if set, are read instead of listing the partitions of the
	// filter's range (verify reads exactly the objects a manifest names).
	Objects []string
	// Source, if set, is told about every object, in key order, once the
	// records of its day partition have been emitted.
	Source func(SourceObject)
	// Lines, if set, receives each matching record as the stored JSON line
	// instead of emit receiving it decoded: printing JSON lines then costs
	// no decoding of the detail and no encoding at all, and the output is
	// byte for byte what the bucket holds.
	Lines func(Line) error
	// KeepGoing records an object that cannot be read in its
	// SourceObject.Err and carries on, instead of failing the query, so a
	// verifier can name every broken object rather than the first.
	KeepGoing bool
}

// SourceObject is what a query saw of one audit object: enough to prove
// later that the same bytes are still there.
type SourceObject struct {
	Key       string `json:"key"`
	VersionID string `json:"versionId,omitempty"`
	ETag      string `json:"etag,omitempty"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	// ObjectLockMode and ObjectLockRetainUntil are what S3 answered on the
	// GET; empty when the bucket (or the emulator) reports no lock.
	ObjectLockMode        string     `json:"objectLockMode,omitempty"`
	ObjectLockRetainUntil *time.Time `json:"objectLockRetainUntil,omitempty"`
	RecordsRead           int        `json:"recordsRead"`
	RecordsKept           int        `json:"recordsKept"`
	// Err is why the object could not be read (KeepGoing only).
	Err string `json:"-"`
}

// Query reads the partitions of [f.Since, f.Until] and hands the matching
// records to emit in time order. progress, if not nil, is told after each
// object read.
func Query(ctx context.Context, c S3Reader, bucket string, f Filter, emit func(Record) error, progress func(done, total int)) error {
	return QueryWith(ctx, c, bucket, f, emit, QueryOptions{Progress: progress})
}

// dayObjects are the objects of one day partition, in key order.
type dayObjects struct {
	first, n int // indexes into the query's object list
}

// objectResult is one object read by a worker.
type objectResult struct {
	index int
	src   SourceObject
	recs  []heldRecord // the records matching the filter, in object order
	err   error
}

// Line is one audit record as stored: a JSON object on one line, which is
// also what Athena's JSON SerDe reads.
type Line []byte

// Decode parses the whole record.
func (l Line) Decode() (Record, error) {
	var r Record
	err := json.Unmarshal(l, &r)
	return r, err
}

// heldRecord is a matching record while its day partition is assembled:
// the fields that order and de-duplicate it, and its line. Holding the line
// rather than the decoded record (a map per detail) keeps a day in about a
// third of the memory.
type heldRecord struct {
	time time.Time
	id   string
	line Line
}

// recordHead is every field of a record a filter can look at; decoding
// into it skips the detail.
type recordHead struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Action    string    `json:"action"`
	Actor     string    `json:"actor"`
	Target    *Target   `json:"target"`
	RequestID string    `json:"requestId"`
	PolicyID  string    `json:"policyId"`
	// TimePrecision: see Record.
	TimePrecision string `json:"timePrecision"`
}

// QueryWith is Query with options. It streams: objects are read
// concurrently, but only the records of the day partition being emitted and
// of the next one (read ahead so the workers never idle at a day boundary)
// are held, so memory follows the busiest day, not the length of the range.
// Records are emitted day by day, each day sorted by time then id; as the
// writer files every record under its own UTC day, that is time order
// overall.
func QueryWith(ctx context.Context, c S3Reader, bucket string, f Filter, emit func(Record) error, o QueryOptions) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if f.Until.IsZero() {
		f.Until = time.Now()
	}
	parallel := o.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	keys := o.Objects
	if keys == nil {
		prefixes, err := Partitions(f.Since, f.Until)
		if err != nil {
			return err
		}
		if keys, err = listPartitions(ctx, c, bucket, prefixes, f.Since, parallel); err != nil {
			return err
		}
	} else {
		keys = slices.Clone(keys)
		slices.Sort(keys)
	}
	days := groupByDay(keys)
	dayOf := make([]int, len(keys))
	for d, g := range days {
		for i := g.first; i < g.first+g.n; i++ {
			dayOf[i] = d
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // runs after cancel: no worker outlives the query
	defer cancel()

	jobs := make(chan int)
	results := make(chan objectResult, parallel)
	// emitted carries one token per day fully emitted; the dispatcher holds
	// back the objects of day d+2 until day d is out, which is what bounds
	// memory to two partitions.
	emitted := make(chan struct{}, len(days))
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		done := 0
		for i := range keys {
			for dayOf[i] > done+1 {
				select {
				case <-emitted:
					done++
				case <-ctx.Done():
					return
				}
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var workers sync.WaitGroup
	for range min(parallel, max(len(keys), 1)) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			var rd objectReader
			for i := range jobs {
				src, recs, err := rd.read(ctx, c, bucket, keys[i], f)
				select {
				case results <- objectResult{index: i, src: src, recs: recs, err: err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		workers.Wait()
		close(results)
	}()

	pending := map[int]objectResult{}
	read, next := 0, 0 // objects read; the next day to emit
	for res := range results {
		if res.err != nil {
			if !o.KeepGoing || ctx.Err() != nil {
				return res.err
			}
			res.src = SourceObject{Key: keys[res.index], Err: res.err.Error()}
		}
		pending[res.index] = res
		read++
		if o.Progress != nil {
			o.Progress(read, len(keys))
		}
		for next < len(days) && dayComplete(pending, days[next]) {
			if err := emitDay(pending, days[next], emit, o.Lines, o.Source); err != nil {
				return err
			}
			next++
			emitted <- struct{}{}
		}
	}
	return ctx.Err()
}

func dayComplete(pending map[int]objectResult, g dayObjects) bool {
	for i := g.first; i < g.first+g.n; i++ {
		if _, ok := pending[i]; !ok {
			return false
		}
	}
	return true
}

// emitDay de-duplicates, sorts and emits one day partition, then forgets it.
//
// De-duplication is by record id (the stream eventID) within the day only. A
// duplicate comes from the writer storing a batch again: Lambda retried it
// after a partial failure, or split it in two to isolate a failing record.
// Either way the copy is the same record, with the same time, so it lands
// in the same day partition; ids never need to be remembered across days.
// Objects are taken in key order, so which copy is kept (and so every
// object's RecordsKept) is the same on every run, whatever order the workers
// finished in: verify depends on that.
func emitDay(pending map[int]objectResult, g dayObjects, emit func(Record) error, lines func(Line) error, source func(SourceObject)) error {
	n := 0
	for i := g.first; i < g.first+g.n; i++ {
		n += len(pending[i].recs)
	}
	seen := make(map[string]struct{}, n)
	day := make([]heldRecord, 0, n)
	for i := g.first; i < g.first+g.n; i++ {
		res := pending[i]
		for _, r := range res.recs {
			if r.id != "" {
				if _, dup := seen[r.id]; dup {
					continue
				}
				seen[r.id] = struct{}{}
			}
			day = append(day, r)
			res.src.RecordsKept++
		}
		res.recs = nil
		pending[i] = res
	}
	slices.SortStableFunc(day, func(a, b heldRecord) int {
		if c := a.time.Compare(b.time); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	for _, r := range day {
		if lines != nil {
			if err := lines(r.line); err != nil {
				return err
			}
			continue
		}
		rec, err := r.line.Decode()
		if err != nil {
			return err // it decoded when it was read
		}
		if err := emit(rec); err != nil {
			return err
		}
	}
	for i := g.first; i < g.first+g.n; i++ {
		if source != nil {
			source(pending[i].src)
		}
		delete(pending, i)
	}
	return nil
}

// groupByDay splits sorted keys into runs sharing a partition prefix
// (everything up to the last "/").
func groupByDay(keys []string) []dayObjects {
	var days []dayObjects
	for i, k := range keys {
		if i > 0 && path.Dir(k) == path.Dir(keys[i-1]) {
			days[len(days)-1].n++
			continue
		}
		days = append(days, dayObjects{first: i, n: 1})
	}
	return days
}

// listPartitions lists the audit objects of every prefix, parallel prefixes
// at a time, and returns their keys in partition then key order. Only keys
// are held: about a hundred bytes per object, never the records. In a
// partition before since's day only objects S3 says were written from a
// MaxTimePrecision before since on are kept: an object holds changes made
// before it was written, and only changes from since on can match there.
func listPartitions(ctx context.Context, c S3Reader, bucket string, prefixes []string, since time.Time, parallel int) ([]string, error) {
	perPrefix := make([][]string, len(prefixes))
	errs := make([]error, len(prefixes))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, prefix := range prefixes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			day, ok := partitionDay(prefix + "*")
			earlier := ok && day.Before(truncateDay(since))
			p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					errs[i] = fmt.Errorf("list s3://%s/%s: %w", bucket, prefix, err)
					return
				}
				for _, o := range page.Contents {
					if earlier && o.LastModified != nil && o.LastModified.Before(since.Add(-MaxTimePrecision)) {
						continue
					}
					if k := aws.ToString(o.Key); isAuditObject(k) {
						perPrefix[i] = append(perPrefix[i], k)
					}
				}
			}
			slices.Sort(perPrefix[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var keys []string
	for _, ks := range perPrefix {
		keys = append(keys, ks...)
	}
	return keys, nil
}

func isAuditObject(key string) bool {
	for _, ext := range []string{".json.gz", ".jsonl.gz", ".json", ".jsonl"} {
		if strings.HasSuffix(key, ext) {
			return true
		}
	}
	return false
}

// countingReader counts the bytes that pass through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// maxLine bounds one record's line, so a corrupt object cannot make a
// reader buffer without end. Records are a few hundred bytes.
const maxLine = 4 << 20

// objectReader is one worker's buffers and gzip state, reset for each
// object: allocating them anew (a 32 KiB window and Huffman tables per
// gzip reader) for thousands of objects was most of a query's garbage.
type objectReader struct {
	raw, lines *bufio.Reader
	gz         *gzip.Reader
}

// read reads one object line by line, keeping the records f matches, and
// hashes the stored bytes as they stream past. It sniffs the gzip magic
// rather than trusting the key, so an object stored uncompressed (or
// transparently decompressed by a proxy) still reads.
func (rd *objectReader) read(ctx context.Context, c S3Reader, bucket, key string, f Filter) (SourceObject, []heldRecord, error) {
	src := SourceObject{Key: key}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return src, nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	src.VersionID, src.ETag = aws.ToString(out.VersionId), aws.ToString(out.ETag)
	src.ObjectLockMode, src.ObjectLockRetainUntil = string(out.ObjectLockMode), out.ObjectLockRetainUntilDate
	h := sha256.New()
	body := &countingReader{r: io.TeeReader(out.Body, h)}
	if rd.raw == nil {
		rd.raw, rd.lines = bufio.NewReaderSize(body, 32<<10), bufio.NewReaderSize(nil, 64<<10)
	}
	raw := rd.raw
	raw.Reset(body)
	var r io.Reader = raw
	if magic, _ := raw.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		var err error
		if rd.gz == nil {
			rd.gz, err = gzip.NewReader(raw)
		} else {
			err = rd.gz.Reset(raw)
		}
		if err != nil {
			return src, nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
		}
		r = rd.gz
	}
	// A partition before Since's day is read only for the records timed by
	// the stream just before Since (MaxTimePrecision): there, only records
	// filed under their own day count, so a record misfiled into it cannot
	// slip into the range.
	var before time.Time
	if day, ok := partitionDay(key); ok && day.Before(truncateDay(f.Since)) {
		before = day
	}
	br := rd.lines
	br.Reset(r)
	var recs []heldRecord
	var long []byte // a line longer than br's buffer, assembled
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if long = append(long, chunk...); len(long) > maxLine {
				return src, nil, fmt.Errorf("read s3://%s/%s: a line longer than %d bytes", bucket, key, maxLine)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return src, nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
		}
		line := chunk
		if long != nil {
			line, long = append(long, chunk...), nil
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			head, jerr := decodeHead(line)
			if jerr != nil {
				return src, nil, fmt.Errorf("decode s3://%s/%s: record %d: %w", bucket, key, src.RecordsRead+1, jerr)
			}
			src.RecordsRead++
			if (before.IsZero() || truncateDay(head.Time).Equal(before)) && f.Match(Record{ID: head.ID, Time: head.Time, Action: head.Action, Actor: head.Actor, Target: head.Target, RequestID: head.RequestID,
				PolicyID: head.PolicyID, TimePrecision: head.TimePrecision}) {
				recs = append(recs, heldRecord{time: head.Time, id: head.ID, line: Line(bytes.Clone(line))})
			}
		}
		if err != nil { // io.EOF
			break
		}
	}
	// The hash covers every stored byte, including any after the gzip stream.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return src, nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	src.Size, src.SHA256 = body.n, hex.EncodeToString(h.Sum(nil))
	return src, recs, nil
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
