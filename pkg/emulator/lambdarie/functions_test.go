package lambdarie_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
	"github.com/elevate-pam/elevate/pkg/emulator/lambdarie"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

func TestMain(m *testing.M) { emulatortest.DynamoMain(m) }

// allFunctions is every Lambda function: pkg/manifest is the one list, and
// functions/ must hold exactly these (make build builds every directory).
func allFunctions() []string {
	return manifest.Functions()
}

var built struct {
	once      sync.Once
	root, rie string
	bins      map[string]string
	err       error
}

// bootstraps builds every function once per test binary, as make build does
// but for this machine's architecture, and the emulator.
func bootstraps(t *testing.T) (rie string, bins map[string]string) {
	t.Helper()
	built.once.Do(func() {
		ctx := context.Background()
		if built.root, built.err = emulator.RepoRoot(); built.err != nil {
			return
		}
		if built.rie, built.err = lambdarie.Tool(ctx, built.root); built.err != nil {
			return
		}
		built.bins, built.err = lambdarie.Build(ctx, built.root, allFunctions())
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.rie, built.bins
}

func TestEveryFunctionDirectoryIsInTheManifest(t *testing.T) {
	root, err := emulator.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if want := slices.Sorted(slices.Values(allFunctions())); !slices.Equal(dirs, want) {
		t.Errorf("functions/ holds %v, pkg/manifest lists %v: add the new function to manifest.APIFunctions, StreamFunctions or SecretFunctions", dirs, want)
	}
	// The bootstraps tested here are built with make build's flags.
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if flags := `-trimpath -tags lambda.norpc -ldflags "-s -w"`; !strings.Contains(string(makefile), flags) || strings.Join(lambdarie.BuildFlags, " ") != strings.ReplaceAll(flags, `"`, "") {
		t.Errorf("make build and lambdarie.BuildFlags (%q) must both use %s", lambdarie.BuildFlags, flags)
	}
}

// TestInitFailsWithAClearMessage: a function whose environment lacks what it
// needs, or holds a bad value, fails at init (the invoke answers 502, as
// Lambda's Runtime.ExitError) and logs "cannot start" naming the variable.
func TestInitFailsWithAClearMessage(t *testing.T) {
	rie, bins := bootstraps(t)
	type broken struct{ unset, bad, value string }
	cases := map[string][]broken{}
	for _, fn := range allFunctions() {
		// Every function runs only with the runtime's region and credentials.
		cases[fn] = append(cases[fn], broken{unset: "AWS_REGION"})
	}
	for _, fn := range allFunctions() {
		if len(manifest.TableActions[fn]) > 0 {
			cases[fn] = append(cases[fn], broken{unset: config.EnvTable})
		}
	}
	cases[manifest.Approvals] = append(cases[manifest.Approvals], broken{bad: config.EnvLinkKey, value: "short"})
	cases[manifest.Requests] = append(cases[manifest.Requests], broken{bad: config.EnvPageKey, value: "short"})
	cases[manifest.Notify] = append(cases[manifest.Notify], broken{unset: config.EnvSender}, broken{unset: config.EnvPublicBaseURL}, broken{bad: config.EnvLinkKey, value: "short"})
	cases[manifest.Audit] = append(cases[manifest.Audit], broken{unset: config.EnvAuditBucket})
	cases[manifest.Rotation] = append(cases[manifest.Rotation], broken{unset: config.EnvLinkKeySecret}, broken{unset: config.EnvPageKeySecret})
	for _, fn := range allFunctions() {
		for _, c := range cases[fn] {
			name := c.unset + c.bad
			t.Run(fn+"/"+name, func(t *testing.T) {
				env := lambdarie.LocalEnv(fn, "http://127.0.0.1:9", "table")
				if c.unset != "" {
					delete(env, c.unset)
				} else {
					env[c.bad] = c.value
				}
				r, err := lambdarie.Start(t.Context(), rie, bins[fn], lambdarie.EnvList(env))
				if err != nil {
					t.Fatal(err)
				}
				defer r.Stop()
				status, body, err := r.Invoke(t.Context(), []byte(`{}`))
				if err != nil {
					t.Fatal(err)
				}
				if status != 502 {
					t.Errorf("invoke answered %d %s, want 502 (init failed)", status, body)
				}
				out := r.OutputWith(`"cannot start"`, 5*time.Second)
				var logged bool
				for line := range strings.Lines(out) {
					var rec struct{ Msg, Function, Error string }
					if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "cannot start" && rec.Function == fn && strings.Contains(rec.Error, name) {
						logged = true
					}
				}
				if !logged {
					t.Errorf("no JSON \"cannot start\" log naming %s:\n%s", name, out)
				}
			})
		}
	}
}

func streamBatch(t *testing.T, files ...string) (events.DynamoDBEvent, []byte) {
	t.Helper()
	var ev events.DynamoDBEvent
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "stream", f))
		if err != nil {
			t.Fatal(err)
		}
		var one events.DynamoDBEvent
		if err := json.Unmarshal(b, &one); err != nil {
			t.Fatal(err)
		}
		ev.Records = append(ev.Records, one.Records...)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return ev, payload
}

