// Package auditquery is the read side of the audit trail, for the CLI and
// the load test: a filter (filter.go) selects records, a concurrent pipeline
// (pipeline.go) lists the day partitions and reads their objects
// (object.go, head.go) in time order, the export writers print them as JSON
// lines or CSV (export.go), and evidence bundles record and verify exactly
// what was read (evidence.go).
package auditquery

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// S3Reader is the part of the S3 API a query needs.
type S3Reader interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

var _ S3Reader = (*s3.Client)(nil)

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
	// records of its day partition have been emitted. Only then is each
	// object's SHA-256 computed: a plain query has no use for it.
	Source func(SourceObject)
	// Lines, if set, receives each matching record as the stored JSON line
	// instead of emit receiving it decoded: printing JSON lines then costs
	// no decoding of the detail and no encoding at all, and the output is
	// byte for byte what the bucket holds. The line is valid only during
	// the call: its memory is reused once its day is printed.
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
func Query(ctx context.Context, c S3Reader, bucket string, f Filter, emit func(auditrecord.Record) error, progress func(done, total int)) error {
	return QueryWith(ctx, c, bucket, f, emit, QueryOptions{Progress: progress})
}

// dayObjects are the objects of one day partition, in key order.
type dayObjects struct {
	first, n int // indexes into the query's object list
}

// objectResult is one object read by a worker.
type objectResult struct {
	index int
	key   string
	src   SourceObject
	recs  []heldRecord // the records matching the filter, in object order
	// blocks hold recs' lines, and go back to the pool once emitted.
	blocks [][]byte
	err    error
}

// heldRecord is a matching record while its day partition is assembled:
// the fields that order and de-duplicate it, and its line. Holding the line
// rather than the decoded record (a map per detail) keeps a day in about a
// third of the memory.
type heldRecord struct {
	// sec and nsec are the record's time (Unix seconds and nanoseconds),
	// which sort faster than a time.Time and hold any year it can.
	sec  int64
	nsec int32
	id   string
	line Line
}

