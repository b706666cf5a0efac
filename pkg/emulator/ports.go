package emulator

import (
	"context"
	"fmt"
	"net"
)

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulator: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// onFreePort runs start on port, or, when port is 0, on a free one. A free
// port can be taken by someone else between our probe and the child's bind;
// the child then exits at once, and we retry on another port.
func onFreePort[P any](ctx context.Context, port int, start func(port int) (P, error)) (P, error) {
	attempts := 1
	if port == 0 {
		attempts = 3
	}
	var zero P
	var lastErr error
	for i := 0; i < attempts; i++ {
		pt := port
		if pt == 0 {
			var err error
			if pt, err = FreePort(); err != nil {
				return zero, err
			}
		}
		p, err := start(pt)
		if err == nil {
			return p, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return zero, lastErr
}
