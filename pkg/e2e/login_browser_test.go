package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/elevate-pam/elevate/pkg/cli"
	"github.com/elevate-pam/elevate/pkg/local"
)

// The OpenID provider of these tests is zitadel/oidc's example provider,
// a certified OP implementation, run in process on loopback: its own login
// page, PKCE, refresh tokens and JWKS.
const (
	loginClientID = "elevate-cli"
	loginUser     = "alice"
	loginPassword = "correct-horse-battery"
	loginEmail    = "alice@example.com"
)

// provider is a running OP whose ID-token lifetime a test can change.
type provider struct {
	issuer   string
	lifetime atomic.Int64 // nanoseconds
	tokenReq atomic.Int32 // POSTs to the token endpoint
	log      syncBuffer
}

// opStorage is the example storage with its clients wrapped: the ID token
// carries the email claims (as Cognito's does), with the test's lifetime.
type opStorage struct {
	*storage.Storage
	p *provider
}

func (s opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return idTokenClient{Client: c, p: s.p}, nil
}

type idTokenClient struct {
	op.Client
	p *provider
}

func (c idTokenClient) IDTokenUserinfoClaimsAssertion() bool { return true }

// GrantTypes adds the device authorization grant to the native client's.
func (c idTokenClient) GrantTypes() []oidc.GrantType {
	return append(slices.Clone(c.Client.GrantTypes()), oidc.GrantTypeDeviceCode)
}
func (c idTokenClient) IDTokenLifetime() time.Duration {
	return time.Duration(c.p.lifetime.Load())
}

func startProvider(t *testing.T) *provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{issuer: "http://" + ln.Addr().String() + "/"}
	p.lifetime.Store(int64(time.Hour))
	users := filepath.Join(t.TempDir(), "users.json")
	// The example's device flow takes the user name for the subject, so the
	// user's ID is its name.
	b, err := json.Marshal(map[string]storage.User{loginUser: {
		ID: loginUser, Username: loginUser, Password: loginPassword, FirstName: "Alice", LastName: "Example",
		Email: loginEmail, EmailVerified: true,
	}})
	if err == nil {
		err = os.WriteFile(users, b, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	us, err := storage.StoreFromFile(users)
	if err != nil {
		t.Fatal(err)
	}
	// A native client: no secret, PKCE, any port on the loopback redirect
	// (RFC 8252), refresh tokens.
	storage.RegisterClients(storage.NativeClient(loginClientID, "http://127.0.0.1/callback"))
	// The example sets the process's default logger to the one it is given.
	prev := slog.Default()
	router := exampleop.SetupServer(p.issuer, opStorage{Storage: storage.NewStorage(us), p: p}, slog.New(slog.NewJSONHandler(&p.log, nil)), false)
	slog.SetDefault(prev)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/token") {
			p.tokenReq.Add(1)
		}
		router.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

// cliRun runs the elevate command line in process, as a user would in a
// terminal, collecting everything it prints.
type cliRun struct {
	t       *testing.T
	env     map[string]string
	browser context.Context
	mu      sync.Mutex
	printed bytes.Buffer
	// browserErr is what the browser step met, if it ran.
	browserErr chan error
	// onStderr, when set, sees what the command prints on stderr as it
	// prints it (the device flow's code is read there, by a person).
	onStderr func(string)
}

type watchWriter struct {
	buf *bytes.Buffer
	fn  func(string)
}

func (w watchWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if w.fn != nil {
		w.fn(w.buf.String())
	}
	return len(p), nil
}

func (c *cliRun) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := cli.Env{
		Stdout: &out, Stderr: watchWriter{&errb, c.onStderr},
		Getenv: func(k string) string { return c.env[k] },
		OpenBrowser: func(u string) error {
			// The user signs in on the provider's own page, in Chromium.
			go func() {
				c.browserErr <- chromedp.Do(c.browser,
					chromedp.Navigate(u),
					chromedp.WaitVisible(`#username`),
					chromedp.SendKeys(`#username`, loginUser),
					chromedp.SendKeys(`#password`, loginPassword),
					chromedp.Click(`button[type=submit]`),
				)
			}()
			return nil
		},
	}
	code = cli.Run(context.Background(), args, env)
	c.mu.Lock()
	c.printed.Write(out.Bytes())
	c.printed.Write(errb.Bytes())
	c.mu.Unlock()
	return code, out.String(), errb.String()
}