// QueryWith is Query with options. It streams: objects are read
// concurrently, but only the records of the day partition being emitted and
// of the next one (read ahead so the workers never idle at a day boundary)
// are held, so memory follows the busiest day, not the length of the range.
// Records are emitted day by day, each day sorted by time then id; as the
// writer files every record under its own UTC day, that is time order
// overall. Reading starts as soon as the first day is listed, while the
// later days are still being listed.
func QueryWith(ctx context.Context, c S3Reader, bucket string, f Filter, emit func(auditrecord.Record) error, o QueryOptions) error {
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

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // runs after cancel: no worker outlives the query
	defer cancel()

	// listed yields the keys of one day partition at a time, in day order.
	var listed <-chan listedDay
	if o.Objects != nil {
		keys := slices.Clone(o.Objects)
		slices.Sort(keys)
		ch := make(chan listedDay, len(keys)+1)
		for _, g := range groupByDay(keys) {
			ch <- listedDay{keys: keys[g.first : g.first+g.n]}
		}
		close(ch)
		listed = ch
	} else {
		prefixes, err := Partitions(f.Since, f.Until)
		if err != nil {
			return err
		}
		listed = streamPartitions(ctx, &wg, c, bucket, prefixes, f.Since, parallel)
	}

	// days grows as days are listed; the dispatcher appends, the emitter
	// reads. listErr and total are set once listing is over.
	var (
		mu      sync.Mutex
		days    []dayObjects
		total   = -1
		listErr error
	)
	// emittedDays counts the days fully emitted; the dispatcher holds back
	// the objects of day d+2 until day d is out, which is what bounds
	// memory to two partitions. wake tells it the count moved.
	var emittedDays atomic.Int64
	wake := make(chan struct{}, 1)
	jobs := make(chan job)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		n := 0
		for l := range listed {
			if l.err != nil {
				mu.Lock()
				listErr = l.err
				mu.Unlock()
				return
			}
			mu.Lock()
			d := len(days)
			days = append(days, dayObjects{first: n, n: len(l.keys)})
			mu.Unlock()
			for j, key := range l.keys {
				for int64(d) > emittedDays.Load()+1 {
					select {
					case <-wake:
					case <-ctx.Done():
						return
					}
				}
				select {
				case jobs <- job{index: n + j, key: key}:
				case <-ctx.Done():
					return
				}
			}
			n += len(l.keys)
		}
		mu.Lock()
		total = n
		mu.Unlock()
	}()
	results := make(chan objectResult, parallel)
	pool := &blockPool{}
	var workers sync.WaitGroup
	for range parallel {
		workers.Add(1)
		go func() {
			defer workers.Done()
			rd := objectReader{pool: pool, hash: o.Source != nil}
			for j := range jobs {
				src, recs, blocks, err := rd.read(ctx, c, bucket, j.key, f)
				select {
				case results <- objectResult{index: j.index, key: j.key, src: src, recs: recs, blocks: blocks, err: err}:
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
	reported := false  // whether Progress has been told read == total
	for res := range results {
		if res.err != nil {
			if !o.KeepGoing || ctx.Err() != nil {
				return res.err
			}
			res.src = SourceObject{Key: res.key, Err: res.err.Error()}
		}
		pending[res.index] = res
		read++
		mu.Lock()
		t := total
		mu.Unlock()
		// Until every day is listed the total is unknown, and a progress
		// line would claim too little.
		if o.Progress != nil && t >= 0 {
			o.Progress(read, t)
			reported = read == t
		}
		for {
			mu.Lock()
			var g dayObjects
			ok := next < len(days)
			if ok {
				g = days[next]
			}
			mu.Unlock()
			if !ok || !dayComplete(pending, g) {
				break
			}
			if err := emitDay(pending, g, pool, emit, o.Lines, o.Source); err != nil {
				return err
			}
			next++
			emittedDays.Store(int64(next))
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	}
	// results is closed: the dispatcher and the workers are done.
	if listErr != nil {
		return listErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.Progress != nil && !reported && total > 0 {
		o.Progress(read, total)
	}
	return nil
}

// job is one object for a worker to read: its key and its place in the
// query's order.
type job struct {
	index int
	key   string
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
// A copy is a record with the same id (the stream eventID) and the same
// time as one before it; records without an id are never copies. A copy
// comes from the writer storing a batch again: Lambda retried it after a
// partial failure, or split it in two to isolate a failing record. Either
// way the copy is the same record, with the same time, so it lands in the
// same day partition and, once the day is sorted by time then id, right
// after the record it copies: no set of ids is needed, within the day or
// across days. Ties are broken by object (in key order) then by place in
// the object, so the copy kept (and so every object's RecordsKept) is the
// same on every run, whatever order the workers finished in: verify
// depends on that.
func emitDay(pending map[int]objectResult, g dayObjects, pool *blockPool, emit func(auditrecord.Record) error, lines func(Line) error, source func(SourceObject)) error {
	objs := make([][]heldRecord, g.n)
	n := 0
	for i := range objs {
		objs[i] = pending[g.first+i].recs
		n += len(objs[i])
	}
	// The sort moves small keys, not the records.
	keys := make([]dayKey, 0, n)
	for o, recs := range objs {
		for p, r := range recs {
			keys = append(keys, dayKey{sec: r.sec, nsec: r.nsec, obj: int32(o), pos: int32(p)})
		}
	}
	slices.SortFunc(keys, func(a, b dayKey) int {
		if c := cmp.Compare(a.sec, b.sec); c != 0 {
			return c
		}
		if c := cmp.Compare(a.nsec, b.nsec); c != 0 {
			return c
		}
		if c := strings.Compare(objs[a.obj][a.pos].id, objs[b.obj][b.pos].id); c != 0 {
			return c
		}
		if c := cmp.Compare(a.obj, b.obj); c != 0 {
			return c
		}
		return cmp.Compare(a.pos, b.pos)
	})
	kept := make([]int, g.n)
	for k, key := range keys {
		r := objs[key.obj][key.pos]
		if k > 0 && r.id != "" {
			if prev := keys[k-1]; prev.sec == key.sec && prev.nsec == key.nsec && objs[prev.obj][prev.pos].id == r.id {
				continue
			}
		}
		kept[key.obj]++
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
	// Nothing refers to the day's lines any more: lines and emit have
	// returned (they copy what they keep), and objs and keys are dropped.
	for o := range g.n {
		i := g.first + o
		if source != nil {
			src := pending[i].src
			src.RecordsKept = kept[o]
			source(src)
		}
		pool.put(pending[i].blocks...)
		delete(pending, i)
	}
	return nil
}

// dayKey is where a record of the day being emitted sorts: its time, and
// where it lies (objs[obj][pos]), from which the id breaks ties.
type dayKey struct {
	sec      int64
	nsec     int32
	obj, pos int32
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

// listedDay is the keys of one day partition, in key order, or the error
// that ended its listing.
type listedDay struct {
	keys []string
	err  error
}

// listPartitions lists the audit objects of every prefix, parallel prefixes
// at a time, and returns their keys in partition then key order.
func listPartitions(ctx context.Context, c S3Reader, bucket string, prefixes []string, since time.Time, parallel int) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var keys []string
	for l := range streamPartitions(ctx, &wg, c, bucket, prefixes, since, parallel) {
		if l.err != nil {
			return nil, l.err
		}
		keys = append(keys, l.keys...)
	}
	return keys, nil
}

// streamPartitions lists the audit objects of every prefix, parallel
// prefixes at a time, and yields each day partition's keys (a prefix
// holding keys of more than one directory yields one day per directory)
// as soon as it and every earlier prefix are listed, then closes; after an
// error it yields nothing more. Only keys are held: about a hundred bytes
// per object, never the records. In a partition before since's day only
// objects S3 says were written from a MaxTimePrecision before since on are
// kept: an object holds changes made before it was written, and only
// changes from since on can match there. Its goroutines are added to wg,
// and end when ctx does.
func streamPartitions(ctx context.Context, wg *sync.WaitGroup, c S3Reader, bucket string, prefixes []string, since time.Time, parallel int) <-chan listedDay {
	perPrefix := make([][]string, len(prefixes))
	errs := make([]error, len(prefixes))
	done := make([]chan struct{}, len(prefixes))
	for i := range done {
		done[i] = make(chan struct{})
	}
	out := make(chan listedDay)
	wg.Add(2)
	go func() {
		defer wg.Done()
		sem := make(chan struct{}, parallel)
		for i, prefix := range prefixes {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				defer close(done[i])
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
						if earlier && o.LastModified != nil && o.LastModified.Before(since.Add(-auditrecord.MaxTimePrecision)) {
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
	}()
	go func() {
		defer wg.Done()
		defer close(out)
		for i := range prefixes {
			select {
			case <-done[i]:
			case <-ctx.Done():
				return
			}
			var days []listedDay
			if errs[i] != nil {
				days = []listedDay{{err: errs[i]}}
			}
			for _, g := range groupByDay(perPrefix[i]) {
				days = append(days, listedDay{keys: perPrefix[i][g.first : g.first+g.n]})
			}
			for _, d := range days {
				select {
				case out <- d:
				case <-ctx.Done():
					return
				}
				if d.err != nil {
					return
				}
			}
		}
	}()
	return out
}

func isAuditObject(key string) bool {
	for _, ext := range []string{".json.gz", ".jsonl.gz", ".json", ".jsonl"} {
		if strings.HasSuffix(key, ext) {
			return true
		}
	}
	return false
}
