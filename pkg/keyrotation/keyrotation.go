// Package keyrotation is the rotation function of Elevate's key secrets
// (the link-signing key and the pagination key): Secrets Manager's four-step
// rotation protocol, invoked by Secrets Manager on the secret's schedule or
// on demand (RotateSecret), once per step with the new version's ID
// (ClientRequestToken):
//
//   - createSecret: a new random 32-byte key (hex) as that version, staged
//     AWSPENDING; a retried step finds it and makes no other.
//   - setSecret: nothing. The key lives only in the secret; the functions
//     that use it read it from there (pkg/keyring).
//   - testSecret: the pending key reads back, is a key (at least 32 bytes)
//     and is not the current one.
//   - finishSecret: AWSCURRENT moves to the new version (Secrets Manager
//     moves AWSPREVIOUS to the one it left), then the rotation is recorded
//     in the table, once per version, for the audit trail (key.rotated).
//
// The previous key keeps verifying what it signed until the next rotation:
// a link emailed just before a rotation works until it expires, as long as
// the schedule is longer than a link's life.
package keyrotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/keyring"
)

// Event is what Secrets Manager invokes a rotation function with.
type Event struct {
	Step               string `json:"Step"`
	SecretID           string `json:"SecretId"`
	ClientRequestToken string `json:"ClientRequestToken"`
	RotationToken      string `json:"RotationToken,omitempty"`
}

// The steps.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// SecretsAPI is the part of the Secrets Manager client the rotation uses.
type SecretsAPI interface {
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

// Recorder records a finished rotation (pkg/dynamo's Store).
type Recorder interface {
	RecordKeyRotation(ctx context.Context, r dynamo.KeyRotation) error
}

// Errors a rotation refuses with.
var (
	ErrNotOurs       = errors.New("keyrotation: this function rotates only the secrets it is configured with")
	ErrNotEnabled    = errors.New("keyrotation: rotation is not enabled on the secret")
	ErrNotPending    = errors.New("keyrotation: the version is not staged for rotation (AWSPENDING)")
	ErrUnknownStep   = errors.New("keyrotation: unknown step")
	ErrBadPendingKey = errors.New("keyrotation: the pending key is not a usable key")
)

// Rotator rotates the secrets in Secrets (ARNs); any other is refused.
type Rotator struct {
	SM      SecretsAPI
	Record  Recorder
	Secrets []string
	Clock   func() time.Time
	Log     *slog.Logger
}

// keySize is the size of a new key: HMAC-SHA256's.
const keySize = 32

// Handle runs one step for the version ev.ClientRequestToken.
func (r *Rotator) Handle(ctx context.Context, ev Event) error {
	log := r.Log.With("secret", ev.SecretID, "version", ev.ClientRequestToken, "step", ev.Step)
	err := r.handle(ctx, ev)
	if err != nil {
		log.ErrorContext(ctx, "rotation step failed", "error", err.Error())
		return err
	}
	log.InfoContext(ctx, "rotation step done")
	return nil
}

func (r *Rotator) handle(ctx context.Context, ev Event) error {
	// A malformed event is refused before any call.
	if !slices.Contains([]string{StepCreate, StepSet, StepTest, StepFinish}, ev.Step) {
		return fmt.Errorf("%w %q", ErrUnknownStep, ev.Step)
	}
	if ev.SecretID == "" || ev.ClientRequestToken == "" {
		return errors.New("keyrotation: the event names no secret or version")
	}
	desc, err := r.SM.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
	if err != nil {
		return fmt.Errorf("describe the secret: %w", err)
	}
	arn := aws.ToString(desc.ARN)
	if !slices.Contains(r.Secrets, arn) && !slices.Contains(r.Secrets, ev.SecretID) {
		return ErrNotOurs
	}
	if !aws.ToBool(desc.RotationEnabled) {
		return ErrNotEnabled
	}
	token := ev.ClientRequestToken
	stages, ok := desc.VersionIdsToStages[token]
	if !ok {
		return fmt.Errorf("%w: version %s has no staging label", ErrNotPending, token)
	}
	if slices.Contains(stages, keyring.StageCurrent) {
		// Already done; a retried finishSecret still makes sure it is recorded.
		if ev.Step == StepFinish {
			return r.record(ctx, desc, token, holderOf(desc.VersionIdsToStages, keyring.StagePrevious))
		}
		return nil
	}
	if !slices.Contains(stages, keyring.StagePending) {
		return ErrNotPending
	}
	switch ev.Step {
	case StepCreate:
		return r.create(ctx, arn, token)
	case StepSet:
		return nil
	case StepTest:
		return r.test(ctx, arn, token)
	case StepFinish:
		current := holderOf(desc.VersionIdsToStages, keyring.StageCurrent)
		if _, err := r.SM.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(arn),
			VersionStage: aws.String(keyring.StageCurrent), MoveToVersionId: aws.String(token), RemoveFromVersionId: optional(current)}); err != nil {
			return fmt.Errorf("move AWSCURRENT: %w", err)
		}
		return r.record(ctx, desc, token, current)
	}
	return fmt.Errorf("%w %q", ErrUnknownStep, ev.Step)
}

