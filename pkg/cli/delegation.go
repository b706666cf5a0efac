package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Approver delegation (F17): elevate delegate, elevate delegation list|remove.

// selfPrincipal is the API's name for the caller in /v1/delegations/{principal}.
const selfPrincipal = "me"

// parseWhen reads a window edge: RFC 3339, a bare UTC date, "now", or a
// duration from now ("+72h", "+1h30m").
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "+"):
		h, err := ParseHours(s[1:])
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(time.Duration(h * float64(time.Hour))), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("%q is not a time: use RFC 3339 (2026-12-24T00:00:00Z), a date (2026-12-24), now, or +DURATION (+72h)", s)
}

func (a *app) delegateCmd() *cobra.Command {
	var to, from, until, forWhom string
	var groups []string
	c := &cobra.Command{
		Use:   "delegate --to EMAIL --from WHEN --until WHEN [--group G]... [--for APPROVER]",
		Short: "Hand your approvals to a delegate for a window of at most 30 days",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "to", "until"); err != nil {
				return err
			}
			now := time.Now().UTC()
			start := now
			if from != "" {
				var err error
				if start, err = parseWhen(from, now); err != nil {
					return err
				}
			}
			end, err := parseWhen(until, now)
			if err != nil {
				return err
			}
			body := elevate.DelegationInput{Delegate: to, From: start, Until: end, Groups: groups}
			who := selfPrincipal
			if forWhom != "" {
				who = forWhom
			}
			return a.call(cmd.Context(), "PUT", "/v1/delegations/"+seg(who), body, renderDelegation)
		},
	}
	f := c.Flags()
	f.StringVar(&to, "to", "", "the delegate's email")
	f.StringVar(&from, "from", "", "start of the window (default now)")
	f.StringVar(&until, "until", "", "end of the window, at most 30 days after its start")
	f.StringArrayVar(&groups, "group", nil, "delegate only this approver group (repeatable; default all)")
	f.StringVar(&forWhom, "for", "", "admins: the approver whose approvals are handed over (default you)")
	return c
}

func (a *app) delegationCmd() *cobra.Command {
	list := &cobra.Command{
		Use: "list", Short: "List the delegations you gave or hold (admins: all)", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.list(cmd.Context(), "/v1/delegations", nil, true, "", renderDelegations)
		},
	}
	remove := &cobra.Command{
		Use: "remove [APPROVER]", Aliases: []string{"delete"}, Short: "End a delegation now (default yours)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("%s takes at most one approver", cmd.CommandPath())
			}
			who := selfPrincipal
			if len(args) == 1 {
				who = args[0]
			}
			return a.call(cmd.Context(), "DELETE", "/v1/delegations/"+seg(who), nil, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "removed the delegation of %s\n", cell(who))
				return err
			})
		},
	}
	return parent("delegation", "View and end approver delegations", list, remove)
}

func renderDelegation(w io.Writer, raw json.RawMessage) error {
	return renderDelegations(w, []json.RawMessage{raw})
}

func renderDelegations(w io.Writer, items []json.RawMessage) error {
	tw := newTable(w)
	row(tw, "APPROVER", "DELEGATE", "FROM", "UNTIL", "GROUPS")
	for _, it := range items {
		d, err := decodeAs[elevate.Delegation](it)
		if err != nil {
			return err
		}
		groups := strings.Join(d.Groups, ",")
		if groups == "" {
			groups = "all"
		}
		row(tw, d.Principal, d.Delegate, ts(d.From), ts(d.Until), groups)
	}
	return tw.Flush()
}
