package dynamo

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Attribute names used in expressions.
const (
	attrKind       = "kind"
	attrVersion    = "version"
	attrStatus     = "status"
	attrExpiresMs  = "expiresEpochMs"
	attrApprovedBy = "approvedBy"
	attrRequestID  = "requestId"
	attrRefs       = "refs"
	attrMembers    = "members"
	attrGen        = "gen"
	attrCount      = "count"
	attrUpdatedAt  = "updatedAt"
	attrRequester  = "requester"
	attrGroup      = "approverGroup"
	attrType       = "type"
	attrTicket     = "ticket"
)

type settingsItem struct {
	PK                   string      `dynamodbav:"PK"`
	SK                   string      `dynamodbav:"SK"`
	Kind                 string      `dynamodbav:"kind"`
	Enabled              bool        `dynamodbav:"enabled"`
	DefaultApproverGroup string      `dynamodbav:"defaultApproverGroup"`
	SystemAccounts       []string    `dynamodbav:"systemAccounts"`
	MaxPolicies          int         `dynamodbav:"maxPolicies"`
	DefaultDurationHours float64     `dynamodbav:"defaultDurationHours"`
	PendingExpiryHours   float64     `dynamodbav:"pendingExpiryHours"`
	Lockbox              lockboxItem `dynamodbav:"lockbox"`
	// Absent on items written before scheduled start: read as the default.
	MaxScheduleAheadHours float64 `dynamodbav:"maxScheduleAheadHours,omitempty"`
	UpdatedAt             string  `dynamodbav:"updatedAt,omitempty"`
	UpdatedBy             string  `dynamodbav:"updatedBy,omitempty"`
	Version               int     `dynamodbav:"version"`
	ChangeID              string  `dynamodbav:"changeId,omitempty"`
}

type lockboxItem struct {
	Enabled          bool    `dynamodbav:"enabled"`
	ApproverGroup    string  `dynamodbav:"approverGroup"`
	MaxDurationHours float64 `dynamodbav:"maxDurationHours"`
}

func toSettingsItem(s elevate.Settings) settingsItem {
	k := settingsKey()
	it := settingsItem{
		PK: k.pk, SK: k.sk, Kind: KindSettings,
		Enabled: s.Enabled, DefaultApproverGroup: s.DefaultApproverGroup,
		SystemAccounts: append([]string{}, s.SystemAccounts...), MaxPolicies: s.MaxPolicies,
		DefaultDurationHours: s.DefaultDurationHours, PendingExpiryHours: s.PendingExpiryHours,
		Lockbox:   lockboxItem{Enabled: s.Lockbox.Enabled, ApproverGroup: s.Lockbox.ApproverGroup, MaxDurationHours: s.Lockbox.MaxDurationHours},
		UpdatedBy: s.UpdatedBy, Version: s.Version,
		MaxScheduleAheadHours: s.MaxScheduleAheadHours,
	}
	if !s.UpdatedAt.IsZero() {
		it.UpdatedAt = formatTime(s.UpdatedAt)
	}
	return it
}

func (it settingsItem) domain() (elevate.Settings, error) {
	s := elevate.Settings{
		Enabled: it.Enabled, DefaultApproverGroup: it.DefaultApproverGroup,
		SystemAccounts: append([]string{}, it.SystemAccounts...), MaxPolicies: it.MaxPolicies,
		DefaultDurationHours: it.DefaultDurationHours, PendingExpiryHours: it.PendingExpiryHours,
		Lockbox:   elevate.LockboxSettings{Enabled: it.Lockbox.Enabled, ApproverGroup: it.Lockbox.ApproverGroup, MaxDurationHours: it.Lockbox.MaxDurationHours},
		UpdatedBy: it.UpdatedBy, Version: it.Version,
		MaxScheduleAheadHours: it.MaxScheduleAheadHours,
	}
	if s.MaxScheduleAheadHours == 0 {
		s.MaxScheduleAheadHours = elevate.DefaultMaxScheduleAheadHours
	}
	if it.UpdatedAt != "" {
		t, err := parseTime(it.UpdatedAt)
		if err != nil {
			return s, fmt.Errorf("settings updatedAt: %w", err)
		}
		s.UpdatedAt = t
	}
	return s, nil
}

