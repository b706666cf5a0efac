package dynamotest

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

func TestFixtureItemsAreTheRequestAndItsGrant(t *testing.T) {
	created := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	end := created.Add(4 * time.Hour)
	r := elevate.Request{ID: "r-1", Type: elevate.TypeTask, Scope: "Exchange", Name: "New-MoveRequest",
		Requester: "rita@example.com", Reason: "fixture", DurationHours: 4, Status: elevate.StatusApproved,
		ApprovalType: elevate.ApprovalManual, ApproverGroup: "ops", RequiredApprovals: 1,
		Decisions: []elevate.Decision{{By: "bob@example.com", Decision: elevate.DecisionApprove, Comment: "ok", At: created}},
		CreatedAt: created, ExpiresAt: end, GrantExpiresAt: &end, Version: 2}
	for i := 0; i < 2; i++ { // the captured transaction is not kept across calls
		req, slot, err := FixtureItems(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			item     map[string]types.AttributeValue
			pk, kind string
		}{{req, "REQ#r-1", "request"}, {slot, "GRANT#rita@example.com", "grant"}} {
			pk, _ := c.item["PK"].(*types.AttributeValueMemberS)
			kind, _ := c.item["kind"].(*types.AttributeValueMemberS)
			status, _ := c.item["status"].(*types.AttributeValueMemberS)
			if pk == nil || pk.Value != c.pk || kind == nil || kind.Value != c.kind || status == nil || status.Value != "Approved" {
				t.Errorf("%s item: PK %v, kind %v, status %v", c.kind, pk, kind, status)
			}
		}
	}
}
