package audit

import (
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// The records of settings, group and policy changes, derived from the items'
// stream images (see Map). Before and after are the domain values, whose
// JSON names are the API's.

func settingsChanged(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	before := elevate.DefaultSettings()
	if len(rec.Change.OldImage) > 0 {
		var err error
		if before, err = dynamo.SettingsFromImage(rec.Change.OldImage); err != nil {
			return nil, err
		}
	}
	after, err := dynamo.SettingsFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	return []auditrecord.Record{{Time: after.UpdatedAt, Action: auditrecord.ActionSettingsUpdated, Actor: ch.Actor,
		Detail: map[string]any{"before": before, "after": after, "changed": ch.Changed}}}, nil
}

func groupCreated(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	g, err := dynamo.GroupFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	return []auditrecord.Record{{Time: g.UpdatedAt, Action: auditrecord.ActionGroupCreated, Actor: ch.Actor, Detail: map[string]any{"group": g.Name, "members": g.Members}}}, nil
}

// groupChanged is a membership change when only the members changed, by one
// principal; anything else (a reference count moved by a policy or settings
// change, several attributes at once) is group.updated with what changed.
func groupChanged(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	prev, err := dynamo.GroupFromImage(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	g, err := dynamo.GroupFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	added, removed := setDiff(g.Members, prev.Members), setDiff(prev.Members, g.Members)
	out := auditrecord.Record{Time: g.UpdatedAt, Actor: ch.Actor, Detail: map[string]any{"group": g.Name}}
	switch {
	case slices.Equal(ch.Changed, []string{"members"}) && len(added) == 1 && len(removed) == 0:
		out.Action, out.Detail["member"] = auditrecord.ActionGroupMemberAdd, added[0]
	case slices.Equal(ch.Changed, []string{"members"}) && len(removed) == 1 && len(added) == 0:
		out.Action, out.Detail["member"] = auditrecord.ActionGroupMemberDel, removed[0]
	default:
		out.Action = auditrecord.ActionGroupUpdated
		old, cur := dynamo.ImageJSON(rec.Change.OldImage), dynamo.ImageJSON(rec.Change.NewImage)
		before, after := map[string]any{}, map[string]any{}
		for _, k := range ch.Changed {
			before[k], after[k] = old[k], cur[k]
		}
		out.Detail["changed"], out.Detail["before"], out.Detail["after"] = ch.Changed, before, after
	}
	return []auditrecord.Record{out}, nil
}

func groupDeleted(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	g, err := dynamo.GroupFromImage(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	return []auditrecord.Record{{Action: auditrecord.ActionGroupDeleted, Actor: ch.Actor, Detail: map[string]any{"group": g.Name, "members": g.Members}}}, nil
}

func policyRecord(action, actor string, p elevate.Policy, detail map[string]any) []auditrecord.Record {
	return []auditrecord.Record{{Action: action, Actor: actor, Target: target(elevate.Target{Type: p.Type, Scope: p.Scope, Name: p.Name}), PolicyID: p.ID, Detail: detail}}
}

func policyCreated(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	p, err := dynamo.PolicyFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	out := policyRecord(auditrecord.ActionPolicyCreated, ch.Actor, p, map[string]any{"after": p})
	out[0].Time = p.UpdatedAt
	return out, nil
}

func policyUpdated(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	prev, err := dynamo.PolicyFromImage(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	p, err := dynamo.PolicyFromImage(rec.Change.NewImage)
	if err != nil {
		return nil, err
	}
	out := policyRecord(auditrecord.ActionPolicyUpdated, ch.Actor, p, map[string]any{"before": prev, "after": p, "changed": ch.Changed})
	out[0].Time = p.UpdatedAt
	return out, nil
}

func policyDeleted(rec events.DynamoDBEventRecord, ch dynamo.Change) ([]auditrecord.Record, error) {
	p, err := dynamo.PolicyFromImage(rec.Change.OldImage)
	if err != nil {
		return nil, err
	}
	return policyRecord(auditrecord.ActionPolicyDeleted, ch.Actor, p, map[string]any{"before": p}), nil
}

// setDiff is what a has and b lacks.
func setDiff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
