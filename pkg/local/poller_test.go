package local

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.DynamoMain(m) }

// streamTable creates a small table with a NEW_AND_OLD_IMAGES stream and TTL
// on "ttl", and returns its stream ARN.
func streamTable(t *testing.T, db *dynamodb.Client) (string, string) {
	t.Helper()
	ctx := context.Background()
	name := emulatortest.UniqueTableName("poller")
	out, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: ddbtypes.KeyTypeHash}},
		StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(name),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String("ttl"), Enabled: aws.Bool(true)},
	}); err != nil {
		t.Fatal(err)
	}
	return name, aws.ToString(out.TableDescription.LatestStreamArn)
}

func putItems(t *testing.T, db *dynamodb.Client, table string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item:      map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: k}},
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// consumerLog records every batch a consumer was handed.
type consumerLog struct {
	mu      sync.Mutex
	batches [][]events.DynamoDBEventRecord
	decide  func(call int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
}

func (l *consumerLog) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, ev.Records)
	if l.decide != nil {
		return l.decide(len(l.batches), ev)
	}
	return events.DynamoDBEventResponse{}, nil
}

// keys returns the PK of each delivered record, per batch.
func (l *consumerLog) keys() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([][]string, len(l.batches))
	for i, b := range l.batches {
		for _, r := range b {
			out[i] = append(out[i], r.Change.Keys["PK"].String())
		}
	}
	return out
}

func (l *consumerLog) seen(key string) int {
	n := 0
	for _, b := range l.keys() {
		for _, k := range b {
			if k == key {
				n++
			}
		}
	}
	return n
}

// eventually polls cond; the deadline only bounds a hung test, it is not a
// performance assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func failItem(ev events.DynamoDBEvent, key string) events.DynamoDBEventResponse {
	for _, r := range ev.Records {
		if r.Change.Keys["PK"].String() == key {
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: r.Change.SequenceNumber}}}
		}
	}
	return events.DynamoDBEventResponse{}
}

