package audit

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// PutAPI is the part of the S3 client the writer uses.
type PutAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// HandlerDeps are the audit consumer's collaborators.
type HandlerDeps struct {
	S3     PutAPI
	Bucket string
	Logger *slog.Logger
	// Requests and StreamTimePrecision: see Mapper.
	Requests            RequestReader
	StreamTimePrecision time.Duration
}

// NewHandler returns the Lambda handler that appends a stream batch to the
// audit bucket: one gzip JSON-lines object per UTC day present in the batch,
// at a key derived from the batch. Stored evidence is never replaced: every
// write is conditional on the key being free (If-None-Match: *), and a key
// already taken is the earlier attempt of the same batch, so a retry counts
// it as written instead of adding a copy or overwriting it.
//
// Every write ends by the invocation's deadline less its margin; one that
// has not is reported like any failed write.
//
// Failure semantics: Lambda checkpoints at the lowest reported sequence
// number and retries everything after it. A record that cannot be mapped
// would fail the same way on every retry and block the shard, so it is kept
// as an audit.unmappable record (its eventID, keys and the reason) for a
// person to look at, never dropped. When an object cannot be written, the
// first record of that day's group is reported. Only the lowest failure is
// reported, as nothing after it would be kept anyway. Records are never lost;
// a retry after a partial write may store a record twice, with the same id,
// which readers dedupe.
func NewHandler(d HandlerDeps) func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		// A write still waiting at the deadline (a stalled S3) is abandoned
		// and its records reported, rather than Lambda killing the batch.
		ctx, cancel := budget.Invocation(ctx, manifest.Audit)
		defer cancel()
		resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
		failAt := len(ev.Records)
		type dayGroup struct {
			first int // index of the first stream record in the group
			recs  []auditrecord.Record
		}
		days := map[string]*dayGroup{}
		mapper := Mapper{Requests: d.Requests, StreamTimePrecision: d.StreamTimePrecision}
		for i, rec := range ev.Records {
			recs, err := mapper.Map(ctx, rec)
			if errors.Is(err, ErrLookup) {
				// Mapped without its check it could be wrong for good: retry
				// from here.
				d.Logger.ErrorContext(ctx, "audit: cannot check a record; reporting it for retry",
					"eventID", rec.EventID, "sequenceNumber", rec.Change.SequenceNumber, "err", err)
				failAt = i
				break
			}
			if err != nil {
				d.Logger.ErrorContext(ctx, "audit: stream record cannot be mapped; kept as audit.unmappable",
					"eventID", rec.EventID, "sequenceNumber", rec.Change.SequenceNumber, "err", err)
				recs = []auditrecord.Record{unmappable(rec, err)}
			}
			for _, r := range recs {
				day := r.Time.UTC().Format(time.DateOnly)
				g := days[day]
				if g == nil {
					g = &dayGroup{first: i}
					days[day] = g
				}
				g.recs = append(g.recs, r)
			}
		}
		if failAt > 0 {
			batchID := BatchID(ev.Records[:failAt])
			keys := make([]string, 0, len(days))
			for k := range days {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, day := range keys {
				g := days[day]
				if err := d.put(ctx, day, batchID, g.recs); err != nil {
					d.Logger.ErrorContext(ctx, "audit: cannot write audit object; reporting its records for retry",
						"day", day, "records", len(g.recs), "err", err)
					failAt = min(failAt, g.first)
					continue
				}
				d.Logger.InfoContext(ctx, "audit: records written", "day", day, "records", len(g.recs), "batch", batchID)
			}
		}
		if failAt < len(ev.Records) {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: ev.Records[failAt].Change.SequenceNumber})
		}
		return resp, nil
	}
}

// unmappable keeps what can be said about a record Map refused: which change
// it was and why it failed. Only the keys are copied, not the images.
func unmappable(rec events.DynamoDBEventRecord, err error) auditrecord.Record {
	keys := map[string]string{}
	for k, v := range rec.Change.Keys {
		if v.DataType() == events.DataTypeString {
			keys[k] = v.String()
		}
	}
	at := rec.Change.ApproximateCreationDateTime.UTC()
	if at.IsZero() || at.Unix() <= 0 {
		at = time.Now().UTC()
	}
	return auditrecord.Record{ID: rec.EventID, Time: at, Action: auditrecord.ActionUnmappable, Actor: "system",
		Detail: map[string]any{"eventName": rec.EventName, "keys": keys, "error": err.Error()}}
}

// BatchID names a batch by its first and last stream records, which Lambda
// repeats exactly when it retries the same batch.
func BatchID(recs []events.DynamoDBEventRecord) string {
	if len(recs) == 0 {
		return ""
	}
	first, last := recs[0], recs[len(recs)-1]
	h := sha256.Sum256([]byte(first.EventSourceArn + "\n" + first.Change.SequenceNumber + "\n" + first.EventID + "\n" +
		last.Change.SequenceNumber + "\n" + last.EventID + "\n" + fmt.Sprint(len(recs))))
	return hex.EncodeToString(h[:16])
}

// Encode writes records as gzip-compressed JSON lines.
func Encode(recs []auditrecord.Record) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (d HandlerDeps) put(ctx context.Context, day, batchID string, recs []auditrecord.Record) error {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return err
	}
	body, err := Encode(recs)
	if err != nil {
		return err
	}
	key := auditrecord.ObjectKey(t, batchID)
	_, err = d.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(d.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String("application/x-ndjson"),
		IfNoneMatch:   aws.String("*"),
	})
	if alreadyWritten(err) {
		d.Logger.InfoContext(ctx, "audit: object already written by an earlier attempt of this batch", "key", key)
		return nil
	}
	return err
}

// alreadyWritten reports S3's answer to a conditional write whose key
// exists: 412 PreconditionFailed.
func alreadyWritten(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "PreconditionFailed" {
		return true
	}
	var resp *smithyhttp.ResponseError
	return errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusPreconditionFailed
}
