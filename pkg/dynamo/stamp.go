package dynamo

import (
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
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
// entity.
var stampAttrs = []string{attrUpdatedBy, attrChangeID, attrDeletedBy, attrDeleteID, attrDeleteBefore, attrUpdatedAt}

// requestChangeID is a request's (and its slot's) change ID: the version
// increases with every stored change.
func requestChangeID(id string, version int) string { return id + "#" + strconv.Itoa(version) }

// prepareDelete is the first write of an API delete (see above). cond holds
// the delete's own preconditions, so a doomed delete fails here already, with
// lost(old item) as its error.
func (s *Store) prepareDelete(ctx context.Context, op string, k key, cond string, names map[string]string, values map[string]types.AttributeValue,
	ev app.Event, lost func(map[string]types.AttributeValue) error) error {
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

// Provenance is who made the change a stream record shows, as the item
// itself records it.
type Provenance int

const (
	// ByElevate: stamped by one of Elevate's writes; Actor says by whom.
	ByElevate Provenance = iota
	// DeletePrepared: the first write of an API delete; its REMOVE follows
	// and is the record.
	DeletePrepared
	// DirectWrite: not made through Elevate.
	DirectWrite
)

// Change is a stream record's provenance, its actor when known, and the data
// attributes it changed (stamps excluded), sorted.
type Change struct {
	Provenance Provenance
	Actor      string
	Changed    []string
	// At is when an API delete was prepared, read from its stamp: the time
	// of the REMOVE it announces, which the stream gives only roughly.
	At time.Time
}

// ChangeOf reads a non-TTL stream record of an entity item (see above).
func ChangeOf(rec events.DynamoDBEventRecord) Change {
	c := rec.Change
	changed := changedAttrs(c.OldImage, c.NewImage)
	switch events.DynamoDBOperationType(rec.EventName) {
	case events.DynamoDBOperationTypeInsert:
		if by := imageString(c.NewImage, attrUpdatedBy); by != "" && imageString(c.NewImage, attrChangeID) != "" {
			return Change{Provenance: ByElevate, Actor: by, Changed: changed}
		}
	case events.DynamoDBOperationTypeModify:
		oldDel, newDel := imageString(c.OldImage, attrDeleteID), imageString(c.NewImage, attrDeleteID)
		if len(changed) == 0 && newDel != "" && newDel != oldDel {
			return Change{Provenance: DeletePrepared, Actor: imageString(c.NewImage, attrDeletedBy)}
		}
		by, id := imageString(c.NewImage, attrUpdatedBy), imageString(c.NewImage, attrChangeID)
		if by != "" && id != "" && id != imageString(c.OldImage, attrChangeID) {
			return Change{Provenance: ByElevate, Actor: by, Changed: changed}
		}
	case events.DynamoDBOperationTypeRemove:
		by, deadline := imageString(c.OldImage, attrDeletedBy), imageNumber(c.OldImage, attrDeleteBefore)
		at := rec.Change.ApproximateCreationDateTime.Time
		if by != "" && imageString(c.OldImage, attrDeleteID) != "" && (at.IsZero() || at.UnixMilli() <= deadline) {
			return Change{Provenance: ByElevate, Actor: by, Changed: changed, At: time.UnixMilli(deadline).Add(-deletePrepareFor).UTC()}
		}
	}
	return Change{Provenance: DirectWrite, Changed: changed}
}

func changedAttrs(old, cur map[string]events.DynamoDBAttributeValue) []string {
	var out []string
	seen := func(k string) bool { return slices.Contains(out, k) || slices.Contains(stampAttrs, k) }
	for k, v := range cur {
		if o, ok := old[k]; (!ok || !sameValue(o, v)) && !seen(k) {
			out = append(out, k)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok && !seen(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func sameValue(a, b events.DynamoDBAttributeValue) bool {
	return reflect.DeepEqual(attrJSON(a), attrJSON(b))
}

func imageString(img map[string]events.DynamoDBAttributeValue, attr string) string {
	if v, ok := img[attr]; ok && v.DataType() == events.DataTypeString {
		return v.String()
	}
	return ""
}

func imageNumber(img map[string]events.DynamoDBAttributeValue, attr string) int64 {
	if v, ok := img[attr]; ok && v.DataType() == events.DataTypeNumber {
		n, err := v.Integer()
		if err == nil {
			return n
		}
	}
	return 0
}

// ImageJSON is a stream image as plain JSON values (numbers as their decimal
// text, sets as sorted lists), for records that must show an item as stored
// whatever its shape: a direct write need not decode as an entity.
func ImageJSON(img map[string]events.DynamoDBAttributeValue) map[string]any {
	if img == nil {
		return nil
	}
	out := make(map[string]any, len(img))
	for k, v := range img {
		out[k] = attrJSON(v)
	}
	return out
}

// ImageKeys is a stream record's item key, PK and SK.
func ImageKeys(rec events.DynamoDBEventRecord) map[string]any {
	return ImageJSON(rec.Change.Keys)
}

func attrJSON(v events.DynamoDBAttributeValue) any {
	switch v.DataType() {
	case events.DataTypeString:
		return v.String()
	case events.DataTypeNumber:
		return v.Number()
	case events.DataTypeBinary:
		return base64.StdEncoding.EncodeToString(v.Binary())
	case events.DataTypeBoolean:
		return v.Boolean()
	case events.DataTypeStringSet:
		return sortedCopy(v.StringSet())
	case events.DataTypeNumberSet:
		return sortedCopy(v.NumberSet())
	case events.DataTypeBinarySet:
		var out []string
		for _, b := range v.BinarySet() {
			out = append(out, base64.StdEncoding.EncodeToString(b))
		}
		return sortedCopy(out)
	case events.DataTypeList:
		var out []any
		for _, e := range v.List() {
			out = append(out, attrJSON(e))
		}
		return out
	case events.DataTypeMap:
		return ImageJSON(v.Map())
	}
	return nil
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return out
}
