package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

var _ app.IssuanceStore = (*Store)(nil)

// awsBindingItem stores a policy's aws binding; the session policy as its
// compact JSON text.
type awsBindingItem struct {
	RoleARN           string   `dynamodbav:"roleArn"`
	SessionPolicy     string   `dynamodbav:"sessionPolicy,omitempty"`
	ManagedPolicyARNs []string `dynamodbav:"managedPolicyArns,omitempty"`
	MaxSessionMinutes int      `dynamodbav:"maxSessionMinutes"`
}

func toAWSBindingItem(b *elevate.AWSBinding) *awsBindingItem {
	if b == nil {
		return nil
	}
	return &awsBindingItem{RoleARN: b.RoleARN, SessionPolicy: string(b.SessionPolicy), ManagedPolicyARNs: b.ManagedPolicyARNs, MaxSessionMinutes: b.MaxSessionMinutes}
}

func (it *awsBindingItem) domain() *elevate.AWSBinding {
	if it == nil {
		return nil
	}
	b := &elevate.AWSBinding{RoleARN: it.RoleARN, ManagedPolicyARNs: it.ManagedPolicyARNs, MaxSessionMinutes: it.MaxSessionMinutes}
	if it.SessionPolicy != "" {
		b.SessionPolicy = json.RawMessage(it.SessionPolicy)
	}
	return b
}

// credentialsItem records one issuance: never the secret or the token.
type credentialsItem struct {
	PK             string `dynamodbav:"PK"`
	SK             string `dynamodbav:"SK"`
	Kind           string `dynamodbav:"kind"`
	RequestID      string `dynamodbav:"requestId"`
	Principal      string `dynamodbav:"principal"`
	Type           string `dynamodbav:"type"`
	Scope          string `dynamodbav:"scope"`
	Name           string `dynamodbav:"name"`
	PolicyID       string `dynamodbav:"policyId"`
	RoleARN        string `dynamodbav:"roleArn"`
	SessionName    string `dynamodbav:"sessionName"`
	SourceIdentity string `dynamodbav:"sourceIdentity"`
	AccessKeyID    string `dynamodbav:"accessKeyId"`
	IssuedAt       string `dynamodbav:"issuedAt"`
	ExpiresAt      string `dynamodbav:"expiresAt"`
	GrantEndsAt    string `dynamodbav:"grantEndsAt"`
	TTL            int64  `dynamodbav:"ttl"`
	unlistedIndexKeys
}

func (it credentialsItem) domain() (app.Issuance, error) {
	issued, err1 := parseTime(it.IssuedAt)
	expires, err2 := parseTime(it.ExpiresAt)
	grantEnd, err3 := parseTime(it.GrantEndsAt)
	if err1 != nil || err2 != nil || err3 != nil {
		return app.Issuance{}, fmt.Errorf("credentials %q: bad timestamps", it.SK)
	}
	return app.Issuance{RequestID: it.RequestID, Principal: it.Principal, Target: elevate.Target{Type: elevate.RequestType(it.Type), Scope: it.Scope, Name: it.Name},
		PolicyID: it.PolicyID, RoleARN: it.RoleARN, SessionName: it.SessionName, SourceIdentity: it.SourceIdentity, AccessKeyID: it.AccessKeyID,
		IssuedAt: issued, Expiration: expires, GrantEnd: grantEnd}, nil
}

// RecordIssuance writes the issuance conditioned on the grant slot still
// holding this request's live, started grant: one transaction, so a revoke
// (which deletes the slot) either commits first and this fails, or commits
// after and its stream event finds the issuance.
func (s *Store) RecordIssuance(ctx context.Context, iss app.Issuance) error {
	k := credentialsKey(iss.RequestID, iss.AccessKeyID)
	it := credentialsItem{PK: k.pk, SK: k.sk, Kind: KindCredentials, RequestID: iss.RequestID, Principal: iss.Principal,
		Type: string(iss.Target.Type), Scope: iss.Target.Scope, Name: iss.Target.Name, PolicyID: iss.PolicyID, RoleARN: iss.RoleARN,
		SessionName: iss.SessionName, SourceIdentity: iss.SourceIdentity, AccessKeyID: iss.AccessKeyID,
		IssuedAt: formatTime(iss.IssuedAt), ExpiresAt: formatTime(iss.Expiration), GrantEndsAt: formatTime(iss.GrantEnd),
		TTL: ttlAt(iss.Expiration), unlistedIndexKeys: unlistedIndex(k)}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return fmt.Errorf("dynamo: encode credentials: %w", err)
	}
	slot := grantSlotKey(iss.Principal, iss.Target)
	check := types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{TableName: aws.String(s.table), Key: slot.av(),
		ConditionExpression:      aws.String("requestId = :id AND #st = :approved AND expiresEpochMs > :now AND (attribute_not_exists(startsAt) OR startsAt <= :nowText)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": str(iss.RequestID), ":approved": str(string(elevate.StatusApproved)),
			":now": num(epochMs(iss.IssuedAt)), ":nowText": str(formatTime(iss.IssuedAt))}}}
	put := s.put(item, "attribute_not_exists(PK)", nil, nil)
	return txResult("record credentials", s.transact(ctx, []types.TransactWriteItem{check, put}), is(app.ErrGrantEnded))
}