func startPoller(t *testing.T, endpoint, arn string, consumers ...Consumer) *Poller {
	t.Helper()
	p := &Poller{
		Streams:    emulator.StreamsClient(endpoint),
		StreamARN:  arn,
		Region:     "eu-west-1",
		Consumers:  consumers,
		Interval:   50 * time.Millisecond,
		MaxRetries: 3,
		Backoff:    func(int) time.Duration { return time.Millisecond },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

func TestPollerAgainstDynamoDBLocal(t *testing.T) {
	db, endpoint := emulatortest.DynamoForTest(t)
	table, arn := streamTable(t, db)
	putItems(t, db, table, "k1", "k2", "k3")

	plain := &consumerLog{}
	var failedOnce bool
	flaky := &consumerLog{decide: func(_ int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if !failedOnce && slices.ContainsFunc(ev.Records, func(r events.DynamoDBEventRecord) bool { return r.Change.Keys["PK"].String() == "k2" }) {
			failedOnce = true
			return failItem(ev, "k2"), nil
		}
		return events.DynamoDBEventResponse{}, nil
	}}
	erroring := &consumerLog{decide: func(call int, _ events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		if call == 1 {
			return events.DynamoDBEventResponse{}, errors.New("boom")
		}
		return events.DynamoDBEventResponse{}, nil
	}}
	stuck := &consumerLog{decide: func(_ int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return failItem(ev, "k2"), nil
	}}
	p := startPoller(t, endpoint, arn,
		Consumer{Name: "plain", Handle: plain.handle}, Consumer{Name: "flaky", Handle: flaky.handle},
		Consumer{Name: "erroring", Handle: erroring.handle}, Consumer{Name: "stuck", Handle: stuck.handle})

	eventually(t, "every consumer to see k3", func() bool {
		return plain.seen("k3") > 0 && flaky.seen("k3") > 1 && erroring.seen("k3") > 1 && stuck.seen("k2") == 4
	})

	t.Run("plain consumer gets each record once, in order", func(t *testing.T) {
		var all []string
		for _, b := range plain.keys() {
			all = append(all, b...)
		}
		eq(t, "records", strings.Join(all, ","), "k1,k2,k3")
		rec := plain.batches[0][0]
		eq(t, "eventSource", rec.EventSource, "aws:dynamodb")
		eq(t, "eventName", rec.EventName, "INSERT")
		eq(t, "awsRegion", rec.AWSRegion, "eu-west-1")
		eq(t, "eventSourceARN", rec.EventSourceArn, arn)
		eq(t, "streamViewType", rec.Change.StreamViewType, "NEW_AND_OLD_IMAGES")
		if rec.EventID == "" || rec.Change.SequenceNumber == "" || rec.Change.NewImage["PK"].String() != "k1" {
			t.Errorf("record is incomplete: %+v", rec)
		}
	})
	t.Run("reported failure re-delivers from the failed record", func(t *testing.T) {
		ks := flaky.keys()
		i := slices.IndexFunc(ks, func(b []string) bool { return slices.Contains(b, "k2") })
		if i < 0 || i+1 >= len(ks) {
			t.Fatalf("batches %v", ks)
		}
		eq(t, "first record after failure", ks[i+1][0], "k2")
		eq(t, "k1 deliveries", flaky.seen("k1"), 1)
	})
	t.Run("handler error re-delivers the whole batch", func(t *testing.T) {
		ks := erroring.keys()
		eq(t, "retry starts at", ks[1][0], ks[0][0])
		eq(t, "k1 deliveries", erroring.seen("k1"), 2)
	})
	t.Run("bounded retries, then the rest of the batch is dropped, as in Lambda", func(t *testing.T) {
		// 1 attempt + MaxRetries re-deliveries of k2, each batch from k2 on;
		// then k2 and everything after it in that batch are given up.
		eq(t, "k2 deliveries", stuck.seen("k2"), 4)
		for _, b := range stuck.keys() {
			if slices.Contains(b, "k3") && !slices.Contains(b, "k2") {
				t.Errorf("k3 was delivered again after its batch was given up: %v", stuck.keys())
			}
		}
	})
	t.Run("checkpoints advance independently to the last record", func(t *testing.T) {
		want := plain.batches[len(plain.batches)-1]
		last := want[len(want)-1].Change.SequenceNumber
		for _, name := range []string{"plain", "flaky", "erroring", "stuck"} {
			eventually(t, name+" checkpoint", func() bool {
				return slices.ContainsFunc(p.Checkpoints(name), func(c Checkpoint) bool { return c.Sequence == last })
			})
		}
		if p.Checkpoints("nobody") != nil {
			t.Error("unknown consumer has checkpoints")
		}
	})

	t.Run("later writes keep flowing", func(t *testing.T) {
		putItems(t, db, table, "k4")
		eventually(t, "k4", func() bool { return plain.seen("k4") == 1 && stuck.seen("k4") == 1 })
	})
}

// TestTTLPollerKeepsServiceIdentity waits for DynamoDB Local's TTL sweeper
// (about a minute), so it runs in the make ttl group.
func TestTTLPollerKeepsServiceIdentity(t *testing.T) {
	db, endpoint := emulatortest.DynamoForTest(t)
	table, arn := streamTable(t, db)
	past := fmt.Sprint(time.Now().Add(-time.Hour).Unix())
	if _, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]ddbtypes.AttributeValue{
			"PK":  &ddbtypes.AttributeValueMemberS{Value: "expiring"},
			"ttl": &ddbtypes.AttributeValueMemberN{Value: past},
		},
	}); err != nil {
		t.Fatal(err)
	}
	putItems(t, db, table, "manual")
	if _, err := db.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
		TableName: aws.String(table),
		Key:       map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: "manual"}},
	}); err != nil {
		t.Fatal(err)
	}
	c := &consumerLog{}
	startPoller(t, endpoint, arn, Consumer{Name: "c", Handle: c.handle})
	find := func(key string) *events.DynamoDBEventRecord {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, b := range c.batches {
			for i := range b {
				if b[i].EventName == "REMOVE" && b[i].Change.Keys["PK"].String() == key {
					return &b[i]
				}
			}
		}
		return nil
	}
	deadline := time.Now().Add(5 * time.Minute)
	for find("expiring") == nil {
		if time.Now().After(deadline) {
			t.Fatal("no TTL REMOVE record")
		}
		time.Sleep(time.Second)
	}
	ttl := find("expiring")
	if ttl.UserIdentity == nil {
		t.Fatal("TTL REMOVE lost its userIdentity")
	}
	eq(t, "type", ttl.UserIdentity.Type, "Service")
	eq(t, "principalId", ttl.UserIdentity.PrincipalID, "dynamodb.amazonaws.com")
	eq(t, "old image ttl", ttl.Change.OldImage["ttl"].Number(), past)
	manual := find("manual")
	if manual == nil {
		t.Fatal("no manual REMOVE record")
	}
	if manual.UserIdentity != nil {
		t.Errorf("manual delete has userIdentity %+v", manual.UserIdentity)
	}
}

