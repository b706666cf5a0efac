package cli

import (
	"strings"
	"testing"
	"time"
)

func TestParseStart(t *testing.T) {
	now := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"+2h":                       "2026-12-01T23:00:00Z",
		"+1h30m":                    "2026-12-01T22:30:00Z",
		"2026-12-02T08:00:00+01:00": "2026-12-02T07:00:00Z",
		"tomorrow":                  "",
		"+":                         "",
	} {
		got, err := ParseStart(in, now)
		if want == "" {
			if err == nil {
				t.Errorf("%q accepted as %s", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q = %q %v, want %q", in, got, err, want)
		}
	}
}

func TestRequestShowsWindowTicketAndExtension(t *testing.T) {
	f := newFakeAPI(t)
	body := strings.Replace(requestJSON, `"Pending"`, `"Approved","startAt":"2030-01-01T22:00:00Z","grantStartsAt":"2030-01-01T22:00:00Z","grantExpiresAt":"2030-01-02T00:00:00Z","ticket":"CHG-7","extends":"r-0"`, 1)
	f.on("GET /v1/requests/r-1", 200, body)
	res := run(t, apiEnv(f), "request", "get", "r-1")
	for _, line := range []string{"Window", "2030-01-01 22:00 – 2030-01-02 00:00 UTC", "Ticket", "CHG-7", "Extends", "r-0"} {
		if !strings.Contains(res.stdout, line) {
			t.Errorf("request get lacks %q:\n%s", line, res.stdout)
		}
	}
	f.on("POST /v1/authorize", 200, `{"allowed":false,"reason":"not-yet-active","requestId":"r-1","activeFrom":"2030-01-01T22:00:00Z","expiresAt":"2030-01-02T00:00:00Z"}`)
	res = run(t, apiEnv(f), "authorize", "--task", `Exchange\New-MoveRequest`)
	if res.code != ExitDenied || !strings.Contains(res.stdout, "denied (not-yet-active) by request r-1 from 2030-01-01T22:00:00Z until 2030-01-02T00:00:00Z") {
		t.Fatalf("authorize: exit %d %q", res.code, res.stdout)
	}
}
