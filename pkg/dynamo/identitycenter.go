package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/tabledef"
)

// Identity Center items (v1.2).
//
//   - A policy's binding and a request's Identity Center part are attributes
//     of their items (identityCenter).
//   - An assignment record (kind assignment) per user × permission set ×
//     account, all in one partition (ICASSIGN), so the sweep and the
//     reconcile read every managed assignment with one Query: they number
//     the users with live grants times their assignments, hundreds, not
//     requests. Every write is conditioned on the record's version, which
//     serialises the grants that share it (see elevate.AssignmentRecord).
//     A write that records an outcome carries `action` and is audited as
//     that action; the others only move the record along.
//   - A request's provisioning statuses (kind provisioning), PK PROV#<id>,
//     SK PROVISIONING, its own partition so the access consumer's grant
//     never covers the request itself: written by the access consumer
//     one assignment at a time (SET statuses.#k), never by a decision, so
//     provisioning never races the request's version.
//   - A scheduled grant's start (kind icstart), PK ICSTART, SK <start>#<id>:
//     the sweep reads the due ones with one Query (SK <= now).
const (
	KindAssignment   = "assignment"
	KindProvisioning = "provisioning"
	KindICStart      = "icstart"

	pkAssignments   = tabledef.PartitionAssignments
	prefixProv      = tabledef.PrefixProvisioning
	skProvisioning  = "PROVISIONING"
	pkICStarts      = tabledef.PartitionICStarts
	attrAction      = "action"
	assignmentLease = 5 * time.Minute
)

// AssignmentLease is how long a delete under way holds an assignment record.
const AssignmentLease = assignmentLease

// assignmentKey: one user's assignment of one permission set on one account.
func assignmentKey(userID string, a elevate.Assignment) key {
	return key{pkAssignments, userID + "#" + a.PermissionSetArn + "#" + a.AccountID}
}

// provisioningKey: a request's provisioning statuses.
func provisioningKey(requestID string) key { return key{prefixProv + requestID, skProvisioning} }

// icStartKey: a scheduled grant's start, in start order.
func icStartKey(start time.Time, requestID string) key {
	return key{pkICStarts, formatTime(start) + "#" + requestID}
}

type bindingItem struct {
	InstanceArn       string   `dynamodbav:"instanceArn"`
	PermissionSetArns []string `dynamodbav:"permissionSetArns"`
	AccountIDs        []string `dynamodbav:"accountIds"`
	RemoveUnmanaged   bool     `dynamodbav:"removeUnmanaged,omitempty"`
}

func toBindingItem(b *elevate.IdentityCenterBinding) *bindingItem {
	if b == nil {
		return nil
	}
	return &bindingItem{InstanceArn: b.InstanceArn, PermissionSetArns: b.PermissionSetArns, AccountIDs: b.AccountIDs, RemoveUnmanaged: b.RemoveUnmanaged}
}

func (it *bindingItem) domain() *elevate.IdentityCenterBinding {
	if it == nil {
		return nil
	}
	return &elevate.IdentityCenterBinding{InstanceArn: it.InstanceArn, PermissionSetArns: it.PermissionSetArns, AccountIDs: it.AccountIDs, RemoveUnmanaged: it.RemoveUnmanaged}
}

type assignmentItem struct {
	InstanceArn      string `dynamodbav:"instanceArn"`
	PermissionSetArn string `dynamodbav:"permissionSetArn"`
	AccountID        string `dynamodbav:"accountId"`
}

type icGrantItem struct {
	UserID      string           `dynamodbav:"userId"`
	UserName    string           `dynamodbav:"userName"`
	Assignments []assignmentItem `dynamodbav:"assignments"`
}

func toICGrantItem(g *elevate.IdentityCenterGrant) *icGrantItem {
	if g == nil {
		return nil
	}
	it := &icGrantItem{UserID: g.UserID, UserName: g.UserName, Assignments: []assignmentItem{}}
	for _, a := range g.Assignments {
		it.Assignments = append(it.Assignments, assignmentItem(a))
	}
	return it
}

