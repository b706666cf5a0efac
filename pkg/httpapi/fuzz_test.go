package httpapi

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"testing"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// FuzzDecodeBody: any input either decodes into a value that re-encodes and
// decodes again identically, or is refused as a 400; nothing panics.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"type":"Task","scope":"Exchange","name":"New-MoveRequest","reason":"r","durationHours":1.5}`,
		`{"scope":"a","name":"b","reason":"c"}`, `{}`, `[]`, `null`, ``, `{"scope":1}`, `{"x":1}`,
		`{"scope":"a","name":"b","reason":"c"}{}`, `{"durationHours":1e400}`, `{"reason":"\ud800"}`,
		"{\"reason\":\"\xff\"}", `{"scope":"a","scope":"b","name":"c","reason":"d"}`,
		`{"scope":"a","name":"b","reason":"line\nbreak, back\\slash and \"quote\"","ticket":"T-1","startAt":"2025-01-01T00:00:00Z","breakGlass":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in elevate.SubmitInput
		err := DecodeBody(body, &in, "scope", "name", "reason")
		if err != nil {
			if !errors.Is(err, elevate.ErrInvalid) {
				t.Fatalf("refusal is not a 400: %v", err)
			}
			if p, internal := ProblemFor(err); p.Status != 400 || internal || p.Detail == "" {
				t.Fatalf("problem %+v internal=%v", p, internal)
			}
			return
		}
		again, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", in, err)
		}
		var back elevate.SubmitInput
		if err := DecodeBody(again, &back, "scope", "name", "reason"); err != nil {
			t.Fatalf("re-encoded body %s refused: %v", again, err)
		}
		if !reflect.DeepEqual(back, in) {
			t.Fatalf("%s decoded as %+v, re-encoded as %s, decoded again as %+v", body, in, again, back)
		}
	})
}

// FuzzParseLinkForm: the approval form parser accepts only well-formed
// forms naming one of the four decisions, parses the decision the form names,
// and a request only when it names one.
func FuzzParseLinkForm(f *testing.F) {
	for _, s := range []string{"decision=approve&request=r1", "decision=deny&request=r1&comment=no", "decision=ratify&request=r1",
		"decision=revoke&comment=late", "decision=cancel", "decision=approve", "x=1", "%zz", "decision=approve&decision=deny&request=r"} {
		f.Add(s)
	}
	decisions := map[string]elevate.DecisionKind{"approve": elevate.DecisionApprove, "deny": elevate.DecisionDeny,
		"ratify": elevate.DecisionRatify, "revoke": elevate.DecisionRevoke}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := ParseLinkForm([]byte(body))
		if err != nil {
			if !errors.Is(err, elevate.ErrInvalid) {
				t.Fatalf("refusal is not a 400: %v", err)
			}
			return
		}
		vs, err := url.ParseQuery(body)
		if err != nil {
			t.Fatalf("accepted a malformed query %q", body)
		}
		want, named := decisions[vs.Get("decision")]
		if !named || form.Decision != want {
			t.Fatalf("accepted %q with decision %q", body, form.Decision)
		}
		if form.Comment != vs.Get("comment") {
			t.Fatalf("accepted %q with comment %q", body, form.Comment)
		}
		if _, sent := vs["request"]; sent && (form.RequestID == "" || form.RequestID != vs.Get("request")) {
			t.Fatalf("accepted %q with request %q", body, form.RequestID)
		}
	})
}
