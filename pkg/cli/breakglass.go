package cli

import (
	"net/url"
	"strings"

	"github.com/spf13/cobra"
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
