package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// memQueue hands out its messages once and records deletions.
type memQueue struct {
	msgs    []sqstypes.Message
	deleted []string
}

func (q *memQueue) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	n := min(int(in.MaxNumberOfMessages), len(q.msgs))
	out := &sqs.ReceiveMessageOutput{Messages: q.msgs[:n]}
	q.msgs = q.msgs[n:]
	return out, nil
}

func (q *memQueue) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	q.deleted = append(q.deleted, aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

// shard is one stream shard holding records with the given sequence numbers.
type shard []string

func (s shard) GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String("it")}, nil
}

func (s shard) GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	var recs []types.Record
	for _, n := range s {
		recs = append(recs, types.Record{EventID: aws.String("e" + n), EventName: types.OperationTypeInsert,
			Dynamodb: &types.StreamRecord{SequenceNumber: aws.String(n)}})
	}
	return &dynamodbstreams.GetRecordsOutput{Records: recs}, nil
}

func failureMessage(id, first, last string) sqstypes.Message {
	return sqstypes.Message{MessageId: aws.String(id), ReceiptHandle: aws.String(id), Body: aws.String(`{"version":"1.0",
		"DDBStreamBatchInfo":{"shardId":"shardId-1","startSequenceNumber":"` + first + `","endSequenceNumber":"` + last + `",
		"batchSize":2,"streamArn":"arn:aws:dynamodb:eu-west-1:123456789012:table/elevate/stream/x"}}`)}
}

// A message is deleted only once its whole range went through the handler;
// one the handler still fails on, or that is no failure record, stays.
func TestRedriveQueueDeletesOnlyWhatWentThrough(t *testing.T) {
	q := &memQueue{msgs: []sqstypes.Message{
		failureMessage("ok", "100", "200"),
		failureMessage("still-failing", "300", "400"),
		{MessageId: aws.String("junk"), ReceiptHandle: aws.String("junk"), Body: aws.String(`{"hello":1}`)},
	}}
	var fed []string
	handler := func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		var resp events.DynamoDBEventResponse
		for _, r := range ev.Records {
			if r.Change.SequenceNumber == "400" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: "400"})
				return resp, nil
			}
			fed = append(fed, r.Change.SequenceNumber)
		}
		return resp, nil
	}
	var out bytes.Buffer
	a := &app{env: Env{Stdout: &out}}
	err := a.redriveQueue(context.Background(), q, shard{"100", "200", "300", "400", "500"}, handler, "https://sqs/q", "eu-west-1", 10)
	if err == nil || !strings.Contains(err.Error(), "2 failure records") {
		t.Fatalf("error %v, want 2 kept", err)
	}
	if strings.Join(q.deleted, ",") != "ok" {
		t.Errorf("deleted %v, want only the message whose range went through", q.deleted)
	}
	if strings.Join(fed, ",") != "100,200,300" {
		t.Errorf("handler saw %v", fed)
	}
	for _, want := range []string{"redriven shard shardId-1 100..200: 2 records", "still fails at 400", "kept     junk", "1 redriven, 2 kept"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
