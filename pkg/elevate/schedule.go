package elevate

import "time"

// Scheduled start bounds (F13).
const (
	DefaultMaxScheduleAheadHours = 14 * 24.0
	MaxScheduleAheadLimit        = 90 * 24.0
)

// Scheduled-start refusals.
var (
	ErrStartInPast    = refusal(ErrUnprocessable, "start-in-past", "startAt must be in the future")
	ErrStartTooFar    = refusal(ErrUnprocessable, "start-too-far", "startAt is further ahead than the settings' maxScheduleAheadHours allow")
	ErrStartMalformed = Invalid("startAt must be an RFC 3339 time, e.g. 2026-12-01T22:00:00Z")
)

// parseStartAt validates a requested start against now and the settings.
// nil means "from approval".
func parseStartAt(raw *string, s Settings, now time.Time) (*time.Time, error) {
	if raw == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *raw)
	if err != nil {
		return nil, ErrStartMalformed
	}
	t = t.UTC().Truncate(time.Millisecond)
	if !t.After(now) {
		return nil, ErrStartInPast
	}
	if t.After(now.Add(hours(s.maxScheduleAhead()))) {
		return nil, ErrStartTooFar
	}
	return &t, nil
}

// maxScheduleAhead reads settings stored before the field existed as the default.
func (s Settings) maxScheduleAhead() float64 {
	if s.MaxScheduleAheadHours == 0 {
		return DefaultMaxScheduleAheadHours
	}
	return s.MaxScheduleAheadHours
}

// windowEnd is where the grant would end if approved: the window does not
// slide, so a scheduled request ends at startAt + duration whenever it is
// approved; otherwise the clock starts at approval. NotAfter caps it (a
// ticket's change window, an extension's policy maximum).
func (r Request) windowEnd(approvedAt time.Time) time.Time {
	from := approvedAt
	if r.StartAt != nil {
		from = *r.StartAt
	}
	end := from.Add(hours(r.DurationHours))
	if r.NotAfter != nil && r.NotAfter.Before(end) {
		end = *r.NotAfter
	}
	return end
}

// grantStart is when an approval at approvedAt makes the grant live.
func (r Request) grantStart(approvedAt time.Time) time.Time {
	if r.StartAt != nil && r.StartAt.After(approvedAt) {
		return *r.StartAt
	}
	return approvedAt
}

// pendingExpiry is the earlier of the normal pending expiry and the end of
// the requested window: past that, approving would grant nothing.
func (r Request) pendingExpiry(s Settings, now time.Time) time.Time {
	exp := now.Add(hours(s.PendingExpiryHours))
	switch {
	case r.StartAt != nil:
		if end := r.windowEnd(now); end.Before(exp) {
			exp = end
		}
	case r.NotAfter != nil && r.NotAfter.Before(exp):
		exp = *r.NotAfter
	}
	return exp
}

// capEnd lowers NotAfter to t.
func (r *Request) capEnd(t time.Time) {
	if r.NotAfter == nil || t.Before(*r.NotAfter) {
		t = t.UTC()
		r.NotAfter = &t
	}
}

// Started reports whether the grant's window has begun at now.
func (g *Grant) Started(now time.Time) bool { return g.StartsAt.IsZero() || !now.Before(g.StartsAt) }

// WindowText is a scheduled request's window as people read it, in UTC:
// "2026-12-01 22:00 – 2026-12-02 02:00 UTC". Empty for a request that
// starts at approval.
func (r Request) WindowText() string {
	if r.StartAt == nil {
		return ""
	}
	const layout = "2006-01-02 15:04"
	start := *r.StartAt
	if r.GrantStartsAt != nil {
		start = *r.GrantStartsAt
	}
	end := r.windowEnd(start)
	if r.GrantExpiresAt != nil {
		end = *r.GrantExpiresAt
	}
	return start.UTC().Format(layout) + " – " + end.UTC().Format(layout) + " UTC"
}
