// Package redrive replays a stream range a consumer gave up on. Lambda sends
// the failure queue a description of the batch (shard, first and last
// sequence numbers), not its records; while the stream still holds them
// (24 hours, and consumers give up after six), they are read back and fed
// to the same handler. The handlers are idempotent (delivery markers, audit
// objects keyed by event ID), so a range redriven twice, or partly
// processed before, changes nothing the second time.
package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/elevate-pam/elevate/pkg/streamrecord"
)

// FailureRecord is the message Lambda sends an event source mapping's
// on-failure destination for a DynamoDB stream batch it discarded.
type FailureRecord struct {
	RequestContext struct {
		RequestID              string `json:"requestId"`
		FunctionARN            string `json:"functionArn"`
		Condition              string `json:"condition"` // RetryAttemptsExhausted, RecordAgeExceeded, ...
		ApproximateInvokeCount int    `json:"approximateInvokeCount"`
	} `json:"requestContext"`
	Version   string    `json:"version"`
	Timestamp string    `json:"timestamp"`
	Batch     BatchInfo `json:"DDBStreamBatchInfo"`
}

// BatchInfo locates the discarded batch in the stream.
type BatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

// ErrNotAFailureRecord: the message does not describe a stream batch.
var ErrNotAFailureRecord = errors.New("redrive: not a DynamoDB stream failure record")

// ErrRangeGone: the stream no longer holds (all of) the range; it was
// trimmed after 24 hours and cannot be redriven.
var ErrRangeGone = errors.New("redrive: the stream no longer holds this range")

// Parse reads a failure-queue message body.
func Parse(body []byte) (FailureRecord, error) {
	var f FailureRecord
	if err := json.Unmarshal(body, &f); err != nil {
		return f, fmt.Errorf("%w: %w", ErrNotAFailureRecord, err)
	}
	b := f.Batch
	if b.ShardID == "" || b.StreamARN == "" || seq(b.StartSequenceNumber) == nil || seq(b.EndSequenceNumber) == nil ||
		seq(b.StartSequenceNumber).Cmp(seq(b.EndSequenceNumber)) > 0 {
		return f, ErrNotAFailureRecord
	}
	return f, nil
}

// Streams is the part of the DynamoDB Streams API a redrive reads.
type Streams interface {
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// maxEmptyReads bounds the reads that return nothing before the range's
// last record is seen: an open shard answers empty pages while caught up.
const maxEmptyReads = 5

// Read returns the range's records, in stream order, as Lambda would have
// delivered them.
func Read(ctx context.Context, s Streams, b BatchInfo, region string) ([]events.DynamoDBEventRecord, error) {
	start, end := seq(b.StartSequenceNumber), seq(b.EndSequenceNumber)
	it, err := s.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(b.StreamARN), ShardId: aws.String(b.ShardID),
		ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(b.StartSequenceNumber),
	})
	var trimmed *types.TrimmedDataAccessException
	var missing *types.ResourceNotFoundException
	if errors.As(err, &trimmed) || errors.As(err, &missing) {
		return nil, fmt.Errorf("%w: %w", ErrRangeGone, err)
	}
	if err != nil {
		return nil, fmt.Errorf("redrive: shard iterator: %w", err)
	}
	var out []events.DynamoDBEventRecord
	iter, empty := it.ShardIterator, 0
	for iter != nil {
		page, err := s.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if errors.As(err, &trimmed) {
			return nil, fmt.Errorf("%w: %w", ErrRangeGone, err)
		}
		if err != nil {
			return nil, fmt.Errorf("redrive: read the stream: %w", err)
		}
		for _, r := range page.Records {
			n := seq(aws.ToString(r.Dynamodb.SequenceNumber))
			if n == nil || n.Cmp(start) < 0 {
				continue
			}
			if n.Cmp(end) > 0 {
				return out, nil
			}
			out = append(out, streamrecord.Convert(r, b.StreamARN, region))
			if n.Cmp(end) == 0 {
				return out, nil
			}
		}
		if len(page.Records) == 0 {
			if empty++; empty >= maxEmptyReads {
				break
			}
		} else {
			empty = 0
		}
		iter = page.NextShardIterator
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: nothing from %s on in shard %s", ErrRangeGone, b.StartSequenceNumber, b.ShardID)
	}
	return nil, fmt.Errorf("%w: read %d records but not the last one, %s", ErrRangeGone, len(out), b.EndSequenceNumber)
}

// Handler is a stream consumer: the deployed function (invoked) or the
// handler itself.
type Handler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// maxBatch is the event source mapping's batch size.
const maxBatch = 100

// Result says what a redrive did.
type Result struct {
	Records int
	// FailedAt is the sequence number the handler reported it could not
	// process (the range is not done; keep the message), or "".
	FailedAt string
}

// Feed hands the records to h in batches of at most 100, as the event
// source mapping would, and stops at the first batch item failure.
func Feed(ctx context.Context, h Handler, recs []events.DynamoDBEventRecord) (Result, error) {
	var res Result
	for len(recs) > 0 {
		n := min(len(recs), maxBatch)
		resp, err := h(ctx, events.DynamoDBEvent{Records: recs[:n]})
		if err != nil {
			return res, fmt.Errorf("redrive: the handler failed: %w", err)
		}
		if len(resp.BatchItemFailures) > 0 {
			res.FailedAt = resp.BatchItemFailures[0].ItemIdentifier
			for i, r := range recs[:n] {
				if r.Change.SequenceNumber == res.FailedAt {
					res.Records += i
					return res, nil
				}
			}
			return res, nil
		}
		res.Records += n
		recs = recs[n:]
	}
	return res, nil
}

// One redrives the range one failure-queue message describes.
func One(ctx context.Context, s Streams, h Handler, body []byte, region string) (FailureRecord, Result, error) {
	f, err := Parse(body)
	if err != nil {
		return f, Result{}, err
	}
	recs, err := Read(ctx, s, f.Batch, region)
	if err != nil {
		return f, Result{}, err
	}
	res, err := Feed(ctx, h, recs)
	return f, res, err
}

func seq(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return nil
	}
	return n
}
