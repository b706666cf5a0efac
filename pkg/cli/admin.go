package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// call is the shape of every API verb: validate --output before sending
// anything, make one call, print JSON as received or render a table.
func (a *app) call(ctx context.Context, method, path string, body any, render func(io.Writer, json.RawMessage) error) error {
	format, err := a.format("table", "table", "json")
	if err != nil {
		return err
	}
	c, err := a.client(ctx, true)
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.Do(ctx, method, path, nil, body, &raw); err != nil {
		return err
	}
	if format == "json" {
		if len(raw) == 0 {
			raw = json.RawMessage("{}")
		}
		return writeJSON(a.env.Stdout, raw)
	}
	if render == nil {
		return nil
	}
	return render(a.env.Stdout, raw)
}

func decodeAs[T any](raw json.RawMessage) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("the API answered with unexpected JSON: %w", err)
	}
	return v, nil
}

func seg(s string) string { return url.PathEscape(s) }

// ---- settings ---------------------------------------------------------------

func renderSettings(w io.Writer, raw json.RawMessage) error {
	s, err := decodeAs[elevate.Settings](raw)
	if err != nil {
		return err
	}
	tw := newTable(w)
	row(tw, "Enabled", yesNo(s.Enabled))
	row(tw, "Default approver group", s.DefaultApproverGroup)
	row(tw, "System accounts", strings.Join(s.SystemAccounts, ", "))
	row(tw, "Max policies", strconv.Itoa(s.MaxPolicies))
	row(tw, "Default duration", FormatHours(s.DefaultDurationHours))
	row(tw, "Pending expiry", FormatHours(s.PendingExpiryHours))
	row(tw, "Lockbox enabled", yesNo(s.Lockbox.Enabled))
	row(tw, "Lockbox approver group", s.Lockbox.ApproverGroup)
	row(tw, "Lockbox max duration", FormatHours(s.Lockbox.MaxDurationHours))
	row(tw, "Max schedule ahead", orDefault(FormatHours(s.MaxScheduleAheadHours), "-"))
	if !s.UpdatedAt.IsZero() {
		row(tw, "Updated", ts(s.UpdatedAt)+" by "+orDefault(s.UpdatedBy, "?"))
	}
	return tw.Flush()
}

func (a *app) patchSettings(ctx context.Context, patch map[string]any) error {
	return a.call(ctx, "PATCH", "/v1/settings", patch, renderSettings)
}

func (a *app) enableCmd() *cobra.Command {
	var group string
	var accounts []string
	c := &cobra.Command{
		Use:   "enable --approver-group GROUP [--system-account EMAIL]...",
		Short: "Turn privileged access on (Enable-ElevatedAccessControl)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "approver-group"); err != nil {
				return err
			}
			patch := map[string]any{"enabled": true, "defaultApproverGroup": group}
			// Only a given list replaces the stored one: enabling again must
			// not silently drop the exclusions.
			if cmd.Flags().Changed("system-account") {
				patch["systemAccounts"] = nonNilStrings(accounts)
			}
			return a.patchSettings(cmd.Context(), patch)
		},
	}
	c.Flags().StringVar(&group, "approver-group", "", "default approver group (must exist)")
	c.Flags().StringArrayVar(&accounts, "system-account", nil, "principal excluded from the gate (repeatable; replaces the list)")
	return c
}

func (a *app) disableCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "disable",
		Short: "Turn privileged access off, keeping every policy and group (Disable-ElevatedAccessControl)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.patchSettings(cmd.Context(), map[string]any{"enabled": false})
		},
	}
}

