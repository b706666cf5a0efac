package auditquery

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// Line is one audit record as stored: a JSON object on one line, which is
// also what Athena's JSON SerDe reads.
type Line []byte

// Decode parses the whole record.
func (l Line) Decode() (auditrecord.Record, error) {
	var r auditrecord.Record
	err := json.Unmarshal(l, &r)
	return r, err
}

// countingReader counts the bytes that pass through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// maxLine bounds one record's line, so a corrupt object cannot make a
// reader buffer without end. Records are a few hundred bytes.
const maxLine = 4 << 20

// objectReader is one worker's buffers and gzip state, reset for each
// object: allocating them anew (a 32 KiB window and Huffman tables per
// gzip reader) for thousands of objects was most of a query's garbage.
type objectReader struct {
	raw, lines *bufio.Reader
	gz         *gzip.Reader
}

// read reads one object line by line, keeping the records f matches, and
// hashes the stored bytes as they stream past. It sniffs the gzip magic
// rather than trusting the key, so an object stored uncompressed (or
// transparently decompressed by a proxy) still reads.
func (rd *objectReader) read(ctx context.Context, c S3Reader, bucket, key string, f Filter) (SourceObject, []heldRecord, error) {
	src := SourceObject{Key: key}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return src, nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	src.VersionID, src.ETag = aws.ToString(out.VersionId), aws.ToString(out.ETag)
	src.ObjectLockMode, src.ObjectLockRetainUntil = string(out.ObjectLockMode), out.ObjectLockRetainUntilDate
	h := sha256.New()
	body := &countingReader{r: io.TeeReader(out.Body, h)}
	if rd.raw == nil {
		rd.raw, rd.lines = bufio.NewReaderSize(body, 32<<10), bufio.NewReaderSize(nil, 64<<10)
	}
	raw := rd.raw
	raw.Reset(body)
	var r io.Reader = raw
	if magic, _ := raw.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		var err error
		if rd.gz == nil {
			rd.gz, err = gzip.NewReader(raw)
		} else {
			err = rd.gz.Reset(raw)
		}
		if err != nil {
			return src, nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
		}
		r = rd.gz
	}
	br := rd.lines
	br.Reset(r)
	var recs []heldRecord
	var long []byte // a line longer than br's buffer, assembled
	// A partition before Since's day is read only for the records timed by
	// the stream just before Since (MaxTimePrecision): there, only records
	// filed under their own day count, so a record misfiled into it cannot
	// slip into the range.
	var before time.Time
	if day, ok := partitionDay(key); ok && day.Before(truncateDay(f.Since)) {
		before = day
	}
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if long = append(long, chunk...); len(long) > maxLine {
				return src, nil, fmt.Errorf("read s3://%s/%s: a line longer than %d bytes", bucket, key, maxLine)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return src, nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
		}
		line := chunk
		if long != nil {
			line, long = append(long, chunk...), nil
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			head, jerr := decodeHead(line)
			if jerr != nil {
				return src, nil, fmt.Errorf("decode s3://%s/%s: record %d: %w", bucket, key, src.RecordsRead+1, jerr)
			}
			src.RecordsRead++
			if (before.IsZero() || truncateDay(head.Time).Equal(before)) && f.Match(auditrecord.Record{ID: head.ID, Time: head.Time, Action: head.Action,
				Actor: head.Actor, Target: head.Target, RequestID: head.RequestID, PolicyID: head.PolicyID, TimePrecision: head.TimePrecision}) {
				recs = append(recs, heldRecord{time: head.Time, id: head.ID, line: Line(bytes.Clone(line))})
			}
		}
		if err != nil { // io.EOF
			break
		}
	}
	// The hash covers every stored byte, including any after the gzip stream.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return src, nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	src.Size, src.SHA256 = body.n, hex.EncodeToString(h.Sum(nil))
	return src, recs, nil
}
