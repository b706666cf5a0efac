package local

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

func mintStatus(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Post(base+TokenPath, "application/json", strings.NewReader(`{"principal":"mallory@example.com","groups":["elevate-admins"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Issue 10 item 11: everything the default stack starts listens on loopback
// only, and the token route is served there.
func TestStackListensOnLoopbackOnly(t *testing.T) {
	st := startStack(t)
	for what, endpoint := range map[string]string{"API": st.URL, "SES emulator": st.SESEndpoint, "S3": st.S3Endpoint, "DynamoDB Local": st.DynamoEndpoint} {
		emulatortest.ListensOnLoopbackOnly(t, what, endpoint)
	}
	if got := mintStatus(t, st.URL); got != http.StatusOK {
		t.Errorf("token route on loopback: %d", got)
	}
}

// Issue 10 item 11: on an address beyond loopback the API is served but the
// token route, which mints admin tokens for anyone, is refused.
func TestTokenRouteRefusedBeyondLoopback(t *testing.T) {
	_, endpoint := emulatortest.DynamoForTest(t)
	var logs bytes.Buffer
	o, _ := withOpenAPI(t, Options{
		Addr:           "0.0.0.0:0",
		DynamoEndpoint: endpoint,
		Table:          emulatortest.UniqueTableName("wide"),
		Log:            slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	st, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	base := "http://127.0.0.1:" + strconv.Itoa(emulatortest.Port(t, st.URL))
	if got := mintStatus(t, base); got != http.StatusForbidden {
		t.Errorf("token route beyond loopback: %d, want 403", got)
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), "refused because the API listens beyond loopback") {
		t.Errorf("no warning logged: %s", logs.String())
	}
}

// The explicit flag serves the route beyond loopback, with a warning; on a
// loopback address the route is served silently.
func TestGuardTokens(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, c := range []struct {
		ip      string
		allow   bool
		status  int
		warning string
	}{
		{"127.0.0.1", false, http.StatusTeapot, ""},
		{"::1", false, http.StatusTeapot, ""},
		{"0.0.0.0", false, http.StatusForbidden, "refused"},
		{"192.0.2.10", false, http.StatusForbidden, "refused"},
		{"::", false, http.StatusForbidden, "refused"},
		{"0.0.0.0", true, http.StatusTeapot, "anyone who reaches"},
	} {
		var logs bytes.Buffer
		h := guardTokens(inner, &net.TCPAddr{IP: net.ParseIP(c.ip), Port: 8080}, c.allow, slog.New(slog.NewJSONHandler(&logs, nil)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader("{}")))
		if rec.Code != c.status {
			t.Errorf("%s allow=%v: status %d, want %d", c.ip, c.allow, rec.Code, c.status)
		}
		if c.warning == "" && logs.Len() > 0 || c.warning != "" && !strings.Contains(logs.String(), c.warning) {
			t.Errorf("%s allow=%v: logs %q, want a warning containing %q", c.ip, c.allow, logs.String(), c.warning)
		}
	}
}

// Issue 10 item 2: the local stack signs links and page tokens with two
// different per-run keys unless given its own.
func TestDefaultKeysAreSeparate(t *testing.T) {
	o := withDefaults(Options{})
	if len(o.LinkKey) < 32 || len(o.PageKey) < 32 || bytes.Equal(o.LinkKey, o.PageKey) {
		t.Fatalf("link key %x, page key %x", o.LinkKey, o.PageKey)
	}
	given := withDefaults(Options{LinkKey: []byte("l"), PageKey: []byte("p")})
	if string(given.LinkKey) != "l" || string(given.PageKey) != "p" {
		t.Fatalf("given keys replaced: %q %q", given.LinkKey, given.PageKey)
	}
}
