package auditquery

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// seedDays writes objects per day, each holding records of that day.
func seedDays(t *testing.T, c *recordingS3, days, objects, perObject int) Filter {
	t.Helper()
	first := at("2025-03-01T00:00:00Z")
	for d := range days {
		day := first.AddDate(0, 0, d)
		for o := range objects {
			var recs []auditrecord.Record
			for i := range perObject {
				when := day.Add(time.Duration(objects*perObject-o*perObject-i) * time.Minute) // later objects hold earlier records
				recs = append(recs, auditrecord.Record{ID: fmt.Sprintf("d%02d-o%d-r%d", d, o, i), Time: when, Action: auditrecord.ActionAuthorizeDenied, Actor: "a@x.io"})
			}
			put(t, c, auditrecord.ObjectKey(day, fmt.Sprintf("o%d", o)), gzLines(t, recs...))
		}
	}
	return Filter{Since: first, Until: first.AddDate(0, 0, days).Add(-time.Nanosecond)}
}

func dayOfKey(key string) string {
	return strings.TrimPrefix(key[:strings.LastIndex(key, "/")], auditrecord.Prefix+"dt=")
}

// While a day is being emitted, no object two or more days ahead has been
// fetched: what is held is at most two day partitions, whatever the range.
func TestQueryReadsAtMostOneDayAhead(t *testing.T) {
	c := startS3(t)
	f := seedDays(t, c, 6, 4, 3)
	var prev time.Time
	n := 0
	err := QueryWith(context.Background(), c, testBucket, f, func(r auditrecord.Record) error {
		n++
		if r.Time.Before(prev) {
			return fmt.Errorf("%s at %v came after %v", r.ID, r.Time, prev)
		}
		prev = r.Time
		emitting := r.Time.UTC().Format(time.DateOnly)
		limit := r.Time.UTC().AddDate(0, 0, 1).Format(time.DateOnly)
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, k := range c.got {
			if dayOfKey(k) > limit {
				return fmt.Errorf("emitting %s but %s was already fetched", emitting, k)
			}
		}
		return nil
	}, QueryOptions{Parallel: 8})
	if err != nil {
		t.Fatal(err)
	}
	if n != 6*4*3 {
		t.Fatalf("emitted %d records, want %d", n, 6*4*3)
	}
}

// gatedS3 holds every GET until want of them are in flight at once (or a
// generous deadline passes, so a broken query fails instead of hanging).
type gatedS3 struct {
	*recordingS3
	want     int
	mu       sync.Mutex
	inFlight int
	peak     int
	open     chan struct{}
	once     sync.Once
}

func (g *gatedS3) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	g.mu.Lock()
	g.inFlight++
	g.peak = max(g.peak, g.inFlight)
	if g.inFlight >= g.want {
		g.once.Do(func() { close(g.open) })
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-time.After(10 * time.Second):
	}
	defer func() { g.mu.Lock(); g.inFlight--; g.mu.Unlock() }()
	return g.recordingS3.GetObject(ctx, in, opts...)
}

func TestQueryReadsParallelObjectsAtOnce(t *testing.T) {
	for _, parallel := range []int{1, 4} {
		t.Run(fmt.Sprint(parallel), func(t *testing.T) {
			c := startS3(t)
			f := seedDays(t, c, 2, 5, 2)
			g := &gatedS3{recordingS3: c, want: parallel, open: make(chan struct{})}
			var got []string
			if err := QueryWith(context.Background(), g, testBucket, f, func(r auditrecord.Record) error { got = append(got, r.ID); return nil }, QueryOptions{Parallel: parallel}); err != nil {
				t.Fatal(err)
			}
			if g.peak != parallel {
				t.Fatalf("peak of %d GETs in flight, want %d", g.peak, parallel)
			}
			if len(got) != 20 {
				t.Fatalf("got %d records", len(got))
			}
		})
	}
}

// Copies are dropped within a day; the same id on another day is another
// record (ids are stream eventIDs, and a copy always lands on its own day),
// and which copy counts as kept does not depend on read order.
func TestQueryDeduplicatesPerDayInKeyOrder(t *testing.T) {
	c := startS3(t)
	d1, d2 := at("2025-03-10T00:00:00Z"), at("2025-03-11T00:00:00Z")
	put(t, c, auditrecord.ObjectKey(d1, "b"), gzLines(t, rec("x", "2025-03-10T01:00:00Z", auditrecord.ActionRequestCreated, "a@x.io"), rec("y", "2025-03-10T02:00:00Z", auditrecord.ActionRequestCreated, "a@x.io")))
	put(t, c, auditrecord.ObjectKey(d1, "a"), gzLines(t, rec("y", "2025-03-10T02:00:00Z", auditrecord.ActionRequestCreated, "a@x.io"), rec("y", "2025-03-10T02:00:00Z", auditrecord.ActionRequestCreated, "a@x.io")))
	put(t, c, auditrecord.ObjectKey(d2, "c"), gzLines(t, rec("x", "2025-03-11T01:00:00Z", auditrecord.ActionRequestCreated, "a@x.io")))
	for range 5 {
		var got []string
		var sources []string
		err := QueryWith(context.Background(), c, testBucket, Filter{Since: d1, Until: d2.Add(time.Hour)},
			func(r auditrecord.Record) error { got = append(got, r.ID+"@"+r.Time.Format("02")); return nil },
			QueryOptions{Parallel: 3, Source: func(s SourceObject) {
				sources = append(sources, fmt.Sprintf("%s %d/%d", s.Key[strings.LastIndex(s.Key, "/")+1:], s.RecordsKept, s.RecordsRead))
			}})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"x@10", "y@10", "x@11"}; !slices.Equal(got, want) {
			t.Fatalf("records %v, want %v", got, want)
		}
		if want := []string{"a.json.gz 1/2", "b.json.gz 1/2", "c.json.gz 1/1"}; !slices.Equal(sources, want) {
			t.Fatalf("sources %v, want %v", sources, want)
		}
	}
}

