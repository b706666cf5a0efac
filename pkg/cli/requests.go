package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// maxPages bounds --all, so a server that keeps returning a next token
// cannot keep the CLI looping.
const maxPages = 1000

// list fetches a collection. With all, it follows next tokens; otherwise it
// prints one page and says on stderr how to get the rest.
func (a *app) list(ctx context.Context, path string, q url.Values, all bool, next string, render func(io.Writer, []json.RawMessage) error) error {
	format, err := a.format("table", "table", "json")
	if err != nil {
		return err
	}
	c, err := a.client(ctx, true)
	if err != nil {
		return err
	}
	if q == nil {
		q = url.Values{}
	}
	var items []json.RawMessage
	for page := 0; ; page++ {
		if page == maxPages {
			return fmt.Errorf("gave up after %d pages", maxPages)
		}
		if next != "" {
			q.Set("next", next)
		}
		var p Page[json.RawMessage]
		if err := c.Do(ctx, "GET", path, q, nil, &p); err != nil {
			return err
		}
		items = append(items, p.Items...)
		if p.Next == "" || p.Next == next {
			next = ""
			break
		}
		next = p.Next
		if !all {
			break
		}
	}
	if format == "json" {
		err = writeJSONArray(a.env.Stdout, items)
	} else {
		err = render(a.env.Stdout, items)
	}
	if err == nil && next != "" {
		fmt.Fprintf(a.env.Stderr, "more results: add --all, or --next %s\n", next)
	}
	return err
}

