package emulatortest

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// WatchStream reads every record of a DynamoDB Local stream from the trim
// horizon, following new shards, and calls fn for each until fn returns true
// (WatchStream then returns nil) or ctx ends.
func WatchStream(ctx context.Context, streams *dynamodbstreams.Client, streamArn string, fn func(streamtypes.Record) bool) error {
	iters := map[string]*string{} // shard ID → next iterator; nil once closed
	for {
		desc, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamArn)})
		if err != nil {
			return fmt.Errorf("emulatortest: describe stream: %w", err)
		}
		for _, sh := range desc.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if _, known := iters[id]; known {
				continue
			}
			it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(streamArn),
				ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
			if err != nil {
				return fmt.Errorf("emulatortest: shard iterator: %w", err)
			}
			iters[id] = it.ShardIterator
		}
		for id, it := range iters {
			if it == nil {
				continue
			}
			out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
			if err != nil {
				return fmt.Errorf("emulatortest: get records: %w", err)
			}
			for _, r := range out.Records {
				if fn(r) {
					return nil
				}
			}
			iters[id] = out.NextShardIterator
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// IsTTLRemove reports whether a stream record is a deletion by DynamoDB's
// TTL process rather than by a caller.
func IsTTLRemove(r streamtypes.Record) bool {
	return r.EventName == streamtypes.OperationTypeRemove && r.UserIdentity != nil &&
		aws.ToString(r.UserIdentity.Type) == "Service" && aws.ToString(r.UserIdentity.PrincipalId) == "dynamodb.amazonaws.com"
}
