package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/awsapi"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
	"github.com/elevate-pam/elevate/pkg/linktoken"
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/openapi/openapitest"
	"github.com/elevate-pam/elevate/pkg/stscreds"
)

var replayPageKey = []byte("page-key-page-key-page-key-page-key")

// dynamoService is a Service over a fresh table in DynamoDB Local.
func dynamoService(t *testing.T) (*app.Service, *dynamo.Store) {
	t.Helper()
	client, _ := emulatortest.DynamoForTest(t)
	table := emulatortest.UniqueTableName("httpapi")
	if err := dynamo.CreateTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	store := dynamo.New(client, table, replayPageKey)
	return &app.Service{Store: store, Clock: elevate.SystemClock, AdminGroup: app.DefaultAdminGroup}, store
}

// replayFixture is the state the sample events expect: group ops (bob,
// carol), access on with ops as default, a Manual and an Auto policy, and the
// five requests with fixed IDs.
func replayFixture(t *testing.T, svc *app.Service) {
	t.Helper()
	ctx := t.Context()
	ad := app.Caller{Principal: replayAdmin, Groups: []string{app.DefaultAdminGroup}}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.CreateGroup(ctx, ad, elevate.NewGroupInput{Name: "ops", Members: []string{"bob@example.com", "carol@example.com"}}))
	must(svc.UpdateSettings(ctx, ad, elevate.SettingsPatch{Enabled: ptr(true), DefaultApproverGroup: ptr("ops")}))
	must(svc.CreatePolicy(ctx, ad, elevate.PolicyInput{Scope: "Exchange", Name: "New-MoveRequest", ApprovalType: "Manual"}))
	must(svc.CreatePolicy(ctx, ad, elevate.PolicyInput{Scope: "Exchange", Name: "Get-Mailbox", ApprovalType: "Auto"}))
	next := ""
	svc.NewID = func() string {
		if id := next; id != "" {
			next = ""
			return id
		}
		return strings.ReplaceAll(elevate.SystemClock().Format("150405.000000000"), ".", "") + "00000000000000000"
	}
	defer func() { svc.NewID = nil }()
	for _, r := range []struct{ id, who, name string }{
		{idPending, "alice@example.com", "New-MoveRequest"},
		{idGranted, "alice@example.com", "Get-Mailbox"},
		{idToDeny, "dave@example.com", "New-MoveRequest"},
		{idToCancel, "erin@example.com", "New-MoveRequest"},
		{idForLink, "grace@example.com", "New-MoveRequest"},
	} {
		next = r.id
		must(svc.SubmitRequest(ctx, app.Caller{Principal: r.who}, elevate.SubmitInput{Scope: "Exchange", Name: r.name, Reason: "fixture"}))
	}

	must(svc.CreatePolicy(ctx, ad, elevate.PolicyInput{Scope: "Exchange", Name: "Search-Mailbox", ApprovalType: "Manual", BreakGlass: &elevate.BreakGlassInput{Enabled: ptr(true)}}))
	next = idBreakGlass
	must(svc.SubmitRequest(ctx, app.Caller{Principal: "heidi@example.com"}, elevate.SubmitInput{Scope: "Exchange", Name: "Search-Mailbox", Reason: "fixture: the outage nobody answers", BreakGlass: true}))

	must(svc.CreatePolicy(ctx, ad, elevate.PolicyInput{Scope: "S3", Name: "Delete-Bucket", ApprovalType: "Auto",
		AWS: &elevate.AWSBindingInput{RoleARN: emulator.BrokerRoleARN}}))
	next = idCredentials
	must(svc.SubmitRequest(ctx, app.Caller{Principal: "alice@example.com"}, elevate.SubmitInput{Scope: "S3", Name: "Delete-Bucket", Reason: "fixture: a grant with AWS credentials"}))
}

func ptr[T any](v T) *T { return &v }

