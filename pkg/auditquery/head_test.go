package auditquery

import (
	"encoding/json"
	"reflect"
	"testing"
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
