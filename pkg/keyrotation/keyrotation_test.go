package keyrotation

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
	"github.com/elevate-pam/elevate/pkg/keyring"
)

const fnARN = "arn:aws:lambda:us-east-1:111122223333:function:elevate-rotation"

var caller = awsapi.Identity{AccessKeyID: "AKIAEXAMPLEROTATION1", SecretAccessKey: "rotation-secret", Account: "111122223333",
	ARN: "arn:aws:iam::111122223333:user/rotation", UserID: "AIDAROTATION"}

type records struct {
	mu   sync.Mutex
	list []dynamo.KeyRotation
	fail error
}

func (r *records) RecordKeyRotation(_ context.Context, k dynamo.KeyRotation) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		err := r.fail
		r.fail = nil
		return err
	}
	for _, old := range r.list {
		if old.VersionID == k.VersionID {
			return nil
		}
	}
	r.list = append(r.list, k)
	return nil
}

// setup serves an in-process Secrets Manager (SigV4-verified, reached through
// the real SDK client) whose RotateSecret invokes a Rotator.
func setup(t *testing.T) (*secretsmanager.Client, *awsapi.SecretsManager, *Rotator, *records) {
	t.Helper()
	srv := awsapi.NewServer(awsapi.NewKeys(caller), "us-east-1", nil)
	sm := awsapi.NewSecretsManager("111122223333", "us-east-1", time.Now)
	srv.Handle("secretsmanager", awsapi.ProtocolJSON, sm)
	l, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	client := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: aws.String(l.Endpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(caller.AccessKeyID, caller.SecretAccessKey, "")})
	rec := &records{}
	r := &Rotator{SM: client, Record: rec, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	sm.Rotate = func(ctx context.Context, fn string, ev awsapi.RotationEvent) error {
		if fn != fnARN {
			return errors.New("no such function")
		}
		return r.Handle(ctx, Event(ev))
	}
	return client, sm, r, rec
}

func create(t *testing.T, c *secretsmanager.Client, name string) string {
	t.Helper()
	out, err := c.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

func stages(t *testing.T, c *secretsmanager.Client, arn string) map[string][]string {
	t.Helper()
	d, err := c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	return d.VersionIdsToStages
}

// TestRotationProtocol: RotateSecret runs the four steps; the new version
// is AWSCURRENT, the old one AWSPREVIOUS, the one before that has no label
// (so keyring.FromSecret no longer reads it); each rotation is recorded
// once, naming the versions; a retried finishSecret records nothing twice.
func TestRotationProtocol(t *testing.T) {
	c, _, r, rec := setup(t)
	arn := create(t, c, "elevate-link-key")
	other := create(t, c, "someone-elses")
	r.Secrets = []string{arn}
	first := stages(t, c, arn)
	var v0 string
	for id := range first {
		v0 = id
	}
	if _, err := c.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(arn)}); err == nil {
		t.Fatal("RotateSecret without a rotation function was accepted")
	}
	rot := func(secret string) (string, error) {
		out, err := c.RotateSecret(t.Context(), &secretsmanager.RotateSecretInput{SecretId: aws.String(secret), RotationLambdaARN: aws.String(fnARN),
			RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(ScheduleDays)}})
		if err != nil {
			return "", err
		}
		return aws.ToString(out.VersionId), nil
	}
	if _, err := rot(other); err == nil {
		t.Fatal("the function rotated a secret it is not configured with")
	}
	v1, err := rot(arn)
	if err != nil {
		t.Fatal(err)
	}
	st := stages(t, c, arn)
	// AWSPENDING stays on the new version until the next rotation, as in AWS.
	if !slices.Contains(st[v1], keyring.StageCurrent) || !slices.Equal(st[v0], []string{keyring.StagePrevious}) {
		t.Fatalf("after one rotation: %v", st)
	}
	ring, err := keyring.FromSecret(c, arn)(t.Context())
	if err != nil || ring.Current.ID != v1 || ring.Previous == nil || ring.Previous.ID != v0 || len(ring.Current.Secret) != 32 {
		t.Fatalf("keys after one rotation: %+v %v", ring, err)
	}
	v2, err := rot(arn)
	if err != nil {
		t.Fatal(err)
	}
	st = stages(t, c, arn)
	if !slices.Contains(st[v2], keyring.StageCurrent) || !slices.Equal(st[v1], []string{keyring.StagePrevious}) || len(st[v0]) != 0 {
		t.Fatalf("after two rotations: %v", st)
	}
	if len(rec.list) != 2 || rec.list[0].VersionID != v1 || rec.list[0].PreviousVersionID != v0 || rec.list[1].VersionID != v2 || rec.list[1].PreviousVersionID != v1 {
		t.Fatalf("records %+v", rec.list)
	}
	// finishSecret retried after the stage moved: still recorded once.
	if err := r.Handle(t.Context(), Event{Step: StepFinish, SecretID: arn, ClientRequestToken: v2}); err != nil || len(rec.list) != 2 {
		t.Fatalf("retried finish: %v, %d records", err, len(rec.list))
	}
	// A record that failed after the move is made by the retry.
	rec.fail = errors.New("dynamodb down")
	if _, err := rot(arn); err == nil {
		t.Fatal("a rotation whose record failed reported success")
	}
	st = stages(t, c, arn)
	var v3 string
	for id, s := range st {
		if slices.Contains(s, keyring.StageCurrent) {
			v3 = id
		}
	}
	if err := r.Handle(t.Context(), Event{Step: StepFinish, SecretID: arn, ClientRequestToken: v3}); err != nil || len(rec.list) != 3 || rec.list[2].VersionID != v3 {
		t.Fatalf("the retried finish did not record: %v %+v", err, rec.list)
	}
}

