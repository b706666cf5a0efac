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
	"hash"
	"io"
	"sync"
	"time"
	"unsafe"

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
	raw  *bufio.Reader
	gz   *gzip.Reader
	pool *blockPool
	// head and target are the current line's fields, reused for every
	// line: its strings are views of the line where it was read.
	head   recordHead
	target auditrecord.Target
	// lastKept sizes the next object's record list: a trail's objects
	// are much alike.
	lastKept int
	// hash asks for each object's SHA-256, which only an evidence bundle
	// (QueryOptions.Source) records: a plain query skips it.
	hash bool
}

// lineBlock is the size of the blocks an object's text is read into.
const lineBlock = 64 << 10

// blockPool recycles the blocks of the days a query has emitted, so a
// query reuses a couple of days' worth of memory instead of allocating
// (and collecting) its whole range.
type blockPool struct {
	mu   sync.Mutex
	free [][]byte
}

func (p *blockPool) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, lineBlock)
}

// put takes back blocks nothing refers to any more: no held line, no
// string viewing one. Blocks of another size (for a long line) are left
// to the garbage collector.
func (p *blockPool) put(blocks ...[]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range blocks {
		if cap(b) == lineBlock {
			p.free = append(p.free, b)
		}
	}
}

// blockLines splits an object's text into lines without copying them: it
// reads into blocks from the pool, and a line is a slice of its block.
// Only a line cut by the end of a block is copied, to the start of the
// next, so every line lies in one block.
type blockLines struct {
	r      io.Reader
	pool   *blockPool
	blocks [][]byte // the blocks filled so far; the last is being read
	start  int      // where the next line starts in the last block
	scan   int      // last[start:scan] has no newline
	err    error    // the reader's error once it has given one
}

// next returns the next line, without its newline, as a slice of a block
// capped at its end; io.EOF after the last.
func (s *blockLines) next() ([]byte, error) {
	var buf []byte
	if n := len(s.blocks); n > 0 {
		buf = s.blocks[n-1]
	}
	for {
		if i := bytes.IndexByte(buf[s.scan:], '\n'); i >= 0 {
			end := s.scan + i
			line := buf[s.start:end:end]
			s.start, s.scan = end+1, end+1
			return line, nil
		}
		s.scan = len(buf)
		if s.err != nil {
			if s.start < len(buf) {
				line := buf[s.start:len(buf):len(buf)]
				s.start = len(buf)
				return line, nil
			}
			return nil, s.err
		}
		if len(buf) == cap(buf) {
			// The block is full: carry the unfinished line to a new one.
			tail := buf[s.start:]
			if len(tail) > maxLine {
				return nil, fmt.Errorf("a line longer than %d bytes", maxLine)
			}
			var nb []byte
			if len(tail) <= lineBlock/2 {
				nb = s.pool.get()
			} else {
				nb = make([]byte, 0, 2*len(tail))
			}
			nb = append(nb, tail...)
			s.blocks = append(s.blocks, nb)
			buf, s.start, s.scan = nb, 0, len(tail)
		}
		n, err := s.r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		s.blocks[len(s.blocks)-1] = buf
		s.err = err
	}
}

