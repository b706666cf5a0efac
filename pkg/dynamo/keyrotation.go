package dynamo

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/elevate-pam/elevate/pkg/tabledef"
)

// KindKeyRotation is the record of one rotation of a key secret (the link
// or the pagination key), written by the rotation function once the new
// version is AWSCURRENT. It is insert-only: the audit consumer maps its
// INSERT to key.rotated, and any other change of it is key.direct_write.
// Only the rotation function may write its partition (its LeadingKeys
// grant, pkg/manifest), and no other function holds a grant on it.
const KindKeyRotation = "keyrotation"

// KeyRotation is what a rotation record says: which secret, which version
// became current and which it replaced, when. Never the key material.
type KeyRotation struct {
	SecretARN         string
	SecretName        string
	VersionID         string
	PreviousVersionID string
	At                time.Time
}

type keyRotationItem struct {
	PK                string `dynamodbav:"PK"`
	SK                string `dynamodbav:"SK"`
	Kind              string `dynamodbav:"kind"`
	SecretARN         string `dynamodbav:"secretArn"`
	SecretName        string `dynamodbav:"secretName"`
	VersionID         string `dynamodbav:"versionId"`
	PreviousVersionID string `dynamodbav:"previousVersionId,omitempty"`
	RotatedAt         string `dynamodbav:"rotatedAt"`
	UpdatedBy         string `dynamodbav:"updatedBy"`
	ChangeID          string `dynamodbav:"changeId"`
}

func keyRotationKey(secretName, versionID string) key {
	return key{tabledef.PartitionKeyRotations, secretName + "#" + versionID}
}

// RecordKeyRotation writes the record of a rotation, once per secret
// version: a retried finishSecret finds it written and adds nothing.
func (s *Store) RecordKeyRotation(ctx context.Context, r KeyRotation) error {
	if r.SecretName == "" || r.VersionID == "" || r.SecretARN == "" {
		return errors.New("dynamo: a key rotation needs the secret's ARN and name and the version")
	}
	k := keyRotationKey(r.SecretName, r.VersionID)
	item, err := attributevalue.MarshalMap(keyRotationItem{PK: k.pk, SK: k.sk, Kind: KindKeyRotation, SecretARN: r.SecretARN, SecretName: r.SecretName,
		VersionID: r.VersionID, PreviousVersionID: r.PreviousVersionID, RotatedAt: r.At.UTC().Format(time.RFC3339Nano),
		UpdatedBy: "system", ChangeID: r.VersionID})
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if isConditionFailed(err) {
		return nil
	}
	if err != nil {
		return unavailable("record key rotation", err)
	}
	return nil
}

// KeyRotationFromImage decodes a rotation record's stream image; a record
// missing what it must say is an error (the audit consumer's direct write).
func KeyRotationFromImage(img map[string]events.DynamoDBAttributeValue) (KeyRotation, error) {
	var it keyRotationItem
	if err := decodeImage(img, KindKeyRotation, &it); err != nil {
		return KeyRotation{}, err
	}
	at, err := time.Parse(time.RFC3339Nano, it.RotatedAt)
	if err != nil || it.SecretARN == "" || it.SecretName == "" || it.VersionID == "" ||
		it.PK != tabledef.PartitionKeyRotations || it.SK != it.SecretName+"#"+it.VersionID || it.ChangeID != it.VersionID {
		return KeyRotation{}, errors.New("dynamo: a key rotation record that does not hold together")
	}
	return KeyRotation{SecretARN: it.SecretARN, SecretName: it.SecretName, VersionID: it.VersionID, PreviousVersionID: it.PreviousVersionID, At: at}, nil
}
