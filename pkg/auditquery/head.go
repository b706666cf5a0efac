package auditquery

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// recordHead is every field of a record a filter can look at; decoding
// into it skips the detail.
type recordHead struct {
	ID        string              `json:"id"`
	Time      time.Time           `json:"time"`
	Action    string              `json:"action"`
	Actor     string              `json:"actor"`
	Target    *auditrecord.Target `json:"target"`
	RequestID string              `json:"requestId"`
	PolicyID  string              `json:"policyId"`
	// TimePrecision: see auditrecord.Record.
	TimePrecision string `json:"timePrecision"`
}

// decodeHead reads the fields a filter looks at from one stored line. A
// query reads every record of its range but prints the stored line as it
// is, so decoding the detail (a map per record) would be most of its CPU.
// parseHead skips the detail with a scanner; anything it does not handle
// (an escape inside one of these fields, a key differing only in case,
// which encoding/json would match) falls back to encoding/json, so the
// result is always what json.Unmarshal gives. Either way a line it accepts
// is valid JSON throughout, which printing it as stored relies on.
func decodeHead(line []byte) (recordHead, error) {
	var h recordHead
	err := decodeHeadInto(line, &h, new(auditrecord.Target))
	return h, err
}

// decodeHeadInto is decodeHead for the query's inner loop, which must not
// allocate per record: h's strings are views of line (not copies), so line
// must not change while h is in use, and h.Target, when the line has one,
// is t. The fallback to encoding/json copies as usual.
func decodeHeadInto(line []byte, h *recordHead, t *auditrecord.Target) error {
	*h = recordHead{}
	if parseHeadInto(line, h, t) {
		return nil
	}
	*h = recordHead{}
	return json.Unmarshal(line, h)
}

type headParser struct {
	b []byte
	i int
}

var headKeys = [][]byte{[]byte("id"), []byte("time"), []byte("action"), []byte("actor"), []byte("target"), []byte("requestId"), []byte("policyId"), []byte("timePrecision")}

// parseHead is parseHeadInto with storage of its own.
func parseHead(line []byte) (h recordHead, ok bool) {
	ok = parseHeadInto(line, &h, new(auditrecord.Target))
	return h, ok
}

// parseHeadInto reads line's head into h (zeroed by the caller) with the
// strings as views of line and the target, if any, in t. It reports false
// for anything it leaves to encoding/json.
func parseHeadInto(line []byte, h *recordHead, t *auditrecord.Target) bool {
	p := headParser{b: line}
	if !p.eat('{') {
		return false
	}
	if p.eat('}') {
		return p.end()
	}
	for {
		key, ok := p.rawString()
		if !ok || !p.eat(':') {
			return false
		}
		switch string(key) {
		case "id":
			ok = p.stringOrNull(&h.ID)
		case "action":
			ok = p.stringOrNull(&h.Action)
		case "actor":
			ok = p.stringOrNull(&h.Actor)
		case "requestId":
			ok = p.stringOrNull(&h.RequestID)
		case "policyId":
			ok = p.stringOrNull(&h.PolicyID)
		case "timePrecision":
			ok = p.stringOrNull(&h.TimePrecision)
		case "time":
			var s []byte
			if s, ok = p.rawString(); ok {
				h.Time, ok = parseTime(s)
			}
		case "target":
			ok = p.target(h, t)
		default:
			for _, k := range headKeys {
				if bytes.EqualFold(key, k) {
					return false
				}
			}
			ok = p.skip()
		}
		if !ok {
			return false
		}
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return p.end()
		}
		return false
	}
}

// parseTime reads an RFC 3339 time as encoding/json does. The form the
// writer stores (UTC, "Z", up to nine fraction digits) is read here, which
// costs a quarter of time.Parse; any other goes to time.Parse.
func parseTime(s []byte) (time.Time, bool) {
	if t, ok := parseUTC(s); ok {
		return t, true
	}
	t, err := time.Parse(time.RFC3339Nano, view(s))
	return t, err == nil
}