// RequestIssuances reads every issuance for a request (one strongly
// consistent Query) and, when there is any, the request (nil when its item
// is gone).
func (s *Store) RequestIssuances(ctx context.Context, requestID string) (*elevate.Request, []app.Issuance, error) {
	items, err := s.queryAll(ctx, "read issuances", credentialsKey(requestID, "").pk)
	if err != nil || len(items) == 0 {
		return nil, nil, err
	}
	out := make([]app.Issuance, 0, len(items))
	for _, item := range items {
		iss, err := decodeAs[credentialsItem]("decode credentials", item)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, iss)
	}
	r, err := s.GetRequest(ctx, requestID)
	if errors.Is(err, elevate.ErrRequestNotFound) {
		return nil, out, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return &r, out, nil
}

func kindOf(item map[string]types.AttributeValue) string {
	if v, ok := item[attrKind].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// revocationItem is a request's entry in a broker role's deny.
type revocationItem struct {
	PK           string `dynamodbav:"PK"`
	SK           string `dynamodbav:"SK"`
	Kind         string `dynamodbav:"kind"`
	RoleARN      string `dynamodbav:"roleArn"`
	RequestID    string `dynamodbav:"requestId"`
	Principal    string `dynamodbav:"principal"`
	Type         string `dynamodbav:"type"`
	Scope        string `dynamodbav:"scope"`
	Name         string `dynamodbav:"name"`
	Ended        bool   `dynamodbav:"ended"`
	NotAfter     string `dynamodbav:"notAfter"`
	Until        string `dynamodbav:"until"`
	LastIssuedAt string `dynamodbav:"lastIssuedAt"`
	TTL          int64  `dynamodbav:"ttl"`
	unlistedIndexKeys
}

func (it revocationItem) domain() (app.Revocation, error) {
	notAfter, err1 := parseTime(it.NotAfter)
	until, err2 := parseTime(it.Until)
	last, err3 := parseTime(it.LastIssuedAt)
	if err1 != nil || err2 != nil || err3 != nil {
		return app.Revocation{}, fmt.Errorf("revocation %q: bad timestamps", it.SK)
	}
	return app.Revocation{RoleARN: it.RoleARN, RequestID: it.RequestID, Principal: it.Principal,
		Target: elevate.Target{Type: elevate.RequestType(it.Type), Scope: it.Scope, Name: it.Name},
		Ended:  it.Ended, NotAfter: notAfter, Until: until, LastIssuedAt: last}, nil
}

type revocationCutoffItem struct {
	PK      string `dynamodbav:"PK"`
	SK      string `dynamodbav:"SK"`
	Kind    string `dynamodbav:"kind"`
	RoleARN string `dynamodbav:"roleArn"`
	Before  string `dynamodbav:"before"`
	Until   string `dynamodbav:"until"`
	TTL     int64  `dynamodbav:"ttl"`
	unlistedIndexKeys
}

func (it revocationCutoffItem) domain() (app.RevocationCutoff, error) {
	before, err1 := parseTime(it.Before)
	until, err2 := parseTime(it.Until)
	if err1 != nil || err2 != nil {
		return app.RevocationCutoff{}, fmt.Errorf("revocation cutoff of %q: bad timestamps", it.RoleARN)
	}
	return app.RevocationCutoff{RoleARN: it.RoleARN, Before: before, Until: until}, nil
}

// PutRevocation writes r unless the stored entry already says the same, so
// a retried event changes nothing and records nothing twice. It also lists
// the role for the sweep. changed is false when nothing was written.
func (s *Store) PutRevocation(ctx context.Context, r app.Revocation) (changed bool, err error) {
	k := revocationKey(r.RoleARN, r.RequestID)
	it := revocationItem{PK: k.pk, SK: k.sk, Kind: KindRevocation, RoleARN: r.RoleARN, RequestID: r.RequestID, Principal: r.Principal,
		Type: string(r.Target.Type), Scope: r.Target.Scope, Name: r.Target.Name, Ended: r.Ended,
		NotAfter: formatTime(r.NotAfter), Until: formatTime(r.Until), LastIssuedAt: formatTime(r.LastIssuedAt), TTL: ttlAt(r.Until),
		unlistedIndexKeys: unlistedIndex(k)}
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return false, fmt.Errorf("dynamo: encode revocation: %w", err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item,
		ConditionExpression:      aws.String("attribute_not_exists(PK) OR ended <> :ended OR notAfter <> :na OR #until <> :until OR lastIssuedAt <> :last"),
		ExpressionAttributeNames: map[string]string{"#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":ended": &types.AttributeValueMemberBOOL{Value: r.Ended}, ":na": str(it.NotAfter),
			":until": str(it.Until), ":last": str(it.LastIssuedAt)}})
	if isConditionFailed(err) {
		return false, s.listBrokerRole(ctx, r.RoleARN)
	}
	if err != nil {
		return false, unavailable("put revocation", err)
	}
	return true, s.listBrokerRole(ctx, r.RoleARN)
}

