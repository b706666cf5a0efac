package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
	"github.com/elevate-pam/elevate/pkg/emulator/lambdarie"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// TestReplayEventsUnderLambdaRuntime replays cases.json as TestReplayEvents
// does, but through the shipped bootstraps: each API function is built as
// `make build` builds it (for this machine), run under AWS's Lambda Runtime
// Interface Emulator with the environment the stack gives it (the keys as
// their local plain-text variables, as Secrets Manager is not emulated; STS
// the in-process endpoint), and
// invoked through the emulator's invoke endpoint against DynamoDB Local.
func TestReplayEventsUnderLambdaRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every API function")
	}
	svc, _ := dynamoService(t)
	replayFixture(t, svc)
	_, endpoint := emulatortest.DynamoForTest(t)
	table := svc.Store.(*dynamo.Store).Table()
	root, err := emulator.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rie, err := lambdarie.Tool(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	awsAPI, err := emulator.StartAWSAPI(awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = awsAPI.Close() })
	bins, err := lambdarie.Build(t.Context(), root, manifest.APIFunctions)
	if err != nil {
		t.Fatal(err)
	}
	runtimes := map[string]*lambdarie.Runtime{}
	for _, fn := range manifest.APIFunctions {
		bin := bins[fn]
		env := lambdarie.LocalEnv(fn, endpoint, table)
		env[config.EnvAdminGroup] = svc.AdminGroup
		env[config.EnvLinkKey] = string(replayLinkKey)
		env[config.EnvPageKey] = string(replayPageKey)
		env[config.EnvSTSEndpoint] = awsAPI.Endpoint
		r, err := lambdarie.Start(t.Context(), rie, bin, lambdarie.EnvList(env))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Stop)
		runtimes[fn] = r
	}
	for _, c := range loadReplayCases(t) {
		fn, payload, ev := c.function, c.payload, c.event
		status, body, err := runtimes[fn].Invoke(t.Context(), payload)
		if err != nil || status != 200 {
			t.Fatalf("%s: emulator answered %d %s (%v)\n%s", c.Event, status, body, err, runtimes[fn].Output())
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatalf("%s: %v in %s", c.Event, err, body)
		}
		if resp.StatusCode != c.Status {
			t.Errorf("%s (%s): status %d, want %d: %s", c.Event, c.Note, resp.StatusCode, c.Status, resp.Body)
		}
		checkReplayBody(t, c.Event, ev, resp)
	}
	for id, want := range map[string]elevate.Status{idPending: elevate.StatusApproved, idGranted: elevate.StatusRevoked, idToDeny: elevate.StatusDenied, idToCancel: elevate.StatusCancelled, idForLink: elevate.StatusApproved} {
		r, err := svc.Store.GetRequest(t.Context(), id)
		if err != nil || r.Status != want {
			t.Errorf("request %s: %s %v, want %s", id, r.Status, err, want)
		}
	}
	for fn, r := range runtimes {
		if _, err := r.InitDuration(); err != nil {
			t.Errorf("%s: %v", fn, err)
		}
	}
}
