package emulatortest

import (
	"net/url"
	"strconv"
	"testing"

	"github.com/elevate-pam/elevate/pkg/emulator"
)

// Port is the port of an http://host:port endpoint.
func Port(t testing.TB, endpoint string) int {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ListensOnLoopbackOnly fails unless something listens on endpoint's port,
// and only on loopback addresses.
func ListensOnLoopbackOnly(t testing.TB, what, endpoint string) {
	t.Helper()
	port := Port(t, endpoint)
	addrs, err := emulator.ListeningAddrs(port)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) == 0 {
		t.Errorf("%s: nothing listens on port %d", what, port)
	}
	for _, a := range addrs {
		if !a.IsLoopback() {
			t.Errorf("%s listens on %s port %d, beyond loopback", what, a, port)
		}
	}
}
