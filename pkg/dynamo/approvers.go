package dynamo

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// holdMargin is how much longer a request must still need its group for a
// decision to rely on its hold: the decision's commit follows its read by
// far less, and it absorbs clock skew between the decider and a deleter.
const holdMargin = time.Minute

// approverChecks holds every principal in approvers to being a current
// approver of group until the transaction it joins commits, so a removal
// that lands between the service's read and the commit wins (the decision
// fails with ErrConcurrentUpdate and the service re-reads). It is the one
// commit-side membership check: approve, deny, a revoke made as an approver,
// and every approver counted by a final N-of-M approval go through it.
//
// read is the group as the service read it. When it is the request's own
// approver group, held by the request for holdMargin more at least, and
// has a generation, each approver is one ConditionCheck on their member item of that incarnation (memberKey), which
// a removal deletes in the transaction that takes them out of the members
// set (members.go): two decisions for one group then share an item only
// when they rest on a common approver (issue 17 item 12). N is at most
// elevate.MaxRequiredApprovals (10), so a decision's transaction stays
// within about 16 items of DynamoDB's 100. The incarnation the service read
// is still the group's at the commit: the request's hold keeps its group
// from being deleted (groupuse.go) while it is pending or its grant not
// over, which a decision on it needs except a ratification after the grant
// ended.
//
// Otherwise the check is the group item's members set, one ConditionCheck
// whose contains(members, …) terms cover every approver: for a group
// written before member items existed (until its next membership change,
// members.go), when the service read no group, and for a decision resting
// on a group the request does not hold (a break-glass ratification or
// revocation by an alert group member, or a ratification after the grant
// ended), whose delete nothing stops between the read and the commit; the
// group item is what that delete removes atomically.
// Checks that live on other items (e.g. a delegation) are added to t apart.
func (s *Store) approverChecks(t *tx, group string, read elevate.Group, held bool, approvers []string) {
	if len(approvers) == 0 {
		return
	}
	if held && read.Name == group && read.Generation != "" {
		for _, p := range approvers {
			check := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
				TableName: aws.String(s.table), Key: memberKey(group, read.Generation, p).av(),
				ConditionExpression: aws.String("attribute_exists(PK)")}}
			t.add(check, is(elevate.ErrConcurrentUpdate))
		}
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
