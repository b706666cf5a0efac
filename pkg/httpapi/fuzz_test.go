package httpapi

import (
	"encoding/json"
	"errors"
	"net/url"
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
		again, _ := json.Marshal(in)
		var back elevate.SubmitInput
		if err := DecodeBody(again, &back, "scope", "name", "reason"); err != nil {
			t.Fatalf("re-encoded body %s refused: %v", again, err)
		}
	})
}

// FuzzParseLinkForm: the approval form parser accepts only well-formed
// forms naming a decision, and a request only when it names one.
func FuzzParseLinkForm(f *testing.F) {
	for _, s := range []string{"decision=approve&request=r1", "decision=deny&request=r1&comment=no", "decision=approve", "x=1", "%zz", "decision=approve&decision=deny&request=r"} {
		f.Add(s)
	}
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
		_, sent := vs["request"]
		if form.Decision != elevate.DecisionApprove && form.Decision != elevate.DecisionDeny || sent && (form.RequestID == "" || form.RequestID != vs.Get("request")) {
			t.Fatalf("accepted %q as %+v", body, form)
		}
	})
}
