package dynamo

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/keyring"
	"github.com/elevate-pam/elevate/pkg/tabledef"
)

// A page token is base64url(key JSON) "." base64url(HMAC) ["." key ID]: the
// HMAC, under the pagination key the token names (none: a key without an
// ID), covers the query's fingerprint and the resume key. The key ID only
// picks the key the HMAC must match, so a forged one gains nothing; a token
// naming a key that is neither the current nor the previous one (rotated out
// twice) is refused with errRetiredPageToken.
var errRetiredPageToken = elevate.Invalid("next was signed by a pagination key that has since been rotated out (a page token outlives one key rotation, not two); list again without next")

func pageMAC(key []byte, fp string, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(fp))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)
}

func (s *Store) encodeToken(ctx context.Context, key map[string]types.AttributeValue, fp string) (string, error) {
	plain := make(map[string]string, len(key))
	for k, v := range key {
		sv, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return "", unavailable("list requests", errNonStringKey)
		}
		plain[k] = sv.Value
	}
	payload, err := json.Marshal(plain)
	if err != nil {
		return "", unavailable("list requests", err)
	}
	pk, err := s.pageKeys.Current(ctx)
	if err != nil {
		return "", unavailable("list requests: page key", err)
	}
	enc := base64.RawURLEncoding
	tok := enc.EncodeToString(payload) + "." + enc.EncodeToString(pageMAC(pk.Secret, fp, payload))
	if pk.ID != "" {
		tok += "." + pk.ID
	}
	return tok, nil
}

func (s *Store) decodeToken(ctx context.Context, tok, fp string, plan listPlan) (map[string]types.AttributeValue, error) {
	if len(tok) > 4096 {
		return nil, errBadToken
	}
	parts := strings.Split(tok, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return nil, errBadToken
	}
	kid := ""
	if len(parts) == 3 {
		if kid = parts[2]; kid == "" {
			return nil, errBadToken
		}
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(parts[0])
	sig, err2 := enc.DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		return nil, errBadToken
	}
	secret, err := s.pageKeys.Lookup(ctx, kid)
	switch {
	case errors.Is(err, keyring.ErrUnknownKey):
		return nil, errRetiredPageToken
	case err != nil:
		return nil, unavailable("list requests: page keys", err)
	}
	if !hmac.Equal(sig, pageMAC(secret, fp, payload)) {
		return nil, errBadToken
	}
	var plain map[string]string
	if err := json.Unmarshal(payload, &plain); err != nil {
		return nil, errBadToken
	}
	key := make(map[string]types.AttributeValue, len(plain))
	for _, a := range []string{tabledef.PartitionKey, tabledef.SortKey, plan.pkAttr, plan.skAttr} {
		v, ok := plain[a]
		if !ok || v == "" {
			return nil, errBadToken
		}
		key[a] = str(v)
	}
	if len(plain) != len(key) || plain[plan.pkAttr] != plan.partition {
		return nil, errBadToken
	}
	return key, nil
}
