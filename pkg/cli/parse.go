package cli

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// ParseHours reads a duration as a Go duration (8h, 30m, 1h30m) or a bare
// number of hours (4, 1.5), and returns fractional hours as the API wants.
func ParseHours(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, usagef("a duration is required, e.g. 4h, 30m or 1h30m")
	}
	var h float64
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		h = n
	} else {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, usagef("%q is not a duration; use e.g. 4h, 30m, 1h30m or a number of hours", s)
		}
		h = d.Hours()
	}
	if math.IsNaN(h) || math.IsInf(h, 0) || h <= 0 {
		return 0, usagef("duration %q must be positive", s)
	}
	return h, nil
}

// FormatHours is the inverse of ParseHours for display: 0.5 → 30m, 8 → 8h.
func FormatHours(h float64) string {
	if h <= 0 {
		return "-"
	}
	d := time.Duration(math.Round(h*float64(time.Hour)/float64(time.Second))) * time.Second
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ParseTarget splits `Scope\Name` (or Scope/Name, since some shells eat
// backslashes) into a target of type typ.
func ParseTarget(typ elevate.RequestType, s string) (elevate.Target, error) {
	i := strings.IndexAny(s, `\/`)
	if i < 0 {
		return elevate.Target{}, usagef(`%q must look like Scope\Name, e.g. 'Exchange\New-MoveRequest'`, s)
	}
	t := elevate.Target{Type: typ, Scope: s[:i], Name: s[i+1:]}
	if !elevate.ValidName(t.Scope) || !elevate.ValidName(t.Name) {
		return elevate.Target{}, usagef(`%q must look like Scope\Name, each 1-128 letters, digits, '.', '_' or '-'`, s)
	}
	return t, nil
}

// targetFlags are --task, --role and --role-group: exactly one names the
// target, and its flag gives the type.
type targetFlags struct {
	task, role, roleGroup string
}

func (f targetFlags) target(lockbox bool) (elevate.Target, error) {
	var set []string
	typ, val := elevate.TypeTask, ""
	if f.task != "" {
		set, val = append(set, "--task"), f.task
	}
	if f.role != "" {
		set, typ, val = append(set, "--role"), elevate.TypeRole, f.role
	}
	if f.roleGroup != "" {
		set, typ, val = append(set, "--role-group"), elevate.TypeRoleGroup, f.roleGroup
	}
	if len(set) != 1 {
		return elevate.Target{}, usagef(`give exactly one of --task, --role or --role-group (e.g. --task 'Exchange\New-MoveRequest')`)
	}
	if lockbox {
		if typ != elevate.TypeTask {
			return elevate.Target{}, usagef("--lockbox takes its target from --task")
		}
		typ = elevate.TypeLockbox
	}
	return ParseTarget(typ, val)
}

// ptr is v's address, for the optional fields of the request bodies.
func ptr[T any](v T) *T { return &v }