type groupItem struct {
	PK          string   `dynamodbav:"PK"`
	SK          string   `dynamodbav:"SK"`
	Kind        string   `dynamodbav:"kind"`
	Name        string   `dynamodbav:"name"`
	Description string   `dynamodbav:"description"`
	Members     []string `dynamodbav:"members,stringset,omitempty"`
	CreatedAt   string   `dynamodbav:"createdAt"`
	UpdatedAt   string   `dynamodbav:"updatedAt"`
	UpdatedBy   string   `dynamodbav:"updatedBy,omitempty"`
	Refs        int      `dynamodbav:"refs"`
	ChangeID    string   `dynamodbav:"changeId,omitempty"`
	// Gen is the incarnation whose member items mirror Members; absent on a
	// group written before member items existed (approvers.go).
	Gen string `dynamodbav:"gen,omitempty"`
}

func toGroupItem(g elevate.Group) groupItem {
	k := groupKey(g.Name)
	return groupItem{PK: k.pk, SK: k.sk, Kind: KindGroup, Name: g.Name, Description: g.Description,
		Members: g.Members, CreatedAt: formatTime(g.CreatedAt), UpdatedAt: formatTime(g.UpdatedAt), UpdatedBy: g.UpdatedBy, Gen: g.Generation}
}

func (it groupItem) domain() (elevate.Group, error) {
	created, err1 := parseTime(it.CreatedAt)
	updated, err2 := parseTime(it.UpdatedAt)
	if err1 != nil || err2 != nil {
		return elevate.Group{}, fmt.Errorf("group %q: bad timestamps", it.Name)
	}
	members := append([]string{}, it.Members...)
	slices.Sort(members) // sets come back in no particular order
	return elevate.Group{Name: it.Name, Description: it.Description, Members: members, CreatedAt: created, UpdatedAt: updated, UpdatedBy: it.UpdatedBy, Generation: it.Gen}, nil
}

type policyItem struct {
	PK                string  `dynamodbav:"PK"`
	SK                string  `dynamodbav:"SK"`
	Kind              string  `dynamodbav:"kind"`
	ID                string  `dynamodbav:"id"`
	Type              string  `dynamodbav:"type"`
	Scope             string  `dynamodbav:"scope"`
	Name              string  `dynamodbav:"name"`
	ApprovalType      string  `dynamodbav:"approvalType"`
	ApproverGroup     string  `dynamodbav:"approverGroup"`
	MaxDurationHours  float64 `dynamodbav:"maxDurationHours"`
	RequiredApprovals int     `dynamodbav:"requiredApprovals"`
	CreatedAt         string  `dynamodbav:"createdAt"`
	UpdatedAt         string  `dynamodbav:"updatedAt"`
	CreatedBy         string  `dynamodbav:"createdBy,omitempty"`
	UpdatedBy         string  `dynamodbav:"updatedBy,omitempty"`
	ChangeID          string  `dynamodbav:"changeId,omitempty"`
	// Ticket references (F15).
	TicketRequired bool   `dynamodbav:"ticketRequired,omitempty"`
	TicketPattern  string `dynamodbav:"ticketPattern,omitempty"`

	BreakGlass *breakGlassItem `dynamodbav:"breakGlass,omitempty"`

	AWS            *awsBindingItem `dynamodbav:"aws,omitempty"`
	IdentityCenter *bindingItem    `dynamodbav:"identityCenter,omitempty"`
}

func toPolicyItem(p elevate.Policy) policyItem {
	k := policyKey(p.ID)
	return policyItem{PK: k.pk, SK: k.sk, Kind: KindPolicy, ID: p.ID, Type: string(p.Type), Scope: p.Scope, Name: p.Name,
		ApprovalType: string(p.ApprovalType), ApproverGroup: p.ApproverGroup, MaxDurationHours: p.MaxDurationHours,
		RequiredApprovals: p.RequiredApprovals, CreatedAt: formatTime(p.CreatedAt), UpdatedAt: formatTime(p.UpdatedAt),
		CreatedBy: p.CreatedBy, UpdatedBy: p.UpdatedBy,
		TicketRequired: p.TicketRequired, TicketPattern: p.TicketPattern, BreakGlass: toBreakGlassItem(p.BreakGlass),
		AWS:            toAWSBindingItem(p.AWS),
		IdentityCenter: toBindingItem(p.IdentityCenter)}
}

