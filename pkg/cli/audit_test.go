package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/auditquery"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

// auditStack starts S3 over HTTP and points the standard AWS environment at
// it, so the CLI builds its client exactly as it does for a user.
func auditStack(t *testing.T) (*emulator.S3Server, map[string]string) {
	t.Helper()
	srv, err := emulator.StartS3("elevate-audit-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	env := map[string]string{
		"AWS_ENDPOINT_URL_S3":         srv.Endpoint,
		"AWS_REGION":                  "us-east-1",
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_MAX_ATTEMPTS":            "1",
		EnvAuditBucket:                srv.Bucket,
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	return srv, env
}

func putRecords(t *testing.T, srv *emulator.S3Server, key string, recs ...auditrecord.Record) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, r := range recs {
		if err := json.NewEncoder(zw).Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := emulator.S3Client(srv.Endpoint).PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(srv.Bucket), Key: aws.String(key), Body: bytes.NewReader(buf.Bytes()),
	})
	if err != nil {
		t.Fatal(err)
	}
}

func seedTrail(t *testing.T, srv *emulator.S3Server) {
	t.Helper()
	day := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	tgt := &auditrecord.Target{Type: "Task", Scope: "Exchange", Name: "New-MoveRequest"}
	created := auditrecord.Record{ID: "e1", Time: day.Add(8 * time.Hour), Action: auditrecord.ActionRequestCreated, Actor: "alice@example.com", Target: tgt, RequestID: "r-1", Detail: map[string]any{"reason": "migrate, now"}}
	approved := auditrecord.Record{ID: "e2", Time: day.Add(9 * time.Hour), Action: auditrecord.ActionRequestApproved, Actor: "bob@example.com", Target: tgt, RequestID: "r-1"}
	allowed := auditrecord.Record{ID: "e3", Time: day.Add(10 * time.Hour), Action: auditrecord.ActionAuthorizeAllowed, Actor: "alice@example.com", Target: tgt, RequestID: "r-1"}
	putRecords(t, srv, auditrecord.ObjectKey(day, "b2"), approved, allowed)
	putRecords(t, srv, auditrecord.ObjectKey(day, "b1"), created, approved) // a retried batch repeats e2
	for i := range 4 {
		putRecords(t, srv, auditrecord.ObjectKey(day, "empty-"+string(rune('a'+i))))
	}
	putRecords(t, srv, auditrecord.ObjectKey(day.AddDate(0, 0, 1), "next"), auditrecord.Record{ID: "e4", Time: day.Add(30 * time.Hour), Action: auditrecord.ActionRequestRevoked, Actor: "bob@example.com", Target: tgt, RequestID: "r-1"})
}

func TestAuditQueryJSONLines(t *testing.T) {
	srv, env := auditStack(t)
	seedTrail(t, srv)
	res := run(t, env, "audit", "query", "--since", "2025-03-10T00:00:00Z", "--until", "2025-03-10T23:59:59Z", "--output", "json")
	if res.code != 0 {
		t.Fatalf("exit %d stderr %q", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	var got []string
	for _, l := range lines {
		var r auditrecord.Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, r.ID+" "+r.Action)
	}
	want := []string{"e1 request.created", "e2 request.approved", "e3 authorize.allowed"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %v, want %v", got, want)
	}
	if res.stderr != "" {
		t.Fatalf("progress without a terminal or --progress: %q", res.stderr)
	}

	res = run(t, env, "audit", "query", "--since", "2025-03-10", "--until", "2025-03-11", "--actor", "BOB@example.com", "--target", `Task:Exchange\New-MoveRequest`, "-o", "json")
	if n := strings.Count(res.stdout, "\n"); res.code != 0 || n != 2 || !strings.Contains(res.stdout, `"id":"e4"`) {
		t.Fatalf("filtered: exit %d, %d lines: %s", res.code, n, res.stdout)
	}
	res = run(t, env, "audit", "query", "--since", "2025-03-10", "--until", "2025-03-11", "--action", "request.*", "--request", "r-1", "-o", "json")
	if n := strings.Count(res.stdout, "\n"); n != 3 {
		t.Fatalf("request.* for r-1: %d lines: %s", n, res.stdout)
	}
}

func TestAuditExportCSVByDefaultWithProgress(t *testing.T) {
	srv, env := auditStack(t)
	seedTrail(t, srv)
	res := run(t, env, "audit", "export", "--since", "2025-03-10T00:00:00Z", "--until", "2025-03-10T23:59:59Z", "--progress")
	if res.code != 0 {
		t.Fatalf("exit %d stderr %q", res.code, res.stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(res.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(auditquery.CSVHeader, ",") {
		t.Fatalf("rows %q", rows)
	}
	if rows[1][0] != "e1" || rows[1][9] != `{"reason":"migrate, now"}` {
		t.Fatalf("first row %q", rows[1])
	}
	if !strings.Contains(res.stderr, "read 6/6 objects\n") {
		t.Fatalf("progress %q", res.stderr)
	}
}

func TestAuditQueryTable(t *testing.T) {
	srv, env := auditStack(t)
	seedTrail(t, srv)
	res := run(t, env, "audit", "query", "--since", "2025-03-11", "--until", "2025-03-11")
	want := "" +
		"TIME                  ACTION           ACTOR            TARGET                         REQUEST\n" +
		"2025-03-11T06:00:00Z  request.revoked  bob@example.com  Task Exchange\\New-MoveRequest  r-1\n"
	if res.code != 0 || res.stdout != want {
		t.Fatalf("exit %d\n%s\nwant\n%s", res.code, res.stdout, want)
	}
}

func TestAuditErrors(t *testing.T) {
	srv, env := auditStack(t)
	usage := [][]string{
		{"audit", "query"},
		{"audit", "query", "--since", "last tuesday"},
		{"audit", "query", "--since", "2025-03-10", "--until", "2025-03-01"},
		{"audit", "query", "--since", "0001-01-01"},
		{"audit", "query", "--since", "24h", "--target", "nobackslash"},
		{"audit", "query", "--since", "24h", "--output", "xml"},
	}
	for _, args := range usage {
		if res := run(t, env, args...); res.code != ExitUsage {
			t.Errorf("%v: exit %d stderr %q", args, res.code, res.stderr)
		}
	}
	noBucket := map[string]string{}
	for k, v := range env {
		noBucket[k] = v
	}
	delete(noBucket, EnvAuditBucket)
	if res := run(t, noBucket, "audit", "query", "--since", "24h"); res.code != ExitUsage || !strings.Contains(res.stderr, EnvAuditBucket) {
		t.Errorf("no bucket: exit %d stderr %q", res.code, res.stderr)
	}
	srv.SetDown(true)
	if res := run(t, env, "audit", "query", "--since", "24h"); res.code != ExitServer {
		t.Errorf("S3 down: exit %d stderr %q", res.code, res.stderr)
	}
}
