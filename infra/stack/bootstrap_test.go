package stack_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/infra/stack"
)

// Issue 23 items 2 and 3, through the real make target and CDK CLI: on a
// fresh clone (no build/), `make bootstrap` builds the functions and gets
// past the app's checks, stopping before anything contacts AWS; without the
// sender domain and alarm address it refuses, naming both. The functions are
// built for this machine's architecture, as the aws-lambda-rie tests build
// them, so make test compiles them once for both; nothing here depends on
// the architecture, and a third full compile (for arm64) cost make test
// about 150 s of CPU.
func TestBootstrapDryRunFromFreshClone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function and runs the CDK CLI")
	}
	dir := t.TempDir()
	build, out := filepath.Join(dir, "build"), filepath.Join(dir, "cdk.out")
	makeBootstrap := func(context string) (string, error) {
		cmd := exec.Command("make", "-C", "../..", "--no-print-directory", "bootstrap", "BOOTSTRAP_DRY_RUN=1",
			"BUILD_DIR="+build, "CDK_OUT="+out, "CDK_CONTEXT="+context, "LAMBDA_GOARCH="+runtime.GOARCH)
		// No credentials and no instance metadata: nothing can reach AWS.
		cmd.Env = append(withoutAWS(os.Environ()), "AWS_EC2_METADATA_DISABLED=true")
		b, err := cmd.CombinedOutput()
		return string(b), err
	}

	text, err := makeBootstrap("")
	if err == nil {
		t.Fatalf("bootstrap with cdk.json's defaults succeeded:\n%s", text)
	}
	for _, want := range []string{stack.CtxSenderDomain + " is not set", stack.CtxAlarmEmail + " is not set"} {
		if !strings.Contains(text, want) {
			t.Errorf("refusal does not say %q:\n%s", want, text)
		}
	}

	text, err = makeBootstrap("-c " + stack.CtxSenderDomain + "=mail.elevate.test" + " -c " + stack.CtxAlarmEmail + "=" + stack.AlarmEmailNone)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, text)
	}
	if strings.Contains(text, "missing Lambda binaries") || !strings.Contains(text, "bootstrap: dry run") {
		t.Fatalf("dry run did not get past the app's checks:\n%s", text)
	}
	if _, err := os.Stat(filepath.Join(out, "Elevate.template.json")); err != nil {
		t.Fatalf("no template synthesized: %v\n%s", err, text)
	}
	if _, err := os.Stat(filepath.Join(build, "notify", "bootstrap")); err != nil {
		t.Fatalf("the functions were not built: %v", err)
	}
}

func withoutAWS(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return out
}
