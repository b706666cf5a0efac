package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/elevate-pam/elevate/pkg/budget"
)

// errTaskTimedOut is an invocation still running at its function's timeout.
var errTaskTimedOut = errors.New("task timed out")

// timeoutOf is function's timeout: the override if any, else the one the
// CDK stack gives it.
func timeoutOf(overrides map[string]time.Duration, function string) time.Duration {
	if t, ok := overrides[function]; ok && t > 0 {
		return t
	}
	return budget.Timeout(function)
}

// invoke runs one invocation as Lambda would: its context carries the
// function's deadline, and a handler still running at the deadline is
// reported the way Lambda reports a timeout ("Task timed out after N
// seconds") while its result is discarded. Lambda would also freeze it; here
// it runs on, unobserved.
func invoke[E, R any](parent context.Context, function string, timeout time.Duration, requestID string, log *slog.Logger, ev E, fn func(context.Context, E) (R, error)) (R, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	type result struct {
		out R
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer cancel()
		defer func() {
			if v := recover(); v != nil {
				var zero R
				done <- result{zero, fmt.Errorf("handler panicked: %v", v)}
			}
		}()
		out, err := fn(ctx, ev)
		done <- result{out, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.out, r.err
	case <-timer.C:
		log.Error(fmt.Sprintf("%s Task timed out after %.2f seconds", requestID, timeout.Seconds()),
			"function", function, "requestId", requestID, "status", "timeout")
		var zero R
		return zero, errTaskTimedOut
	}
}