func (a *app) settingsCmd() *cobra.Command {
	get := &cobra.Command{
		Use:   "get",
		Short: "Show the organisation's settings",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.call(cmd.Context(), "GET", "/v1/settings", nil, renderSettings)
		},
	}
	var maxPolicies int
	var defDuration, pendingExpiry string
	var accounts []string
	set := &cobra.Command{
		Use:   "set [--max-policies N] [--default-duration 4h] [--pending-expiry 24h] [--system-account EMAIL]...",
		Short: "Change settings; only the flags given are changed",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			patch := map[string]any{}
			f := cmd.Flags()
			if f.Changed("max-policies") {
				patch["maxPolicies"] = maxPolicies
			}
			for flag, field := range map[string]string{"default-duration": "defaultDurationHours", "pending-expiry": "pendingExpiryHours", "schedule-ahead": "maxScheduleAheadHours"} {
				if f.Changed(flag) {
					v, _ := f.GetString(flag)
					h, err := ParseHours(v)
					if err != nil {
						return usagef("--%s: %s", flag, err)
					}
					patch[field] = h
				}
			}
			if f.Changed("system-account") {
				patch["systemAccounts"] = nonNilStrings(accounts)
			}
			if len(patch) == 0 {
				return usagef("settings set needs at least one setting to change")
			}
			return a.patchSettings(cmd.Context(), patch)
		},
	}
	set.Flags().IntVar(&maxPolicies, "max-policies", 0, "maximum number of policies")
	set.Flags().StringVar(&defDuration, "default-duration", "", "default request duration")
	set.Flags().StringVar(&pendingExpiry, "pending-expiry", "", "how long a request may stay pending")
	set.Flags().String("schedule-ahead", "", "how far ahead a request's --start may be, e.g. 336h (14 days)")
	set.Flags().StringArrayVar(&accounts, "system-account", nil, "principal excluded from the gate (repeatable; replaces the list)")
	return parent("settings", "Show or change the organisation's settings", get, set)
}

func (a *app) lockboxCmd() *cobra.Command {
	var group, maxDur string
	enable := &cobra.Command{
		Use:   "enable --approver-group GROUP [--max-duration 4h]",
		Short: "Turn Customer Lockbox on",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "approver-group"); err != nil {
				return err
			}
			lb := map[string]any{"enabled": true, "approverGroup": group}
			if cmd.Flags().Changed("max-duration") {
				h, err := ParseHours(maxDur)
				if err != nil {
					return err
				}
				lb["maxDurationHours"] = h
			}
			return a.patchSettings(cmd.Context(), map[string]any{"lockbox": lb})
		},
	}
	enable.Flags().StringVar(&group, "approver-group", "", "Lockbox approver group (must exist)")
	enable.Flags().StringVar(&maxDur, "max-duration", "", "longest Lockbox grant (at most 4h)")
	disable := &cobra.Command{
		Use:   "disable",
		Short: "Turn Customer Lockbox off",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.patchSettings(cmd.Context(), map[string]any{"lockbox": map[string]any{"enabled": false}})
		},
	}
	return parent("lockbox", "Turn Customer Lockbox on or off", enable, disable)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ---- groups -----------------------------------------------------------------

func renderGroup(w io.Writer, raw json.RawMessage) error {
	g, err := decodeAs[elevate.Group](raw)
	if err != nil {
		return err
	}
	tw := newTable(w)
	row(tw, "Name", g.Name)
	row(tw, "Description", g.Description)
	row(tw, "Members", strings.Join(g.Members, ", "))
	row(tw, "Updated", ts(g.UpdatedAt))
	return tw.Flush()
}

func renderGroups(w io.Writer, items []json.RawMessage) error {
	tw := newTable(w)
	row(tw, "NAME", "MEMBERS", "DESCRIPTION")
	for _, it := range items {
		g, err := decodeAs[elevate.Group](it)
		if err != nil {
			return err
		}
		row(tw, g.Name, strings.Join(g.Members, ","), g.Description)
	}
	return tw.Flush()
}

