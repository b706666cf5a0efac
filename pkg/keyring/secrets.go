package keyring

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Secrets Manager's staging labels.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// SecretReader is the part of the Secrets Manager client a Fetch uses.
type SecretReader interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ParseKey reads a key the way every Elevate function does, so that links
// signed by notify verify in approvals: valid hex of at least 32 bytes is
// decoded, anything else is used as raw bytes.
func ParseKey(raw string) []byte {
	raw = strings.TrimSpace(raw)
	if b, err := hex.DecodeString(raw); err == nil && len(b) >= MinKeySize {
		return b
	}
	return []byte(raw)
}

// FromSecret reads the secret's AWSCURRENT version as the current key and
// its AWSPREVIOUS version, when there is one (a secret never rotated has
// none), as the previous key, each named by its version ID. Every read is
// bounded by timeout.
func FromSecret(sm SecretReader, secretID string) Fetch {
	return func(ctx context.Context) (Ring, error) {
		current, err := readStage(ctx, sm, secretID, StageCurrent)
		if err != nil {
			return Ring{}, fmt.Errorf("reading %s of the secret: %w", StageCurrent, err)
		}
		previous, err := readStage(ctx, sm, secretID, StagePrevious)
		if _, none := errors.AsType[*smtypes.ResourceNotFoundException](err); none {
			return Ring{Current: current}, nil
		}
		if err != nil {
			return Ring{}, fmt.Errorf("reading %s of the secret: %w", StagePrevious, err)
		}
		return Ring{Current: current, Previous: &previous}, nil
	}
}

func readStage(ctx context.Context, sm SecretReader, secretID, stage string) (Key, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID), VersionStage: aws.String(stage)})
	if err != nil {
		return Key{}, err
	}
	return Key{ID: aws.ToString(out.VersionId), Secret: ParseKey(aws.ToString(out.SecretString))}, nil
}
