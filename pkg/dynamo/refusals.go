package dynamo

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/elevate-pam/elevate/pkg/app"
)

// RecordRefusal writes one refusal's event item, once per event ID.
func (s *Store) RecordRefusal(ctx context.Context, ev app.Event) error {
	err := s.putEvent(ctx, ev, aws.String("attribute_not_exists(PK)"))
	if isConditionFailed(err) {
		return nil // this slot of bounded refusals is already recorded
	}
	if err != nil {
		return unavailable("record refusal", err)
	}
	return nil
}
