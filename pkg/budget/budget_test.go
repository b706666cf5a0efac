package budget

import (
	"context"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/manifest"
)

func TestEveryFunctionHasATimeout(t *testing.T) {
	for _, fn := range manifest.APIFunctions {
		// API Gateway gives up on an integration at 30 s.
		if got := Timeout(fn); got != APITimeout || got >= 30*time.Second {
			t.Errorf("API function %s: timeout %v, want %v (under API Gateway's 30 s)", fn, got, APITimeout)
		}
	}
	for _, fn := range manifest.StreamFunctions {
		if got := Timeout(fn); got != StreamTimeout {
			t.Errorf("stream function %s: timeout %v, want %v", fn, got, StreamTimeout)
		}
	}
	for _, fn := range manifest.SecretFunctions {
		if got := Timeout(fn); got != RotationTimeout {
			t.Errorf("rotation function %s: timeout %v, want %v", fn, got, RotationTimeout)
		}
	}
	if n := len(manifest.Functions()); len(Timeouts) != n {
		t.Errorf("%d timeouts for %d functions", len(Timeouts), n)
	}
}

func TestInvocationKeepsTheMargin(t *testing.T) {
	cases := []struct {
		name     string
		function string
		left     time.Duration // 0: the parent has no deadline
		want     time.Duration // time left to the calls
	}{
		{"api, Lambda deadline", manifest.Authorize, APITimeout, APITimeout - APIMargin},
		{"api, no deadline", manifest.Authorize, 0, APITimeout - APIMargin},
		{"stream, Lambda deadline", manifest.Notify, StreamTimeout, StreamTimeout - StreamMargin},
		{"short local timeout keeps a quarter", manifest.Authorize, 2 * time.Second, 1500 * time.Millisecond},
		{"short stream timeout keeps a quarter", manifest.Audit, 4 * time.Second, 3 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := context.Background()
			if c.left > 0 {
				var cancel context.CancelFunc
				parent, cancel = context.WithTimeout(parent, c.left)
				defer cancel()
			}
			ctx, cancel := Invocation(parent, c.function)
			defer cancel()
			deadline, ok := ctx.Deadline()
			if !ok {
				t.Fatal("no deadline")
			}
			if got := time.Until(deadline); got > c.want || got < c.want-200*time.Millisecond {
				t.Errorf("calls get %v, want %v", got, c.want)
			}
			clean, cancelClean := Cleanup(ctx)
			defer cancelClean()
			cd, _ := clean.Deadline()
			if end := cd.Sub(deadline); end <= 0 || end > Margin(c.function, max(c.left, Timeout(c.function))) {
				t.Errorf("cleanup ends %v after the calls' deadline, want within the margin", end)
			}
			cancel()
			if clean.Err() != nil {
				t.Error("cleanup context ended with the calls' context")
			}
		})
	}
}

func TestEnough(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if !Enough(ctx, 100*time.Millisecond) || Enough(ctx, 2*time.Second) {
		t.Error("Enough misjudges a context with a second left")
	}
	if !Enough(context.Background(), time.Hour) {
		t.Error("a context without a deadline has time enough")
	}
}
