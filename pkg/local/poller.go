package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/elevate-pam/elevate/pkg/streamrecord"
)

// StreamHandler is the shape of a stream Lambda's handler (notify, audit).
type StreamHandler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// StreamsAPI is the part of the DynamoDB Streams client the poller uses.
type StreamsAPI interface {
	DescribeStream(context.Context, *dynamodbstreams.DescribeStreamInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(context.Context, *dynamodbstreams.GetShardIteratorInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(context.Context, *dynamodbstreams.GetRecordsInput, ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

var _ StreamsAPI = (*dynamodbstreams.Client)(nil)

// Consumer is one stream function: it gets its own checkpoints, like a
// separate event source mapping.
type Consumer struct {
	Name   string
	Handle StreamHandler
	// Timeout is each invocation's deadline; budget.Timeout(Name) when zero.
	Timeout time.Duration
}

// Poller defaults.
const (
	DefaultBatchSize  = 100
	DefaultInterval   = 300 * time.Millisecond
	DefaultMaxRetries = 10
)

// Poller plays Lambda's DynamoDB event source mapping with
// ReportBatchItemFailures: it reads every shard from TRIM_HORIZON in
// parent-before-child order, hands each consumer batches, and on a reported
// failure re-delivers from the failed record onward with backoff. After
// MaxRetries the failed record and the rest of its batch are logged and
// skipped, as Lambda hands them to the on-failure destination.
type Poller struct {
	Streams    StreamsAPI
	StreamARN  string
	Region     string
	Consumers  []Consumer
	BatchSize  int           // default 100
	Interval   time.Duration // idle poll interval, default 300 ms
	MaxRetries int           // default 10: about a minute of outage at the default interval
	// Backoff is the wait before retry attempt n (1-based); exponential from
	// the interval by default.
	Backoff func(attempt int) time.Duration
	Log     *slog.Logger

	mu      sync.Mutex
	cursors map[string]*cursor
}

// Run polls until ctx is done; each consumer progresses independently.
func (p *Poller) Run(ctx context.Context) {
	cfg := p.settings()
	p.mu.Lock()
	p.cursors = map[string]*cursor{}
	cs := make([]*cursor, len(p.Consumers))
	for i, c := range p.Consumers {
		cs[i] = &cursor{p: &cfg, c: c, shards: map[string]*shardState{}, log: cfg.Log.With("consumer", c.Name)}
		p.cursors[c.Name] = cs[i]
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { c.run(ctx) })
	}
	wg.Wait()
}

// Checkpoints reports one consumer's positions, in shard discovery order.
func (p *Poller) Checkpoints(consumer string) []Checkpoint {
	p.mu.Lock()
	c := p.cursors[consumer]
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.checkpoints()
}

// pollerSettings is a Poller's configuration with defaults applied.
type pollerSettings struct {
	Streams    StreamsAPI
	StreamARN  string
	Region     string
	BatchSize  int
	Interval   time.Duration
	MaxRetries int
	Backoff    func(int) time.Duration
	Log        *slog.Logger
}

func (p *Poller) settings() pollerSettings {
	cfg := pollerSettings{
		Streams: p.Streams, StreamARN: p.StreamARN, Region: p.Region,
		BatchSize: p.BatchSize, Interval: p.Interval, MaxRetries: p.MaxRetries,
		Backoff: p.Backoff, Log: p.Log,
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.Backoff == nil {
		base := cfg.Interval
		cfg.Backoff = func(n int) time.Duration {
			d := base << min(n, 6)
			return min(d, 10*time.Second)
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Checkpoint is how far a consumer got in one shard.
type Checkpoint struct {
	ShardID  string
	Sequence string // last record delivered successfully or skipped
	Done     bool   // the shard is closed and fully consumed
}

// cursor is one consumer's position in the stream.
type cursor struct {
	p      *pollerSettings
	c      Consumer
	log    *slog.Logger
	mu     sync.Mutex
	shards map[string]*shardState
	order  []string
}

type shardState struct {
	id       string
	parent   string
	iterator string
	seq      string // checkpoint
	done     bool
	retry    string // sequence number being retried
	attempts int
	wait     time.Time
}

func (c *cursor) run(ctx context.Context) {
	for ctx.Err() == nil {
		busy, err := c.step(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("stream poll failed", "error", err)
		}
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(c.p.Interval):
		}
	}
}

// step polls each readable shard once. busy reports that a shard returned a
// full batch, so the next poll should come at once.
func (c *cursor) step(ctx context.Context) (bool, error) {
	if err := c.refresh(ctx); err != nil {
		return false, err
	}
	busy := false
	var errs []error
	for _, id := range c.order {
		s := c.shards[id]
		if s.done || !c.parentDone(s) || time.Now().Before(s.wait) {
			continue
		}
		full, err := c.poll(ctx, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("shard %s: %w", s.id, err))
		}
		busy = busy || full
	}
	return busy, errors.Join(errs...)
}

func (c *cursor) parentDone(s *shardState) bool {
	if s.parent == "" {
		return true
	}
	p, ok := c.shards[s.parent]
	// A parent trimmed out of the stream cannot be read any more.
	return !ok || p.done
}

// refresh learns about new shards (a rollover creates children).
func (c *cursor) refresh(ctx context.Context) error {
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(c.p.StreamARN)}
	for {
		out, err := c.p.Streams.DescribeStream(ctx, in)
		if err != nil {
			return fmt.Errorf("describe stream: %w", err)
		}
		if out.StreamDescription == nil {
			return nil
		}
		c.mu.Lock()
		for _, sh := range out.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if _, ok := c.shards[id]; ok || id == "" {
				continue
			}
			c.shards[id] = &shardState{id: id, parent: aws.ToString(sh.ParentShardId)}
			c.order = append(c.order, id)
		}
		c.mu.Unlock()
		last := out.StreamDescription.LastEvaluatedShardId
		if last == nil {
			return nil
		}
		in.ExclusiveStartShardId = last
	}
}

// poll reads one batch of s and delivers it.
func (c *cursor) poll(ctx context.Context, s *shardState) (bool, error) {
	if s.iterator == "" {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(c.p.StreamARN), ShardId: aws.String(s.id)}
		switch {
		case s.retry != "":
			in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAtSequenceNumber, aws.String(s.retry)
		case s.seq != "":
			in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(s.seq)
		default:
			in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
		}
		out, err := c.p.Streams.GetShardIterator(ctx, in)
		if err != nil {
			return false, fmt.Errorf("get shard iterator: %w", err)
		}
		s.iterator = aws.ToString(out.ShardIterator)
		if s.iterator == "" {
			c.finish(s)
			return false, nil
		}
	}
	out, err := c.p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{
		ShardIterator: aws.String(s.iterator),
		Limit:         aws.Int32(int32(c.p.BatchSize)),
	})
	if err != nil {
		// Iterators expire; the checkpoint is enough to get a new one.
		s.iterator = ""
		return false, fmt.Errorf("get records: %w", err)
	}
	next := aws.ToString(out.NextShardIterator)
	if len(out.Records) == 0 {
		s.iterator = next
		if next == "" {
			c.finish(s)
		}
		return false, nil
	}
	failedAt := c.deliver(ctx, out.Records)
	c.mu.Lock()
	defer c.mu.Unlock()
	if failedAt < 0 {
		s.seq = seqOf(out.Records[len(out.Records)-1])
		s.retry, s.attempts, s.iterator = "", 0, next
		if next == "" {
			s.done = true
		}
		return len(out.Records) >= c.p.BatchSize, nil
	}
	if failedAt > 0 {
		s.seq = seqOf(out.Records[failedAt-1])
	}
	failedSeq := seqOf(out.Records[failedAt])
	if s.retry != failedSeq {
		s.retry, s.attempts = failedSeq, 0
	}
	s.attempts++
	s.iterator = ""
	if s.attempts > c.p.MaxRetries {
		// Lambda gives up on the whole rest of the batch, not just the failed
		// record: it sends that range to the on-failure destination and moves
		// past all of it. Each dropped record is logged.
		for _, r := range out.Records[failedAt:] {
			c.log.Error("stream record dropped after retries", "shard", s.id, "sequenceNumber", seqOf(r), "eventID", aws.ToString(r.EventID), "attempts", s.attempts)
		}
		s.seq, s.retry, s.attempts = seqOf(out.Records[len(out.Records)-1]), "", 0
		return false, nil
	}
	s.wait = time.Now().Add(c.p.Backoff(s.attempts))
	c.log.Warn("stream batch failed; will retry", "shard", s.id, "sequenceNumber", failedSeq, "attempt", s.attempts)
	return false, nil
}

func (c *cursor) finish(s *shardState) {
	c.mu.Lock()
	s.done, s.iterator = true, ""
	c.mu.Unlock()
}

// deliver calls the consumer and returns the index of the first record to
// re-deliver, or -1 when the whole batch succeeded. As in Lambda, a handler
// error, panic or timeout fails the whole batch, and the lowest reported
// failure wins.
func (c *cursor) deliver(ctx context.Context, recs []types.Record) (failedAt int) {
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, len(recs))}
	for i, r := range recs {
		ev.Records[i] = ConvertRecord(r, c.p.StreamARN, c.p.Region)
	}
	timeout := c.c.Timeout
	if timeout <= 0 {
		timeout = timeoutOf(nil, c.c.Name)
	}
	// As in Lambda, an invocation that times out (or panics) fails the whole
	// batch.
	resp, err := invoke(ctx, c.c.Name, timeout, newRequestID(), c.log, ev, StreamHandler(c.c.Handle))
	if err != nil {
		c.log.Warn("stream handler failed the batch", "error", err)
		return 0
	}
	failedAt = -1
	for _, f := range resp.BatchItemFailures {
		idx := -1
		for i, r := range ev.Records {
			if r.Change.SequenceNumber == f.ItemIdentifier {
				idx = i
				break
			}
		}
		if idx < 0 {
			// An identifier Lambda cannot match fails the whole batch.
			c.log.Warn("stream handler reported an unknown item", "itemIdentifier", f.ItemIdentifier)
			return 0
		}
		if failedAt < 0 || idx < failedAt {
			failedAt = idx
		}
	}
	return failedAt
}

func (c *cursor) checkpoints() []Checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Checkpoint, 0, len(c.order))
	for _, id := range c.order {
		s := c.shards[id]
		out = append(out, Checkpoint{ShardID: id, Sequence: s.seq, Done: s.done})
	}
	return out
}

func seqOf(r types.Record) string {
	if r.Dynamodb == nil {
		return ""
	}
	return aws.ToString(r.Dynamodb.SequenceNumber)
}

// ConvertRecord maps a DynamoDB Streams record to the record a Lambda event
// carries (streamrecord.Convert).
func ConvertRecord(r types.Record, streamARN, region string) events.DynamoDBEventRecord {
	return streamrecord.Convert(r, streamARN, region)
}
