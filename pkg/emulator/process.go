package emulator

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
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

// startProcess starts cmd, which serves on port, in a process group of its
// own, so Stop can kill it and anything it forks, and with Pdeathsig, so a
// test binary killed by a timeout or Ctrl-C takes it along. It returns once
// ready says the process serves; a process that is not ready is stopped.
func startProcess(cmd *exec.Cmd, what string, port int, ready func(*Process) error) (*Process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator: start %s: %w", what, err)
	}
	p := &Process{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := ready(p); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("emulator: %s on port %d: %w", what, port, err)
	}
	return p, nil
}