func (a *app) groupCmd() *cobra.Command {
	var members []string
	var desc string
	newCmd := &cobra.Command{
		Use:   "new NAME [--member EMAIL]... [--description TEXT]",
		Short: "Create an approver group",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"name": args[0], "description": desc, "members": nonNilStrings(members)}
			return a.call(cmd.Context(), "POST", "/v1/groups", body, renderGroup)
		},
	}
	newCmd.Flags().StringArrayVar(&members, "member", nil, "member email (repeatable)")
	newCmd.Flags().StringVar(&desc, "description", "", "what the group is for")

	member := func(use, short, method string) *cobra.Command {
		return &cobra.Command{
			Use: use + " NAME PRINCIPAL", Short: short, Args: exactArgs("NAME", "PRINCIPAL"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.call(cmd.Context(), method, "/v1/groups/"+seg(args[0])+"/members/"+seg(args[1]), nil, renderGroup)
			},
		}
	}
	list := &cobra.Command{
		Use: "list", Short: "List approver groups", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.list(cmd.Context(), "/v1/groups", nil, true, "", renderGroups)
		},
	}
	get := &cobra.Command{
		Use: "get NAME", Short: "Show an approver group", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), "GET", "/v1/groups/"+seg(args[0]), nil, renderGroup)
		},
	}
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete an approver group no policy or setting uses", Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), "DELETE", "/v1/groups/"+seg(args[0]), nil, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "deleted group %s\n", cell(args[0]))
				return err
			})
		},
	}
	return parent("group", "Manage approver groups", newCmd,
		member("add", "Add a member to a group", "PUT"),
		member("remove", "Remove a member from a group", "DELETE"),
		list, get, del)
}

// ---- policies -----------------------------------------------------------------

func renderPolicy(w io.Writer, raw json.RawMessage) error {
	p, err := decodeAs[elevate.Policy](raw)
	if err != nil {
		return err
	}
	tw := newTable(w)
	row(tw, "ID", p.ID)
	row(tw, "Target", targetString(p.Type, p.Scope, p.Name))
	row(tw, "Approval", string(p.ApprovalType))
	row(tw, "Approver group", orDefault(p.ApproverGroup, "(default group)"))
	row(tw, "Max duration", orDefault(FormatHours(p.MaxDurationHours), "-"))
	row(tw, "Required approvals", strconv.Itoa(p.RequiredApprovals))
	row(tw, "Ticket required", yesNo(p.TicketRequired))
	row(tw, "Ticket pattern", p.TicketPattern)
	row(tw, "Updated", ts(p.UpdatedAt)+" by "+orDefault(p.UpdatedBy, "?"))
	return tw.Flush()
}

func renderPolicies(w io.Writer, items []json.RawMessage) error {
	tw := newTable(w)
	row(tw, "ID", "TARGET", "APPROVAL", "APPROVERS", "MAX", "REQUIRED")
	for _, it := range items {
		p, err := decodeAs[elevate.Policy](it)
		if err != nil {
			return err
		}
		row(tw, p.ID, targetString(p.Type, p.Scope, p.Name), string(p.ApprovalType),
			orDefault(p.ApproverGroup, "(default)"), FormatHours(p.MaxDurationHours), strconv.Itoa(p.RequiredApprovals))
	}
	return tw.Flush()
}

// policyID accepts a policy ID, or a target (Scope\Name, type from
// --type) whose key is the ID, so `policy remove 'Exchange\New-MoveRequest'`
// works as the cmdlets do.
func policyID(arg, typ string) (string, error) {
	if !strings.ContainsAny(arg, `\/`) {
		return arg, nil
	}
	rt, err := elevate.ParseRequestType(typ)
	if err != nil {
		return "", usagef("--type must be one of Task, Role, RoleGroup")
	}
	t, err := ParseTarget(rt, arg)
	if err != nil {
		return "", err
	}
	return t.Key(), nil
}

