package cli

import (
	"context"
	"os"
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

func TestAuditEvidenceExportAndVerify(t *testing.T) {
	srv, env := auditStack(t)
	seedTrail(t, srv)
	dir := filepath.Join(t.TempDir(), "evidence")
	res := run(t, env, "audit", "export", "--since", "2025-03-10", "--until", "2025-03-11", "--evidence", dir, "--parallel", "3")
	if res.code != 0 || !strings.Contains(res.stdout, "4 records from 7 objects") || !strings.Contains(res.stdout, "manifest sha256 ") {
		t.Fatalf("export: exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	for _, f := range []string{auditquery.ManifestFile, auditquery.ExportCSVFile, auditquery.ExportJSONFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("bundle lacks %s: %v", f, err)
		}
	}
	if res := run(t, env, "audit", "verify", dir); res.code != 0 || !strings.HasPrefix(res.stdout, "OK ") {
		t.Fatalf("verify untouched: exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	if res := run(t, env, "audit", "export", "--since", "2025-03-10", "--evidence", dir); res.code != ExitUsage {
		t.Fatalf("export over an existing bundle: exit %d %q", res.code, res.stderr)
	}

	// Tamper with one object (a new version), delete another, edit a file.
	day := auditrecord.ObjectKey(mustDay(t, "2025-03-10"), "b1")
	putRecords(t, srv, day, auditrecord.Record{ID: "e1", Action: auditrecord.ActionRequestCreated, Actor: "mallory@example.com"})
	next := auditrecord.ObjectKey(mustDay(t, "2025-03-11"), "next")
	if _, err := emulator.S3Client(srv.Endpoint).DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(next)}); err != nil {
		t.Fatal(err)
	}
	jsonl := filepath.Join(dir, auditquery.ExportJSONFile)
	b, _ := os.ReadFile(jsonl)
	if err := os.WriteFile(jsonl, append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	res = run(t, env, "audit", "verify", dir)
	if res.code != ExitVerifyFailed {
		t.Fatalf("verify broken: exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"FAIL s3://" + srv.Bucket + "/" + day + ": ", "FAIL s3://" + srv.Bucket + "/" + next + ": missing", "FAIL export file export.jsonl: SHA-256"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("no %q in:\n%s", want, res.stdout)
		}
	}
	if res := run(t, env, "audit", "verify", t.TempDir()); res.code != ExitUsage {
		t.Fatalf("verify of a directory without a manifest: exit %d", res.code)
	}
}

func TestAuditParallelFlag(t *testing.T) {
	srv, env := auditStack(t)
	seedTrail(t, srv)
	for _, p := range []string{"0", "-1", "100000"} {
		if res := run(t, env, "audit", "query", "--since", "24h", "--parallel", p); res.code != ExitUsage {
			t.Errorf("--parallel %s: exit %d", p, res.code)
		}
	}
	one := run(t, env, "audit", "query", "--since", "2025-03-10", "--until", "2025-03-11", "-o", "json", "--parallel", "1")
	many := run(t, env, "audit", "query", "--since", "2025-03-10", "--until", "2025-03-11", "-o", "json", "--parallel", "16")
	if one.code != 0 || one.stdout != many.stdout || strings.Count(one.stdout, "\n") != 4 {
		t.Fatalf("--parallel changed the answer:\n%s\nvs\n%s", one.stdout, many.stdout)
	}
}

func mustDay(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