// TestSecretsManagerRefuses what AWS refuses, for the operations used.
func TestSecretsManagerRefuses(t *testing.T) {
	c, sm, r, _ := setup(t)
	arn := create(t, c, "elevate-page-key")
	r.Secrets = []string{arn}
	ctx := t.Context()
	code := func(err error) string {
		var api interface{ ErrorCode() string }
		if errors.As(err, &api) {
			return api.ErrorCode()
		}
		return ""
	}
	tok := "11111111-2222-3333-4444-555555555555"
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(tok), SecretString: aws.String("a"), VersionStages: []string{keyring.StagePending}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"change an existing version", func() error {
			_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), ClientRequestToken: aws.String(tok), SecretString: aws.String("b")})
			return err
		}(), "ResourceExistsException"},
		{"a short ClientRequestToken", func() error {
			_, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), ClientRequestToken: aws.String("short"), SecretString: aws.String("b")})
			return err
		}(), "InvalidParameterException"},
		{"move AWSCURRENT without naming its holder", func() error {
			_, err := c.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{SecretId: aws.String(arn), VersionStage: aws.String(keyring.StageCurrent), MoveToVersionId: aws.String(tok)})
			return err
		}(), "InvalidParameterException"},
		{"a version stage that does not exist", func() error {
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(keyring.StagePrevious)})
			return err
		}(), "ResourceNotFoundException"},
		{"an unknown secret", func() error {
			_, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")})
			return err
		}(), "ResourceNotFoundException"},
		{"a rotation while one is pending", func() error {
			_, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(fnARN)})
			return err
		}(), "InvalidRequestException"},
		{"a duplicate name", func() error {
			_, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("elevate-page-key"), SecretString: aws.String("x")})
			return err
		}(), "ResourceExistsException"},
	}
	for _, tc := range cases {
		if got := code(tc.err); got != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, tc.err, tc.want)
		}
	}
	// A request signed with another secret key is refused before any operation.
	bad := secretsmanager.New(secretsmanager.Options{Region: "us-east-1", BaseEndpoint: c.Options().BaseEndpoint, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(caller.AccessKeyID, "not-the-secret", "")})
	if _, err := bad.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}); code(err) != "SignatureDoesNotMatch" && code(err) != "InvalidSignatureException" {
		t.Errorf("a bad signature: %v", err)
	}
	_ = sm
}

// TestScheduleOutlivesEveryLink: a link outlives one rotation, so every link
// must expire within one rotation period.
func TestScheduleOutlivesEveryLink(t *testing.T) {
	if h := float64(ScheduleDays * 24); h < elevate.MaxPendingExpiryHours || h < elevate.MaxRatifyWithinHours {
		t.Fatalf("rotation every %d days, but links live up to %v h", ScheduleDays, max(elevate.MaxPendingExpiryHours, elevate.MaxRatifyWithinHours))
	}
}
