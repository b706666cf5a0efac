package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
	"github.com/elevate-pam/elevate/pkg/local"
	"github.com/elevate-pam/elevate/pkg/openapi/openapitest"
)

// EnvRequireBrowser turns a missing Chromium from a skip into a failure, so
// CI cannot pass without having run the browser tests.
const EnvRequireBrowser = "ELEVATE_E2E_REQUIRE_BROWSER"

// EnvUpdateScreenshot=1 also writes the approval page's screenshot to
// testdata/, where pkg/httpapi/README.md embeds it from.
const EnvUpdateScreenshot = "ELEVATE_UPDATE_SCREENSHOT"

func TestMain(m *testing.M) { emulatortest.DynamoMain(m) }

// EnvChromium names a browser binary to use instead of Debian's Chromium
// (e.g. Chrome on a developer's machine).
const EnvChromium = "ELEVATE_CHROMIUM"

// chromiumPath finds the browser, or skips (fails when EnvRequireBrowser is
// set).
func chromiumPath(t *testing.T) string {
	t.Helper()
	names := []string{"chromium", "/usr/bin/chromium", "chromium-browser"}
	if p := os.Getenv(EnvChromium); p != "" {
		names = []string{p}
	}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if v := os.Getenv(EnvRequireBrowser); v != "" && v != "0" {
		t.Fatalf("no browser at %v and %s is set: run scripts/deps.sh browser", names, EnvRequireBrowser)
	}
	t.Skipf("no browser at %v (run scripts/deps.sh browser); set %s=1 to make this a failure", names, EnvRequireBrowser)
	return ""
}

// startBrowser runs headless Chromium with a fresh profile and returns a
// chromedp context for one tab. Cleanup closes the browser and kills its
// process group: renderer and zygote children outlive a killed parent.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	profile := t.TempDir()
	var out syncBuffer
	var pgid int
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(900, 900),
		chromedp.CombinedOutput(&out),
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		}),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	// A generous bound so a wedged browser fails the test instead of hanging it.
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
		if pgid > 0 {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("chromium output:\n%s", withoutDBus(out.String()))
		}
	})
	// The first action starts the browser; its pid names the group to kill.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium (%s): %v\n%s", exe, err, out.String())
	}
	if c := chromedp.FromContext(ctx); c != nil && c.Browser != nil && c.Browser.Process() != nil {
		pgid = c.Browser.Process().Pid
	}
	return ctx
}

// syncBuffer collects the browser's output, which chromedp writes from its
// own goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// withoutDBus drops Chromium's complaints about the missing system bus,
// which a container never has and which bury the lines that matter.
func withoutDBus(out string) string {
	var keep []string
	for line := range strings.Lines(out) {
		if !strings.Contains(line, "dbus") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}

// api speaks to the stack as one principal.
type api struct {
	t     *testing.T
	base  string
	token string
}

func newAPI(t *testing.T, st *local.Stack, principal string, groups ...string) *api {
	t.Helper()
	tok, err := st.Token(principal, groups...)
	if err != nil {
		t.Fatal(err)
	}
	return &api{t: t, base: st.URL, token: tok}
}

// must sends body as JSON and fails unless the answer has status want. It
// returns the raw body and the decoded JSON object.
func (a *api) must(want int, method, path string, body any) (string, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			a.t.Fatalf("%s %s: undecodable body %q", method, path, raw)
		}
	}
	return string(raw), out
}

// request is the part of the API's request object the tests look at.
type request struct {
	ID        string `json:"id"`
	Requester string `json:"requester"`
	Status    string `json:"status"`
	Active    bool   `json:"active"`
	Decisions []struct {
		By       string `json:"by"`
		Decision string `json:"decision"`
		Comment  string `json:"comment"`
	} `json:"decisions"`
}

// get returns the request as raw JSON (for before/after comparisons) and
// decoded.
func (a *api) get(id string) (string, request) {
	a.t.Helper()
	raw, _ := a.must(200, "GET", "/v1/requests/"+id, nil)
	var r request
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		a.t.Fatalf("decode request: %v: %s", err, raw)
	}
	return raw, r
}

func (a *api) authorize(wantAllowed bool, wantReason string) map[string]any {
	a.t.Helper()
	_, out := a.must(200, "POST", "/v1/authorize", map[string]any{"scope": "Exchange", "name": "New-MoveRequest"})
	if out["allowed"] != wantAllowed || out["reason"] != wantReason {
		a.t.Fatalf("authorize: allowed=%v reason=%v, want %v %s", out["allowed"], out["reason"], wantAllowed, wantReason)
	}
	return out
}