func TestConvertRecord(t *testing.T) {
	at := time.Unix(1700000000, 0)
	r := types.Record{
		AwsRegion:    aws.String("ddblocal"),
		EventID:      aws.String("e1"),
		EventName:    types.OperationTypeRemove,
		EventVersion: aws.String("1.1"),
		UserIdentity: &types.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: &at,
			Keys:                        map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}},
			OldImage: map[string]types.AttributeValue{
				"s":    &types.AttributeValueMemberS{Value: "x"},
				"n":    &types.AttributeValueMemberN{Value: "42"},
				"b":    &types.AttributeValueMemberB{Value: []byte{1, 2}},
				"t":    &types.AttributeValueMemberBOOL{Value: true},
				"null": &types.AttributeValueMemberNULL{Value: true},
				"ss":   &types.AttributeValueMemberSS{Value: []string{"p", "q"}},
				"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2"}},
				"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{3}}},
				"l":    &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "i"}}},
				"m":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberN{Value: "7"}}},
			},
			SequenceNumber: aws.String("100"),
			SizeBytes:      aws.Int64(12),
			StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	}
	got := ConvertRecord(r, "arn:stream", "")
	eq(t, "region", got.AWSRegion, "ddblocal")
	eq(t, "eventSource", got.EventSource, "aws:dynamodb")
	eq(t, "eventName", got.EventName, "REMOVE")
	eq(t, "identity", *got.UserIdentity, events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"})
	eq(t, "time", got.Change.ApproximateCreationDateTime.Unix(), int64(1700000000))
	eq(t, "seq", got.Change.SequenceNumber, "100")
	eq(t, "size", got.Change.SizeBytes, int64(12))
	if got.Change.NewImage != nil {
		t.Error("NewImage should stay nil")
	}
	o := got.Change.OldImage
	eq(t, "s", o["s"].String(), "x")
	eq(t, "n", o["n"].Number(), "42")
	eq(t, "b", string(o["b"].Binary()), "\x01\x02")
	eq(t, "t", o["t"].Boolean(), true)
	eq(t, "null", o["null"].IsNull(), true)
	eq(t, "ss", strings.Join(o["ss"].StringSet(), ","), "p,q")
	eq(t, "ns", strings.Join(o["ns"].NumberSet(), ","), "1,2")
	eq(t, "bs", len(o["bs"].BinarySet()), 1)
	eq(t, "l", o["l"].List()[0].String(), "i")
	eq(t, "m", o["m"].Map()["k"].Number(), "7")
	eq(t, "override region", ConvertRecord(r, "", "eu-west-1").AWSRegion, "eu-west-1")
}