func renderRequest(w io.Writer, raw json.RawMessage) error {
	r, err := decodeAs[elevate.Request](raw)
	if err != nil {
		return err
	}
	tw := newTable(w)
	row(tw, "ID", r.ID)
	row(tw, "Target", targetString(r.Type, r.Scope, r.Name))
	row(tw, "Status", string(r.Status))
	row(tw, "Active", yesNo(r.Active))
	row(tw, "Requester", r.Requester)
	row(tw, "Reason", r.Reason)
	row(tw, "Duration", FormatHours(r.DurationHours))
	row(tw, "Approval", fmt.Sprintf("%s, %d from %s", r.ApprovalType, r.RequiredApprovals, orDefault(r.ApproverGroup, "?")))
	row(tw, "Created", ts(r.CreatedAt))
	row(tw, "Expires", ts(r.ExpiresAt))
	if r.GrantExpiresAt != nil {
		row(tw, "Grant expires", ts(*r.GrantExpiresAt))
	}
	scheduleRows(tw, r)
	if r.BreakGlass {
		row(tw, "Break-glass", string(r.Ratification))
		if r.RatifyBy != nil {
			row(tw, "Ratify by", ts(*r.RatifyBy))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Decisions) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	row(tw, "DECISION", "BY", "AT", "COMMENT")
	for _, d := range r.Decisions {
		by := d.By
		if d.OnBehalfOf != "" {
			by += " for " + d.OnBehalfOf
		}
		row(tw, string(d.Decision), by, ts(d.At), d.Comment)
	}
	return tw.Flush()
}

func renderRequests(w io.Writer, items []json.RawMessage) error {
	tw := newTable(w)
	row(tw, "ID", "STATUS", "TARGET", "REQUESTER", "DURATION", "EXPIRES", "TICKET")
	for _, it := range items {
		r, err := decodeAs[elevate.Request](it)
		if err != nil {
			return err
		}
		row(tw, r.ID, string(r.Status), targetString(r.Type, r.Scope, r.Name), r.Requester, FormatHours(r.DurationHours), ts(r.ExpiresAt), r.Ticket)
	}
	return tw.Flush()
}

func addTargetFlags(c *cobra.Command, tf *targetFlags) {
	f := c.Flags()
	f.StringVar(&tf.task, "task", "", `task target, Scope\Name (e.g. 'Exchange\New-MoveRequest')`)
	f.StringVar(&tf.role, "role", "", `role target, Scope\Name`)
	f.StringVar(&tf.roleGroup, "role-group", "", `role group target, Scope\Name`)
}

func (a *app) requestCmd() *cobra.Command {
	var tf targetFlags
	var reason, duration, start, ticket string
	var lockbox, breakGlass bool
	newCmd := &cobra.Command{
		Use:   `new --task 'Scope\Name' --reason TEXT [--duration 4h] [--start RFC3339|+2h] [--ticket ID] [--lockbox] [--break-glass]`,
		Short: "Request a privileged task for a bounded time (New-ElevatedAccessRequest)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := tf.target(lockbox)
			if err != nil {
				return err
			}
			if strings.TrimSpace(reason) == "" {
				return usagef("request new needs --reason")
			}
			body := map[string]any{"type": t.Type, "scope": t.Scope, "name": t.Name, "reason": reason}
			if breakGlass {
				body["breakGlass"] = true
			}
			if cmd.Flags().Changed("duration") {
				h, err := ParseHours(duration)
				if err != nil {
					return err
				}
				body["durationHours"] = h
			}
			if cmd.Flags().Changed("start") {
				at, err := ParseStart(start, time.Now())
				if err != nil {
					return err
				}
				body["startAt"] = at
			}
			if cmd.Flags().Changed("ticket") {
				body["ticket"] = ticket
			}
			return a.call(cmd.Context(), "POST", "/v1/requests", body, renderRequest)
		},
	}
	addTargetFlags(newCmd, &tf)
	newCmd.Flags().StringVar(&reason, "reason", "", "why you need it (shown to approvers)")
	newCmd.Flags().StringVar(&duration, "duration", "", "how long, e.g. 4h, 30m, 1h30m (default: the settings' default)")
	newCmd.Flags().BoolVar(&lockbox, "lockbox", false, "a Customer Lockbox request (target from --task)")
	newCmd.Flags().StringVar(&start, "start", "", "scheduled start: RFC 3339 time or +DURATION from now (default: at approval)")
	newCmd.Flags().StringVar(&ticket, "ticket", "", "change or incident ticket reference (some policies require one)")
	newCmd.Flags().BoolVar(&breakGlass, "break-glass", false, "emergency self-approval where the policy allows it; approvers and admins are alerted and must ratify (reason of 20+ characters)")

	get := &cobra.Command{
		Use: "get ID", Short: "Show a request (Get-ElevatedAccessRequest)", Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(cmd.Context(), "GET", "/v1/requests/"+seg(args[0]), nil, renderRequest)
		},
	}

	var status, typ, requester, next, ticketFilter string
	var limit int
	var all bool
	var blf breakGlassListFlags
	list := &cobra.Command{
		Use:   "list [--status S] [--type Lockbox] [--requester EMAIL] [--all]",
		Short: "List requests you can see (Get-ElevatedAccessRequest)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			if status != "" {
				st, err := parseStatus(status)
				if err != nil {
					return err
				}
				q.Set("status", string(st))
			}
			if typ != "" {
				rt, err := elevate.ParseRequestType(typ)
				if err != nil {
					return usagef("--type must be one of Task, Role, RoleGroup, Lockbox")
				}
				q.Set("type", string(rt))
			}
			if requester != "" {
				q.Set("requester", requester)
			}
			if ticketFilter != "" {
				q.Set("ticket", ticketFilter)
			}
			if cmd.Flags().Changed("limit") {
				if limit < 1 || limit > 100 {
					return usagef("--limit must be from 1 to 100")
				}
				q.Set("limit", strconv.Itoa(limit))
			}
			if all && next != "" {
				return usagef("--all and --next cannot be combined")
			}
			if err := blf.addTo(cmd, q); err != nil {
				return err
			}
			return a.list(cmd.Context(), "/v1/requests", q, all, next, renderRequests)
		},
	}
	lf := list.Flags()
	lf.StringVar(&status, "status", "", "Pending|Approved|Denied|Revoked|Cancelled|Expired")
	lf.StringVar(&typ, "type", "", "Task|Role|RoleGroup|Lockbox")
	lf.StringVar(&requester, "requester", "", "only this requester's requests")
	lf.IntVar(&limit, "limit", 0, "page size, 1-100")
	lf.BoolVar(&all, "all", false, "follow every page")
	lf.StringVar(&next, "next", "", "continue from this page token")
	lf.StringVar(&ticketFilter, "ticket", "", "only requests with this ticket reference")
	blf.register(list)

	return parent("request", "Request privileged access and view requests", newCmd, get, list, a.extendCmd())
}

