package dynamo

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ToLambdaImage converts an SDK item to the Lambda event form, so tests can
// build stream images from items the store wrote.
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

// OnGroupUse calls f at each step of the group-use protocol (groupuse.go)
// that this store runs, so a test can interleave a request and a group
// delete exactly.
func (s *Store) OnGroupUse(f func(step string)) { s.onGroupUse = f }

// MemberKey is the key of principal's member item in incarnation gen of
// group, so a test can leave one behind as a dead deleter would.
func MemberKey(group, gen, principal string) map[string]types.AttributeValue {
	return memberKey(group, gen, principal).av()
}