func (it *icGrantItem) domain() *elevate.IdentityCenterGrant {
	if it == nil {
		return nil
	}
	g := &elevate.IdentityCenterGrant{UserID: it.UserID, UserName: it.UserName}
	for _, a := range it.Assignments {
		g.Assignments = append(g.Assignments, elevate.Assignment(a))
	}
	return g
}

type assignmentRecordItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Kind      string `dynamodbav:"kind"`
	UserID    string `dynamodbav:"userId"`
	UserName  string `dynamodbav:"userName"`
	Principal string `dynamodbav:"principal"`
	assignmentItem
	Holders      []string `dynamodbav:"holders"`
	State        string   `dynamodbav:"state"`
	LeaseEpochMs int64    `dynamodbav:"leaseUntilEpochMs,omitempty"`
	Version      int      `dynamodbav:"version"`
	Action       string   `dynamodbav:"action,omitempty"`
	RequestID    string   `dynamodbav:"requestId,omitempty"`
	Reason       string   `dynamodbav:"reason,omitempty"`
	KeptFor      []string `dynamodbav:"keptFor,omitempty"`
	At           string   `dynamodbav:"at"`
	UpdatedBy    string   `dynamodbav:"updatedBy"`
	ChangeID     string   `dynamodbav:"changeId"`
}

func (it assignmentRecordItem) domain() (elevate.AssignmentRecord, error) {
	at, err := parseTime(it.At)
	if err != nil {
		return elevate.AssignmentRecord{}, fmt.Errorf("assignment %q: bad at", it.SK)
	}
	r := elevate.AssignmentRecord{Assignment: elevate.Assignment(it.assignmentItem), UserID: it.UserID, UserName: it.UserName,
		Principal: it.Principal, Holders: it.Holders, State: elevate.AssignmentState(it.State), Version: it.Version,
		Action: it.Action, RequestID: it.RequestID, Reason: it.Reason, KeptFor: it.KeptFor, At: at}
	if it.LeaseEpochMs > 0 {
		r.LeaseUntil = time.UnixMilli(it.LeaseEpochMs).UTC()
	}
	return r, nil
}

// GetAssignmentRecord reads a user's record of an assignment strongly
// consistently; found is false when there is none.
func (s *Store) GetAssignmentRecord(ctx context.Context, userID string, a elevate.Assignment) (elevate.AssignmentRecord, bool, error) {
	item, err := s.getItem(ctx, "get assignment", assignmentKey(userID, a))
	if err != nil || item == nil {
		return elevate.AssignmentRecord{}, false, err
	}
	rec, err := decodeAs[assignmentRecordItem]("get assignment", item)
	return rec, err == nil, err
}

// SaveAssignmentRecord writes next if the stored record is still at
// prevVersion (0: there is none); a lost race is ErrConcurrentUpdate. Each
// write is stamped as the system's, with a change ID of its own.
func (s *Store) SaveAssignmentRecord(ctx context.Context, prevVersion int, next elevate.AssignmentRecord) error {
	k := assignmentKey(next.UserID, next.Assignment)
	it := assignmentRecordItem{PK: k.pk, SK: k.sk, Kind: KindAssignment, UserID: next.UserID, UserName: next.UserName, Principal: next.Principal,
		assignmentItem: assignmentItem(next.Assignment), Holders: append([]string{}, next.Holders...), State: string(next.State),
		Version: prevVersion + 1, Action: next.Action, RequestID: next.RequestID, Reason: next.Reason, KeptFor: next.KeptFor,
		At: formatTime(next.At), UpdatedBy: elevate.SystemActor, ChangeID: fmt.Sprintf("%s#%d", k.sk, prevVersion+1)}
	if !next.LeaseUntil.IsZero() {
		it.LeaseEpochMs = epochMs(next.LeaseUntil)
	}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return unavailable("save assignment", err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}
	if prevVersion == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(PK)")
	} else {
		in.ConditionExpression = aws.String("version = :v")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(int64(prevVersion))}
	}
	if _, err := s.db.PutItem(ctx, in); err != nil {
		if isConditionFailed(err) {
			return elevate.ErrConcurrentUpdate
		}
		return unavailable("save assignment", err)
	}
	return nil
}