type cachedSession struct {
	IDToken      string `json:"idToken"`
	RefreshToken string `json:"refreshToken"`
}

// tokenExpiry is a JWT's exp claim, read without verifying: the test only
// needs to know when the gateway will refuse it.
func tokenExpiry(t *testing.T, jwt string) time.Time {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("ID token is not a JWT (%d parts)", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct{ Exp int64 }
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.Exp == 0 {
		t.Fatalf("ID token payload has no exp (%v)", err)
	}
	return time.Unix(claims.Exp, 0)
}

func readSession(t *testing.T, path string) cachedSession {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s cachedSession
	if err := json.Unmarshal(b, &s); err != nil || s.IDToken == "" {
		t.Fatalf("token cache unreadable (%v)", err)
	}
	return s
}

// Issue 23 item 1: elevate login through a real OpenID provider and
// Chromium (authorization code with PKCE to a loopback redirect), then the
// API verbs with the cached token against the local stack, whose gateway
// trusts that issuer as API Gateway's JWT authorizer trusts a deployment's.
// A second sign-in gets ID tokens that expire at once: the API verbs refresh
// with the refresh token, the expired token itself is refused. The cache is
// 0600, logout removes it, and no token appears in anything printed or
// logged.
func TestLoginWithOpenIDProviderInBrowser(t *testing.T) {
	browser := startBrowser(t)
	p := startProvider(t)
	var stackLog syncBuffer
	st := startStackWith(t, func(o *local.Options) {
		o.TrustIssuer = &local.TrustedIssuer{Issuer: p.issuer, Audience: loginClientID}
		o.Log = slog.New(slog.NewJSONHandler(&stackLog, nil))
	})
	// Created by the CLI itself, as on a first sign-in.
	config := filepath.Join(t.TempDir(), "elevate")
	c := &cliRun{t: t, browser: browser, browserErr: make(chan error, 1), env: map[string]string{
		cli.EnvAPIURL: st.URL, cli.EnvConfigDir: config,
	}}
	cache := filepath.Join(config, "token.json")
	login := []string{"login", "--issuer", p.issuer, "--client-id", loginClientID, "--redirect-url", "http://127.0.0.1:0/callback"}

	code, out, errOut := c.run(login...)
	if code != 0 {
		t.Fatalf("login exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if err := <-c.browserErr; err != nil {
		t.Fatalf("browser sign-in: %v", err)
	}
	if !strings.Contains(out, "as "+loginEmail) || !strings.Contains(out, cache) {
		t.Errorf("login says %q, want the principal and the cache path", out)
	}
	fi, err := os.Stat(cache)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token cache mode %v, want 0600", fi.Mode().Perm())
	}
	if di, err := os.Stat(config); err != nil || di.Mode().Perm()&0o077 != 0 {
		t.Errorf("config directory %v (%v): readable by others", di.Mode().Perm(), err)
	}
	first := readSession(t, cache)
	if first.RefreshToken == "" {
		t.Fatal("no refresh token cached")
	}

	// The API verbs pick up the cached token (ELEVATE_TOKEN is unset).
	code, out, errOut = c.run("request", "list", "-o", "json")
	if code != 0 || !strings.HasPrefix(out, "[") {
		t.Fatalf("request list with the cached sign-in: exit %d\n%s%s", code, out, errOut)
	}
	// The API sees the provider's user as the principal.
	code, out, errOut = c.run("request", "new", "--task", `Exchange\New-MoveRequest`, "--reason", "signed in through the provider", "-o", "json")
	var created struct{ Requester, Status string }
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || created.Requester != loginEmail || created.Status != "Pending" {
		t.Fatalf("request new as the signed-in user: exit %d, %+v\n%s%s", code, created, out, errOut)
	}

	t.Run("refresh", func(t *testing.T) {
		// Short enough to wait out, long enough that a slow machine's
		// sign-in does not outlive it: the wait is to the token's own exp.
		p.lifetime.Store(int64(5 * time.Second))
		// A failure below must not leave short tokens to the next subtest.
		t.Cleanup(func() { p.lifetime.Store(int64(time.Hour)) })
		if code, out, errOut := c.run(login...); code != 0 {
			t.Fatalf("second login exit %d\n%s%s", code, out, errOut)
		}
		if err := <-c.browserErr; err != nil {
			t.Fatalf("browser sign-in: %v", err)
		}
		expired := readSession(t, cache)
		// Past the ID token's exp (whole seconds, no leeway at the gateway).
		time.Sleep(time.Until(tokenExpiry(t, expired.IDToken).Add(1100 * time.Millisecond)))
		if code, _, _ := c.run("--token", expired.IDToken, "request", "list"); code != cli.ExitRefused {
			t.Fatalf("the expired ID token itself: exit %d, want %d (refused)", code, cli.ExitRefused)
		}
		p.lifetime.Store(int64(time.Hour))
		before := p.tokenReq.Load()
		code, out, errOut := c.run("request", "list", "-o", "json")
		if code != 0 || !strings.HasPrefix(out, "[") {
			t.Fatalf("request list after expiry: exit %d\n%s%s", code, out, errOut)
		}
		if p.tokenReq.Load() != before+1 {
			t.Errorf("%d token requests for one expired sign-in, want 1 refresh", p.tokenReq.Load()-before)
		}
		refreshed := readSession(t, cache)
		if refreshed.IDToken == expired.IDToken {
			t.Fatal("the cached ID token was not replaced")
		}
		if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("refreshed cache mode %v (%v), want 0600", fi.Mode().Perm(), err)
		}
		// Fresh for an hour now: the next call refreshes nothing.
		if code, _, _ := c.run("request", "list"); code != 0 || p.tokenReq.Load() != before+1 {
			t.Errorf("exit %d, %d token requests: a fresh token was refreshed again", code, p.tokenReq.Load()-before)
		}
		for _, s := range []cachedSession{first, expired, refreshed} {
			for what, secret := range map[string]string{"ID token": s.IDToken, "refresh token": s.RefreshToken} {
				for where, text := range map[string]string{"CLI output": c.printedText(), "stack log": stackLog.String(), "provider log": p.log.String()} {
					if secret != "" && strings.Contains(text, secret) {
						t.Errorf("a %s appears in the %s", what, where)
					}
				}
			}
		}
	})

	t.Run("device", func(t *testing.T) {
		// On a machine without a browser: the code is entered elsewhere.
		before := readSession(t, cache)
		var once sync.Once
		urlRE := regexp.MustCompile(`http://\S+/device\S*`)
		c.onStderr = func(printed string) {
			u := urlRE.FindString(printed)
			if u == "" {
				return
			}
			once.Do(func() {
				go func() {
					c.browserErr <- chromedp.Do(c.browser,
						chromedp.Navigate(u),
						chromedp.WaitVisible(`#username`),
						chromedp.SendKeys(`#username`, loginUser),
						chromedp.SendKeys(`#password`, loginPassword),
						chromedp.Click(`button[type=submit]`),
						chromedp.WaitVisible(`button.green`),
						chromedp.Click(`button.green`),
					)
				}()
			})
		}
		defer func() { c.onStderr = nil }()
		code, out, errOut := c.run("login", "--issuer", p.issuer, "--client-id", loginClientID, "--device")
		if code != 0 || !strings.Contains(out, "as "+loginEmail) {
			t.Fatalf("device login exit %d\n%s%s", code, out, errOut)
		}
		if err := <-c.browserErr; err != nil {
			t.Fatalf("device page: %v", err)
		}
		if after := readSession(t, cache); after.IDToken == before.IDToken {
			t.Fatal("the device sign-in did not replace the cached token")
		}
		if code, _, errOut := c.run("request", "list"); code != 0 {
			t.Fatalf("request list after the device sign-in: exit %d %s", code, errOut)
		}
	})

	code, out, _ = c.run("logout")
	if code != 0 || !strings.Contains(out, "removed "+cache) {
		t.Fatalf("logout exit %d: %s", code, out)
	}
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Fatalf("token cache still there after logout: %v", err)
	}
	if code, _, errOut := c.run("request", "list"); code != cli.ExitUsage || !strings.Contains(errOut, "elevate login") {
		t.Fatalf("after logout: exit %d, %s", code, errOut)
	}
}

func (c *cliRun) printedText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.printed.String())
}
