package auditquery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

// evidenceBucket serves a versioned bucket, as the audit bucket is in AWS.
func evidenceBucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	srv, err := emulator.StartS3("audit-evidence")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return emulator.S3Client(srv.Endpoint), srv.Bucket
}

var retainUntil = time.Date(2032, 3, 10, 0, 0, 0, 0, time.UTC)

// putLocked stores an object as the writer would under Object Lock.
// gofakes3 does not implement Object Lock: it keeps the x-amz-object-lock-*
// headers of the PUT as metadata and serves them back on GET, which is what
// lets these tests follow the lock fields through the manifest. Nothing is
// enforced: the tampering below succeeds, as it would not in AWS.
func putLocked(t *testing.T, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(retainUntil),
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

type evidenceTrail struct {
	c       *s3.Client
	bucket  string
	filter  Filter
	bodies  map[string][]byte
	keyA    string // day 1, holds e1 e2
	keyB    string // day 1, a retried batch repeating e2, adding e3
	keyC    string // day 2
	dir     string
	written *Manifest
}

func seedEvidence(t *testing.T) *evidenceTrail {
	t.Helper()
	c, bucket := evidenceBucket(t)
	d1, d2 := at("2025-03-10T00:00:00Z"), at("2025-03-11T00:00:00Z")
	tr := &evidenceTrail{c: c, bucket: bucket, bodies: map[string][]byte{},
		keyA: auditrecord.ObjectKey(d1, "a"), keyB: auditrecord.ObjectKey(d1, "b"), keyC: auditrecord.ObjectKey(d2, "c"),
		filter: Filter{Since: d1, Until: at("2025-03-11T23:59:59Z"), Action: "request.*"}}
	e1 := rec("e1", "2025-03-10T08:00:00Z", auditrecord.ActionRequestCreated, "alice@example.com")
	e2 := rec("e2", "2025-03-10T09:00:00Z", auditrecord.ActionRequestApproved, "bob@example.com")
	e3 := rec("e3", "2025-03-10T10:00:00Z", auditrecord.ActionAuthorizeAllowed, "alice@example.com") // filtered out
	e4 := rec("e4", "2025-03-11T06:00:00Z", auditrecord.ActionRequestRevoked, "bob@example.com")
	tr.bodies[tr.keyA] = gzLines(t, e1, e2)
	tr.bodies[tr.keyB] = gzLines(t, e2, e3)
	tr.bodies[tr.keyC] = gzLines(t, e4)
	for k, b := range tr.bodies {
		putLocked(t, c, bucket, k, b)
	}
	tr.dir = filepath.Join(t.TempDir(), "bundle")
	m, err := WriteEvidence(context.Background(), c, bucket, tr.filter, tr.dir, QueryOptions{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	tr.written = m
	return tr
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestWriteEvidenceManifest(t *testing.T) {
	tr := seedEvidence(t)
	m, err := ReadManifest(tr.dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Bucket != tr.bucket || !m.Filter.Since.Equal(tr.filter.Since) || !m.Filter.Until.Equal(tr.filter.Until) || m.Filter.Action != "request.*" {
		t.Fatalf("filter/bucket not recorded: %+v %q", m.Filter, m.Bucket)
	}
	if m.ExportedAt.IsZero() || time.Since(m.ExportedAt) > time.Hour {
		t.Fatalf("exportedAt %v", m.ExportedAt)
	}
	if m.Records != 3 {
		t.Fatalf("records %d, want 3 (e1 e2 e4)", m.Records)
	}
	wantCounts := map[string][2]int{tr.keyA: {2, 2}, tr.keyB: {2, 0}, tr.keyC: {1, 1}}
	var keys []string
	for _, o := range m.Objects {
		keys = append(keys, o.Key)
		if o.SHA256 != sum(tr.bodies[o.Key]) || o.Size != int64(len(tr.bodies[o.Key])) {
			t.Errorf("%s: sha %s size %d, want the stored bytes' %s %d", o.Key, o.SHA256, o.Size, sum(tr.bodies[o.Key]), len(tr.bodies[o.Key]))
		}
		if o.VersionID == "" || o.ETag == "" {
			t.Errorf("%s: version %q etag %q: the versioned bucket reports both", o.Key, o.VersionID, o.ETag)
		}
		if o.ObjectLockMode != "COMPLIANCE" || o.ObjectLockRetainUntil == nil || !o.ObjectLockRetainUntil.Equal(retainUntil) {
			t.Errorf("%s: lock %q until %v", o.Key, o.ObjectLockMode, o.ObjectLockRetainUntil)
		}
		if got := [2]int{o.RecordsRead, o.RecordsKept}; got != wantCounts[o.Key] {
			t.Errorf("%s: read/kept %v, want %v", o.Key, got, wantCounts[o.Key])
		}
	}
	if want := []string{tr.keyA, tr.keyB, tr.keyC}; !slices.Equal(keys, want) {
		t.Fatalf("objects %v, want %v", keys, want)
	}
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(tr.dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if sum(b) != f.SHA256 || int64(len(b)) != f.Size {
			t.Errorf("%s: manifest digest does not match the file", f.Name)
		}
	}
	jsonl, _ := os.ReadFile(filepath.Join(tr.dir, ExportJSONFile))
	if n := strings.Count(string(jsonl), "\n"); n != 3 || !strings.Contains(string(jsonl), `"id":"e4"`) {
		t.Fatalf("export.jsonl has %d lines: %s", n, jsonl)
	}
	csvb, _ := os.ReadFile(filepath.Join(tr.dir, ExportCSVFile))
	if n := strings.Count(string(csvb), "\n"); n != 4 {
		t.Fatalf("export.csv has %d lines (header + 3 expected): %s", n, csvb)
	}
	if _, err := WriteEvidence(context.Background(), tr.c, tr.bucket, tr.filter, tr.dir, QueryOptions{}); err == nil {
		t.Fatal("a second export into the same bundle was allowed")
	}
}

func TestVerifyUntouchedBundle(t *testing.T) {
	tr := seedEvidence(t)
	v, err := Verify(context.Background(), tr.c, tr.dir, "", QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() || v.Objects != 3 || v.Records != 3 {
		t.Fatalf("verification %+v", v)
	}
}

// Issue 16 item 1: an object that appears in a day the bundle covers fails
// verify when it holds records of the bundle's range, whatever their action
// (the stream consumer cannot backdate, so it was put there some other
// way); one holding only records after the range is a note.
func TestVerifyFailsOnObjectAddedToCoveredDay(t *testing.T) {
	tr := seedEvidence(t)
	ctx := context.Background()
	putLocked(t, tr.c, tr.bucket, auditrecord.ObjectKey(at("2025-03-11T00:00:00Z"), "late"), gzLines(t, rec("e9", "2025-03-11T07:00:00Z", auditrecord.ActionAuthorizeDenied, "x@example.com")))
	v, err := Verify(ctx, tr.c, tr.dir, "", QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v.OK() || len(v.Problems) != 1 || !strings.Contains(v.Problems[0], "late.json.gz") {
		t.Fatalf("an object added to a covered day: %+v", v)
	}

	// A bundle whose range ends mid-day: an object of that day holding only
	// later records is told, not failed.
	tr2 := seedEvidence(t)
	m, err := ReadManifest(tr2.dir)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "midday")
	f := m.Filter
	f.Until = at("2025-03-11T12:00:00Z")
	if _, err := WriteEvidence(ctx, tr2.c, tr2.bucket, f, dir, QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	putLocked(t, tr2.c, tr2.bucket, auditrecord.ObjectKey(at("2025-03-11T00:00:00Z"), "after"), gzLines(t, rec("e10", "2025-03-11T13:00:00Z", auditrecord.ActionAuthorizeDenied, "x@example.com")))
	if v, err = Verify(ctx, tr2.c, dir, "", QueryOptions{}); err != nil || !v.OK() || len(v.Notes) != 1 || !strings.Contains(v.Notes[0], "after.json.gz") {
		t.Fatalf("an object with later records only: %+v %v", v, err)
	}
}

func TestVerifyNamesEveryDifference(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		break_ func(t *testing.T, tr *evidenceTrail)
		want   []string
	}{
		{"tampered object", func(t *testing.T, tr *evidenceTrail) {
			// A copy of object A with e2's actor changed: same record count,
			// other bytes. In a versioned bucket that is a new version.
			e1 := rec("e1", "2025-03-10T08:00:00Z", auditrecord.ActionRequestCreated, "alice@example.com")
			e2 := rec("e2", "2025-03-10T09:00:00Z", auditrecord.ActionRequestApproved, "mallory@example.com")
			putLocked(t, tr.c, tr.bucket, tr.keyA, gzLines(t, e1, e2))
		}, []string{tr0("keyA") + ": version ID", tr0("keyA") + ": SHA-256", "export.csv: regenerated", "export.jsonl: regenerated"}},
		{"deleted object", func(t *testing.T, tr *evidenceTrail) {
			if _, err := tr.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(tr.bucket), Key: aws.String(tr.keyC)}); err != nil {
				t.Fatal(err)
			}
		}, []string{tr0("keyC") + ": missing or unreadable", "the bucket now yields 2 records"}},
		{"edited export file", func(t *testing.T, tr *evidenceTrail) {
			p := filepath.Join(tr.dir, ExportCSVFile)
			b, _ := os.ReadFile(p)
			if err := os.WriteFile(p, bytes.Replace(b, []byte("bob@example.com"), []byte("eve@example.com"), 1), 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"export file export.csv: SHA-256"}},
		{"removed export file", func(t *testing.T, tr *evidenceTrail) {
			if err := os.Remove(filepath.Join(tr.dir, ExportJSONFile)); err != nil {
				t.Fatal(err)
			}
		}, []string{"export file export.jsonl:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := seedEvidence(t)
			tc.break_(t, tr)
			v, err := Verify(ctx, tr.c, tr.dir, "", QueryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if v.OK() {
				t.Fatal("verify passed a broken bundle")
			}
			all := strings.Join(v.Problems, "\n")
			for _, w := range tc.want {
				w = strings.NewReplacer(tr0("keyA"), "s3://"+tr.bucket+"/"+tr.keyA, tr0("keyC"), "s3://"+tr.bucket+"/"+tr.keyC).Replace(w)
				if !strings.Contains(all, w) {
					t.Errorf("no problem containing %q in:\n%s", w, all)
				}
			}
		})
	}
}

// tr0 is a placeholder for an object's s3:// name, filled in per case.
func tr0(field string) string { return "<" + field + ">" }