// TestReplayEvents replays every sample event in events/http, in the order of
// cases.json, through the handler of the function that owns its route,
// against DynamoDB Local. After every call the health check must still
// answer 200.
func TestReplayEvents(t *testing.T) {
	svc, _ := dynamoService(t)
	replayFixture(t, svc)
	links, err := linktoken.NewSigner(replayLinkKey)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	// Each function gets its own client, as in AWS, recording the DynamoDB
	// actions it performs so they can be checked against its IAM grant.
	_, endpoint := emulatortest.DynamoForTest(t)
	awsAPI, err := emulator.StartAWSAPI(awsapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = awsAPI.Close() })
	handlers := map[string]Handler{}
	recorders := map[string]*emulator.OpRecorder{}
	for _, f := range manifest.APIFunctions {
		rec := emulator.NewOpRecorder()
		store := dynamo.New(emulator.DynamoClient(endpoint, rec.Option), svc.Store.(*dynamo.Store).Table(), replayPageKey)
		fsvc := &app.Service{Store: store, Clock: svc.Clock, AdminGroup: svc.AdminGroup}
		if f == manifest.Credentials {
			fsvc.Issuer, fsvc.Issuances = stscreds.Assumer{STS: emulator.STSClient(awsAPI.Endpoint)}, store
		}
		handlers[f], recorders[f] = New(f, Deps{Service: fsvc, Links: links, Log: log}), rec
	}
	defer func() {
		for f, rec := range recorders {
			emulatortest.CheckWithin(t, rec, f)
		}
	}()
	// Every answer is as the OpenAPI document describes it.
	spec := openapitest.New(t)
	seen := map[string]bool{}
	for _, c := range loadReplayCases(t) {
		fn, ev := c.function, c.event
		resp, err := handlers[fn](t.Context(), ev)
		if err != nil {
			t.Fatalf("%s: handler error %v", c.Event, err)
		}
		if call, err := openapitest.FromLambda(ev, resp); err != nil {
			t.Errorf("%s: %v", c.Event, err)
		} else {
			spec.Check(call)
		}
		if resp.StatusCode != c.Status {
			t.Errorf("%s (%s): status %d, want %d: %s", c.Event, c.Note, resp.StatusCode, c.Status, resp.Body)
		}
		checkReplayBody(t, c.Event, ev, resp)
		seen[ev.RouteKey+" "+kindOf(c.Event)] = true

		hz, _ := handlers[manifest.Authorize](t.Context(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /healthz"})
		if hz.StatusCode != 200 {
			t.Fatalf("after %s healthz answered %d", c.Event, hz.StatusCode)
		}
	}
	// Every route has a valid sample, and every private route an unauthorised one.
	for _, r := range manifest.All {
		if !seen[r.RouteKey()+" valid"] {
			t.Errorf("no valid sample for %s", r.RouteKey())
		}
	}
	// The effects of the valid samples are visible in the store.
	ctx := t.Context()
	for id, want := range map[string]elevate.Status{idPending: elevate.StatusApproved, idGranted: elevate.StatusRevoked, idToDeny: elevate.StatusDenied, idToCancel: elevate.StatusCancelled, idForLink: elevate.StatusApproved} {
		r, err := svc.Store.GetRequest(ctx, id)
		if err != nil || r.Status != want {
			t.Errorf("request %s: %s %v, want %s", id, r.Status, err, want)
		}
	}
	for _, secret := range []string{"Bearer", "INC-4711", "ticket checked"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
}

func kindOf(file string) string {
	parts := strings.Split(strings.TrimSuffix(filepath.Base(file), ".json"), ".")
	return parts[len(parts)-1]
}

func checkReplayBody(t *testing.T, name string, ev events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	switch {
	case strings.HasPrefix(ev.RouteKey, "GET /v1/links/") || strings.HasPrefix(ev.RouteKey, "POST /v1/links/"):
		if resp.Headers["Content-Type"] != "text/html; charset=utf-8" || resp.Headers["Content-Security-Policy"] == "" {
			t.Errorf("%s: link response headers %v", name, resp.Headers)
		}
	case resp.StatusCode == 204:
		if resp.Body != "" {
			t.Errorf("%s: 204 with a body", name)
		}
	case resp.StatusCode >= 400:
		problemOf(t, resp)
	default:
		if resp.Headers["Content-Type"] != "application/json" || !json.Valid([]byte(resp.Body)) {
			t.Errorf("%s: not JSON: %v %s", name, resp.Headers, resp.Body)
		}
	}
}

// TestDynamoDownIs503 points the handlers at a port where nothing listens:
// every call that needs the table answers 503 without the cause, and the
// health check still answers 200.
func TestDynamoDownIs503(t *testing.T) {
	port, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// One attempt: retries against a closed port only slow the test down.
	client := emulator.DynamoClient("http://127.0.0.1:"+strconv.Itoa(port), func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	h := newHarness(t, dynamo.New(client, "gone", []byte("page-key-page-key-page-key-page-key")))
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/authorize", `{"scope":"Exchange","name":"New-MoveRequest"}`},
		{"GET", "/v1/requests/" + idPending, ""},
		{"POST", "/v1/requests", `{"scope":"Exchange","name":"New-MoveRequest","reason":"r"}`},
		{"GET", "/v1/settings", ""},
	} {
		cl := claims(alice, app.DefaultAdminGroup)
		resp := h.do(c.method, c.path, c.body, cl)
		if p := problemOf(t, resp); resp.StatusCode != 503 || strings.Contains(resp.Body, "127.0.0.1") || p.Code != "unavailable" {
			t.Errorf("%s %s: %d %s", c.method, c.path, resp.StatusCode, resp.Body)
		}
		h.must(h.do("GET", "/healthz", "", nil), 200, nil)
	}
	if !strings.Contains(h.logs.String(), "127.0.0.1") {
		t.Errorf("the cause was not logged")
	}
}

// TestParallelDecisionsOneOutcome: 20 approvers approve and deny one request
// at once through the handlers; exactly one call wins, the rest get 409.
func TestParallelDecisionsOneOutcome(t *testing.T) {
	svc, _ := dynamoService(t)
	h := newHarness(t, svc.Store)
	// Real time: DynamoDB Local's TTL would delete items that expired in
	// the harness's fixed past.
	now := time.Now().UTC()
	h.now.Store(&now)
	var members []string
	for i := range 20 {
		members = append(members, "approver"+strconv.Itoa(i)+"@example.com")
	}
	b, _ := json.Marshal(map[string]any{"name": "ops", "members": members})
	ad := claims(admin, app.DefaultAdminGroup)
	h.must(h.do("POST", "/v1/groups", string(b), ad), 201, nil)
	h.must(h.do("PATCH", "/v1/settings", `{"enabled":true,"defaultApproverGroup":"ops"}`, ad), 200, nil)
	h.must(h.do("POST", "/v1/policies", `{"scope":"Exchange","name":"New-MoveRequest","approvalType":"Manual"}`, ad), 201, nil)
	id := h.submit()

	statuses := make(chan int, len(members))
	for i, m := range members {
		verb := "approve"
		if i%2 == 1 {
			verb = "deny"
		}
		ev := h.event("POST", "/v1/requests/"+id+"/"+verb, "", claims(m))
		go func() {
			resp, _ := h.handlers[manifest.Approvals](t.Context(), ev)
			statuses <- resp.StatusCode
		}()
	}
	count := map[int]int{}
	for range members {
		count[<-statuses]++
	}
	if count[200] != 1 || count[409] != len(members)-1 {
		t.Fatalf("statuses %v, want one 200 and %d 409s", count, len(members)-1)
	}
	var r elevate.Request
	h.must(h.do("GET", "/v1/requests/"+id, "", claims(alice)), 200, &r)
	if len(r.Decisions) != 1 || (r.Status != elevate.StatusApproved && r.Status != elevate.StatusDenied) {
		t.Fatalf("request after the race: %s with %d decisions", r.Status, len(r.Decisions))
	}
	var res app.AuthzResult
	h.must(h.do("POST", "/v1/authorize", `{"scope":"Exchange","name":"New-MoveRequest"}`, claims(alice)), 200, &res)
	if res.Allowed != (r.Status == elevate.StatusApproved) {
		t.Fatalf("authorize %+v disagrees with %s", res, r.Status)
	}
}