func (r *Rotator) create(ctx context.Context, arn, token string) error {
	if _, err := r.SM.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(keyring.StageCurrent)}); err != nil {
		return fmt.Errorf("read the current key: %w", err)
	}
	_, err := r.SM.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: aws.String(token), VersionStage: aws.String(keyring.StagePending)})
	if err == nil {
		return nil // made by an earlier attempt of this step
	}
	if _, none := errors.AsType[*smtypes.ResourceNotFoundException](err); !none {
		return fmt.Errorf("read the pending key: %w", err)
	}
	var key [keySize]byte
	if _, err := rand.Read(key[:]); err != nil {
		return err
	}
	if _, err := r.SM.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(token),
		SecretString: aws.String(hex.EncodeToString(key[:])), VersionStages: []string{keyring.StagePending}}); err != nil {
		return fmt.Errorf("put the pending key: %w", err)
	}
	return nil
}

func (r *Rotator) test(ctx context.Context, arn, token string) error {
	pending, err := r.SM.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionId: aws.String(token), VersionStage: aws.String(keyring.StagePending)})
	if err != nil {
		return fmt.Errorf("read the pending key: %w", err)
	}
	current, err := r.SM.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(keyring.StageCurrent)})
	if err != nil {
		return fmt.Errorf("read the current key: %w", err)
	}
	ring := keyring.Ring{Current: keyring.Key{ID: token, Secret: keyring.ParseKey(aws.ToString(pending.SecretString))},
		Previous: &keyring.Key{ID: aws.ToString(current.VersionId), Secret: keyring.ParseKey(aws.ToString(current.SecretString))}}
	if err := ring.Check(); err != nil || string(ring.Current.Secret) == string(ring.Previous.Secret) {
		return ErrBadPendingKey
	}
	return nil
}

func (r *Rotator) record(ctx context.Context, desc *secretsmanager.DescribeSecretOutput, version, previous string) error {
	now := time.Now
	if r.Clock != nil {
		now = r.Clock
	}
	if err := r.Record.RecordKeyRotation(ctx, dynamo.KeyRotation{SecretARN: aws.ToString(desc.ARN), SecretName: aws.ToString(desc.Name),
		VersionID: version, PreviousVersionID: previous, At: now()}); err != nil {
		return fmt.Errorf("record the rotation: %w", err)
	}
	return nil
}

// holderOf is the version a staging label is on ("" when none).
func holderOf(versions map[string][]string, stage string) string {
	for id, stages := range versions {
		if slices.Contains(stages, stage) {
			return id
		}
	}
	return ""
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// ScheduleDays is how often Secrets Manager rotates each key secret (the
// stack's rotation schedule). A link or page token outlives one rotation, so
// every link must expire within one schedule: links live at most
// elevate.MaxPendingExpiryHours or MaxRatifyWithinHours (a week).
const ScheduleDays = 30
