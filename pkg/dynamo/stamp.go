package dynamo

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
)

// Every write Elevate makes to an entity item (settings, group, policy,
// request, grant slot) stamps it with who made the change (updatedBy) and a
// value unique to that change (changeId: the change's event ID, or
// <request id>#<version> for requests and their slots). The audit consumer
// reads the actor from the item itself, so the stream is the one source of
// audit truth; a change whose stamp is missing, or did not change along with
// the data, was not made by Elevate (an edit in the console, a script with
// table access) and is recorded as a direct write, flagged.
//
// A delete cannot carry a stamp in the item it removes, so an API delete is
// two writes: it first "prepares" the item (deletedBy, deleteId and a
// deadline, nothing else changed; no audit record of its own), then deletes
// it on condition that deleteId is still its own. The REMOVE's old image
// then names the actor. A REMOVE without a preparation, or after its
// deadline, is a direct write. TTL deletions carry the DynamoDB service
// identity and are mapped as lapses, as before.
//
// The stamp is evidence of Elevate's own writes, not a defence against a
// forger with table write access, who can write any stamp: IAM (each
// function's LeadingKeys grant) and CloudTrail data events are that defence.
const (
	attrUpdatedBy    = "updatedBy"
	attrChangeID     = "changeId"
	attrDeletedBy    = "deletedBy"
	attrDeleteID     = "deleteId"
	attrDeleteBefore = "deleteBeforeEpochMs"
)

// deletePrepareFor bounds how long a prepared delete may take to land.
const deletePrepareFor = time.Minute

// stampAttrs are not data: a change to them alone is not a change of the
// entity. A group's gen is bookkeeping too: a membership change that also
// gives a group its member items (approvers.go) is audited as the
// membership change it is.
var stampAttrs = []string{attrUpdatedBy, attrChangeID, attrDeletedBy, attrDeleteID, attrDeleteBefore, attrUpdatedAt, attrGen}

// requestChangeID is a request's (and its slot's) change ID: the version
// increases with every stored change.
func requestChangeID(id string, version int) string { return id + "#" + strconv.Itoa(version) }

// prepareDelete is the first write of an API delete (see above). cond holds
// the delete's own preconditions, so a doomed delete fails here already, with
// lost(old item) as its error.
func (s *Store) prepareDelete(ctx context.Context, op string, k key, cond string, names map[string]string, values map[string]types.AttributeValue,
	ev app.Event, lost onLost) error {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.table), Key: k.av(),
		UpdateExpression:         aws.String("SET #db = :db, #di = :di, #dl = :dl"),
		ConditionExpression:      optional(cond),
		ExpressionAttributeNames: merged(names, map[string]string{"#db": attrDeletedBy, "#di": attrDeleteID, "#dl": attrDeleteBefore}),
		ExpressionAttributeValues: merged(values, map[string]types.AttributeValue{":db": str(ev.Actor), ":di": str(ev.ID),
			":dl": num(epochMs(ev.Time.Add(deletePrepareFor)))}),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return lost(ccf.Item)
	}
	if err != nil {
		return unavailable(op+": prepare", err)
	}
	return nil
}

// preparedBy is the condition that the item is still prepared by changeID.
func preparedBy(changeID string) (string, map[string]string, map[string]types.AttributeValue) {
	return "#di = :di", map[string]string{"#di": attrDeleteID}, map[string]types.AttributeValue{":di": str(changeID)}
}

// merged is a and b in one new map; b wins where both have a key.
func merged[V any](a, b map[string]V) map[string]V {
	out := make(map[string]V, len(a)+len(b))
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}
