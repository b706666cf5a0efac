package cli

import (
	"errors"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

func TestParseHours(t *testing.T) {
	good := map[string]float64{"8h": 8, "30m": 0.5, "1h30m": 1.5, "90m": 1.5, "4": 4, "1.5": 1.5, " 2h ": 2, "45s": 0.0125}
	for in, want := range good {
		if got, err := ParseHours(in); err != nil || got != want {
			t.Errorf("ParseHours(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "-1h", "0", "0s", "NaN", "Inf", "-3", "4 hours"} {
		_, err := ParseHours(in)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParseHours(%q) err = %v, want a usage error", in, err)
		}
	}
}

func TestFormatHours(t *testing.T) {
	for in, want := range map[float64]string{8: "8h", 0.5: "30m", 1.5: "1h30m", 24: "24h", 0: "-", 1.0 / 3: "20m", 0.0125: "45s"} {
		if got := FormatHours(in); got != want {
			t.Errorf("FormatHours(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestTargetFlags(t *testing.T) {
	cases := []struct {
		f       targetFlags
		lockbox bool
		want    elevate.Target
	}{
		{targetFlags{task: `Exchange\New-MoveRequest`}, false, elevate.Target{Type: "Task", Scope: "Exchange", Name: "New-MoveRequest"}},
		{targetFlags{role: `Exchange/Mail_Recipients`}, false, elevate.Target{Type: "Role", Scope: "Exchange", Name: "Mail_Recipients"}},
		{targetFlags{roleGroup: `Exchange\Org.Mgmt`}, false, elevate.Target{Type: "RoleGroup", Scope: "Exchange", Name: "Org.Mgmt"}},
		{targetFlags{task: `Exchange\Content`}, true, elevate.Target{Type: "Lockbox", Scope: "Exchange", Name: "Content"}},
	}
	for _, tc := range cases {
		if got, err := tc.f.target(tc.lockbox); err != nil || got != tc.want {
			t.Errorf("%+v: %v, %v; want %v", tc.f, got, err, tc.want)
		}
	}
	for _, f := range []targetFlags{{}, {task: `a\b`, role: `a\b`}, {task: "ab"}, {task: `\b`}, {task: `a\`}, {task: `a\b\c`}, {task: `a b\c`}} {
		var ue *UsageError
		if _, err := f.target(false); !errors.As(err, &ue) {
			t.Errorf("%+v: err = %v, want a usage error", f, err)
		}
	}
	var ue *UsageError
	if _, err := (targetFlags{role: `a\b`}).target(true); !errors.As(err, &ue) {
		t.Errorf("--lockbox with --role: err = %v", err)
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	good := map[string]time.Time{
		"2025-03-09T08:00:00Z":      time.Date(2025, 3, 9, 8, 0, 0, 0, time.UTC),
		"2025-03-09T10:00:00+02:00": time.Date(2025, 3, 9, 8, 0, 0, 0, time.UTC),
		"2025-03-09":                time.Date(2025, 3, 9, 0, 0, 0, 0, time.UTC),
		"24h":                       time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC),
		"90m":                       time.Date(2025, 3, 10, 10, 30, 0, 0, time.UTC),
	}
	for in, want := range good {
		if got, err := ParseTime(in, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "-24h", "2025-13-01", "10/03/2025"} {
		var ue *UsageError
		if _, err := ParseTime(in, now); !errors.As(err, &ue) {
			t.Errorf("ParseTime(%q) err = %v", in, err)
		}
	}
}

func TestExitCode(t *testing.T) {
	cases := map[error]int{
		nil:                                   ExitOK,
		usagef("x"):                           ExitUsage,
		&APIError{Status: 409}:                ExitRefused,
		&APIError{Status: 503}:                ExitServer,
		&TransportError{Err: errors.New("x")}: ExitServer,
		ErrDenied:                             ExitDenied,
		errors.New("boom"):                    ExitInternal,
	}
	for err, want := range cases {
		if got := ExitCode(err); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
}