// ListAssignmentRecords reads every assignment record (one partition).
func (s *Store) ListAssignmentRecords(ctx context.Context) ([]elevate.AssignmentRecord, error) {
	return listAs[assignmentRecordItem](ctx, s, "list assignments", pkAssignments)
}

// SaveProvisioning records how one of a request's assignments stands: one
// attribute per assignment, so concurrent writers never lose each other's.
func (s *Store) SaveProvisioning(ctx context.Context, requestID string, st elevate.AssignmentStatus) error {
	entry, err := attributevalue.Marshal(provisioningEntry{assignmentItem: assignmentItem(st.Assignment), Status: string(st.Status), Reason: st.Reason})
	if err != nil {
		return unavailable("save provisioning", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.table), Key: provisioningKey(requestID).av(),
		UpdateExpression:          aws.String("SET #kind = :kind, #a = :v"),
		ExpressionAttributeNames:  map[string]string{"#kind": "kind", "#a": prefixStatus + st.PermissionSetArn + "#" + st.AccountID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": str(KindProvisioning), ":v": entry}})
	if err != nil {
		return unavailable("save provisioning", err)
	}
	return nil
}

const prefixStatus = "status#"

type provisioningEntry struct {
	assignmentItem
	Status string `dynamodbav:"status"`
	Reason string `dynamodbav:"reason,omitempty"`
}

// GetProvisioning reads a request's recorded provisioning statuses.
func (s *Store) GetProvisioning(ctx context.Context, requestID string) ([]elevate.AssignmentStatus, error) {
	item, err := s.getItem(ctx, "get provisioning", provisioningKey(requestID))
	if err != nil || item == nil {
		return nil, err
	}
	var out []elevate.AssignmentStatus
	for name, v := range item {
		if !strings.HasPrefix(name, prefixStatus) {
			continue
		}
		var e provisioningEntry
		if err := attributevalue.Unmarshal(v, &e); err != nil {
			return nil, unavailable("get provisioning", err)
		}
		out = append(out, elevate.AssignmentStatus{Assignment: elevate.Assignment(e.assignmentItem), Status: elevate.Provisioning(e.Status), Reason: e.Reason})
	}
	return out, nil
}

// ScheduleStart records that a request's grant starts at start, for the
// sweep to make its assignments then.
func (s *Store) ScheduleStart(ctx context.Context, requestID string, start time.Time) error {
	k := icStartKey(start, requestID)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: map[string]types.AttributeValue{
		"PK": str(k.pk), "SK": str(k.sk), "kind": str(KindICStart), "requestId": str(requestID)}})
	if err != nil {
		return unavailable("schedule start", err)
	}
	return nil
}

// DueStarts lists the scheduled starts at or before now.
func (s *Store) DueStarts(ctx context.Context, now time.Time) ([]elevate.ScheduledStart, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk AND SK <= :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pkICStarts), ":now": str(formatTime(now) + "#~")}})
	if err != nil {
		return nil, unavailable("due starts", err)
	}
	var due []elevate.ScheduledStart
	for _, item := range out.Items {
		sk, _ := item["SK"].(*types.AttributeValueMemberS)
		if sk == nil {
			continue
		}
		at, id, _ := strings.Cut(sk.Value, "#")
		t, err := parseTime(at)
		if err != nil {
			continue
		}
		due = append(due, elevate.ScheduledStart{RequestID: id, At: t})
	}
	return due, nil
}

// DeleteStart removes a scheduled start once its assignments are made.
func (s *Store) DeleteStart(ctx context.Context, st elevate.ScheduledStart) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: icStartKey(st.At, st.RequestID).av()})
	if err != nil {
		return unavailable("delete start", err)
	}
	return nil
}

// RequestsByID reads requests strongly consistently; absent ones are skipped.
func (s *Store) RequestsByID(ctx context.Context, ids []string) ([]elevate.Request, error) {
	return s.requestsByID(ctx, ids)
}

// AssignmentRecordFromImage decodes an assignment record's stream image.
func AssignmentRecordFromImage(img map[string]events.DynamoDBAttributeValue) (elevate.AssignmentRecord, error) {
	var it assignmentRecordItem
	if err := decodeImage(img, KindAssignment, &it); err != nil {
		return elevate.AssignmentRecord{}, err
	}
	return it.domain()
}
