package notify

import (
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
)

// A scheduled grant the target's policy, changed after its approval, no
// longer allows does not start (issue 16 item 8): authorize says
// policy-changed, and its record, carried by the stream, tells the
// requester once per grant (the delivery marker is keyed by the request,
// not by the authorize call).

// policyChangedKey is the delivery key of that email: one per request.
func policyChangedKey(requestID string) string { return "policy-changed#" + requestID }

// policyChanged plans the email for an authorize record denying a scheduled
// grant because its policy changed; ok is false for every other record.
func policyChanged(rec events.DynamoDBEventRecord) (e Email, key string, ok bool, err error) {
	if rec.EventName != string(events.DynamoDBOperationTypeInsert) || dynamo.ImageKind(rec.Change.NewImage) != dynamo.KindEvent {
		return Email{}, "", false, nil
	}
	ev, err := dynamo.EventFromImage(rec.Change.NewImage)
	if err != nil {
		return Email{}, "", false, fmt.Errorf("decode event: %w", err)
	}
	if ev.Action != "authorize.denied" || ev.Detail["reason"] != string(elevate.ReasonPolicyChanged) || ev.RequestID == "" || ev.Target == nil {
		return Email{}, "", false, nil
	}
	target := ev.Target.String()
	m := message{heading: "Your scheduled access will not start",
		lines: []string{"The policy for " + target + " changed after your request was approved, and your grant no longer meets it. Submit a new request if you still need access."}}
	m.row("Request", ev.RequestID)
	m.row("Target", target)
	e, err = m.email(ev.Actor, "[Elevate] Scheduled access cancelled by a policy change: "+target)
	return e, policyChangedKey(ev.RequestID), err == nil, err
}
