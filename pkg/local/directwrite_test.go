package local

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

// Issue 10 item 9: the stream is the one source of audit truth. Changes made
// through the API are one record each, naming the admin from the item's own
// stamp; group, settings and policy items written directly with the SDK (no
// updatedBy, or a stamp left unchanged) reach the audit bucket through the
// real stream consumer as flagged direct writes.
func TestDirectTableWritesAreAuditedAndFlagged(t *testing.T) {
	st := startStack(t)
	admin := st.client(t, "admin@example.com", "elevate-admins")
	admin.must(201, "POST", "/v1/groups", map[string]any{"name": "ops", "members": []string{"bob@example.com"}})
	admin.must(200, "PATCH", "/v1/settings", map[string]any{"enabled": true, "defaultApproverGroup": "ops"})
	admin.must(201, "POST", "/v1/policies", map[string]any{"type": "Task", "scope": "Exchange", "name": "New-MoveRequest", "approvalType": "Manual"})

	db := emulator.DynamoClient(st.DynamoEndpoint)
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	key := func(pk, sk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"PK": s(pk), "SK": s(sk)}
	}
	ctx := context.Background()
	// A group slipped in with no stamp at all.
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(st.Table), Item: map[string]types.AttributeValue{
		"PK": s("GROUP"), "SK": s("shadow"), "kind": s("group"), "name": s("shadow"),
		"members": &types.AttributeValueMemberSS{Value: []string{"mallory@example.com"}}}}); err != nil {
		t.Fatal(err)
	}
	// Settings and a policy edited in place: the admin's stamp stays as it was.
	for _, u := range []struct {
		k    map[string]types.AttributeValue
		expr string
		v    types.AttributeValue
	}{
		{key("SETTINGS", "SETTINGS"), "SET enabled = :v", &types.AttributeValueMemberBOOL{Value: false}},
		{key("POLICY", "task:exchange:new-moverequest"), "SET approvalType = :v", s("Auto")},
		{key("GROUP", "ops"), "ADD members :v", &types.AttributeValueMemberSS{Value: []string{"mallory@example.com"}}},
	} {
		if _, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(st.Table), Key: u.k,
			UpdateExpression: aws.String(u.expr), ExpressionAttributeValues: map[string]types.AttributeValue{":v": u.v}}); err != nil {
			t.Fatal(err)
		}
	}
	// A policy deleted in the console, without the API's prepared delete.
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(st.Table), Key: key("POLICY", "task:exchange:new-moverequest")}); err != nil {
		t.Fatal(err)
	}

	want := map[string]int{"group.direct_write": 2, "settings.direct_write": 1, "policy.direct_write": 2}
	var recs []auditrecord.Record
	eventually(t, "direct writes in the audit bucket", func() bool {
		recs = auditRecords(t, st)
		n := map[string]int{}
		for _, r := range recs {
			n[r.Action]++
		}
		for a, c := range want {
			if n[a] != c {
				return false
			}
		}
		return true
	})
	byAction := map[string][]auditrecord.Record{}
	for _, r := range recs {
		byAction[r.Action] = append(byAction[r.Action], r)
	}
	for a := range want {
		for _, r := range byAction[a] {
			if r.Actor != auditrecord.ActorUnknown || r.Detail["directWrite"] != true {
				t.Errorf("%s not flagged: %+v", a, r)
			}
		}
	}
	ops := slices.IndexFunc(byAction["group.direct_write"], func(r auditrecord.Record) bool {
		changed, _ := r.Detail["changed"].([]any)
		return slices.Contains(changed, any("members"))
	})
	if ops < 0 {
		t.Errorf("the member slipped into ops is not named as the change: %+v", byAction["group.direct_write"])
	}
	// The API's own changes: one record each, by the admin, and no
	// duplicate from an event item.
	for _, a := range []string{auditrecord.ActionGroupCreated, auditrecord.ActionSettingsUpdated, auditrecord.ActionPolicyCreated} {
		if len(byAction[a]) != 1 || byAction[a][0].Actor != "admin@example.com" {
			t.Errorf("%s: %+v", a, byAction[a])
		}
	}
}