// startStack runs the local stack on free ports with this binary's shared
// DynamoDB Local, and sets up the scenario both tests share: group ops with
// bob, access on, a Manual policy for Task Exchange\New-MoveRequest.
func startStack(t *testing.T) *local.Stack {
	t.Helper()
	return startStackWith(t, func(*local.Options) {})
}

// startStackWith lets a test change the stack's options before it starts.
func startStackWith(t *testing.T, with func(*local.Options)) *local.Stack {
	t.Helper()
	_, endpoint := emulatortest.DynamoForTest(t)
	o := local.Options{
		DynamoEndpoint: endpoint,
		Table:          emulatortest.UniqueTableName("e2e"),
		PollInterval:   100 * time.Millisecond,
		RecordCalls:    true,
	}
	with(&o)
	// Every call the test makes, the browser's included, and every answer
	// is validated against the OpenAPI document; a violation fails the test.
	spec := openapitest.New(t)
	spec.Ignore(func(r *http.Request) bool { return r.URL.Path == "/favicon.ico" }) // the browser's own, not an API call
	o.Middleware = spec.Middleware
	st, err := local.Start(context.Background(), o)
	if err != nil {
		t.Fatalf("local.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stop the stack: %v", err)
		}
		// Every DynamoDB call each function made is within its IAM grant.
		emulatortest.CheckCallsWithinGrants(t, st.Calls)
	})
	admin := newAPI(t, st, "admin@example.com", st.AdminGroup)
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "description": "Exchange operators", "members": []string{"bob@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual", "approverGroup": "ops"})
	return st
}

// waitFor polls cond until it holds; the bound only turns a hang into a
// failure, it is not a performance assertion.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func emails(t *testing.T, st *local.Stack) []emulator.StoredEmail {
	t.Helper()
	es, err := st.SES.Emails(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// emailsTo returns the emails to one recipient whose subject contains subj.
func emailsTo(t *testing.T, st *local.Stack, to, subj string) []emulator.StoredEmail {
	t.Helper()
	var out []emulator.StoredEmail
	for _, e := range emails(t, st) {
		if slices.Contains(e.Destination.To, to) && strings.Contains(e.Subject, subj) {
			out = append(out, e)
		}
	}
	return out
}

// awaitApprovalEmail waits for the approval email about request id and
// checks that it went to bob alone.
func awaitApprovalEmail(t *testing.T, st *local.Stack, id string) emulator.StoredEmail {
	t.Helper()
	var mine []emulator.StoredEmail
	waitFor(t, "bob's approval email", func() bool {
		mine = mine[:0]
		for _, e := range emails(t, st) {
			if strings.HasPrefix(e.Subject, "[Elevate] Approval needed") && strings.Contains(e.Body.Text, id) {
				mine = append(mine, e)
			}
		}
		return len(mine) > 0
	})
	if len(mine) != 1 || !slices.Equal(mine[0].Destination.To, []string{"bob@example.com"}) {
		var to [][]string
		for _, e := range mine {
			to = append(to, e.Destination.To)
		}
		t.Fatalf("approval emails for %s went to %v, want only bob", id, to)
	}
	return mine[0]
}

var linkRE = regexp.MustCompile(`https?://[^\s"'<>]+/v1/links/[A-Za-z0-9_.~%-]+`)

// personalLink extracts the approval link from the email; the text and HTML
// parts must carry the same one, pointing at this stack.
func personalLink(t *testing.T, st *local.Stack, e emulator.StoredEmail) string {
	t.Helper()
	text := linkRE.FindAllString(e.Body.Text, -1)
	html := linkRE.FindAllString(e.Body.HTML, -1)
	if len(text) != 1 || len(html) != 1 || text[0] != html[0] {
		t.Fatalf("want one identical link in each part; text %q, html %q", text, html)
	}
	if !strings.HasPrefix(text[0], st.URL+"/v1/links/") {
		t.Fatalf("link %q does not point at the stack %s", text[0], st.URL)
	}
	return text[0]
}

// plainGet fetches url as a mail scanner would: no cookies, no script.
func plainGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// saveScreenshot writes png under build/screenshots and, when asked, into
// testdata for pkg/httpapi/README.md.
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	root, err := emulator.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dests := []string{filepath.Join(root, "build", "screenshots", name)}
	if os.Getenv(EnvUpdateScreenshot) == "1" {
		dests = append(dests, filepath.Join("testdata", name))
	}
	for _, p := range dests {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}
