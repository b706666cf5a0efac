package local

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
	"github.com/elevate-pam/elevate/pkg/keyring"
	"github.com/elevate-pam/elevate/pkg/keyrotation"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// The local key secrets, in the in-process Secrets Manager, and the
// rotation function Secrets Manager invokes for them.
const (
	LinkKeySecretName   = "elevate-link-key"
	PageKeySecretName   = "elevate-page-key"
	RotationFunctionARN = "arn:aws:lambda:" + emulator.Region + ":" + emulator.LocalAccount + ":function:elevate-rotation"
	// RotateKeysPath is the local-only route that rotates both key secrets
	// now (POST, loopback only, like TokenPath); it is never deployed.
	RotateKeysPath = "/_local/rotate-keys"
)

// keys are the stack's key secrets and the functions' caches of them.
type keys struct {
	sm                *secretsmanager.Client
	linkARN, pageARN  string
	linkKeys, pageKey *keyring.Cache
	log               *slog.Logger
}

// startKeys keeps the link and page keys in the in-process Secrets Manager,
// as the stack does in AWS, with the rotation function attached on its
// schedule (not rotated at start), and gives the functions caches that read
// AWSCURRENT and AWSPREVIOUS from there.
func (st *Stack) startKeys(ctx context.Context, o Options, recorder func(string) *dynamo.Store) error {
	sm := emulator.SecretsClient(st.AWS.Endpoint)
	create := func(name string, key []byte) (string, error) {
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(hex.EncodeToString(key))})
		if err != nil {
			return "", fmt.Errorf("local: create the %s secret: %w", name, err)
		}
		return aws.ToString(out.ARN), nil
	}
	k := &keys{sm: sm, log: o.Log}
	var err error
	if k.linkARN, err = create(LinkKeySecretName, o.LinkKey); err != nil {
		return err
	}
	if k.pageARN, err = create(PageKeySecretName, o.PageKey); err != nil {
		return err
	}
	rotator := &keyrotation.Rotator{SM: sm, Record: recorder(manifest.Rotation), Secrets: []string{k.linkARN, k.pageARN},
		Log: o.Log.With("function", manifest.Rotation)}
	st.AWS.SecretsManager.Rotate = func(ctx context.Context, fn string, ev awsapi.RotationEvent) error {
		if fn != RotationFunctionARN {
			return errors.New("no such function: " + fn)
		}
		return rotator.Handle(ctx, keyrotation.Event(ev))
	}
	for _, arn := range []string{k.linkARN, k.pageARN} {
		if _, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(arn), RotationLambdaARN: aws.String(RotationFunctionARN),
			RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(keyrotation.ScheduleDays)}, RotateImmediately: aws.Bool(false)}); err != nil {
			return fmt.Errorf("local: attach the rotation function: %w", err)
		}
	}
	k.linkKeys = keyring.New(keyring.FromSecret(sm, k.linkARN), keyring.DefaultTTL, keyring.DefaultMinRefresh, nil)
	k.pageKey = keyring.New(keyring.FromSecret(sm, k.pageARN), keyring.DefaultTTL, keyring.DefaultMinRefresh, nil)
	if err := errors.Join(k.linkKeys.Load(ctx), k.pageKey.Load(ctx)); err != nil {
		return fmt.Errorf("local: read the keys: %w", err)
	}
	st.keys = k
	return nil
}

// Rotation is one secret's rotation: the version now AWSCURRENT.
type Rotation struct {
	Secret    string `json:"secret"`
	VersionID string `json:"versionId"`
}

// RotateKeys rotates the link and page key secrets now, through Secrets
// Manager's RotateSecret and so the rotation function's four steps, then has
// the functions reread their keys (in AWS they do within keyring.DefaultTTL,
// or at once for a key they do not hold).
func (st *Stack) RotateKeys(ctx context.Context) ([]Rotation, error) {
	var out []Rotation
	for _, arn := range []string{st.keys.linkARN, st.keys.pageARN} {
		r, err := st.keys.sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String(arn)})
		if err != nil {
			return out, fmt.Errorf("local: rotate %s: %w", arn, err)
		}
		out = append(out, Rotation{Secret: aws.ToString(r.Name), VersionID: aws.ToString(r.VersionId)})
	}
	st.keys.linkKeys.Invalidate()
	st.keys.pageKey.Invalidate()
	return out, nil
}

// rotateKeysHandler serves RotateKeysPath: POST rotates both keys and
// answers the new versions (never the keys).
func (st *Stack) rotateKeysHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeProblem(w, http.StatusMethodNotAllowed, "use POST to rotate the keys")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		rotated, err := st.RotateKeys(ctx)
		if err != nil {
			st.keys.log.Error("key rotation failed", "error", err.Error())
			writeProblem(w, http.StatusServiceUnavailable, "the rotation failed; see the stack's log")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"rotated": rotated})
	})
}
