package benchmarks

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// buildFunctions compiles every function for this machine with the release
// flags, so start-up is measured on the same binary shape Lambda runs.
func buildFunctions(b *testing.B) string {
	buildOnce.Do(func() {
		root, err := emulator.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildDir, buildErr = os.MkdirTemp("", "elevate-bootstrap-")
		if buildErr != nil {
			return
		}
		for _, fn := range manifest.Functions() {
			cmd := exec.Command("go", "build", "-trimpath", "-tags", "lambda.norpc", "-ldflags", "-s -w",
				"-o", filepath.Join(buildDir, fn), "./functions/"+fn)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = &buildError{fn: fn, out: string(out), err: err}
				return
			}
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return buildDir
}

type buildError struct {
	fn, out string
	err     error
}

func (e *buildError) Error() string { return "build " + e.fn + ": " + e.err.Error() + "\n" + e.out }

// fakeRuntimeAPI answers the Lambda Runtime API's first call: a function is
// ready when it asks for its next invocation.
func fakeRuntimeAPI(b *testing.B) (addr string, ready chan struct{}) {
	ready = make(chan struct{}, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case ready <- struct{}{}:
		default:
		}
		<-r.Context().Done() // hold the long poll like the real runtime
	})}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String(), ready
}

// BenchmarkProcessStart measures process start to "ready" (the first
// /runtime/invocation/next call) for each function, built for this host and
// started from a warm page cache outside any sandbox: not a Lambda cold
// start, which adds the sandbox and the download of the code.
func BenchmarkProcessStart(b *testing.B) {
	dir := buildFunctions(b)
	for _, fn := range manifest.Functions() {
		b.Run(fn, func(b *testing.B) {
			addr, ready := fakeRuntimeAPI(b)
			env := append(os.Environ(),
				"AWS_LAMBDA_RUNTIME_API="+addr,
				"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
				"ELEVATE_TABLE=elevate", "ELEVATE_LINK_KEY=0123456789abcdef0123456789abcdef0123456789abcdef",
				"ELEVATE_SENDER=elevate@example.com", "ELEVATE_PUBLIC_URL=http://127.0.0.1:8080",
				"ELEVATE_AUDIT_BUCKET=elevate-audit", "ELEVATE_PAGE_KEY=fedcba9876543210fedcba9876543210", "AWS_LAMBDA_FUNCTION_NAME="+fn)
			if fn == manifest.Rotation {
				// The two secrets it rotates; it reads them only when invoked.
				env = append(env, "ELEVATE_LINK_KEY_SECRET=arn:aws:secretsmanager:us-east-1:000000000000:secret:elevate-link-key-AbCdEf",
					"ELEVATE_PAGE_KEY_SECRET=arn:aws:secretsmanager:us-east-1:000000000000:secret:elevate-page-key-AbCdEf")
			}
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				cmd := exec.CommandContext(ctx, filepath.Join(dir, fn))
				cmd.Env = env
				if err := cmd.Start(); err != nil {
					cancel()
					b.Fatal(err)
				}
				select {
				case <-ready:
				case <-ctx.Done():
					b.Fatalf("%s never asked the runtime API for work", fn)
				}
				b.StopTimer()
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				cancel()
				b.StartTimer()
			}
			figure(b, "process_start_"+fn+"_ms", round3(float64(b.Elapsed())/float64(b.N)/float64(time.Millisecond)), "ms/start")
		})
	}
}
