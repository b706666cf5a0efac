package emulatortest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// errorsTB collects what CheckWithin reports instead of failing the test.
type errorsTB struct {
	testing.TB
	errs []string
}

func (e *errorsTB) Helper() {}
func (e *errorsTB) Errorf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

func pk(v string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: v}, "SK": &types.AttributeValueMemberS{Value: "x"}}
}

// Issue 10 item 3: a call whose partition key falls outside the function's
// dynamodb:LeadingKeys grant fails the least-privilege check, naming the
// function, the action, the key and the grant.
func TestOpRecorderRefusesKeysOutsideTheGrant(t *testing.T) {
	rec := emulator.NewOpRecorder()
	rec.Record(&dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"t": {Keys: []map[string]types.AttributeValue{pk("SETTINGS"), pk("GRANT#alice@example.com")}}}})
	rec.Record(&dynamodb.PutItemInput{Item: pk("EVENT#1")})
	ok := &errorsTB{TB: t}
	CheckWithin(ok, rec, manifest.Authorize)
	if len(ok.errs) != 0 {
		t.Fatalf("authorize's own pattern refused: %v", ok.errs)
	}

	// Authorize may put events, but a grant put through the same action is
	// what the narrowed grant exists to stop; so is one inside a transaction.
	rec.Record(&dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{{Put: &types.Put{Item: pk("GRANT#mallory@example.com")}}}})
	bad := &errorsTB{TB: t}
	CheckWithin(bad, rec, manifest.Authorize)
	if len(bad.errs) != 1 {
		t.Fatalf("want one error, got %q", bad.errs)
	}
	for _, want := range []string{"authorize", "PutItem", `"GRANT#mallory@example.com"`, "[EVENT#*]", "manifest.TableKeys"} {
		if !strings.Contains(bad.errs[0], want) {
			t.Errorf("error %q does not name %s", bad.errs[0], want)
		}
	}

	// A Query's partition comes from its key condition, named or not.
	q := emulator.NewOpRecorder()
	q.Record(&dynamodb.QueryInput{KeyConditionExpression: aws.String("#pk = :pk AND SK > :s"), ExpressionAttributeNames: map[string]string{"#pk": "PK"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "REQ#1"}, ":s": &types.AttributeValueMemberS{Value: "a"}}})
	q.Record(&dynamodb.QueryInput{KeyConditionExpression: aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "GROUP"}}})
	qe := &errorsTB{TB: t}
	CheckWithin(qe, q, manifest.Requests)
	if len(qe.errs) != 1 || !strings.Contains(qe.errs[0], `Query on partition key "REQ#1"`) {
		t.Errorf("query check: %q", qe.errs)
	}
}
