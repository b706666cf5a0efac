// Package lambdarie runs a function's bootstrap as Lambda runs it: built the
// way `make build` builds it (for this machine's architecture), started under
// AWS's Lambda Runtime Interface Emulator (the aws-lambda-rie tool pinned in
// go.mod) and invoked through the emulator's invoke endpoint. Tests use it to
// show the binaries that ship start, read their environment and answer; the
// benchmarks read each function's init duration from it.
package lambdarie

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// BuildFlags are `make build`'s flags for a bootstrap; only the architecture
// differs (the host's, so the emulator can run it).
var BuildFlags = []string{"-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w"}

// Build compiles functions/<function> of the module at root for every named
// function, as make build does but for this machine's architecture, and
// returns each one's binary. One go build compiles them all into the
// checkout's directory in the user's cache (see built): go build relinks no
// binary that is up to date, so the test binaries that run the functions
// (several, at times at once) link each one once between them, not once each.
func Build(ctx context.Context, root string, functions []string) (map[string]string, error) {
	var pkgs []string
	for _, fn := range functions {
		pkgs = append(pkgs, "./functions/"+fn)
	}
	dir, err := built(ctx, root, BuildFlags, pkgs, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	bins := map[string]string{}
	for _, fn := range functions {
		bins[fn] = filepath.Join(dir, fn)
	}
	return bins, nil
}

// riePackage is the emulator's main package, pinned by go.mod's tool directive.
const riePackage = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// Tool builds the emulator's binary (as Build builds the functions) and
// returns its path. It is go build, not go tool: go tool ignores GOFLAGS,
// so under make test's -trimpath it would compile the standard library a
// second time just for the emulator.
func Tool(ctx context.Context, root string) (string, error) {
	dir, err := built(ctx, root, nil, []string{riePackage})
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, path.Base(riePackage)), nil
}

// built runs go build flags -o dir/ pkgs (with env added) in the module at
// root, where dir is the checkout's own directory in the user's cache, and
// returns dir. A lock keeps two test binaries from writing one file at once.
func built(ctx context.Context, root string, flags, pkgs []string, env ...string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(base, "elevate", "lambda-"+hex.EncodeToString(sum[:8]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("lambdarie: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("lambdarie: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lambdarie: lock %s: %w", dir, err)
	}
	args := append(append([]string{"build"}, flags...), "-o", dir+string(filepath.Separator))
	cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("lambdarie: build %v: %w\n%s", pkgs, err, b)
	}
	return dir, nil
}

// Runtime is one bootstrap running under the emulator.
type Runtime struct {
	invokeURL string
	cmd       *exec.Cmd
	out       *syncBuffer
	exited    chan struct{}
}

// Start runs bootstrap under the emulator rie with exactly env (plus what
// the Lambda runtime itself sets), on free loopback ports. The function's
// init runs at the first Invoke, as in Lambda.
func Start(ctx context.Context, rie, bootstrap string, env []string) (*Runtime, error) {
	apiPort, err := emulator.FreePort()
	if err != nil {
		return nil, err
	}
	runtimePort, err := emulator.FreePort()
	if err != nil {
		return nil, err
	}
	invokeAddr := "127.0.0.1:" + strconv.Itoa(apiPort)
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(runtimePort),
		"--log-level", "error",
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_FUNCTION_TIMEOUT=60"}, env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("lambdarie: start the emulator: %w", err)
	}
	r := &Runtime{invokeURL: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations", cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", invokeAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return r, nil
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("lambdarie: the emulator exited before listening:\n%s", out.String())
		case <-ctx.Done():
			r.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.Stop()
			return nil, fmt.Errorf("lambdarie: the emulator did not listen on %s:\n%s", invokeAddr, out.String())
		}
	}
}

// Invoke sends payload to the function and returns the emulator's status and
// the function's response (or error document).
func (r *Runtime) Invoke(ctx context.Context, payload []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.invokeURL, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("lambdarie: invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

var initDuration = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)

// InitDuration is the emulator's report of the function's init (process
// start to the runtime's first request for work), reported after the first
// Invoke's answer.
func (r *Runtime) InitDuration() (time.Duration, error) {
	m := initDuration.FindStringSubmatch(r.OutputWith("Init Duration:", 5*time.Second))
	if m == nil {
		return 0, errors.New("lambdarie: no init duration reported yet")
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

// Output is everything the emulator and the function wrote so far.
func (r *Runtime) Output() string { return r.out.String() }

// OutputWith waits up to within for the output to contain substr (the
// emulator copies the function's output asynchronously, so it can trail the
// invoke's answer) and returns the output.
func (r *Runtime) OutputWith(substr string, within time.Duration) string {
	deadline := time.Now().Add(within)
	for !strings.Contains(r.out.String(), substr) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return r.out.String()
}

// Stop kills the emulator and the function with it.
func (r *Runtime) Stop() {
	if r.cmd.Process != nil {
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-r.exited
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// LocalEnv is the environment the stack gives function, pointed at local
// endpoints: the runtime's region and credentials (the emulators'), the
// table, and the keys as their local plain-text variables. The rotation
// function is given the two secrets it rotates by placeholder ARNs (a test
// that invokes it names the secrets of its own Secrets Manager). A function
// reads only its own variables; callers remove or spoil one to see init fail.
func LocalEnv(function, dynamoEndpoint, table string) map[string]string {
	env := map[string]string{
		"AWS_REGION":               emulator.Region,
		"AWS_ACCESS_KEY_ID":        emulator.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":    emulator.SecretAccessKey,
		"AWS_LAMBDA_FUNCTION_NAME": function,
		config.EnvLogLevel:         "info",
		config.EnvTable:            table,
		config.EnvDynamoEndpoint:   dynamoEndpoint,
		config.EnvAdminGroup:       app.DefaultAdminGroup,
		config.EnvLinkKey:          "0123456789abcdef0123456789abcdef-local-link-key",
		config.EnvPageKey:          "fedcba9876543210fedcba9876543210-local-page-key",
		config.EnvPublicBaseURL:    "https://elevate.example.com",
		config.EnvSender:           "elevate@example.com",
		config.EnvAuditBucket:      "audit",
	}
	if function == manifest.Rotation {
		arn := "arn:aws:secretsmanager:" + emulator.Region + ":" + emulator.LocalAccount + ":secret:"
		env[config.EnvLinkKeySecret], env[config.EnvPageKeySecret] = arn+"elevate-link-key-AbCdEf", arn+"elevate-page-key-AbCdEf"
	}
	return env
}

// EnvList turns env into the NAME=value form of exec.Cmd.Env.
func EnvList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}