func (it policyItem) domain() (elevate.Policy, error) {
	created, err1 := parseTime(it.CreatedAt)
	updated, err2 := parseTime(it.UpdatedAt)
	if err1 != nil || err2 != nil {
		return elevate.Policy{}, fmt.Errorf("policy %q: bad timestamps", it.ID)
	}
	return elevate.Policy{ID: it.ID, Type: elevate.RequestType(it.Type), Scope: it.Scope, Name: it.Name,
		ApprovalType: elevate.ApprovalType(it.ApprovalType), ApproverGroup: it.ApproverGroup,
		MaxDurationHours: it.MaxDurationHours, RequiredApprovals: it.RequiredApprovals,
		CreatedAt: created, UpdatedAt: updated, CreatedBy: it.CreatedBy, UpdatedBy: it.UpdatedBy,
		TicketRequired: it.TicketRequired, TicketPattern: it.TicketPattern, BreakGlass: it.BreakGlass.domain(),
		AWS:            it.AWS.domain(),
		IdentityCenter: it.IdentityCenter.domain()}, nil
}

type decisionItem struct {
	By       string `dynamodbav:"by"`
	Decision string `dynamodbav:"decision"`
	Comment  string `dynamodbav:"comment"`
	At       string `dynamodbav:"at"`
	As       string `dynamodbav:"as,omitempty"`

	OnBehalfOf string `dynamodbav:"onBehalfOf,omitempty"`
	Via        string `dynamodbav:"via,omitempty"`
}

