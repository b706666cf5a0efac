package dynamo

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// approverChecks holds every principal in approvers to being a current
// approver of group until the transaction it joins commits, so a removal
// that lands between the service's read and the commit wins (the decision
// fails with ErrConcurrentUpdate and the service re-reads). It is the one
// commit-side membership check: approve, deny, a revoke made as an approver,
// and every approver counted by a final N-of-M approval go through it.
//
// Members live in the group item's "members" string set, and a transaction
// may touch an item only once, so all approvers are checked by ONE
// ConditionCheck on the group item: contains(members, :a0) AND ... . N is at
// most elevate.MaxRequiredApprovals (10), so the expression stays far below
// DynamoDB's 4 KB limit and the decision's transaction stays at four items
// (request, this check, grant slot, link), far below 100.
// Checks that live on other items (e.g. a delegation) are added to t apart.
func (s *Store) approverChecks(t *tx, group string, approvers []string) {
	if len(approvers) == 0 {
		return
	}
	cond := ""
	values := map[string]types.AttributeValue{}
	for i, p := range approvers {
		name := fmt.Sprintf(":a%d", i)
		if i > 0 {
			cond += " AND "
		}
		cond += "contains(#m, " + name + ")"
		values[name] = str(p)
	}
	check := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(s.table), Key: groupKey(group).av(), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: map[string]string{"#m": attrMembers}, ExpressionAttributeValues: values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}}
	t.add(check, is(elevate.ErrConcurrentUpdate))
}

// decisionApprovers is whose membership a decision rests on: the counted
// approvers of a final approval, the author of any other approval or a
// denial, a revoker whose right is membership, and a ratifier who is an
// approver; for a delegate's decision, the member they stand in for. A
// requester giving up a grant, an admin revoking or ratifying and a cancel
// rest on no membership.
func decisionApprovers(prev, next elevate.Request) ([]string, error) {
	last := next.Decisions[len(next.Decisions)-1]
	switch {
	case last.Decision == elevate.DecisionApprove && next.Status == elevate.StatusApproved && prev.Status == elevate.StatusPending:
		for _, p := range next.CountedBy {
			if p == last.Approver() {
				return next.CountedBy, nil
			}
		}
		return nil, fmt.Errorf("dynamo: save decision: final approval of %q does not count its own approver", next.ID)
	case last.Decision == elevate.DecisionApprove, last.Decision == elevate.DecisionDeny:
		return []string{last.Approver()}, nil
	case last.Decision == elevate.DecisionRevoke && last.As == elevate.RevokeAsApprover:
		return []string{last.Approver()}, nil
	case last.Decision == elevate.DecisionRatify && last.Via != "":
		// A ratification rests on membership unless an admin made it.
		return []string{last.Approver()}, nil
	}
	return nil, nil
}
