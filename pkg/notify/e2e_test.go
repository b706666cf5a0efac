package notify_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/elevate-pam/elevate/pkg/audit"
	"github.com/elevate-pam/elevate/pkg/auditquery"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
	"github.com/elevate-pam/elevate/pkg/local"
)

// TestStreamEndToEnd drives both consumers from the real stream of a real
// table: the store's own items, not the samples, must produce the emails and
// the audit trail.
func TestStreamEndToEnd(t *testing.T) {
	e, _ := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client, endpoint := emulatortest.DynamoForTest(t)
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(e.store.Table())})
	if err != nil || desc.Table.LatestStreamArn == nil {
		t.Fatalf("describe table: %v", err)
	}
	s3srv, err := emulator.StartS3("audit-e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer s3srv.Close()
	s3c := emulator.S3Client(s3srv.Endpoint)

	now := time.Now().UTC().Truncate(time.Millisecond)
	r := elevate.Request{
		ID: "r-e2e", Type: elevate.TypeTask, Scope: "Exchange", Name: "New-MoveRequest", Requester: "rita@example.com",
		Reason: "e2e", DurationHours: 1, Status: elevate.StatusPending, ApprovalType: elevate.ApprovalManual,
		ApproverGroup: "ops", RequiredApprovals: 1, Decisions: []elevate.Decision{}, CreatedAt: now,
		ExpiresAt: now.Add(24 * time.Hour), Version: 1,
	}
	if err := e.store.CreateRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	next, err := r.Approve(elevate.Decider{Principal: "bob@example.com", InGroup: true}, "fine", now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SaveDecision(ctx, r, next, elevate.Group{}, "", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}

	p := &local.Poller{
		Streams: emulator.StreamsClient(endpoint), StreamARN: *desc.Table.LatestStreamArn, Region: emulator.Region,
		Interval: 100 * time.Millisecond,
		Consumers: []local.Consumer{
			{Name: "notify", Handle: e.handler},
			{Name: "audit", Handle: audit.NewHandler(audit.HandlerDeps{S3: s3c, Bucket: "audit-e2e", Requests: e.store, StreamTimePrecision: time.Minute})},
		},
	}
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); p.Run(pctx) }()
	defer func() { stop(); <-done }()

	wantEmails := []string{
		"alice@example.com [Elevate] Approval needed",
		"alice@example.com [Elevate] rita@example.com's request for Task Exchange\\New-MoveRequest was approved by bob@example.com",
		"bob@example.com [Elevate] Approval needed",
		"rita@example.com [Elevate] Request approved",
	}
	wantActions := "grant.created,request.approved,request.created"
	var gotEmails []string
	var gotActions string
	for ctx.Err() == nil {
		gotEmails = byRecipient(e.emails(t))
		var actions []string
		err := auditquery.Query(ctx, s3c, "audit-e2e", auditquery.Filter{Since: now.Add(-time.Hour), Until: now.Add(time.Hour), RequestID: "r-e2e"},
			func(rec auditrecord.Record) error { actions = append(actions, rec.Action); return nil }, nil)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(actions)
		gotActions = strings.Join(actions, ",")
		if strings.Join(gotEmails, "|") == strings.Join(wantEmails, "|") && gotActions == wantActions {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("stream did not deliver:\nemails %v\nwant   %v\naudit  %s\nwant   %s", gotEmails, wantEmails, gotActions, wantActions)
}
