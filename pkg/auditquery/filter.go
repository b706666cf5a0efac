package auditquery

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// MaxQueryDays bounds how many daily partitions one query lists, so a typo in
// --since (year 0001) cannot turn into a million ListObjectsV2 calls.
const MaxQueryDays = 3700

// ErrInvalidFilter marks a filter the caller got wrong (a usage error).
var ErrInvalidFilter = errors.New("invalid audit filter")

// Filter selects records. Zero-valued fields match everything except Since,
// which is required. Times are inclusive at both ends.
type Filter struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"` // zero means now, resolved by Query
	// Action matches exactly, or as a prefix when it ends in "*" or "." (e.g.
	// "request.*" or "request.").
	Action    string `json:"action,omitempty"`
	Actor     string `json:"actor,omitempty"` // case-insensitive
	RequestID string `json:"requestId,omitempty"`
	// auditrecord.Target matches case-insensitively on scope and name; an empty Type
	// matches any type.
	Target *auditrecord.Target `json:"target,omitempty"`
}

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidFilter, fmt.Sprintf(format, a...))
}

// Validate reports a filter that cannot be run.
func (f Filter) Validate() error {
	if f.Since.IsZero() {
		return invalidf("since is required")
	}
	if !f.Until.IsZero() && f.Until.Before(f.Since) {
		return invalidf("until is before since")
	}
	return nil
}

// Match reports whether r passes every field of the filter. A record whose
// time is the stream's (timePrecision) matches Since when its change may
// have happened at or after it: within [time, time+precision).
func (f Filter) Match(r auditrecord.Record) bool {
	if r.Time.Before(f.Since) && !r.Time.Add(r.Precision()).After(f.Since) {
		return false
	}
	if !f.Until.IsZero() && r.Time.After(f.Until) {
		return false
	}
	if f.Action != "" {
		if p, ok := strings.CutSuffix(f.Action, "*"); ok || strings.HasSuffix(f.Action, ".") {
			if !ok {
				p = f.Action
			}
			if !strings.HasPrefix(r.Action, p) {
				return false
			}
		} else if r.Action != f.Action {
			return false
		}
	}
	if f.Actor != "" && !strings.EqualFold(r.Actor, f.Actor) {
		return false
	}
	if f.RequestID != "" && r.RequestID != f.RequestID {
		return false
	}
	if t := f.Target; t != nil {
		if r.Target == nil {
			return false
		}
		if t.Type != "" && !strings.EqualFold(t.Type, r.Target.Type) {
			return false
		}
		if !strings.EqualFold(t.Scope, r.Target.Scope) || !strings.EqualFold(t.Name, r.Target.Name) {
			return false
		}
	}
	return true
}

// ParseTargetFilter reads "Type:Scope\Name" or "Scope\Name" (any type). A
// forward slash is accepted in place of the backslash, which shells mangle.
func ParseTargetFilter(s string) (*auditrecord.Target, error) {
	var t auditrecord.Target
	rest := s
	if typ, after, ok := strings.Cut(s, ":"); ok {
		rt, err := elevate.ParseRequestType(typ)
		if err != nil || typ == "" {
			return nil, invalidf("target type must be one of Task, Role, RoleGroup, Lockbox")
		}
		t.Type, rest = string(rt), after
	}
	i := strings.IndexAny(rest, `\/`)
	if i < 0 {
		return nil, invalidf(`target must look like Scope\Name or Type:Scope\Name`)
	}
	t.Scope, t.Name = rest[:i], rest[i+1:]
	if !elevate.ValidName(t.Scope) || !elevate.ValidName(t.Name) {
		return nil, invalidf(`target must look like Scope\Name or Type:Scope\Name`)
	}
	return &t, nil
}

// Partitions lists the partition prefixes of every UTC day from since (less
// auditrecord.MaxTimePrecision) to until inclusive. Only these are listed:
// the writer files each record under its own day, so no other partition can
// hold a matching record; a record timed by the stream just before since, in
// the day before, may still match.
func Partitions(since, until time.Time) ([]string, error) {
	first := truncateDay(since.Add(-auditrecord.MaxTimePrecision))
	last := truncateDay(until)
	if last.Before(first) {
		return nil, invalidf("until is before since")
	}
	days := int(last.Sub(first).Hours()/24) + 1
	if days > MaxQueryDays {
		return nil, invalidf("the range spans %d days; at most %d are allowed", days, MaxQueryDays)
	}
	out := make([]string, 0, days)
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		out = append(out, auditrecord.PartitionPrefix(d))
	}
	return out, nil
}

// partitionDay is the day of an object's (or a prefix's) dt= partition.
func partitionDay(key string) (time.Time, bool) {
	_, dt, ok := strings.Cut(path.Dir(key), "dt=")
	if !ok {
		return time.Time{}, false
	}
	day, err := time.Parse(time.DateOnly, dt)
	return day, err == nil
}

func truncateDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
