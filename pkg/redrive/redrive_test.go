package redrive_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/audit"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
	"github.com/elevate-pam/elevate/pkg/redrive"
)

func TestMain(m *testing.M) { emulatortest.DynamoMain(m) }

// failureRecord is what Lambda sends the on-failure destination of a
// DynamoDB stream event source mapping (the AWS Lambda developer guide's
// example invocation record), for the range first..last of one shard.
func failureRecord(streamARN, shard, first, last string, size int) []byte {
	b, err := json.Marshal(map[string]any{
		"requestContext": map[string]any{
			"requestId": "316aa6d0-8154-xmpl-9af7-85d5f4a6bc81", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:Elevate-AuditFunction",
			"condition": "RecordAgeExceeded", "approximateInvokeCount": 1,
		},
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"version":         "1.0",
		"timestamp":       "2026-12-02T03:00:00.000Z",
		"DDBStreamBatchInfo": map[string]any{
			"shardId": shard, "startSequenceNumber": first, "endSequenceNumber": last,
			"approximateArrivalOfFirstRecord": "2026-12-02T02:59:58Z", "approximateArrivalOfLastRecord": "2026-12-02T02:59:59Z",
			"batchSize": size, "streamArn": streamARN,
		},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// Issue 23 item 4: the audit consumer gave up on a range (S3 was down); the
// failure record is redriven from DynamoDB Local's stream into the same
// handler once S3 is back, and redriving it again writes nothing more.
func TestRedriveReplaysTheRangeIdempotently(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, endpoint := emulatortest.DynamoForTest(t)
	table := emulatortest.UniqueTableName("redrive")
	if err := dynamo.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	store := dynamo.New(db, table, []byte("0123456789abcdef0123456789abcdef-page"))
	now := time.Now().UTC().Truncate(time.Millisecond)
	g, err := elevate.NewGroup(elevate.NewGroupInput{Name: "ops", Members: []string{"bob@example.com"}}, "admin@example.com", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateGroup(ctx, g, app.Event{ID: "ev-group", Time: now, Action: "group.created", Actor: "admin@example.com"}); err != nil {
		t.Fatal(err)
	}
	r := elevate.Request{
		ID: "r-redrive", Type: elevate.TypeTask, Scope: "Exchange", Name: "New-MoveRequest", Requester: "rita@example.com",
		Reason: "redrive", DurationHours: 1, Status: elevate.StatusPending, ApprovalType: elevate.ApprovalManual,
		ApproverGroup: "ops", RequiredApprovals: 1, Decisions: []elevate.Decision{}, CreatedAt: now,
		ExpiresAt: now.Add(24 * time.Hour), Version: 1,
	}
	if err := store.CreateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	next, err := r.Approve(elevate.Decider{Principal: "bob@example.com", InGroup: true}, "fine", now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SaveDecision(ctx, r, next, elevate.Group{}, "", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}

	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	streamARN := aws.ToString(desc.Table.LatestStreamArn)
	streams := emulator.StreamsClient(endpoint)
	sd, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamARN)})
	if err != nil || len(sd.StreamDescription.Shards) != 1 {
		t.Fatalf("describe stream: %v", err)
	}
	shard := aws.ToString(sd.StreamDescription.Shards[0].ShardId)
	// The whole shard so far, as the event source mapping delivered it.
	all, err := redrive.Read(ctx, streams, redrive.BatchInfo{ShardID: shard, StreamARN: streamARN,
		StartSequenceNumber: aws.ToString(sd.StreamDescription.Shards[0].SequenceNumberRange.StartingSequenceNumber),
		EndSequenceNumber:   "99999999999999999999999999999999999999"}, emulator.Region)
	if !errors.Is(err, redrive.ErrRangeGone) || all != nil {
		t.Fatalf("a range whose end never arrives: %d records, %v; want ErrRangeGone", len(all), err)
	}

	s3srv, err := emulator.StartS3("audit-redrive")
	if err != nil {
		t.Fatal(err)
	}
	defer s3srv.Close()
	handler := audit.NewHandler(audit.HandlerDeps{S3: emulator.S3Client(s3srv.Endpoint), Bucket: "audit-redrive"})

	// Find the range: every record of the shard, read from its start.
	var seqs []string
	page, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(streamARN), ShardId: aws.String(shard), ShardIteratorType: "TRIM_HORIZON"})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: page.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs.Records {
		seqs = append(seqs, aws.ToString(rec.Dynamodb.SequenceNumber))
	}
	if len(seqs) < 3 {
		t.Fatalf("%d stream records, want the request's creation, decision and grant", len(seqs))
	}
	msg := failureRecord(streamARN, shard, seqs[0], seqs[len(seqs)-1], len(seqs))

	// While S3 is down the handler reports the first record: the range is not done.
	s3srv.SetDown(true)
	_, res, err := redrive.One(ctx, streams, handler, msg, emulator.Region)
	if err != nil || res.FailedAt != seqs[0] || res.Records != 0 {
		t.Fatalf("redrive with S3 down: %+v, %v; want the first record reported", res, err)
	}
	s3srv.SetDown(false)

	f, res, err := redrive.One(ctx, streams, handler, msg, emulator.Region)
	if err != nil || res.FailedAt != "" || res.Records != len(seqs) {
		t.Fatalf("redrive: %+v, %v; want all %d records", res, err, len(seqs))
	}
	if f.Batch.ShardID != shard || f.RequestContext.Condition != "RecordAgeExceeded" {
		t.Errorf("parsed %+v", f)
	}
	keys, err := s3srv.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatalf("no audit object after the redrive of %d records", len(seqs))
	}

	// Again: the same handler, the same records, nothing new.
	if _, res, err := redrive.One(ctx, streams, handler, msg, emulator.Region); err != nil || res.Records != len(seqs) {
		t.Fatalf("second redrive: %+v, %v", res, err)
	}
	again, err := s3srv.Keys()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again, keys) {
		t.Fatalf("the second redrive changed the audit objects: %d, then %d", len(keys), len(again))
	}

	// Only part of the range: its own records, no more.
	part := failureRecord(streamARN, shard, seqs[1], seqs[1], 1)
	if _, res, err := redrive.One(ctx, streams, handler, part, emulator.Region); err != nil || res.Records != 1 {
		t.Fatalf("one-record range: %+v, %v", res, err)
	}

	for name, body := range map[string]string{
		"not JSON":           "{",
		"an SQS test event":  `{"Service":"Amazon S3","Event":"s3:TestEvent"}`,
		"range backwards":    string(failureRecord(streamARN, shard, seqs[1], seqs[0], 2)),
		"no sequence number": string(failureRecord(streamARN, shard, "", seqs[0], 1)),
	} {
		if _, _, err := redrive.One(ctx, streams, handler, []byte(body), emulator.Region); !errors.Is(err, redrive.ErrNotAFailureRecord) {
			t.Errorf("%s: %v, want ErrNotAFailureRecord", name, err)
		}
	}
}
