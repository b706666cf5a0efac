package cli

import (
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Scheduled start, ticket references and extensions (F13-F15) in the CLI.

// ParseStart reads --start: an RFC 3339 time, or "+DURATION" from now
// (e.g. +2h, +1h30m). The server checks it is ahead and within the limit.
func ParseStart(s string, now time.Time) (string, error) {
	s = strings.TrimSpace(s)
	if rel, ok := strings.CutPrefix(s, "+"); ok {
		h, err := ParseHours(rel)
		if err != nil {
			return "", usagef("--start: %s", err)
		}
		return now.Add(time.Duration(h * float64(time.Hour))).UTC().Truncate(time.Second).Format(time.RFC3339), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return "", usagef("--start must be an RFC 3339 time (2026-12-01T22:00:00Z) or +DURATION (+2h)")
	}
	return t.UTC().Format(time.RFC3339), nil
}

// scheduleRows adds a request's window, ticket and extension links.
func scheduleRows(tw *tabwriter.Writer, r elevate.Request) {
	if w := r.WindowText(); w != "" {
		row(tw, "Window", w)
	}
	if r.GrantStartsAt != nil && r.StartAt == nil {
		row(tw, "Grant starts", ts(*r.GrantStartsAt))
	}
	if r.Ticket != "" {
		row(tw, "Ticket", r.Ticket)
	}
	if cw := r.ChangeWindow; cw != nil {
		row(tw, "Change window", optionalTS(cw.Start)+" – "+optionalTS(cw.End))
	}
	if r.Extends != "" {
		row(tw, "Extends", r.Extends)
	}
	if r.PendingExtension != "" {
		row(tw, "Pending extension", r.PendingExtension)
	}
	if len(r.Extensions) > 0 {
		row(tw, "Extensions", strings.Join(r.Extensions, ", "))
	}
}

func optionalTS(t *time.Time) string {
	if t == nil {
		return "open"
	}
	return ts(*t)
}

// extendCmd is `request extend ID --duration 1h --reason TEXT`.
func (a *app) extendCmd() *cobra.Command {
	var duration, reason string
	c := &cobra.Command{
		Use:   "extend ID --duration 1h --reason TEXT",
		Short: "Ask for more time on your active grant; the target's policy judges it as a new request",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlags(cmd, "duration", "reason"); err != nil {
				return err
			}
			if strings.TrimSpace(reason) == "" {
				return usagef("request extend needs --reason")
			}
			h, err := ParseHours(duration)
			if err != nil {
				return err
			}
			body := elevate.ExtendInput{DurationHours: &h, Reason: reason}
			return a.call(cmd.Context(), "POST", "/v1/requests/"+seg(args[0])+"/extend", body, renderRequest)
		},
	}
	c.Flags().StringVar(&duration, "duration", "", "how much longer, e.g. 1h or 30m")
	c.Flags().StringVar(&reason, "reason", "", "why you need more time (shown to approvers)")
	return c
}