// parseStatus accepts any case, as cmdlet users type it.
func parseStatus(s string) (elevate.Status, error) {
	for _, st := range []elevate.Status{elevate.StatusPending, elevate.StatusApproved, elevate.StatusDenied, elevate.StatusRevoked, elevate.StatusCancelled, elevate.StatusExpired} {
		if strings.EqualFold(s, string(st)) {
			return st, nil
		}
	}
	return "", usagef("--status must be one of Pending, Approved, Denied, Revoked, Cancelled, Expired")
}

func (a *app) decisionCmd(verb, short string) *cobra.Command {
	var comment string
	c := &cobra.Command{
		Use:   verb + " ID [--comment TEXT]",
		Short: short,
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body any
			if cmd.Flags().Changed("comment") {
				body = map[string]string{"comment": comment}
			}
			return a.call(cmd.Context(), "POST", "/v1/requests/"+seg(args[0])+"/"+verb, body, renderRequest)
		},
	}
	c.Flags().StringVarP(&comment, "comment", "m", "", "comment recorded with the decision")
	return c
}

// authzAnswer is the body of POST /v1/authorize.
type authzAnswer struct {
	Allowed   bool   `json:"allowed"`
	Reason    string `json:"reason"`
	RequestID string `json:"requestId,omitempty"`
	ExpiresAt string `json:"expiresAt,omitempty"`
	// ActiveFrom comes with reason not-yet-active (a scheduled grant).
	ActiveFrom string `json:"activeFrom,omitempty"`
}

func (a *app) authorizeCmd() *cobra.Command {
	var tf targetFlags
	var principal string
	var lockbox bool
	c := &cobra.Command{
		Use:   `authorize --task 'Scope\Name' [--principal EMAIL]`,
		Short: "Ask whether a principal may perform a target now (exit 0 allowed, 5 denied)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := tf.target(lockbox)
			if err != nil {
				return err
			}
			format, err := a.format("table", "table", "json")
			if err != nil {
				return err
			}
			cl, err := a.client(cmd.Context(), true)
			if err != nil {
				return err
			}
			body := map[string]any{"type": t.Type, "scope": t.Scope, "name": t.Name}
			if principal != "" {
				body["principal"] = principal
			}
			var raw json.RawMessage
			if err := cl.Do(cmd.Context(), "POST", "/v1/authorize", nil, body, &raw); err != nil {
				return err
			}
			ans, err := decodeAs[authzAnswer](raw)
			if err != nil {
				return err
			}
			if format == "json" {
				err = writeJSON(a.env.Stdout, raw)
			} else {
				err = renderAuthz(a.env.Stdout, ans)
			}
			if err != nil {
				return err
			}
			if !ans.Allowed {
				return ErrDenied
			}
			return nil
		},
	}
	addTargetFlags(c, &tf)
	c.Flags().StringVar(&principal, "principal", "", "ask about this principal (admins and elevate-authorizers only); default: you")
	c.Flags().BoolVar(&lockbox, "lockbox", false, "ask about a Customer Lockbox target (from --task)")
	return c
}

func renderAuthz(w io.Writer, ans authzAnswer) error {
	verdict := "denied"
	if ans.Allowed {
		verdict = "allowed"
	}
	line := verdict + " (" + cell(ans.Reason) + ")"
	if ans.RequestID != "" {
		line += " by request " + cell(ans.RequestID)
	}
	if ans.ActiveFrom != "" {
		line += " from " + apiTime(ans.ActiveFrom)
	}
	if ans.ExpiresAt != "" {
		line += " until " + apiTime(ans.ExpiresAt)
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// apiTime shows an RFC 3339 time from the API the way tables show times.
func apiTime(v string) string {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return ts(t)
	}
	return cell(v)
}