// invokeBatch invokes a stream function and decodes its answer, which must be
// exactly a BatchItemFailures response.
func invokeBatch(t *testing.T, r *lambdarie.Runtime, payload []byte) []string {
	t.Helper()
	status, body, err := r.Invoke(t.Context(), payload)
	if err != nil || status != 200 {
		t.Fatalf("invoke: %d %s %v\n%s", status, body, err, r.Output())
	}
	var resp map[string][]map[string]string
	if err := json.Unmarshal(body, &resp); err != nil || len(resp) != 1 || resp["batchItemFailures"] == nil {
		t.Fatalf("answer %s is not {\"batchItemFailures\": [...]} (%v)", body, err)
	}
	var ids []string
	for _, f := range resp["batchItemFailures"] {
		if len(f) != 1 || f["itemIdentifier"] == "" {
			t.Fatalf("failure %v is not {\"itemIdentifier\": sequence number}", f)
		}
		ids = append(ids, f["itemIdentifier"])
	}
	return ids
}

// TestStreamFunctionsUnderLambdaRuntime runs notify and audit under the
// emulator with stream batches from events/stream: notify emails through the
// SES emulator, audit writes to S3 over HTTP; with SES or S3 down each
// reports the batch's first record by its sequence number.
func TestStreamFunctionsUnderLambdaRuntime(t *testing.T) {
	rie, bins := bootstraps(t)
	ctx := t.Context()
	client, endpoint := emulatortest.DynamoForTest(t)
	table := emulatortest.UniqueTableName("rie")
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	store := dynamo.New(client, table, nil)
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	g, err := elevate.NewGroup(elevate.NewGroupInput{Name: "ops", Members: []string{"alice@example.com", "bob@example.com", "rita@example.com"}}, "admin@example.com", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateGroup(ctx, g, app.Event{ID: "ev-group", Time: now, Action: "group.created", Actor: "admin@example.com"}); err != nil {
		t.Fatal(err)
	}
	ses, err := emulator.StartSES(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ses.Stop()
	s3, err := emulator.StartS3("audit")
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()

	start := func(fn string) *lambdarie.Runtime {
		env := lambdarie.LocalEnv(fn, endpoint, table)
		env["AWS_ENDPOINT_URL_SESV2"] = ses.Endpoint
		env["AWS_ENDPOINT_URL_S3"] = s3.Endpoint
		env[config.EnvAuditBucket] = s3.Bucket
		r, err := lambdarie.Start(ctx, rie, bins[fn], lambdarie.EnvList(env))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Stop)
		return r
	}

	t.Run("audit", func(t *testing.T) {
		r := start(manifest.Audit)
		ev, payload := streamBatch(t, "request-insert-pending.json", "request-modify-approved.json", "policy-insert-and-direct-write.json")
		if failed := invokeBatch(t, r, payload); len(failed) != 0 {
			t.Fatalf("audit reported %v\n%s", failed, r.Output())
		}
		keys, err := s3.Keys()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			t.Fatalf("no audit objects after %d records", len(ev.Records))
		}
		s3.SetDown(true)
		defer s3.SetDown(false)
		if failed := invokeBatch(t, r, payload); !slices.Equal(failed, []string{ev.Records[0].Change.SequenceNumber}) {
			t.Errorf("with S3 down audit reported %v, want the first record %s", failed, ev.Records[0].Change.SequenceNumber)
		}
	})

	t.Run("notify", func(t *testing.T) {
		r := start(manifest.Notify)
		_, payload := streamBatch(t, "request-insert-pending.json")
		if failed := invokeBatch(t, r, payload); len(failed) != 0 {
			t.Fatalf("notify reported %v\n%s", failed, r.Output())
		}
		emails, err := ses.Emails(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var to []string
		for _, m := range emails {
			to = append(to, m.Destination.To...)
		}
		if !slices.Contains(to, "alice@example.com") || !slices.Contains(to, "bob@example.com") {
			t.Errorf("approver emails went to %v", to)
		}
		if err := ses.Stop(); err != nil {
			t.Logf("SES emulator stop: %v", err)
		}
		approved, payload := streamBatch(t, "request-modify-approved.json")
		if failed := invokeBatch(t, r, payload); !slices.Equal(failed, []string{approved.Records[0].Change.SequenceNumber}) {
			t.Errorf("with SES down notify reported %v, want the first record %s", failed, approved.Records[0].Change.SequenceNumber)
		}
	})

	// Every stream function, present or added later, answers a batch in
	// Lambda's partial-batch shape (SES is down by now: notify reports).
	for _, fn := range manifest.StreamFunctions {
		t.Run(fn+"/shape", func(t *testing.T) {
			_, payload := streamBatch(t, "settings-insert-and-direct-write.json")
			invokeBatch(t, start(fn), payload)
		})
	}
}

// TestRotationFunctionUnderLambdaRuntime (issue 21): Secrets Manager's
// RotateSecret, through the real SDK against the in-process Secrets Manager,
// invokes the rotation bootstrap under the emulator for each of the four
// steps; the function calls back into Secrets Manager and records the
// rotation in DynamoDB Local. A step for a secret it was not given is an
// error answer (events/rotation).
func TestRotationFunctionUnderLambdaRuntime(t *testing.T) {
	rie, bins := bootstraps(t)
	ctx := t.Context()
	client, endpoint := emulatortest.DynamoForTest(t)
	table := emulatortest.UniqueTableName("rie")
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	aws, err := emulator.StartAWSAPI(awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer aws.Close()
	sm := emulator.SecretsClient(aws.Endpoint)
	arns := map[string]string{}
	for _, name := range []string{"elevate-link-key", "elevate-page-key"} {
		out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: awssdk.String(name), SecretString: awssdk.String(strings.Repeat("ab", 32))})
		if err != nil {
			t.Fatal(err)
		}
		arns[name] = awssdk.ToString(out.ARN)
	}
	env := lambdarie.LocalEnv(manifest.Rotation, endpoint, table)
	env[config.EnvLinkKeySecret], env[config.EnvPageKeySecret] = arns["elevate-link-key"], arns["elevate-page-key"]
	env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = aws.Endpoint
	r, err := lambdarie.Start(ctx, rie, bins[manifest.Rotation], lambdarie.EnvList(env))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	invoke := func(ctx context.Context, payload []byte) error {
		status, body, err := r.Invoke(ctx, payload)
		if err != nil {
			return err
		}
		if status != 200 || strings.Contains(string(body), "errorMessage") {
			return fmt.Errorf("rotation answered %d %s", status, body)
		}
		return nil
	}
	const fnARN = "arn:aws:lambda:us-east-1:000000000000:function:elevate-rotation"
	aws.SecretsManager.Rotate = func(ctx context.Context, fn string, ev awsapi.RotationEvent) error {
		payload, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		return invoke(ctx, payload)
	}
	out, err := sm.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: awssdk.String(arns["elevate-link-key"]), RotationLambdaARN: awssdk.String(fnARN)})
	if err != nil {
		t.Fatalf("rotate: %v\n%s", err, r.Output())
	}
	version := awssdk.ToString(out.VersionId)
	cur, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(arns["elevate-link-key"])})
	if err != nil || awssdk.ToString(cur.VersionId) != version || len(awssdk.ToString(cur.SecretString)) != 64 {
		t.Fatalf("AWSCURRENT after the rotation: %v %v", cur, err)
	}
	got, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: awssdk.String(table), ConsistentRead: awssdk.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"PK": &ddbtypes.AttributeValueMemberS{Value: "KEYROTATION"}, "SK": &ddbtypes.AttributeValueMemberS{Value: "elevate-link-key#" + version}}})
	if err != nil || got.Item == nil {
		t.Fatalf("no rotation record for %s: %v", version, err)
	}
	if err := invoke(ctx, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "unknown step") {
		t.Errorf("an event naming no step: %v", err)
	}
	sample, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "rotation", "createSecret-not-ours.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := invoke(ctx, sample); err == nil || !strings.Contains(err.Error(), "errorMessage") {
		t.Errorf("a step for another secret: %v", err)
	}
}
