package auditquery

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

const testBucket = "audit-test"

// recordingS3 notes which prefixes were listed and which keys were read, so
// tests can prove a query touched only its partitions.
type recordingS3 struct {
	*s3.Client
	mu     sync.Mutex
	listed []string
	got    []string
}

func (r *recordingS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	r.mu.Lock()
	r.listed = append(r.listed, aws.ToString(in.Prefix))
	r.mu.Unlock()
	return r.Client.ListObjectsV2(ctx, in, opts...)
}

func (r *recordingS3) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	r.mu.Lock()
	r.got = append(r.got, aws.ToString(in.Key))
	r.mu.Unlock()
	return r.Client.GetObject(ctx, in, opts...)
}

// startS3 serves the real S3 HTTP API from gofakes3 and returns an SDK client
// configured as the CLI configures one for a local endpoint.
func startS3(t *testing.T) *recordingS3 {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{
		BaseEndpoint:               aws.String(srv.URL),
		UsePathStyle:               true,
		Region:                     "us-east-1",
		Credentials:                credentials.NewStaticCredentialsProvider("test", "test", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return &recordingS3{Client: c}
}

func gzLines(t *testing.T, recs ...auditrecord.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func put(t *testing.T, c *recordingS3, key string, body []byte) {
	t.Helper()
	_, err := c.Client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func rec(id, when, action, actor string) auditrecord.Record {
	return auditrecord.Record{ID: id, Time: at(when), Action: action, Actor: actor}
}

func collect(t *testing.T, c S3Reader, f Filter) []auditrecord.Record {
	t.Helper()
	var out []auditrecord.Record
	if err := Query(context.Background(), c, testBucket, f, func(r auditrecord.Record) error { out = append(out, r); return nil }, nil); err != nil {
		t.Fatalf("query: %v", err)
	}
	return out
}

func ids(recs []auditrecord.Record) []string {
	var s []string
	for _, r := range recs {
		s = append(s, r.ID)
	}
	return s
}

func TestQueryListsOnlyPartitionsInRange(t *testing.T) {
	c := startS3(t)
	day1, day2 := at("2025-03-10T00:00:00Z"), at("2025-03-11T00:00:00Z")
	put(t, c, auditrecord.ObjectKey(day1, "a"), gzLines(t, rec("e1", "2025-03-10T08:00:00Z", auditrecord.ActionRequestCreated, "alice@example.com")))
	put(t, c, auditrecord.ObjectKey(day2, "b"), gzLines(t, rec("e2", "2025-03-11T09:00:00Z", auditrecord.ActionRequestApproved, "bob@example.com")))
	// Out-of-range partitions hold records whose own times lie in the range:
	// only not listing them at all keeps them out.
	put(t, c, auditrecord.ObjectKey(at("2025-03-09T00:00:00Z"), "x"), gzLines(t, rec("trap1", "2025-03-10T08:00:00Z", auditrecord.ActionRequestCreated, "mallory@example.com")))
	put(t, c, auditrecord.ObjectKey(at("2025-03-12T00:00:00Z"), "y"), gzLines(t, rec("trap2", "2025-03-11T08:00:00Z", auditrecord.ActionRequestCreated, "mallory@example.com")))
	put(t, c, "elsewhere/dt=2025-03-10/z.json.gz", gzLines(t, rec("trap3", "2025-03-10T08:00:00Z", auditrecord.ActionRequestCreated, "mallory@example.com")))

	got := collect(t, c, Filter{Since: at("2025-03-10T00:00:00Z"), Until: at("2025-03-11T23:59:59Z")})
	if want := []string{"e1", "e2"}; !slices.Equal(ids(got), want) {
		t.Fatalf("ids = %v, want %v", ids(got), want)
	}
	slices.Sort(c.listed) // partitions are listed concurrently
	// The day before is listed for records timed by the stream just before
	// since (issue 16 item 3); trap1, misfiled there, still stays out.
	if want := []string{"audit/dt=2025-03-09/", "audit/dt=2025-03-10/", "audit/dt=2025-03-11/"}; !slices.Equal(c.listed, want) {
		t.Fatalf("listed %v, want %v", c.listed, want)
	}
	slices.Sort(c.got)
	// x was written (S3 says) after since, so it is read: a record in it may
	// be timed by the stream just before since.
	if want := []string{"audit/dt=2025-03-09/x.json.gz", "audit/dt=2025-03-10/a.json.gz", "audit/dt=2025-03-11/b.json.gz"}; !slices.Equal(c.got, want) {
		t.Fatalf("read %v, want %v", c.got, want)
	}
}

func TestQueryDropsRecordsDuplicatedAcrossBatches(t *testing.T) {
	c := startS3(t)
	day := at("2025-03-10T00:00:00Z")
	r1 := rec("e1", "2025-03-10T08:00:00Z", auditrecord.ActionRequestCreated, "alice@example.com")
	r2 := rec("e2", "2025-03-10T08:00:01Z", auditrecord.ActionGrantCreated, "system")
	r3 := rec("e3", "2025-03-10T08:00:02Z", auditrecord.ActionRequestApproved, "bob@example.com")
	// A batch that failed after its first write and was retried with a
	// different shape lands twice, overlapping.
	put(t, c, auditrecord.ObjectKey(day, "batch-1"), gzLines(t, r1, r2))
	put(t, c, auditrecord.ObjectKey(day, "batch-1-retry"), gzLines(t, r1, r2, r3))

	got := collect(t, c, Filter{Since: day, Until: day.Add(24*time.Hour - time.Second)})
	if want := []string{"e1", "e2", "e3"}; !slices.Equal(ids(got), want) {
		t.Fatalf("ids = %v, want %v", ids(got), want)
	}
}

func TestQuerySortsByTimeAcrossObjectsAndDays(t *testing.T) {
	c := startS3(t)
	put(t, c, auditrecord.ObjectKey(at("2025-03-11T00:00:00Z"), "1"), gzLines(t,
		rec("d", "2025-03-11T10:00:00Z", auditrecord.ActionRequestCreated, "a@x.io"),
		rec("b", "2025-03-11T01:00:00Z", auditrecord.ActionRequestCreated, "a@x.io")))
	put(t, c, auditrecord.ObjectKey(at("2025-03-10T00:00:00Z"), "2"), gzLines(t,
		rec("c", "2025-03-10T23:00:00Z", auditrecord.ActionRequestCreated, "a@x.io"),
		rec("a", "2025-03-10T01:00:00Z", auditrecord.ActionRequestCreated, "a@x.io")))
	put(t, c, auditrecord.ObjectKey(at("2025-03-11T00:00:00Z"), "0"), gzLines(t,
		rec("c2", "2025-03-11T05:00:00Z", auditrecord.ActionRequestCreated, "a@x.io")))

	got := collect(t, c, Filter{Since: at("2025-03-10T00:00:00Z"), Until: at("2025-03-12T00:00:00Z")})
	if want := []string{"a", "c", "b", "c2", "d"}; !slices.Equal(ids(got), want) {
		t.Fatalf("ids = %v, want %v", ids(got), want)
	}
}

func TestQueryFilters(t *testing.T) {
	c := startS3(t)
	day := at("2025-03-10T00:00:00Z")
	task := &auditrecord.Target{Type: "Task", Scope: "Exchange", Name: "New-MoveRequest"}
	lock := &auditrecord.Target{Type: "Lockbox", Scope: "Exchange", Name: "New-MoveRequest"}
	other := &auditrecord.Target{Type: "Task", Scope: "Exchange", Name: "Set-Mailbox"}
	recs := []auditrecord.Record{
		{ID: "1", Time: at("2025-03-10T01:00:00Z"), Action: auditrecord.ActionRequestCreated, Actor: "alice@example.com", Target: task, RequestID: "r1"},
		{ID: "2", Time: at("2025-03-10T02:00:00Z"), Action: auditrecord.ActionRequestApproved, Actor: "Bob@Example.com", Target: task, RequestID: "r1"},
		{ID: "3", Time: at("2025-03-10T03:00:00Z"), Action: auditrecord.ActionGrantCreated, Actor: "system", Target: task, RequestID: "r1"},
		{ID: "4", Time: at("2025-03-10T04:00:00Z"), Action: auditrecord.ActionAuthorizeAllowed, Actor: "alice@example.com", Target: task, RequestID: "r1"},
		{ID: "5", Time: at("2025-03-10T05:00:00Z"), Action: auditrecord.ActionRequestCreated, Actor: "carol@example.com", Target: lock, RequestID: "r2"},
		{ID: "6", Time: at("2025-03-10T06:00:00Z"), Action: auditrecord.ActionPolicyCreated, Actor: "admin@example.com", Target: other, PolicyID: "task:exchange:set-mailbox"},
		{ID: "7", Time: at("2025-03-10T07:00:00Z"), Action: auditrecord.ActionSettingsUpdated, Actor: "admin@example.com"},
	}
	put(t, c, auditrecord.ObjectKey(day, "all"), gzLines(t, recs...))
	base := Filter{Since: day, Until: day.Add(24*time.Hour - time.Nanosecond)}

	cases := []struct {
		name string
		edit func(*Filter)
		want []string
	}{
		{"none", func(*Filter) {}, []string{"1", "2", "3", "4", "5", "6", "7"}},
		{"since within the day", func(f *Filter) { f.Since = at("2025-03-10T05:00:00Z") }, []string{"5", "6", "7"}},
		{"until within the day", func(f *Filter) { f.Until = at("2025-03-10T02:00:00Z") }, []string{"1", "2"}},
		{"action exact", func(f *Filter) { f.Action = auditrecord.ActionRequestCreated }, []string{"1", "5"}},
		{"action prefix star", func(f *Filter) { f.Action = "request.*" }, []string{"1", "2", "5"}},
		{"action prefix dot", func(f *Filter) { f.Action = "authorize." }, []string{"4"}},
		{"actor case-insensitive", func(f *Filter) { f.Actor = "bob@example.COM" }, []string{"2"}},
		{"request", func(f *Filter) { f.RequestID = "r2" }, []string{"5"}},
		{"target any type", func(f *Filter) { f.Target = &auditrecord.Target{Scope: "exchange", Name: "new-moverequest"} }, []string{"1", "2", "3", "4", "5"}},
		{"target typed", func(f *Filter) {
			f.Target = &auditrecord.Target{Type: "lockbox", Scope: "Exchange", Name: "New-MoveRequest"}
		}, []string{"5"}},
		{"combined", func(f *Filter) {
			f.Actor = "alice@example.com"
			f.Action = "authorize.*"
			f.RequestID = "r1"
		}, []string{"4"}},
		{"nothing matches", func(f *Filter) { f.Actor = "nobody@example.com" }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			tc.edit(&f)
			if got := ids(collect(t, c, f)); !slices.Equal(got, tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestQueryStreamsLargeMultiMemberAndPlainObjects(t *testing.T) {
	c := startS3(t)
	day := at("2025-03-10T00:00:00Z")
	const n = 5000
	var big []auditrecord.Record
	for i := range n {
		r := rec(fmt.Sprintf("big-%05d", i), "2025-03-10T10:00:00Z", auditrecord.ActionAuthorizeDenied, "a@x.io")
		r.Time = r.Time.Add(time.Duration(i) * time.Millisecond)
		r.Detail = map[string]any{"reason": "approval-required", "pad": strings.Repeat("x", 200)}
		big = append(big, r)
	}
	put(t, c, auditrecord.ObjectKey(day, "big"), gzLines(t, big...))
	// Two gzip members back to back are one valid gzip stream.
	multi := append(gzLines(t, rec("m1", "2025-03-10T01:00:00Z", auditrecord.ActionRequestCreated, "a@x.io")),
		gzLines(t, rec("m2", "2025-03-10T01:00:01Z", auditrecord.ActionRequestCreated, "a@x.io"))...)
	put(t, c, auditrecord.ObjectKey(day, "multi"), multi)
	plain, _ := json.Marshal(rec("p1", "2025-03-10T02:00:00Z", auditrecord.ActionRequestCreated, "a@x.io"))
	put(t, c, auditrecord.PartitionPrefix(day)+"plain.json", append(plain, '\n'))

	var done, total int
	var got []auditrecord.Record
	err := Query(context.Background(), c, testBucket, Filter{Since: day, Until: day.Add(23 * time.Hour)},
		func(r auditrecord.Record) error { got = append(got, r); return nil },
		func(d, tot int) { done, total = d, tot })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n+3 {
		t.Fatalf("got %d records, want %d", len(got), n+3)
	}
	if got[0].ID != "m1" || got[1].ID != "m2" || got[2].ID != "p1" || got[3].ID != "big-00000" || got[len(got)-1].ID != "big-04999" {
		t.Fatalf("unexpected order: %s %s %s %s … %s", got[0].ID, got[1].ID, got[2].ID, got[3].ID, got[len(got)-1].ID)
	}
	if got[3].Detail["reason"] != "approval-required" {
		t.Fatalf("detail lost: %v", got[3].Detail)
	}
	if done != 3 || total != 3 {
		t.Fatalf("progress %d/%d, want 3/3", done, total)
	}
}

func TestQueryFailsOnCorruptObjectNamingIt(t *testing.T) {
	c := startS3(t)
	day := at("2025-03-10T00:00:00Z")
	put(t, c, auditrecord.ObjectKey(day, "bad"), []byte{0x1f, 0x8b, 0, 1, 2, 3})
	err := Query(context.Background(), c, testBucket, Filter{Since: day}, func(auditrecord.Record) error { return nil }, nil)
	if err == nil || !strings.Contains(err.Error(), "audit/dt=2025-03-10/bad.json.gz") {
		t.Fatalf("err = %v, want one naming the object", err)
	}
}

func TestQueryStopsWhenEmitFails(t *testing.T) {
	c := startS3(t)
	day := at("2025-03-10T00:00:00Z")
	put(t, c, auditrecord.ObjectKey(day, "a"), gzLines(t, rec("1", "2025-03-10T01:00:00Z", "x", "a@x.io"), rec("2", "2025-03-10T02:00:00Z", "x", "a@x.io")))
	boom := errors.New("stdout closed")
	calls := 0
	err := Query(context.Background(), c, testBucket, Filter{Since: day}, func(auditrecord.Record) error { calls++; return boom }, nil)
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("err = %v after %d calls, want boom after 1", err, calls)
	}
}

func TestQueryRejectsBadFilters(t *testing.T) {
	c := startS3(t)
	for name, f := range map[string]Filter{
		"no since":           {},
		"until before since": {Since: at("2025-03-10T00:00:00Z"), Until: at("2025-03-09T00:00:00Z")},
		"too many days":      {Since: at("2001-01-01T00:00:00Z"), Until: at("2025-01-01T00:00:00Z")},
	} {
		err := Query(context.Background(), c, testBucket, f, func(auditrecord.Record) error { return nil }, nil)
		if !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("%s: err = %v, want ErrInvalidFilter", name, err)
		}
	}
	if len(c.listed) != 0 {
		t.Fatalf("a rejected filter listed %v", c.listed)
	}
}

func TestPartitionsUseUTCDays(t *testing.T) {
	east := time.FixedZone("UTC+10", 10*3600)
	got, err := Partitions(time.Date(2025, 3, 10, 5, 0, 0, 0, east), time.Date(2025, 3, 11, 1, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"audit/dt=2025-03-09/", "audit/dt=2025-03-10/", "audit/dt=2025-03-11/"}
	if !slices.Equal(got, want) {
		t.Fatalf("partitions = %v, want %v", got, want)
	}
}

func TestParseTargetFilter(t *testing.T) {
	good := map[string]auditrecord.Target{
		`Exchange\New-MoveRequest`:          {Scope: "Exchange", Name: "New-MoveRequest"},
		`Exchange/New-MoveRequest`:          {Scope: "Exchange", Name: "New-MoveRequest"},
		`Task:Exchange\New-MoveRequest`:     {Type: "Task", Scope: "Exchange", Name: "New-MoveRequest"},
		`lockbox:Exchange\Content`:          {Type: "Lockbox", Scope: "Exchange", Name: "Content"},
		`RoleGroup:Exchange\Organization_1`: {Type: "RoleGroup", Scope: "Exchange", Name: "Organization_1"},
	}
	for in, want := range good {
		got, err := ParseTargetFilter(in)
		if err != nil || *got != want {
			t.Errorf("ParseTargetFilter(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "Exchange", `\New-MoveRequest`, `Exchange\`, `Bogus:Exchange\X`, `:Exchange\X`, `Exchange\a\b`, `Exchange\has space`} {
		if _, err := ParseTargetFilter(in); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("ParseTargetFilter(%q) err = %v, want ErrInvalidFilter", in, err)
		}
	}
}

func TestCSVWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewCSVWriter(&buf)
	r := auditrecord.Record{
		ID: "ev-1", Time: at("2025-03-10T08:00:00Z"), Action: auditrecord.ActionRequestApproved, Actor: "bob@example.com",
		Target: &auditrecord.Target{Type: "Task", Scope: "Exchange", Name: "New-MoveRequest"}, RequestID: "r1",
		Detail: map[string]any{"comment": "ok, \"go\""}, Ticket: "CHG-42",
	}
	if err := w.Write(r); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(auditrecord.Record{ID: "ev-2", Time: at("2025-03-10T09:00:00Z"), Action: auditrecord.ActionSettingsUpdated, Actor: "=cmd|' /C calc'!A0@x.io", PolicyID: "p", TimePrecision: "1m0s"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		CSVHeader,
		{"ev-1", "2025-03-10T08:00:00Z", "request.approved", "bob@example.com", "Task", "Exchange", "New-MoveRequest", "r1", "", `{"comment":"ok, \"go\""}`, "CHG-42", ""},
		{"ev-2", "2025-03-10T09:00:00Z", "settings.updated", "'=cmd|' /C calc'!A0@x.io", "", "", "", "", "p", "", "", "1m0s"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows = %q\nwant %q", rows, want)
	}
}

func TestCSVWriterEmptyHasHeader(t *testing.T) {
	var buf bytes.Buffer
	if err := NewCSVWriter(&buf).Flush(); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != strings.Join(CSVHeader, ",")+"\n" {
		t.Fatalf("empty export = %q", got)
	}
}

func TestJSONLinesRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	emit := JSONLines(&buf)
	in := []auditrecord.Record{
		{ID: "1", Time: at("2025-03-10T08:00:00Z"), Action: auditrecord.ActionRequestCreated, Actor: "a@x.io", Target: &auditrecord.Target{Type: "Task", Scope: "S", Name: "N"}, Detail: map[string]any{"reason": "<migrate>"}},
		{ID: "2", Time: at("2025-03-10T09:00:00Z"), Action: auditrecord.ActionAuthorizeAllowed, Actor: "a@x.io"},
	}
	for _, r := range in {
		if err := emit(r); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	if !strings.Contains(lines[0], `"reason":"<migrate>"`) {
		t.Fatalf("HTML escaping in %s", lines[0])
	}
	for i, l := range lines {
		var r auditrecord.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r, in[i]) {
			t.Fatalf("line %d = %+v, want %+v", i, r, in[i])
		}
	}
}

// Issue 16 item 3: --since T never drops a record whose change may have
// happened at or after T: one timed by the stream (timePrecision) matches
// when T falls within [time, time+precision), even filed in the day before
// T's; and output is in time order, ties broken by id.
func TestQuerySinceKeepsStreamTimedRecords(t *testing.T) {
	c := startS3(t)
	rough := func(r auditrecord.Record) auditrecord.Record { r.TimePrecision = "1m0s"; return r }
	put(t, c, auditrecord.ObjectKey(at("2025-03-09T00:00:00Z"), "a"), gzLines(t,
		rough(rec("late-d1", "2025-03-09T23:59:00Z", "group.direct_write", auditrecord.ActorUnknown)),
		rough(rec("old-d1", "2025-03-09T23:58:00Z", "group.direct_write", auditrecord.ActorUnknown))))
	put(t, c, auditrecord.ObjectKey(at("2025-03-10T00:00:00Z"), "b"), gzLines(t,
		rec("exact", "2025-03-10T00:00:30Z", auditrecord.ActionRequestCreated, "alice@example.com"),
		rough(rec("same-minute", "2025-03-10T00:00:00Z", "policy.direct_write", auditrecord.ActorUnknown)),
		rec("tie-b", "2025-03-10T00:00:30Z", auditrecord.ActionAuthorizeAllowed, "alice@example.com"),
		rec("before", "2025-03-10T00:00:05Z", auditrecord.ActionRequestCreated, "alice@example.com")))
	got := collect(t, c, Filter{Since: at("2025-03-10T00:00:10Z"), Until: at("2025-03-10T23:59:59Z")})
	if want := []string{"same-minute", "exact", "tie-b"}; !slices.Equal(ids(got), want) {
		t.Fatalf("ids = %v, want %v", ids(got), want)
	}
	got = collect(t, c, Filter{Since: at("2025-03-09T23:59:30Z"), Until: at("2025-03-10T23:59:59Z")})
	if want := []string{"late-d1", "same-minute", "before", "exact", "tie-b"}; !slices.Equal(ids(got), want) {
		t.Fatalf("ids = %v, want %v", ids(got), want)
	}
}