func (s *Store) listBrokerRole(ctx context.Context, roleARN string) error {
	k := brokerRoleKey(roleARN)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: map[string]types.AttributeValue{
		"PK": str(k.pk), "SK": str(k.sk), attrKind: str(KindBrokerRole), "roleArn": str(roleARN)}})
	if err != nil {
		return unavailable("list broker role", err)
	}
	return nil
}

// BrokerRoles lists every role that has had a deny, for the sweep.
func (s *Store) BrokerRoles(ctx context.Context) ([]string, error) {
	items, err := s.queryAll(ctx, "list broker roles", pkBrokerRoles)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		if v, ok := item["roleArn"].(*types.AttributeValueMemberS); ok {
			out = append(out, v.Value)
		}
	}
	return out, nil
}

// Revocations reads a role's deny entries and its cutoff (nil if none) with
// one strongly consistent Query.
func (s *Store) Revocations(ctx context.Context, roleARN string) ([]app.Revocation, *app.RevocationCutoff, error) {
	items, err := s.queryAll(ctx, "read revocations", revocationCutoffKey(roleARN).pk)
	if err != nil {
		return nil, nil, err
	}
	var out []app.Revocation
	var cutoff *app.RevocationCutoff
	for _, item := range items {
		switch kindOf(item) {
		case KindRevocation:
			r, err := decodeAs[revocationItem]("decode revocation", item)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, r)
		case KindRevocationCutoff:
			c, err := decodeAs[revocationCutoffItem]("decode revocation cutoff", item)
			if err != nil {
				return nil, nil, err
			}
			cutoff = &c
		}
	}
	return out, cutoff, nil
}

// PutRevocationCutoff writes the role's fallback.
func (s *Store) PutRevocationCutoff(ctx context.Context, c app.RevocationCutoff) error {
	k := revocationCutoffKey(c.RoleARN)
	item, err := attributevalue.MarshalMap(revocationCutoffItem{PK: k.pk, SK: k.sk, Kind: KindRevocationCutoff, RoleARN: c.RoleARN,
		Before: formatTime(c.Before), Until: formatTime(c.Until), TTL: ttlAt(c.Until), unlistedIndexKeys: unlistedIndex(k)})
	if err != nil {
		return fmt.Errorf("dynamo: encode revocation cutoff: %w", err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return unavailable("put revocation cutoff", err)
	}
	return nil
}

// DeleteExpiredRevocation removes a request's entry, or the cutoff when
// requestID is "", if its until is still the one read: an entry a newer
// issuance lengthened stays.
func (s *Store) DeleteExpiredRevocation(ctx context.Context, roleARN, requestID string, until time.Time) error {
	k := revocationKey(roleARN, requestID)
	if requestID == "" {
		k = revocationCutoffKey(roleARN)
	}
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: k.av(),
		ConditionExpression: aws.String("#until = :until"), ExpressionAttributeNames: map[string]string{"#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":until": str(formatTime(until))}})
	if err != nil && !isConditionFailed(err) {
		return unavailable("delete revocation", err)
	}
	return nil
}

// IssuanceFromImage decodes a credentials item's stream image.
func IssuanceFromImage(img map[string]events.DynamoDBAttributeValue) (app.Issuance, error) {
	var it credentialsItem
	if err := decodeImage(img, KindCredentials, &it); err != nil {
		return app.Issuance{}, err
	}
	return it.domain()
}

// RevocationFromImage decodes a revocation entry's stream image.
func RevocationFromImage(img map[string]events.DynamoDBAttributeValue) (app.Revocation, error) {
	var it revocationItem
	if err := decodeImage(img, KindRevocation, &it); err != nil {
		return app.Revocation{}, err
	}
	return it.domain()
}

// RevocationCutoffFromImage decodes a cutoff's stream image.
func RevocationCutoffFromImage(img map[string]events.DynamoDBAttributeValue) (app.RevocationCutoff, error) {
	var it revocationCutoffItem
	if err := decodeImage(img, KindRevocationCutoff, &it); err != nil {
		return app.RevocationCutoff{}, err
	}
	return it.domain()
}

// DeleteLiveRevocation removes a request's entry that denies from a grant
// end which has since moved; an ended request's entry is never removed here.
func (s *Store) DeleteLiveRevocation(ctx context.Context, roleARN, requestID string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: revocationKey(roleARN, requestID).av(),
		ConditionExpression:       aws.String("ended = :false"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":false": &types.AttributeValueMemberBOOL{Value: false}}})
	if err != nil && !isConditionFailed(err) {
		return unavailable("delete revocation", err)
	}
	return nil
}
