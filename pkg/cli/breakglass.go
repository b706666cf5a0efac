package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// breakGlassFlags are policy new's break-glass options (F16).
type breakGlassFlags struct {
	enabled              bool
	maxDur, ratifyWithin string
}

func (b *breakGlassFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.BoolVar(&b.enabled, "break-glass", false, "let requesters self-approve in an emergency, to be ratified afterwards")
	f.StringVar(&b.maxDur, "break-glass-max", "", "longest break-glass grant, at most 4h (default 1h)")
	f.StringVar(&b.ratifyWithin, "ratify-within", "", "deadline for an approver to ratify, e.g. 24h (default 24h)")
}

func (b *breakGlassFlags) addTo(c *cobra.Command, body map[string]any) error {
	f := c.Flags()
	if !b.enabled {
		if f.Changed("break-glass-max") || f.Changed("ratify-within") {
			return usagef("--break-glass-max and --ratify-within need --break-glass")
		}
		return nil
	}
	bg := map[string]any{"enabled": true}
	for flag, field := range map[string]string{"break-glass-max": "maxDurationHours", "ratify-within": "ratifyWithinHours"} {
		if !f.Changed(flag) {
			continue
		}
		v, _ := f.GetString(flag)
		h, err := ParseHours(v)
		if err != nil {
			return err
		}
		bg[field] = h
	}
	body["breakGlass"] = bg
	return nil
}

// breakGlassListFlags are request list's break-glass filters.
type breakGlassListFlags struct {
	breakGlass   bool
	ratification string
}

func (b *breakGlassListFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.BoolVar(&b.breakGlass, "break-glass", false, "only break-glass requests")
	f.StringVar(&b.ratification, "ratification", "", "pending|ratified|missed|revoked (implies --break-glass)")
}

func (b *breakGlassListFlags) addTo(c *cobra.Command, q url.Values) error {
	f := c.Flags()
	if b.ratification != "" {
		r := strings.ToLower(b.ratification)
		switch r {
		case "pending", "ratified", "missed", "revoked":
		default:
			return usagef("--ratification must be one of pending, ratified, missed, revoked")
		}
		q.Set("ratification", r)
		q.Set("breakGlass", "true")
	}
	if f.Changed("break-glass") {
		if b.breakGlass {
			q.Set("breakGlass", "true")
		} else {
			q.Set("breakGlass", "false")
		}
	}
	return nil
}

// breakGlassCmd is elevate break-glass holds|release (issue 16 item 5):
// admins see who is held from break-glass and release a block.
func (a *app) breakGlassCmd() *cobra.Command {
	holds := &cobra.Command{
		Use: "holds", Short: "List principals held from break-glass: awaiting ratification, or blocked (admins)", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.list(cmd.Context(), "/v1/break-glass/holds", nil, true, "", renderHolds)
		},
	}
	release := &cobra.Command{
		Use: "release PRINCIPAL", Short: "Let a principal blocked after a revocation or a missed ratification break the glass again (admins)",
		Args: exactArgs("PRINCIPAL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), "DELETE", "/v1/break-glass/holds/"+seg(args[0]), nil, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "released the break-glass hold of %s\n", cell(args[0]))
				return err
			})
		},
	}
	return parent("break-glass", "View and release break-glass holds", holds, release)
}

func renderHolds(w io.Writer, items []json.RawMessage) error {
	tw := newTable(w)
	row(tw, "PRINCIPAL", "REQUEST", "RATIFY BY", "STATE", "REASON")
	for _, it := range items {
		h, err := decodeAs[elevate.BreakGlassHold](it)
		if err != nil {
			return err
		}
		row(tw, h.Principal, h.RequestID, ts(h.RatifyBy), h.State, h.Reason)
	}
	return tw.Flush()
}