type requestItem struct {
	PK                string         `dynamodbav:"PK"`
	SK                string         `dynamodbav:"SK"`
	Kind              string         `dynamodbav:"kind"`
	GSI1PK            string         `dynamodbav:"GSI1PK"`
	GSI1SK            string         `dynamodbav:"GSI1SK"`
	GSI2PK            string         `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK            string         `dynamodbav:"GSI2SK,omitempty"`
	GSI3PK            string         `dynamodbav:"GSI3PK"`
	GSI3SK            string         `dynamodbav:"GSI3SK"`
	GSI4PK            string         `dynamodbav:"GSI4PK,omitempty"`
	GSI4SK            string         `dynamodbav:"GSI4SK,omitempty"`
	ID                string         `dynamodbav:"id"`
	Type              string         `dynamodbav:"type"`
	Scope             string         `dynamodbav:"scope"`
	Name              string         `dynamodbav:"name"`
	Requester         string         `dynamodbav:"requester"`
	Reason            string         `dynamodbav:"reason"`
	DurationHours     float64        `dynamodbav:"durationHours"`
	Status            string         `dynamodbav:"status"`
	ApprovalType      string         `dynamodbav:"approvalType"`
	ApproverGroup     string         `dynamodbav:"approverGroup"`
	RequiredApprovals int            `dynamodbav:"requiredApprovals"`
	Decisions         []decisionItem `dynamodbav:"decisions"`
	ApprovedBy        []string       `dynamodbav:"approvedBy,stringset,omitempty"`
	CreatedAt         string         `dynamodbav:"createdAt"`
	ExpiresAt         string         `dynamodbav:"expiresAt"`
	ExpiresEpochMs    int64          `dynamodbav:"expiresEpochMs"`
	GrantExpiresAt    string         `dynamodbav:"grantExpiresAt,omitempty"`
	Version           int            `dynamodbav:"version"`
	CountedBy         []string       `dynamodbav:"countedBy,omitempty"`
	UpdatedBy         string         `dynamodbav:"updatedBy,omitempty"`
	ChangeID          string         `dynamodbav:"changeId,omitempty"`
	// Scheduled start, ticket references and extensions (F13-F15).
	StartAt          string   `dynamodbav:"startAt,omitempty"`
	GrantStartsAt    string   `dynamodbav:"grantStartsAt,omitempty"`
	Ticket           string   `dynamodbav:"ticket,omitempty"`
	WindowStart      string   `dynamodbav:"windowStart,omitempty"`
	WindowEnd        string   `dynamodbav:"windowEnd,omitempty"`
	NotAfter         string   `dynamodbav:"notAfter,omitempty"`
	Extends          string   `dynamodbav:"extends,omitempty"`
	Extensions       []string `dynamodbav:"extensions,omitempty"`
	PendingExtension string   `dynamodbav:"pendingExtension,omitempty"`
	// SlotLog is every state Elevate gave the request's grant slot (see
	// slotlog.go): the audit consumer holds slot changes to it.
	SlotLog []string `dynamodbav:"slotLog,omitempty"`

	breakGlassFields

	IdentityCenter *icGrantItem `dynamodbav:"identityCenter,omitempty"`
}

func toRequestItem(r elevate.Request) requestItem {
	k := requestKey(r.ID)
	sk := requestSortKey(r)
	it := requestItem{PK: k.pk, SK: k.sk, Kind: KindRequest,
		GSI1PK: requesterPartition(r.Requester), GSI1SK: sk, GSI3PK: pkRequests, GSI3SK: sk,
		ID: r.ID, Type: string(r.Type), Scope: r.Scope, Name: r.Name, Requester: r.Requester, Reason: r.Reason,
		DurationHours: r.DurationHours, Status: string(r.Status), ApprovalType: string(r.ApprovalType),
		ApproverGroup: r.ApproverGroup, RequiredApprovals: r.RequiredApprovals, Decisions: []decisionItem{},
		CreatedAt: formatTime(r.CreatedAt), ExpiresAt: formatTime(r.ExpiresAt), ExpiresEpochMs: epochMs(r.ExpiresAt),
		Version: r.Version, CountedBy: r.CountedBy, UpdatedBy: r.LastActor(), ChangeID: requestChangeID(r.ID, r.Version)}
	if r.ApproverGroup != "" {
		it.GSI2PK, it.GSI2SK = approversPartition(r.ApproverGroup), sk
	}
	it.GSI4PK, it.GSI4SK = pendingIndexKeys(r)
	for _, d := range r.Decisions {
		it.Decisions = append(it.Decisions, decisionItem{By: d.By, Decision: string(d.Decision), Comment: d.Comment, At: formatTime(d.At), As: d.As,
			OnBehalfOf: d.OnBehalfOf, Via: d.Via})
		if d.Decision != elevate.DecisionApprove {
			continue
		}
		// A delegate's approval counts for the member they stand in for:
		// both names are taken, so neither can approve again.
		for _, p := range []string{d.By, d.OnBehalfOf} {
			if p != "" && !slices.Contains(it.ApprovedBy, p) {
				it.ApprovedBy = append(it.ApprovedBy, p)
			}
		}
	}
	it.breakGlassFields = toBreakGlassFields(r)
	if r.GrantExpiresAt != nil {
		it.GrantExpiresAt = formatTime(*r.GrantExpiresAt)
	}
	it.StartAt, it.GrantStartsAt, it.NotAfter = formatOptional(r.StartAt), formatOptional(r.GrantStartsAt), formatOptional(r.NotAfter)
	if w := r.ChangeWindow; w != nil {
		it.WindowStart, it.WindowEnd = formatOptional(w.Start), formatOptional(w.End)
	}
	it.Ticket, it.Extends, it.PendingExtension = r.Ticket, r.Extends, r.PendingExtension
	it.Extensions = append([]string(nil), r.Extensions...)
	it.SlotLog = withSlotLog(r)
	it.IdentityCenter = toICGrantItem(r.IdentityCenter)
	return it
}

func formatOptional(t *time.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(*t)
}

func parseOptional(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := parseTime(s)
	return &t, err
}

func (it requestItem) domain() (elevate.Request, error) {
	bad := func(field string) error { return fmt.Errorf("request %q: bad %s", it.ID, field) }
	r := elevate.Request{ID: it.ID, Type: elevate.RequestType(it.Type), Scope: it.Scope, Name: it.Name,
		Requester: it.Requester, Reason: it.Reason, DurationHours: it.DurationHours, Status: elevate.Status(it.Status),
		ApprovalType: elevate.ApprovalType(it.ApprovalType), ApproverGroup: it.ApproverGroup,
		RequiredApprovals: it.RequiredApprovals, Decisions: make([]elevate.Decision, 0, len(it.Decisions)), Version: it.Version,
		CountedBy: it.CountedBy, SlotLog: it.SlotLog}
	var err error
	if r.CreatedAt, err = parseTime(it.CreatedAt); err != nil {
		return r, bad("createdAt")
	}
	if r.ExpiresAt, err = parseTime(it.ExpiresAt); err != nil {
		return r, bad("expiresAt")
	}
	if it.GrantExpiresAt != "" {
		g, err := parseTime(it.GrantExpiresAt)
		if err != nil {
			return r, bad("grantExpiresAt")
		}
		r.GrantExpiresAt = &g
	}
	r.Ticket, r.Extends, r.PendingExtension = it.Ticket, it.Extends, it.PendingExtension
	r.IdentityCenter = it.IdentityCenter.domain()
	if len(it.Extensions) > 0 {
		r.Extensions = append([]string(nil), it.Extensions...)
	}
	if r.StartAt, err = parseOptional(it.StartAt); err != nil {
		return r, bad("startAt")
	}
	if r.GrantStartsAt, err = parseOptional(it.GrantStartsAt); err != nil {
		return r, bad("grantStartsAt")
	}
	if r.NotAfter, err = parseOptional(it.NotAfter); err != nil {
		return r, bad("notAfter")
	}
	if it.WindowStart != "" || it.WindowEnd != "" {
		r.ChangeWindow = &elevate.ChangeWindow{}
		if r.ChangeWindow.Start, err = parseOptional(it.WindowStart); err != nil {
			return r, bad("windowStart")
		}
		if r.ChangeWindow.End, err = parseOptional(it.WindowEnd); err != nil {
			return r, bad("windowEnd")
		}
	}
	for _, d := range it.Decisions {
		at, err := parseTime(d.At)
		if err != nil {
			return r, bad("decision time")
		}
		r.Decisions = append(r.Decisions, elevate.Decision{By: d.By, Decision: elevate.DecisionKind(d.Decision), Comment: d.Comment, At: at, As: d.As,
			OnBehalfOf: d.OnBehalfOf, Via: d.Via})
	}
	if err := it.breakGlassFields.apply(&r); err != nil {
		return r, bad(err.Error())
	}
	return r, nil
}

// grantItem is the slot a request claims for its requester and target; it is
// the grant once Status is Approved.
type grantItem struct {
	PK             string `dynamodbav:"PK"`
	SK             string `dynamodbav:"SK"`
	Kind           string `dynamodbav:"kind"`
	RequestID      string `dynamodbav:"requestId"`
	Principal      string `dynamodbav:"principal"`
	Type           string `dynamodbav:"type"`
	Scope          string `dynamodbav:"scope"`
	Name           string `dynamodbav:"name"`
	Status         string `dynamodbav:"status"`
	ExpiresAt      string `dynamodbav:"expiresAt"`
	ExpiresEpochMs int64  `dynamodbav:"expiresEpochMs"`
	TTL            int64  `dynamodbav:"ttl"`
	unlistedIndexKeys
	UpdatedBy string `dynamodbav:"updatedBy,omitempty"`
	ChangeID  string `dynamodbav:"changeId,omitempty"`
	// StartsAt is a scheduled grant's start (F13): authorization reads it in
	// the same BatchGetItem as the rest.
	StartsAt string `dynamodbav:"startsAt,omitempty"`
	// ApprovedAt, Approvals and HasTicket are what a scheduled grant is
	// judged on again at its start (issue 16 item 8), read in that same
	// BatchGetItem.
	ApprovedAt string `dynamodbav:"approvedAt,omitempty"`
	Approvals  int    `dynamodbav:"approvals,omitempty"`
	HasTicket  bool   `dynamodbav:"hasTicket,omitempty"`
}

func toGrantItem(r elevate.Request) grantItem {
	k := grantSlotKey(r.Requester, r.Target())
	it := grantItem{PK: k.pk, SK: k.sk, Kind: KindGrant, RequestID: r.ID, Principal: r.Requester,
		Type: string(r.Type), Scope: r.Scope, Name: r.Name, Status: string(r.Status),
		ExpiresAt: formatTime(r.LiveUntil()), ExpiresEpochMs: epochMs(r.LiveUntil()), TTL: ttlAt(r.LiveUntil()),
		UpdatedBy: r.LastActor(), ChangeID: requestChangeID(r.ID, r.Version)}
	it.unlistedIndexKeys = slotIndexKeys(r.Requester, r.Target())
	if r.Status == elevate.StatusApproved {
		it.StartsAt = formatOptional(r.GrantStartsAt)
		if g, ok := r.Grant(); ok {
			it.ApprovedAt, it.Approvals, it.HasTicket = formatTime(g.ApprovedAt), g.Approvals, g.HasTicket
		}
	}
	return it
}

func (it grantItem) domain() (elevate.Grant, elevate.Status, error) {
	exp, err := parseTime(it.ExpiresAt)
	if err != nil {
		return elevate.Grant{}, "", fmt.Errorf("grant for request %q: bad expiresAt", it.RequestID)
	}
	g := elevate.Grant{RequestID: it.RequestID, Principal: it.Principal,
		Target: elevate.Target{Type: elevate.RequestType(it.Type), Scope: it.Scope, Name: it.Name}, ExpiresAt: exp}
	if it.StartsAt != "" {
		if g.StartsAt, err = parseTime(it.StartsAt); err != nil {
			return elevate.Grant{}, "", fmt.Errorf("grant for request %q: bad startsAt", it.RequestID)
		}
	}
	if it.ApprovedAt != "" {
		if g.ApprovedAt, err = parseTime(it.ApprovedAt); err != nil {
			return elevate.Grant{}, "", fmt.Errorf("grant for request %q: bad approvedAt", it.RequestID)
		}
		g.Approvals, g.HasTicket = it.Approvals, it.HasTicket
	}
	return g, elevate.Status(it.Status), nil
}

type targetItem struct {
	Type  string `dynamodbav:"type"`
	Scope string `dynamodbav:"scope"`
	Name  string `dynamodbav:"name"`
}

// eventItem keeps Detail as JSON text: the audit record is JSON, and the
// detail's values are domain structs whose JSON names are the contract.
type eventItem struct {
	PK        string      `dynamodbav:"PK"`
	SK        string      `dynamodbav:"SK"`
	Kind      string      `dynamodbav:"kind"`
	ID        string      `dynamodbav:"id"`
	Time      string      `dynamodbav:"time"`
	Action    string      `dynamodbav:"action"`
	Actor     string      `dynamodbav:"actor"`
	Target    *targetItem `dynamodbav:"target,omitempty"`
	RequestID string      `dynamodbav:"requestId,omitempty"`
	PolicyID  string      `dynamodbav:"policyId,omitempty"`
	Detail    string      `dynamodbav:"detail,omitempty"`
	TTL       int64       `dynamodbav:"ttl"`
}

func toEventItem(ev app.Event) (eventItem, error) {
	k := eventKey(ev.ID)
	it := eventItem{PK: k.pk, SK: k.sk, Kind: KindEvent, ID: ev.ID, Time: formatTime(ev.Time), Action: ev.Action,
		Actor: ev.Actor, RequestID: ev.RequestID, PolicyID: ev.PolicyID, TTL: ttlAt(ev.Time.Add(eventTTL))}
	if ev.Target != nil {
		it.Target = &targetItem{Type: string(ev.Target.Type), Scope: ev.Target.Scope, Name: ev.Target.Name}
	}
	if len(ev.Detail) > 0 {
		b, err := json.Marshal(ev.Detail)
		if err != nil {
			return it, fmt.Errorf("event detail: %w", err)
		}
		it.Detail = string(b)
	}
	return it, nil
}

func (it eventItem) domain() (app.Event, error) {
	t, err := parseTime(it.Time)
	if err != nil {
		return app.Event{}, fmt.Errorf("event %q: bad time", it.ID)
	}
	ev := app.Event{ID: it.ID, Time: t, Action: it.Action, Actor: it.Actor, RequestID: it.RequestID, PolicyID: it.PolicyID}
	if it.Target != nil {
		ev.Target = &elevate.Target{Type: elevate.RequestType(it.Target.Type), Scope: it.Target.Scope, Name: it.Target.Name}
	}
	if it.Detail != "" {
		if err := json.Unmarshal([]byte(it.Detail), &ev.Detail); err != nil {
			return app.Event{}, fmt.Errorf("event %q: bad detail: %w", it.ID, err)
		}
	}
	return ev, nil
}

type markerItem struct {
	PK   string `dynamodbav:"PK"`
	SK   string `dynamodbav:"SK"`
	Kind string `dynamodbav:"kind"`
	At   string `dynamodbav:"at"`
	TTL  int64  `dynamodbav:"ttl"`
}

func marker(k key, kind string, now time.Time, keep time.Duration) markerItem {
	return markerItem{PK: k.pk, SK: k.sk, Kind: kind, At: formatTime(now), TTL: ttlAt(now.Add(keep))}
}

func marshal(v any) (map[string]types.AttributeValue, error) {
	m, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, fmt.Errorf("dynamo: marshal %T: %w", v, err)
	}
	// The encoder writes empty sets as NULL even with omitempty; an absent
	// attribute is what ADD, contains() and attribute_exists() expect.
	for k, av := range m {
		if _, isNull := av.(*types.AttributeValueMemberNULL); isNull {
			delete(m, k)
		}
	}
	return m, nil
}
