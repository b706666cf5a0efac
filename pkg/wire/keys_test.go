package wire

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
	"github.com/elevate-pam/elevate/pkg/keyrotation"
	"github.com/elevate-pam/elevate/pkg/linktoken"
)

// Issue 21: a function built from the environment reads its link keys from
// Secrets Manager (AWS_ENDPOINT_URL_SECRETS_MANAGER: the in-process one,
// through the real SDK). A warm function that has not reread its keys
// verifies a link signed after a rotation by another instance (it rereads
// for the key it does not hold); after a second rotation a fresh instance
// refuses a link of the first key.
func TestLinkKeysFromSecretsManager(t *testing.T) {
	e, err := emulator.StartAWSAPI(awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := t.Context()
	sm := emulator.SecretsClient(e.Endpoint)
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("elevate-link-key"), SecretString: aws.String(strings.Repeat("k", 64))})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ARN)
	r := &keyrotation.Rotator{SM: sm, Record: noRecord{}, Secrets: []string{arn}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	e.SecretsManager.Rotate = func(ctx context.Context, _ string, ev awsapi.RotationEvent) error {
		return r.Handle(ctx, keyrotation.Event(ev))
	}
	rotate := func() {
		t.Helper()
		if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String("arn:aws:lambda:us-east-1:000000000000:function:rotation")}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_REGION", emulator.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", emulator.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", emulator.SecretAccessKey)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", e.Endpoint)
	t.Setenv(config.EnvLinkKeySecret, arn)
	signer := func() *linktoken.Signer {
		t.Helper()
		cfg, err := LambdaConfig()
		if err != nil {
			t.Fatal(err)
		}
		s, err := LinkSigner(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	exp := time.Now().Add(time.Hour)
	warm := signer()
	old, err := warm.SignContext(ctx, "r1", "bob@example.com", exp)
	if err != nil {
		t.Fatal(err)
	}
	rotate()
	fresh := signer()
	newer, err := fresh.SignContext(ctx, "r1", "bob@example.com", exp)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := linktoken.Unverified(newer); c.KeyID == "" || c.KeyID == keyOf(t, old) {
		t.Fatalf("after a rotation links name %q, before %q", c.KeyID, keyOf(t, old))
	}
	if _, err := warm.VerifyContext(ctx, newer, time.Now()); err != nil {
		t.Fatalf("a warm function refused a link of the new key: %v", err)
	}
	if _, err := fresh.VerifyContext(ctx, old, time.Now()); err != nil {
		t.Fatalf("a link of the previous key: %v", err)
	}
	rotate()
	if _, err := signer().VerifyContext(ctx, old, time.Now()); !errors.Is(err, linktoken.ErrSignature) {
		t.Fatalf("a link two rotations old: %v", err)
	}
}

func keyOf(t *testing.T, tok string) string {
	t.Helper()
	c, _ := linktoken.Unverified(tok)
	return c.KeyID
}

type noRecord struct{}

func (noRecord) RecordKeyRotation(context.Context, dynamo.KeyRotation) error { return nil }
