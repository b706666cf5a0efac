package auditquery

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"testing"
	"time"
)

var headCases = []string{
	`{"id":"e1","time":"2025-03-10T08:00:00.123456789Z","action":"request.created","actor":"alice@example.com","target":{"type":"Task","scope":"Exchange","name":"New-MoveRequest"},"requestId":"r1","detail":{"reason":"x"}}`,
	`{"detail":{"nested":[1,2,{"a":"}"}],"s":"quote \" and brace {"},"id":"e2","time":"2025-03-10T08:00:00Z","action":"authorize.denied","actor":"a@x.io"}`,
	` { "id" : "e3" , "time" : "2025-03-10T08:00:00+02:00" , "target" : null , "policyId" : "p" , "n" : -1.5e3 , "b" : true , "z" : null } `,
	`{"id":"e\u0034","time":"2025-03-10T08:00:00Z","action":"x","actor":"a@x.io"}`,
	`{"ID":"upper","time":"2025-03-10T08:00:00Z"}`,
	`{"id":"e5","time":"2025-03-10T08:00:00Z","target":{"Type":"Task","scope":"s","name":"n"}}`,
	`{"id":"e6","time":"2025-03-10T08:00:00Z","target":{"extra":[{}],"scope":"s","name":"n"},"detail":[]}`,
	`{"id":"e7","id":"e7-last","time":"2025-03-10T08:00:00Z"}`,
	`{}`,
	`{"id":"e8","time":"2025-03-10T08:00:00Z","detail":{"n":[0,-0.5,1e10,2E-3,true,false,null,"\u00e9\n\"",{"":[]}]}}`,
	`{"id":"e9","time":"2025-03-10T08:00:00Z","actor":null,"requestId":null,"action":"x"}`,
}

// parseHead must agree with encoding/json on every line it accepts.
func TestDecodeHeadMatchesEncodingJSON(t *testing.T) {
	for _, line := range headCases {
		var want recordHead
		if err := json.Unmarshal([]byte(line), &want); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		got, err := decodeHead([]byte(line))
		if err != nil || !reflect.DeepEqual(got, want) || !got.Time.Equal(want.Time) {
			t.Errorf("%s:\n got  %+v %v\n want %+v", line, got, err, want)
		}
	}
	for _, bad := range []string{`{"id":"x"`, `{"id":}`, `[1]`, `{"time":"yesterday"}`, `{"detail":{"a":"b}`,
		`{"detail":{"a":1,}}`, `{"detail":[1 2]}`, `{"detail":01}`, `{"detail":1.}`, `{"detail":"\x"}`, `{"detail":tru}`, `{"detail":{"a":[}]}}`, `{"id":"x"} trailing`} {
		if _, err := decodeHead([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// The scanner itself, not only its fallback, must take every form the
// writer stores or a hand-made line plausibly has (whitespace, nulls,
// repeated keys, any detail): only an escape inside a head field or a key
// differing in case is left to encoding/json. A scanner refusing more
// would still be correct, but slow.
func TestParseHeadTakesCommonForms(t *testing.T) {
	for i, line := range headCases {
		_, ok := parseHead([]byte(line))
		if want := i != 3 && i != 4 && i != 5; ok != want {
			t.Errorf("%s: parseHead ok=%v, want %v", line, ok, want)
		}
	}
}

func FuzzDecodeHead(f *testing.F) {
	for _, c := range headCases {
		f.Add(c)
	}
	// Valid JSON of the wrong shape, which only the fallback may decide.
	for _, c := range []string{`{"id":1,"time":"2025-03-10T08:00:00Z"}`, `{"actor":true}`, `{"time":"2025-03-10"}`, `{"target":"Task"}`, `{"target":{"scope":[]}}`} {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, line string) {
		h, ok := parseHead([]byte(line))
		if !ok {
			return
		}
		// What parseHead accepts is printed as stored: it must be JSON.
		if !json.Valid([]byte(line)) {
			t.Fatalf("%q: accepted but not valid JSON", line)
		}
		// A line of the wrong shape must be left to the fallback, which refuses it.
		var want recordHead
		if err := json.Unmarshal([]byte(line), &want); err != nil {
			t.Fatalf("%q: accepted as %+v, but encoding/json refuses it: %v", line, h, err)
		}
		if !reflect.DeepEqual(h, want) || !h.Time.Equal(want.Time) {
			t.Fatalf("%q:\n got  %+v\n want %+v", line, h, want)
		}
	})
}

// plainRun must stop at the first quote, backslash, control character or
// non-ASCII byte, wherever in a word it lies, and may stop short only in
// the last bytes that make no whole word.
func TestPlainRunStopsAtEverySpecialByte(t *testing.T) {
	plain := func(b []byte) int {
		for n, c := range b {
			if c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
				return min(n, len(b)/8*8)
			}
		}
		return len(b) / 8 * 8
	}
	for c := range 256 {
		for at := range 24 {
			for _, extra := range []int{0, 3, 9} {
				b := []byte("abcdefgh ijklmno~PQRSTUVWXYZ012345")
				b = b[:at+1+extra]
				b[at] = byte(c)
				if got, want := plainRun(b), plain(b); got != want {
					t.Fatalf("byte %#x at %d of %q: plainRun %d, want %d", c, at, b, got, want)
				}
			}
		}
	}
}

var fastForm = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$`)

// parseUTC must read exactly what time.Parse reads the same way, and
// refuse (for time.Parse to decide) everything else.
func TestParseUTCMatchesTimeParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	digits := func(n, max int) string { return fmt.Sprintf("%0*d", n, rng.IntN(max+1)) }
	cases := []string{"2024-02-29T23:59:59Z", "2023-02-29T00:00:00Z", "2000-02-29T12:00:00.5Z", "1900-02-29T00:00:00Z",
		"0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "1969-12-31T23:59:59.000000001Z", "2025-03-10T24:00:00Z",
		"2025-03-10T08:00:60Z", "2025-03-10T08:00:00.Z", "2025-03-10T08:00:00.1234567890Z", "2025-03-10T08:00:00+00:00",
		"2025-03-10t08:00:00Z", "2025-3-10T08:00:00Z", "2025-03-10T08:00:00,5Z", "+025-03-10T08:00:00Z", "2025-03-10T08:00:0xZ"}
	for range 20000 {
		s := digits(4, 9999) + "-" + digits(2, 13) + "-" + digits(2, 32) + "T" + digits(2, 24) + ":" + digits(2, 60) + ":" + digits(2, 60)
		if n := rng.IntN(11); n > 0 {
			s += "." + digits(n-1, 999999999)[:n-1]
		}
		cases = append(cases, s+"Z")
	}
	for _, s := range cases {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := parseUTC([]byte(s))
		if ok && (err != nil || !reflect.DeepEqual(got, want)) {
			t.Fatalf("%s: parseUTC %v, time.Parse %v %v", s, got, want, err)
		}
		if !ok && err == nil && fastForm.MatchString(s) {
			t.Fatalf("%s: parseUTC refused what time.Parse reads as %v", s, want)
		}
	}
}