// read reads one object line by line, keeping the records f matches, and
// (rd.hash) hashes the stored bytes as they stream past. It sniffs the gzip magic
// rather than trusting the key, so an object stored uncompressed (or
// transparently decompressed by a proxy) still reads.
//
// Kept lines stay in the blocks they were read into (blockLines), and
// their ids are views of them: no copy and no allocation per record. A
// block is held only while at least half of it is kept lines; the few
// kept lines of any other block (the object's last, or where a filter
// skips most records) are copied out and the block goes back to the pool
// at once. The blocks held are returned with the records, to go back to
// the pool once their day is emitted.
func (rd *objectReader) read(ctx context.Context, c S3Reader, bucket, key string, f Filter) (SourceObject, []heldRecord, [][]byte, error) {
	src := SourceObject{Key: key}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return src, nil, nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	src.VersionID, src.ETag = aws.ToString(out.VersionId), aws.ToString(out.ETag)
	src.ObjectLockMode, src.ObjectLockRetainUntil = string(out.ObjectLockMode), out.ObjectLockRetainUntilDate
	var h hash.Hash
	body := &countingReader{r: out.Body}
	if rd.hash {
		h = sha256.New()
		body.r = io.TeeReader(out.Body, h)
	}
	if rd.raw == nil {
		rd.raw = bufio.NewReaderSize(body, 32<<10)
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
			return src, nil, nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
		}
		r = rd.gz
	}
	lines := blockLines{r: r, pool: rd.pool}
	recs := make([]heldRecord, 0, rd.lastKept)
	var firstRec []int // per block, the index of its first kept record
	// A partition before Since's day is read only for the records timed by
	// the stream just before Since (MaxTimePrecision): there, only records
	// filed under their own day count, so a record misfiled into it cannot
	// slip into the range.
	var before time.Time
	if day, ok := partitionDay(key); ok && day.Before(truncateDay(f.Since)) {
		before = day
	}
	for {
		line, err := lines.next()
		for len(firstRec) < len(lines.blocks) {
			firstRec = append(firstRec, len(recs))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return src, nil, nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
		}
		if line = bytes.TrimSpace(line); len(line) == 0 {
			continue
		}
		hd := &rd.head
		if jerr := decodeHeadInto(line, hd, &rd.target); jerr != nil {
			return src, nil, nil, fmt.Errorf("decode s3://%s/%s: record %d: %w", bucket, key, src.RecordsRead+1, jerr)
		}
		src.RecordsRead++
		if (before.IsZero() || truncateDay(hd.Time).Equal(before)) && f.Match(auditrecord.Record{ID: hd.ID, Time: hd.Time, Action: hd.Action,
			Actor: hd.Actor, Target: hd.Target, RequestID: hd.RequestID, PolicyID: hd.PolicyID, TimePrecision: hd.TimePrecision}) {
			recs = append(recs, heldRecord{sec: hd.Time.Unix(), nsec: int32(hd.Time.Nanosecond()), id: hd.ID, line: Line(line)})
		}
	}
	rd.head = recordHead{} // no view of a block outlives the read
	// The hash covers every stored byte, including any after the gzip
	// stream; reading to the end also lets the connection be reused.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return src, nil, nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	src.Size = body.n
	if h != nil {
		src.SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	rd.lastKept = len(recs)
	var held [][]byte
	for b, block := range lines.blocks {
		first, end := firstRec[b], len(recs)
		if b+1 < len(firstRec) {
			end = firstRec[b+1]
		}
		kept := 0
		for _, rec := range recs[first:end] {
			kept += len(rec.line)
		}
		if kept > 0 && 2*kept >= cap(block) {
			held = append(held, block)
			continue
		}
		if kept > 0 {
			copies := make([]byte, 0, kept)
			for i := first; i < end; i++ {
				recs[i], copies = recs[i].moveTo(copies)
			}
		}
		rd.pool.put(block)
	}
	return src, recs, held, nil
}

// moveTo appends r's line to dst, which must have room for it, and
// returns r pointing at the copy, its id too when that is a view of its
// line.
func (r heldRecord) moveTo(dst []byte) (heldRecord, []byte) {
	n := len(dst)
	dst = append(dst, r.line...)
	moved := dst[n:len(dst):len(dst)]
	if off, ok := viewOffset(r.line, r.id); ok {
		r.id = view(moved[off : off+len(r.id)])
	}
	r.line = Line(moved)
	return r, dst
}

// viewOffset is where s lies within b, if it is a view of part of b.
func viewOffset(b []byte, s string) (int, bool) {
	if len(s) == 0 || len(b) == 0 {
		return 0, false
	}
	bs, ss := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(unsafe.StringData(s)))
	if ss < bs || ss+uintptr(len(s)) > bs+uintptr(len(b)) {
		return 0, false
	}
	return int(ss - bs), true
}
