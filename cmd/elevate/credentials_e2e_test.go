package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/elevate-pam/elevate/pkg/emulator"
)

// TestCLICredentials: a policy with an aws binding made with `policy new`,
// an automatic grant, then `elevate credentials` as export lines, as JSON,
// and as the AWS CLI's credential_process, which the real SDK's
// credential_process provider runs from a profile to call STS.
func TestCLICredentials(t *testing.T) {
	w := startWalkthrough(t)
	admin := w.login("admin@example.com", "elevate-admins")
	alice := w.login("alice@example.com")
	w.ok(admin, "group", "new", "approvers", "--member", "bob@example.com")
	w.ok(admin, "enable", "--approver-group", "approvers")
	w.ok(admin, "policy", "new", "--task", `S3\Delete-Bucket`, "--approval", "Auto", "--aws-role", emulator.BrokerRoleARN,
		"--session-policy", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteBucket","Resource":"*"}]}`, "--max-session-minutes", "30")
	if r := w.elevate(admin, "policy", "new", "--task", `S3\Put-Bucket`, "--approval", "Auto", "--aws-role", "arn:aws:iam::1:role/x"); r.code == 0 {
		t.Fatalf("a malformed role ARN was accepted: %s", r.stdout)
	}

	var req struct{ ID string }
	if err := json.Unmarshal([]byte(w.ok(alice, "request", "new", "--task", `S3\Delete-Bucket`, "--reason", "tidy up", "-o", "json")), &req); err != nil || req.ID == "" {
		t.Fatalf("request: %v", err)
	}
	exports := w.ok(alice, "credentials", req.ID)
	for _, k := range []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_CREDENTIAL_EXPIRATION="} {
		if !strings.Contains(exports, "export "+k) {
			t.Errorf("export lines lack %s:\n%s", k, exports)
		}
	}
	var asJSON struct{ AccessKeyID, SecretAccessKey, SessionToken, Expiration string }
	if err := json.Unmarshal([]byte(w.ok(alice, "credentials", req.ID, "-o", "json")), &asJSON); err != nil || asJSON.SessionToken == "" {
		t.Fatalf("-o json: %+v %v", asJSON, err)
	}
	if r := w.elevate(w.login("mallory@example.com"), "credentials", "--process", "--target", "task:s3:delete-bucket"); r.code == 0 {
		t.Fatalf("credential_process for someone with no grant: %s", r.stdout)
	}

	// The profile line the README shows, run by the SDK itself.
	dir := t.TempDir()
	profile := "[profile task]\ncredential_process = " + w.bin + " credentials --process --target task:s3:delete-bucket\n"
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, kv := range append(append([]string(nil), w.env...), "ELEVATE_TOKEN="+alice) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile("task"))
	if err != nil {
		t.Fatal(err)
	}
	var endpoint string
	for _, kv := range w.env {
		if v, ok := strings.CutPrefix(kv, "AWS_ENDPOINT_URL_STS="); ok {
			endpoint = v
		}
	}
	who, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(endpoint) }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("the SDK with credential_process: %v", err)
	}
	if arn := aws.ToString(who.Arn); !strings.Contains(arn, ":assumed-role/"+emulator.BrokerRoleName+"/alice@example.com-"+req.ID) {
		t.Fatalf("credential_process signs as %s", arn)
	}
}
