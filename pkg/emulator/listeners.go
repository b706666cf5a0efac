package emulator

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// ListeningAddrs returns the local address of every TCP socket listening on
// port, as `ss -ltn` would show them, read from /proc/net/tcp and tcp6
// (Linux). Tests use it to prove that what the local stack starts is
// reachable from this machine only.
func ListeningAddrs(port int) ([]netip.Addr, error) {
	var out []netip.Addr
	found := false
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		addrs, err := listeningIn(f, port)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found = true
		out = append(out, addrs...)
	}
	if !found {
		return nil, errors.New("emulator: /proc/net/tcp is not readable (not Linux?)")
	}
	return out, nil
}

// tcpListen is the kernel's st value for a listening socket.
const tcpListen = "0A"

func listeningIn(file string, port int) ([]netip.Addr, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []netip.Addr
	sc := bufio.NewScanner(f)
	sc.Scan() // the header line
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[3] != tcpListen {
			continue
		}
		hexAddr, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err != nil || int(p) != port {
			continue
		}
		a, err := procAddr(hexAddr)
		if err != nil {
			return nil, fmt.Errorf("emulator: %s: %w", file, err)
		}
		out = append(out, a)
	}
	return out, sc.Err()
}

// procAddr decodes /proc/net's address form: the address as 32-bit words,
// each in host (little-endian) byte order.
func procAddr(h string) (netip.Addr, error) {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return netip.Addr{}, fmt.Errorf("bad address %q", h)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap(), nil
}