// parseUTC reads YYYY-MM-DDTHH:MM:SS[.F]Z, F one to nine digits, with
// the ranges time.Parse checks; false for anything else, valid or not.
func parseUTC(s []byte) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[len(s)-1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(s[0:4]), num(s[5:7]), num(s[8:10])
	hour, minute, sec := num(s[11:13]), num(s[14:16]), num(s[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : len(s)-1]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		if nsec = num(frac[1:]); nsec < 0 {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch counts the days from 1970-01-01 to a proleptic Gregorian
// date of year 0 to 9999, in 400-year eras of 146,097 days each starting
// on 1 March, so that a leap day ends its year.
func daysSinceEpoch(year, month, day int) int64 {
	y := year
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	m := month + 9
	if month > 2 {
		m = month - 3
	}
	doy := (153*m+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// view is s as a string without copying it: the caller keeps s unchanged
// for as long as the string is used.
func view(s []byte) string {
	if len(s) == 0 {
		return ""
	}
	return unsafe.String(&s[0], len(s))
}

func (p *headParser) ws() {
	// Stored lines have no whitespace between tokens: one comparison
	// settles the common case.
	for p.i < len(p.b) && p.b[p.i] <= ' ' && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

// eat consumes c after any whitespace.
func (p *headParser) eat(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *headParser) end() bool { p.ws(); return p.i == len(p.b) }

// rawString reads a string without escapes, control characters or
// invalid UTF-8 (which encoding/json would replace).
func (p *headParser) rawString() ([]byte, bool) {
	if !p.eat('"') {
		return nil, false
	}
	start, ascii := p.i, true
	for {
		p.i += plainRun(p.b[p.i:])
		if p.i >= len(p.b) {
			return nil, false
		}
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		p.i++
	}
}

// Every byte of a word holding lsb, msb.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainRun is how many bytes at the start of b are printable ASCII other
// than a quote or a backslash, bytes a string scan can pass without looking
// at each, counting only whole 8-byte words: it may stop short in b's last
// len(b)%8 bytes. It checks a word at a time: a zero byte of w^c·lsb is a
// byte equal to c, and a byte below 0x20 borrows when 0x20 is subtracted
// from it. Either test can also flag a byte above a flagged one, never
// below, so the lowest flag is the first byte to look at.
func plainRun(b []byte) int {
	n := 0
	for len(b)-n >= 8 {
		w := binary.LittleEndian.Uint64(b[n:])
		q, bs := w^(lsb*'"'), w^(lsb*'\\')
		if m := ((q-lsb)&^q | (bs-lsb)&^bs | (w-lsb*0x20)&^w | w) & msb; m != 0 {
			return n + bits.TrailingZeros64(m)/8
		}
		n += 8
	}
	return n
}

func (p *headParser) null() bool {
	p.ws()
	if bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		p.i += 4
		return true
	}
	return false
}

// stringOrNull reads a string into *dst (a view of the line), or a null,
// which like encoding/json leaves *dst as it was.
func (p *headParser) stringOrNull(dst *string) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] != '"' {
		return p.null()
	}
	s, ok := p.rawString()
	*dst = view(s)
	return ok
}

// target reads the target object into t and points h.Target at it; a
// null clears h.Target. A second "target" key fills in the first's object,
// as encoding/json does with a pointer already set.
func (p *headParser) target(h *recordHead, t *auditrecord.Target) bool {
	if p.null() {
		h.Target = nil
		return true
	}
	if !p.eat('{') {
		return false
	}
	if h.Target == nil {
		*t = auditrecord.Target{}
		h.Target = t
	}
	t = h.Target
	if p.eat('}') {
		return true
	}
	for {
		key, ok := p.rawString()
		if !ok || !p.eat(':') {
			return false
		}
		switch string(key) {
		case "type":
			ok = p.stringOrNull(&t.Type)
		case "scope":
			ok = p.stringOrNull(&t.Scope)
		case "name":
			ok = p.stringOrNull(&t.Name)
		default:
			if bytes.EqualFold(key, []byte("type")) || bytes.EqualFold(key, []byte("scope")) || bytes.EqualFold(key, []byte("name")) {
				return false
			}
			ok = p.skip()
		}
		if !ok {
			return false
		}
		if p.eat(',') {
			continue
		}
		return p.eat('}')
	}
}

// maxSkipDepth bounds the nesting skip follows; deeper lines go to
// encoding/json.
const maxSkipDepth = 64

// skip passes over one value of any kind, checking it as strictly as
// json.Valid does, so a line parseHead accepts is valid JSON throughout and
// can be printed as stored.
func (p *headParser) skip() bool { return p.value(0) }

func (p *headParser) value(depth int) bool {
	p.ws()
	if p.i >= len(p.b) || depth > maxSkipDepth {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.anyString()
	case c == '{':
		p.i++
		if p.eat('}') {
			return true
		}
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' || !p.anyString() || !p.eat(':') || !p.value(depth+1) {
				return false
			}
			if p.eat(',') {
				continue
			}
			return p.eat('}')
		}
	case c == '[':
		p.i++
		if p.eat(']') {
			return true
		}
		for {
			if !p.value(depth + 1) {
				return false
			}
			if p.eat(',') {
				continue
			}
			return p.eat(']')
		}
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	default:
		return p.number()
	}
}

func (p *headParser) literal(word string) bool {
	if bytes.HasPrefix(p.b[p.i:], []byte(word)) {
		p.i += len(word)
		return true
	}
	return false
}

// anyString passes over a string, escapes included.
func (p *headParser) anyString() bool {
	p.i++ // the opening quote
	for {
		p.i += plainRun(p.b[p.i:])
		if p.i >= len(p.b) {
			return false
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return false
			}
			switch p.b[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if p.i+4 >= len(p.b) {
					return false
				}
				for _, h := range p.b[p.i+1 : p.i+5] {
					if !isHex(h) {
						return false
					}
				}
				p.i += 4
			default:
				return false
			}
		}
		p.i++
	}
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func (p *headParser) digits() int {
	n := 0
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// number passes over -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (p *headParser) number() bool {
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.b) {
		return false
	}
	if p.b[p.i] == '0' {
		p.i++
	} else if p.digits() == 0 {
		return false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return false
		}
	}
	return true
}
