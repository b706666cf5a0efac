package audit

import (
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

func keyRotationRecord(op string, img map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	rec := events.DynamoDBEventRecord{EventID: "evt-rot", EventName: op}
	rec.Change.Keys = map[string]events.DynamoDBAttributeValue{"PK": img["PK"], "SK": img["SK"]}
	rec.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)}
	if op == "REMOVE" {
		rec.Change.OldImage = img
	} else {
		rec.Change.NewImage = img
	}
	return rec
}

func keyRotationImage() map[string]events.DynamoDBAttributeValue {
	s := events.NewStringAttribute
	return map[string]events.DynamoDBAttributeValue{
		"PK": s("KEYROTATION"), "SK": s("elevate-link-key#v2"), "kind": s("keyrotation"),
		"secretArn": s("arn:aws:secretsmanager:us-east-1:111122223333:secret:elevate-link-key-AbCdEf"), "secretName": s("elevate-link-key"),
		"versionId": s("v2"), "previousVersionId": s("v1"), "rotatedAt": s("2026-12-02T08:00:00.5Z"),
		"updatedBy": s("system"), "changeId": s("v2"),
	}
}

// Issue 21: the rotation function's record becomes key.rotated by system,
// naming the secret and versions; a rotation record changed or removed, or
// one that does not hold together, is key.direct_write by unknown.
func TestKeyRotationRecords(t *testing.T) {
	got, err := Map(keyRotationRecord("INSERT", keyRotationImage()))
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %+v", err, got)
	}
	r := got[0]
	if r.Action != auditrecord.ActionKeyRotated || r.Actor != "system" || r.Detail["versionId"] != "v2" || r.Detail["previousVersionId"] != "v1" ||
		r.Detail["secretName"] != "elevate-link-key" || len(r.Detail) != 4 {
		t.Fatalf("rotation mapped as %+v", r)
	}
	forged := []struct {
		name string
		op   string
		edit func(map[string]events.DynamoDBAttributeValue)
	}{
		{"modified", "MODIFY", func(img map[string]events.DynamoDBAttributeValue) {
			img["versionId"] = events.NewStringAttribute("v3")
		}},
		{"removed", "REMOVE", func(map[string]events.DynamoDBAttributeValue) {}},
		{"key not its version", "INSERT", func(img map[string]events.DynamoDBAttributeValue) {
			img["versionId"] = events.NewStringAttribute("v9")
		}},
		{"no secret", "INSERT", func(img map[string]events.DynamoDBAttributeValue) { delete(img, "secretArn") }},
		{"unstamped", "INSERT", func(img map[string]events.DynamoDBAttributeValue) { delete(img, "updatedBy") }},
	}
	for _, f := range forged {
		img := keyRotationImage()
		f.edit(img)
		rec := keyRotationRecord(f.op, img)
		if f.op == "MODIFY" {
			rec.Change.OldImage = keyRotationImage()
		}
		got, err := Map(rec)
		if err != nil || len(got) != 1 || got[0].Action != "key.direct_write" || got[0].Actor != auditrecord.ActorUnknown {
			t.Errorf("%s: %v %+v", f.name, err, got)
		}
	}
}