func (a *app) policyCmd() *cobra.Command {
	var tf targetFlags
	var approval, group, maxDur, ticketPattern string
	var required int
	var ticketRequired bool
	var bg breakGlassFlags
	var awsFlags awsBindingFlags
	newCmd := &cobra.Command{
		Use:   `new --task 'Scope\Name' --approval Manual|Auto [--approver-group G] [--max-duration 8h] [--required-approvals N] [--ticket-required] [--ticket-pattern RE] [--break-glass [--break-glass-max 1h] [--ratify-within 24h]]`,
		Short: "Create an approval policy (New-ElevatedAccessApprovalPolicy)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := tf.target(false)
			if err != nil {
				return err
			}
			if err := requireFlags(cmd, "approval"); err != nil {
				return err
			}
			var at string
			switch {
			case strings.EqualFold(approval, "manual"):
				at = "Manual"
			case strings.EqualFold(approval, "auto"):
				at = "Auto"
			default:
				return usagef("--approval must be Manual or Auto")
			}
			body := map[string]any{"type": t.Type, "scope": t.Scope, "name": t.Name, "approvalType": at}
			f := cmd.Flags()
			if f.Changed("approver-group") {
				body["approverGroup"] = group
			}
			if f.Changed("max-duration") {
				h, err := ParseHours(maxDur)
				if err != nil {
					return err
				}
				body["maxDurationHours"] = h
			}
			if f.Changed("required-approvals") {
				if required < 1 {
					return usagef("--required-approvals must be at least 1")
				}
				body["requiredApprovals"] = required
			}
			if f.Changed("ticket-required") {
				body["ticketRequired"] = ticketRequired
			}
			if f.Changed("ticket-pattern") {
				body["ticketPattern"] = ticketPattern
			}
			if err := bg.addTo(cmd, body); err != nil {
				return err
			}
			if err := awsFlags.addTo(cmd, body, os.ReadFile); err != nil {
				return err
			}
			return a.call(cmd.Context(), "POST", "/v1/policies", body, renderPolicy)
		},
	}
	nf := newCmd.Flags()
	nf.StringVar(&tf.task, "task", "", `task target, Scope\Name (e.g. 'Exchange\New-MoveRequest')`)
	nf.StringVar(&tf.role, "role", "", `role target, Scope\Name`)
	nf.StringVar(&tf.roleGroup, "role-group", "", `role group target, Scope\Name`)
	nf.StringVar(&approval, "approval", "", "Manual or Auto")
	nf.StringVar(&group, "approver-group", "", "approver group (default: the settings' default group)")
	nf.StringVar(&maxDur, "max-duration", "", "longest grant, e.g. 8h or 30m")
	nf.IntVar(&required, "required-approvals", 0, "approvals needed (N of M)")
	nf.BoolVar(&ticketRequired, "ticket-required", false, "requests must carry a ticket reference")
	nf.StringVar(&ticketPattern, "ticket-pattern", "", "RE2 pattern the whole ticket must match, e.g. 'CHG-[0-9]+'")
	bg.register(newCmd)
	awsFlags.register(newCmd)

	list := &cobra.Command{
		Use: "list", Short: "List approval policies", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.list(cmd.Context(), "/v1/policies", nil, true, "", renderPolicies)
		},
	}
	var getType, rmType string
	get := &cobra.Command{
		Use: `get ID|'Scope\Name'`, Short: "Show an approval policy", Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := policyID(args[0], getType)
			if err != nil {
				return err
			}
			return a.call(cmd.Context(), "GET", "/v1/policies/"+seg(id), nil, renderPolicy)
		},
	}
	get.Flags().StringVar(&getType, "type", "Task", "target type when a Scope\\Name is given")
	remove := &cobra.Command{
		Use: `remove ID|'Scope\Name'`, Aliases: []string{"delete"}, Short: "Remove an approval policy (Remove-ElevatedAccessApprovalPolicy)", Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := policyID(args[0], rmType)
			if err != nil {
				return err
			}
			return a.call(cmd.Context(), "DELETE", "/v1/policies/"+seg(id), nil, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "removed policy %s\n", cell(id))
				return err
			})
		},
	}
	remove.Flags().StringVar(&rmType, "type", "Task", "target type when a Scope\\Name is given")
	return parent("policy", "Manage approval policies", newCmd, list, get, remove)
}
