package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/local"
	"github.com/elevate-pam/elevate/pkg/openapi/openapitest"
)

// cliRun is one run of the built binary.
type cliRun struct {
	code           int
	stdout, stderr string
}

type walkthrough struct {
	t   *testing.T
	bin string
	env []string
}

// elevate runs the binary with the walkthrough's environment plus the given
// token. The environment is built from scratch, so nothing from the
// developer's shell (a real AWS profile, a stale token) leaks in.
func (w *walkthrough) elevate(token string, args ...string) cliRun {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = append(append([]string(nil), w.env...), "ELEVATE_TOKEN="+token)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("run elevate %v: %v", args, err)
	}
	return cliRun{code, out.String(), errb.String()}
}

func (w *walkthrough) ok(token string, args ...string) string {
	w.t.Helper()
	r := w.elevate(token, args...)
	if r.code != 0 {
		w.t.Fatalf("elevate %s: exit %d\nstdout %s\nstderr %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (w *walkthrough) login(principal string, groups ...string) string {
	w.t.Helper()
	args := []string{"login", "--local", "--as", principal}
	for _, g := range groups {
		args = append(args, "--group", g)
	}
	out := strings.TrimSpace(w.ok("", args...))
	tok, ok := strings.CutPrefix(out, "export ELEVATE_TOKEN='")
	if !ok || !strings.HasSuffix(tok, "'") {
		w.t.Fatalf("login printed %q", out)
	}
	return strings.TrimSuffix(tok, "'")
}

// startWalkthrough builds the binary and starts a local stack for it; both
// end with the test.
func startWalkthrough(t *testing.T) *walkthrough {
	t.Helper()
	if testing.Short() {
		t.Skip("starts DynamoDB Local and the SES emulator")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "elevate")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // after Stop: cleanups run last-registered first
	// Every call the CLI makes is validated against the OpenAPI document.
	spec := openapitest.New(t)
	stack, err := local.Start(ctx, local.Options{Middleware: spec.Middleware})
	if err != nil {
		t.Fatalf("local.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := stack.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})

	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	// The same export lines `make run` prints, minus the token, which each
	// step sets for its own principal.
	for _, line := range stack.Exports("") {
		kv := strings.TrimPrefix(line, "export ")
		if !strings.HasPrefix(kv, "ELEVATE_TOKEN=") {
			env = append(env, kv)
		}
	}
	return &walkthrough{t: t, bin: bin, env: env}
}

// TestCLIWalkthrough drives the built binary against the whole local stack:
// enable, group, policy, request, approve, authorize, revoke, then reads the
// audit trail the stream produced.
func TestCLIWalkthrough(t *testing.T) {
	w := startWalkthrough(t)
	start := time.Now().UTC().Add(-time.Minute)

	admin := w.login("admin@example.com", "elevate-admins")
	alice := w.login("alice@example.com")
	bob := w.login("bob@example.com")

	// Admin: an approver group, access on, a Manual policy.
	w.ok(admin, "group", "new", "approvers", "--member", "bob@example.com", "--description", "Exchange approvers")
	if out := w.ok(admin, "enable", "--approver-group", "approvers", "--system-account", "svc-backup@example.com"); !strings.Contains(out, "Enabled                 yes") {
		t.Fatalf("enable printed:\n%s", out)
	}
	w.ok(admin, "policy", "new", "--task", `Exchange\New-MoveRequest`, "--approval", "Manual", "--max-duration", "8h")
	if out := w.ok(admin, "policy", "list"); !strings.Contains(out, `Task Exchange\New-MoveRequest`) || !strings.Contains(out, "8h") {
		t.Fatalf("policy list:\n%s", out)
	}
	if r := w.elevate(admin, "policy", "new", "--task", `Exchange\New-MoveRequest`, "--approval", "Auto"); r.code != 3 || !strings.HasPrefix(r.stderr, "Conflict: ") {
		t.Fatalf("duplicate policy: exit %d stderr %q", r.code, r.stderr)
	}
	if r := w.elevate(alice, "enable", "--approver-group", "approvers"); r.code != 3 {
		t.Fatalf("non-admin enable: exit %d stderr %q", r.code, r.stderr)
	}

	// Alice has no standing access.
	if r := w.elevate(alice, "authorize", "--task", `Exchange\New-MoveRequest`); r.code != 5 || !strings.Contains(r.stdout, "approval-required") {
		t.Fatalf("authorize before request: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	// She asks; she cannot approve herself; Bob approves.
	var req struct {
		ID            string  `json:"id"`
		Status        string  `json:"status"`
		DurationHours float64 `json:"durationHours"`
	}
	if err := json.Unmarshal([]byte(w.ok(alice, "request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "migrate mailbox", "--duration", "1h30m", "-o", "json")), &req); err != nil {
		t.Fatal(err)
	}
	if req.ID == "" || req.Status != "Pending" || req.DurationHours != 1.5 {
		t.Fatalf("request %+v", req)
	}
	if r := w.elevate(alice, "approve", req.ID); r.code != 3 || !strings.HasPrefix(r.stderr, "Forbidden: ") {
		t.Fatalf("self-approval: exit %d stderr %q", r.code, r.stderr)
	}
	if out := w.ok(bob, "request", "list", "--status", "Pending"); !strings.Contains(out, req.ID) {
		t.Fatalf("bob's pending list lacks %s:\n%s", req.ID, out)
	}
	if out := w.ok(bob, "approve", req.ID, "--comment", "ticket 42"); !strings.Contains(out, "Approved") || !strings.Contains(out, "ticket 42") {
		t.Fatalf("approve printed:\n%s", out)
	}
	if r := w.elevate(alice, "authorize", "--task", `Exchange\New-MoveRequest`); r.code != 0 || !strings.Contains(r.stdout, "allowed (grant) by request "+req.ID) {
		t.Fatalf("authorize after approval: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	// Bob revokes; the grant is gone at once.
	w.ok(bob, "revoke", req.ID, "--comment", "done")
	if r := w.elevate(alice, "authorize", "--task", `Exchange\New-MoveRequest`); r.code != 5 {
		t.Fatalf("authorize after revoke: exit %d stdout %q", r.code, r.stdout)
	}
	if r := w.elevate(bob, "approve", req.ID); r.code != 3 || !strings.HasPrefix(r.stderr, "Conflict: ") {
		t.Fatalf("approve after revoke: exit %d stderr %q", r.code, r.stderr)
	}

	// The stream feeds the audit bucket asynchronously; wait for the trail,
	// every record the walkthrough makes (the refusals too), so the export
	// below cannot see one the query had not.
	want := map[string]int{"group.created": 1, "group.updated": 1, "settings.updated": 1, "policy.created": 1, "request.created": 1, "request.approved": 1,
		"grant.created": 1, "request.revoked": 1, "authorize.allowed": 1, "authorize.denied": 2,
		"refused.admin-only": 1, "refused.self-approval": 1, "refused.not-pending": 1}
	since := start.Format(time.RFC3339)
	var actions map[string]int
	var lines []string
	for deadline := time.Now().Add(90 * time.Second); ; {
		out := w.ok("", "audit", "query", "--since", since, "--output", "json")
		lines = strings.Split(strings.TrimSpace(out), "\n")
		actions = map[string]int{}
		for _, l := range lines {
			var rec struct {
				Action string `json:"action"`
			}
			if l != "" && json.Unmarshal([]byte(l), &rec) == nil {
				actions[rec.Action]++
			}
		}
		missing := false
		for a, n := range want {
			missing = missing || actions[a] < n
		}
		if !missing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit trail lacks some of %v; have %v", want, actions)
		}
		time.Sleep(500 * time.Millisecond)
	}
	for a, n := range want {
		if actions[a] != n {
			t.Fatalf("%d %s records, want exactly %d: %v", actions[a], a, n, actions)
		}
	}

	// The request's own history, and the compliance export.
	out := w.ok("", "audit", "query", "--since", since, "--request", req.ID, "--action", "request.*", "-o", "json")
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Action string `json:"action"`
			Actor  string `json:"actor"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, rec.Action+" by "+rec.Actor)
	}
	if wantHist := []string{"request.created by alice@example.com", "request.approved by bob@example.com", "request.revoked by bob@example.com"}; strings.Join(got, "|") != strings.Join(wantHist, "|") {
		t.Fatalf("history %v, want %v", got, wantHist)
	}
	csvOut := w.ok("", "audit", "export", "--since", since)
	if !strings.HasPrefix(csvOut, "id,time,action,actor,target_type,target_scope,target_name,requestId,policyId,detail,ticket,timePrecision\n") || strings.Count(csvOut, "\n") != len(lines)+1 {
		t.Fatalf("export has %d lines for %d records:\n%s", strings.Count(csvOut, "\n"), len(lines), csvOut)
	}
}