func TestQueryKeepGoingNamesMissingObjects(t *testing.T) {
	c := startS3(t)
	day := at("2025-03-10T00:00:00Z")
	put(t, c, auditrecord.ObjectKey(day, "a"), gzLines(t, rec("1", "2025-03-10T01:00:00Z", "x", "a@x.io")))
	keys := []string{auditrecord.ObjectKey(day, "a"), auditrecord.ObjectKey(day, "gone")}
	if err := QueryWith(context.Background(), c, testBucket, Filter{Since: day}, func(auditrecord.Record) error { return nil }, QueryOptions{Objects: keys}); err == nil {
		t.Fatal("a missing object did not fail the query")
	}
	var errs []string
	n := 0
	err := QueryWith(context.Background(), c, testBucket, Filter{Since: day}, func(auditrecord.Record) error { n++; return nil },
		QueryOptions{Objects: keys, KeepGoing: true, Source: func(s SourceObject) {
			if s.Err != "" {
				errs = append(errs, s.Key)
			}
		}})
	if err != nil || n != 1 || !slices.Equal(errs, []string{auditrecord.ObjectKey(day, "gone")}) {
		t.Fatalf("err %v, %d records, errors on %v", err, n, errs)
	}
}

// A copy has its record's time as well as its id: the same id at another
// time is kept (it is no retried batch), even right after a copy, and
// records without an id are never copies.
func TestQueryDeduplicatesByTimeAndID(t *testing.T) {
	c := startS3(t)
	d := at("2025-03-10T00:00:00Z")
	put(t, c, auditrecord.ObjectKey(d, "a"), gzLines(t, rec("y", "2025-03-10T01:00:00Z", auditrecord.ActionRequestCreated, "a@x.io"), rec("x", "2025-03-10T02:00:00Z", auditrecord.ActionRequestCreated, "a@x.io")))
	put(t, c, auditrecord.ObjectKey(d, "b"), gzLines(t, rec("x", "2025-03-10T02:00:00Z", auditrecord.ActionRequestCreated, "a@x.io"), rec("x", "2025-03-10T03:00:00Z", auditrecord.ActionRequestCreated, "a@x.io"), rec("", "2025-03-10T04:00:00Z", auditrecord.ActionRequestCreated, "a@x.io"), rec("", "2025-03-10T04:00:00Z", auditrecord.ActionRequestCreated, "a@x.io")))
	var got, sources []string
	err := QueryWith(context.Background(), c, testBucket, Filter{Since: d, Until: d.Add(time.Hour * 5)},
		func(r auditrecord.Record) error { got = append(got, r.ID+"@"+r.Time.Format("15")); return nil },
		QueryOptions{Parallel: 2, Source: func(s SourceObject) {
			sources = append(sources, fmt.Sprintf("%s %d/%d", s.Key[strings.LastIndex(s.Key, "/")+1:], s.RecordsKept, s.RecordsRead))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"y@01", "x@02", "x@03", "@04", "@04"}; !slices.Equal(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	if want := []string{"a.json.gz 2/2", "b.json.gz 3/4"}; !slices.Equal(sources, want) {
		t.Fatalf("sources %v, want %v", sources, want)
	}
}

// listGatedS3 holds back the listing of one prefix until an object has
// been read (or a few seconds have passed).
type listGatedS3 struct {
	*recordingS3
	prefix   string
	read     chan struct{}
	once     sync.Once
	waitedOn bool // the gated listing went on because an object was read
}

func (g *listGatedS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if aws.ToString(in.Prefix) == g.prefix {
		select {
		case <-g.read:
			g.waitedOn = true
		case <-time.After(3 * time.Second):
		}
	}
	return g.recordingS3.ListObjectsV2(ctx, in, opts...)
}

func (g *listGatedS3) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	g.once.Do(func() { close(g.read) })
	return g.recordingS3.GetObject(ctx, in, opts...)
}

// Reading does not wait for the whole range to be listed: the first day's
// objects are read while the last day is still being listed.
func TestQueryReadsWhileListing(t *testing.T) {
	c := startS3(t)
	f := seedDays(t, c, 3, 2, 2)
	g := &listGatedS3{recordingS3: c, prefix: auditrecord.PartitionPrefix(f.Until), read: make(chan struct{})}
	var got []string
	if err := QueryWith(context.Background(), g, testBucket, f, func(r auditrecord.Record) error { got = append(got, r.ID); return nil }, QueryOptions{Parallel: 1}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 12 {
		t.Fatalf("got %d records, want 12", len(got))
	}
	if !g.waitedOn {
		t.Fatal("no object was read before the last day was listed")
	}
}
