package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// FixtureItems are the items CreateRequest (and, for an approved request,
// the final approval) leaves for r: the request and its grant slot, which is
// the grant once r is Approved. Benchmarks load tables of realistic size
// with them through BatchWriteItem; the service itself never writes
// unconditionally.
func FixtureItems(r elevate.Request) (request, slot map[string]types.AttributeValue, err error) {
	if request, err = marshal(toRequestItem(r)); err != nil {
		return nil, nil, err
	}
	if slot, err = marshal(toGrantItem(r)); err != nil {
		return nil, nil, err
	}
	return request, slot, nil
}
