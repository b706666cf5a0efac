package dynamo

import (
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// ImageKind returns the item kind (KindRequest, KindGrant, ...) of a stream
// image, or "" when it has none.
func ImageKind(img map[string]events.DynamoDBAttributeValue) string {
	v, ok := img[attrKind]
	if !ok || v.DataType() != events.DataTypeString {
		return ""
	}
	return v.String()
}

// RequestFromImage decodes a request item's stream image.
func RequestFromImage(img map[string]events.DynamoDBAttributeValue) (elevate.Request, error) {
	var it requestItem
	if err := decodeImage(img, KindRequest, &it); err != nil {
		return elevate.Request{}, err
	}
	return it.domain()
}

// GrantFromImage decodes a grant slot's stream image. status is the slot's
// Pending (the request is still open) or Approved (the slot is a grant).
func GrantFromImage(img map[string]events.DynamoDBAttributeValue) (g elevate.Grant, status elevate.Status, err error) {
	var it grantItem
	if err := decodeImage(img, KindGrant, &it); err != nil {
		return elevate.Grant{}, "", err
	}
	return it.domain()
}

// SettingsFromImage decodes the settings item's stream image.
func SettingsFromImage(img map[string]events.DynamoDBAttributeValue) (elevate.Settings, error) {
	var it settingsItem
	if err := decodeImage(img, KindSettings, &it); err != nil {
		return elevate.Settings{}, err
	}
	return it.domain()
}

// GroupFromImage decodes a group item's stream image.
func GroupFromImage(img map[string]events.DynamoDBAttributeValue) (elevate.Group, error) {
	var it groupItem
	if err := decodeImage(img, KindGroup, &it); err != nil {
		return elevate.Group{}, err
	}
	return it.domain()
}

// PolicyFromImage decodes a policy item's stream image.
func PolicyFromImage(img map[string]events.DynamoDBAttributeValue) (elevate.Policy, error) {
	var it policyItem
	if err := decodeImage(img, KindPolicy, &it); err != nil {
		return elevate.Policy{}, err
	}
	return it.domain()
}

// EventFromImage decodes an audit-only event item's stream image.
func EventFromImage(img map[string]events.DynamoDBAttributeValue) (app.Event, error) {
	var it eventItem
	if err := decodeImage(img, KindEvent, &it); err != nil {
		return app.Event{}, err
	}
	return it.domain()
}

// IsTTLDelete reports whether a REMOVE record was made by DynamoDB's TTL
// rather than by a manual delete: TTL deletions carry the service identity.
func IsTTLDelete(rec events.DynamoDBEventRecord) bool {
	return rec.EventName == string(events.DynamoDBOperationTypeRemove) && rec.UserIdentity != nil &&
		rec.UserIdentity.Type == "Service" && rec.UserIdentity.PrincipalID == "dynamodb.amazonaws.com"
}

// LapsedSlot reports the grant slot whose pending request or grant a stream
// record shows ending by lapse: TTL deleting the slot, or a new request
// taking over a slot that had lapsed before TTL got to it (no TTL REMOVE will
// ever come for the old one then). Manual deletes are decisions, recorded
// from the request item, not lapses.
func LapsedSlot(rec events.DynamoDBEventRecord) (old elevate.Grant, wasPending, ok bool, err error) {
	c := rec.Change
	byTTL := IsTTLDelete(rec)
	if ImageKind(c.OldImage) != KindGrant || (!byTTL && rec.EventName != string(events.DynamoDBOperationTypeModify)) {
		return elevate.Grant{}, false, false, nil
	}
	old, status, err := GrantFromImage(c.OldImage)
	if err != nil {
		return elevate.Grant{}, false, false, err
	}
	if !byTTL {
		cur, _, err := GrantFromImage(c.NewImage)
		if err != nil || cur.RequestID == old.RequestID {
			return elevate.Grant{}, false, false, err
		}
	}
	return old, status == elevate.StatusPending, true, nil
}

// ErrWrongKind is returned when an image is not of the kind asked for.
var ErrWrongKind = errors.New("dynamo: stream image is not of the expected kind")

func decodeImage(img map[string]events.DynamoDBAttributeValue, kind string, out any) error {
	if got := ImageKind(img); got != kind {
		return fmt.Errorf("%w: want %q, got %q", ErrWrongKind, kind, got)
	}
	m, err := fromLambdaMap(img)
	if err != nil {
		return err
	}
	if err := attributevalue.UnmarshalMap(m, out); err != nil {
		return fmt.Errorf("dynamo: decode %s image: %w", kind, err)
	}
	return nil
}

func fromLambdaMap(img map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	m := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		av, err := fromLambda(v)
		if err != nil {
			return nil, fmt.Errorf("dynamo: attribute %q: %w", k, err)
		}
		m[k] = av
	}
	return m, nil
}

func fromLambda(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case events.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case events.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, 0, len(l))
		for _, e := range l {
			av, err := fromLambda(e)
			if err != nil {
				return nil, err
			}
			out = append(out, av)
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case events.DataTypeMap:
		m, err := fromLambdaMap(v.Map())
		if err != nil {
			return nil, err
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unsupported data type %v", v.DataType())
}

// ToLambdaImage converts an SDK item to the Lambda event form. Tests and the
// local runtime's stream poller use it to build stream images.
func ToLambdaImage(item map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	out := make(map[string]events.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		lv, err := toLambda(v)
		if err != nil {
			return nil, fmt.Errorf("dynamo: attribute %q: %w", k, err)
		}
		out[k] = lv
	}
	return out, nil
}

func toLambda(v types.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value), nil
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value), nil
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value), nil
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value), nil
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, 0, len(v.Value))
		for _, e := range v.Value {
			lv, err := toLambda(e)
			if err != nil {
				return events.DynamoDBAttributeValue{}, err
			}
			l = append(l, lv)
		}
		return events.NewListAttribute(l), nil
	case *types.AttributeValueMemberM:
		m, err := ToLambdaImage(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		return events.NewMapAttribute(m), nil
	}
	return events.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value %T", v)
}
