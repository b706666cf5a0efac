package dynamo

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

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
