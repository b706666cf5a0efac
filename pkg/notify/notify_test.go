package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/dynamo"
	"github.com/elevate-pam/elevate/pkg/elevate"
	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/emulatortest"
	"github.com/elevate-pam/elevate/pkg/linktoken"
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/notify"
	"github.com/elevate-pam/elevate/pkg/notify/sesmail"
)

// One SES emulator per test binary, like the shared DynamoDB Local.
var ses struct {
	once sync.Once
	proc *emulator.SESProcess
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if ses.proc != nil {
		_ = ses.proc.Stop()
	}
	if err := emulatortest.StopSharedDynamo(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func sesForTest(t *testing.T) *emulator.SESProcess {
	t.Helper()
	ses.once.Do(func() { ses.proc, ses.err = emulator.StartSES(context.Background(), 0) })
	if ses.err != nil {
		t.Fatalf("SES emulator: %v", ses.err)
	}
	if err := ses.proc.ClearEmails(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ses.proc
}

var (
	sampleNow = time.Date(2025, 3, 1, 10, 0, 5, 0, time.UTC)
	linkKey   = []byte("0123456789abcdef0123456789abcdef-test-key")
)

const baseURL = "https://elevate.example.com/"

type env struct {
	// rec records the DynamoDB calls of the handler's own client.
	rec     *emulator.OpRecorder
	ses     *emulator.SESProcess
	store   *dynamo.Store
	signer  *linktoken.Signer
	handler func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
}

// failFor wraps the real SES sender and fails for chosen recipients while on,
// with a transient error unless refuse holds the error to return instead.
type failFor struct {
	notify.Sender
	mu     sync.Mutex
	fail   map[string]bool
	refuse error
}

func (f *failFor) Send(ctx context.Context, e notify.Email) error {
	f.mu.Lock()
	bad, refuse := f.fail[e.To], f.refuse
	f.mu.Unlock()
	if bad && refuse != nil {
		return refuse
	}
	if bad {
		return errors.New("simulated SES throttling")
	}
	return f.Sender.Send(ctx, e)
}

func (f *failFor) set(m map[string]bool) { f.mu.Lock(); f.fail = m; f.mu.Unlock() }

func setup(t *testing.T) (*env, *failFor) {
	t.Helper()
	return setupWith(t, func(endpoint string) string { return endpoint }, nil)
}

// setupWith lets a test put something between the sender and the SES
// emulator (sesVia maps the emulator's endpoint to the one the sender uses)
// and read the handler's logs.
func setupWith(t *testing.T, sesVia func(string) string, logger *slog.Logger) (*env, *failFor) {
	t.Helper()
	ctx := context.Background()
	proc := sesForTest(t)
	client, endpoint := emulatortest.DynamoForTest(t)
	table := emulatortest.UniqueTableName("notify")
	if err := dynamo.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	store := dynamo.New(client, table, linkKey)
	g, err := elevate.NewGroup(elevate.NewGroupInput{Name: "ops", Members: []string{"alice@example.com", "bob@example.com", "rita@example.com"}}, "admin@example.com", sampleNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateGroup(ctx, g, app.Event{ID: "ev-group", Time: sampleNow, Action: "group.created", Actor: "admin@example.com"}); err != nil {
		t.Fatal(err)
	}
	signer, err := linktoken.NewSigner(linkKey)
	if err != nil {
		t.Fatal(err)
	}
	sender := &failFor{Sender: &sesmail.Sender{API: emulator.SESClient(sesVia(proc.Endpoint)), From: "elevate@example.com"}}
	// The real clock: delivery markers stamped in the samples' past would be
	// due for TTL deletion at once.
	rec := emulator.NewOpRecorder()
	handlerStore := dynamo.New(emulator.DynamoClient(endpoint, rec.Option), table, linkKey)
	h := notify.NewHandler(notify.Deps{Store: handlerStore, Sender: sender, Signer: signer, PublicBaseURL: baseURL, Clock: elevate.SystemClock, Logger: logger})
	return &env{rec: rec, ses: proc, store: store, signer: signer, handler: h}, sender
}

func loadBatch(t *testing.T, files ...string) events.DynamoDBEvent {
	t.Helper()
	var ev events.DynamoDBEvent
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("..", "..", "events", "stream", f))
		if err != nil {
			t.Fatal(err)
		}
		var one events.DynamoDBEvent
		if err := json.Unmarshal(b, &one); err != nil {
			t.Fatal(err)
		}
		ev.Records = append(ev.Records, one.Records...)
	}
	return ev
}

func (e *env) emails(t *testing.T) []emulator.StoredEmail {
	t.Helper()
	got, err := e.ses.Emails(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// byRecipient counts emails per "recipient subject-prefix".
func byRecipient(emails []emulator.StoredEmail) []string {
	var out []string
	for _, m := range emails {
		subj := m.Subject
		if i := strings.Index(subj, ":"); i > 0 {
			subj = subj[:i]
		}
		out = append(out, strings.Join(m.Destination.To, ",")+" "+subj)
	}
	sort.Strings(out)
	return out
}

func run(t *testing.T, e *env, ev events.DynamoDBEvent) []string {
	t.Helper()
	resp, err := e.handler(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	return failed
}

var linkRE = regexp.MustCompile(`https://elevate\.example\.com/v1/links/([A-Za-z0-9_.\-]+)`)

func TestPendingRequestEmailsEachApproverOnceWithPersonalLink(t *testing.T) {
	e, _ := setup(t)
	ev := loadBatch(t, "request-insert-pending.json")
	if failed := run(t, e, ev); len(failed) != 0 {
		t.Fatalf("failures: %v", failed)
	}
	got := e.emails(t)
	want := []string{"alice@example.com [Elevate] Approval needed", "bob@example.com [Elevate] Approval needed"}
	if r := byRecipient(got); strings.Join(r, "|") != strings.Join(want, "|") {
		t.Fatalf("emails = %v, want %v (never the requester)", r, want)
	}
	for _, m := range got {
		if m.From != "elevate@example.com" {
			t.Errorf("From = %q", m.From)
		}
		match := linkRE.FindStringSubmatch(m.Body.Text)
		if match == nil || !strings.Contains(m.Body.HTML, match[0]) {
			t.Fatalf("no link in email to %v:\n%s", m.Destination.To, m.Body.Text)
		}
		c, err := e.signer.Verify(match[1], sampleNow)
		if err != nil {
			t.Fatalf("link token does not verify: %v", err)
		}
		if c.RequestID != "r-pending-1" || c.Approver != m.Destination.To[0] || !c.Expiry().Equal(time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("claims = %+v for %v", c, m.Destination.To)
		}
		if strings.Contains(m.Body.HTML, "<urgent>") || !strings.Contains(m.Body.HTML, "&lt;urgent&gt;") {
			t.Errorf("reason not escaped in HTML:\n%s", m.Body.HTML)
		}
		for _, want := range []string{"rita@example.com", `Task Exchange\New-MoveRequest`, "2 hours", "2025-03-02 10:00 UTC", "<urgent>"} {
			if !strings.Contains(m.Body.Text, want) {
				t.Errorf("text lacks %q", want)
			}
		}
	}

	// Lambda retrying the very same batch sends nothing again.
	if failed := run(t, e, ev); len(failed) != 0 {
		t.Fatalf("retry failures: %v", failed)
	}
	if n := len(e.emails(t)); n != 2 {
		t.Fatalf("after retry: %d emails, want 2", n)
	}
}

func TestSESFailureReportsFirstFailedRecordAndRecoversExactlyOnce(t *testing.T) {
	e, sender := setup(t)
	ev := loadBatch(t, "request-insert-pending.json", "request-modify-approved.json")
	sender.set(map[string]bool{"alice@example.com": true})

	failed := run(t, e, ev)
	if len(failed) != 1 || failed[0] != ev.Records[0].Change.SequenceNumber {
		t.Fatalf("failures = %v, want only the pending request's record %s", failed, ev.Records[0].Change.SequenceNumber)
	}
	// Bob's email went out; nothing after the failed record did.
	if r := byRecipient(e.emails(t)); strings.Join(r, "|") != "bob@example.com [Elevate] Approval needed" {
		t.Fatalf("during outage: %v", r)
	}

	// Lambda retries from the reported record on.
	sender.set(nil)
	var retry events.DynamoDBEvent
	for i, rec := range ev.Records {
		if rec.Change.SequenceNumber == failed[0] {
			retry.Records = ev.Records[i:]
		}
	}
	if failed := run(t, e, retry); len(failed) != 0 {
		t.Fatalf("after recovery: %v", failed)
	}
	want := []string{
		"alice@example.com [Elevate] Approval needed",
		"alice@example.com [Elevate] rita@example.com's request for Task Exchange\\New-MoveRequest was approved by bob@example.com",
		"bob@example.com [Elevate] Approval needed",
		"rita@example.com [Elevate] Request approved",
	}
	if r := byRecipient(e.emails(t)); strings.Join(r, "|") != strings.Join(want, "|") {
		t.Fatalf("after recovery:\n%v\nwant\n%v", strings.Join(r, "\n"), strings.Join(want, "\n"))
	}
	// Claims, releases and group reads all stay within notify's IAM grant.
	emulatortest.CheckWithin(t, e.rec, manifest.Notify)
}

func TestTTLRemovesTellTheRequester(t *testing.T) {
	e, _ := setup(t)
	if failed := run(t, e, loadBatch(t, "slot-ttl-remove-pending.json", "slot-ttl-remove-approved.json", "slot-manual-remove-revoked.json")); len(failed) != 0 {
		t.Fatal(failed)
	}
	want := []string{
		"rita@example.com [Elevate] Access expired",
		"rita@example.com [Elevate] Request expired",
		"rita@example.com [Elevate] Request revoked", // from the MODIFY; the manual REMOVE sends nothing
	}
	if r := byRecipient(e.emails(t)); strings.Join(r, "|") != strings.Join(want, "|") {
		t.Fatalf("emails = %v, want %v", r, want)
	}
}

// An address SES refuses for good (or a send whose fate is unknown) must not
// block the shard: the record is not reported, the other emails go out, and
// a retry of the batch sends nothing again.
func TestPermanentAndUncertainFailuresDoNotBlockTheShard(t *testing.T) {
	for name, refuse := range map[string]error{
		"undeliverable": errors.Join(notify.ErrUndeliverable, errors.New("MessageRejected")),
		"uncertain":     errors.Join(notify.ErrUncertain, errors.New("connection reset after send")),
	} {
		t.Run(name, func(t *testing.T) {
			e, sender := setup(t)
			sender.mu.Lock()
			sender.fail, sender.refuse = map[string]bool{"alice@example.com": true}, refuse
			sender.mu.Unlock()
			ev := loadBatch(t, "request-insert-pending.json", "slot-ttl-remove-approved.json")
			if failed := run(t, e, ev); len(failed) != 0 {
				t.Fatalf("reported %v; a refusal that retrying cannot fix would block the shard", failed)
			}
			want := "bob@example.com [Elevate] Approval needed|rita@example.com [Elevate] Access expired"
			if r := byRecipient(e.emails(t)); strings.Join(r, "|") != want {
				t.Fatalf("emails = %v, want %s", r, want)
			}
			sender.set(nil)
			if failed := run(t, e, ev); len(failed) != 0 {
				t.Fatal(failed)
			}
			if r := byRecipient(e.emails(t)); strings.Join(r, "|") != want {
				t.Fatalf("the retry resent: %v", r)
			}
		})
	}
}

// A new request that takes over a lapsed slot before TTL removed it means no
// TTL REMOVE will ever come for the old one, so its requester hears here.
func TestSlotTakeoverTellsTheOldRequester(t *testing.T) {
	e, _ := setup(t)
	ev := loadBatch(t, "slot-ttl-remove-approved.json")
	rec := ev.Records[0]
	rec.EventName, rec.UserIdentity = "MODIFY", nil
	rec.Change.NewImage = cloneImage(rec.Change.OldImage)
	rec.Change.NewImage["requestId"] = events.NewStringAttribute("r-new")
	rec.Change.NewImage["status"] = events.NewStringAttribute("Pending")
	if failed := run(t, e, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec}}); len(failed) != 0 {
		t.Fatal(failed)
	}
	if r := byRecipient(e.emails(t)); strings.Join(r, "|") != "rita@example.com [Elevate] Access expired" {
		t.Fatalf("emails = %v", r)
	}
	// A slot MODIFY within one request (its approval) sends nothing.
	same := rec
	same.Change.NewImage = cloneImage(rec.Change.OldImage)
	same.EventID = "ev-same"
	e2, _ := setup(t)
	if failed := run(t, e2, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{same}}); len(failed) != 0 || len(e2.emails(t)) != 0 {
		t.Fatalf("same-request slot change: failed %v, emails %v", failed, e2.emails(t))
	}
}

func cloneImage(img map[string]events.DynamoDBAttributeValue) map[string]events.DynamoDBAttributeValue {
	out := make(map[string]events.DynamoDBAttributeValue, len(img))
	for k, v := range img {
		out[k] = v
	}
	return out
}

func TestQuietRecords(t *testing.T) {
	e, _ := setup(t)
	// A partial approval, an authorization event and the slot records send nothing.
	ev := loadBatch(t, "request-modify-partial.json", "event-insert-authorize-denied.json")
	ev.Records = append(ev.Records, loadBatch(t, "request-insert-pending.json").Records[1])
	if failed := run(t, e, ev); len(failed) != 0 {
		t.Fatal(failed)
	}
	if r := byRecipient(e.emails(t)); len(r) != 0 {
		t.Fatalf("emails = %v, want none", r)
	}
}

// Issue 16 item 8: authorize refusing a scheduled grant because its policy
// changed tells the requester, once per grant however often they ask; other
// authorize records send nothing.
func TestPolicyChangedScheduledGrantTellsTheRequesterOnce(t *testing.T) {
	e, _ := setup(t)
	base := loadBatch(t, "event-insert-authorize-denied.json").Records[0]
	if failed := run(t, e, events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{base}}); len(failed) != 0 || len(e.emails(t)) != 0 {
		t.Fatalf("an approval-required answer: failures %v, emails %v", failed, byRecipient(e.emails(t)))
	}
	var ev events.DynamoDBEvent
	for i, id := range []string{"e-2", "e-3"} {
		rec := base
		rec.EventID, rec.Change.SequenceNumber = "ev-policy-changed-"+id, fmt.Sprintf("90000000000000000000%d", i)
		rec.Change.NewImage = cloneImage(base.Change.NewImage)
		rec.Change.NewImage["id"] = events.NewStringAttribute(id)
		rec.Change.NewImage["requestId"] = events.NewStringAttribute("r-scheduled-1")
		rec.Change.NewImage["detail"] = events.NewStringAttribute(`{"reason": "policy-changed", "askedBy": "rita@example.com"}`)
		ev.Records = append(ev.Records, rec)
	}
	if failed := run(t, e, ev); len(failed) != 0 {
		t.Fatalf("failures: %v", failed)
	}
	got := e.emails(t)
	if len(got) != 1 || !slices.Equal(got[0].Destination.To, []string{"rita@example.com"}) || !strings.Contains(got[0].Subject, "policy change") {
		t.Fatalf("emails: %v", byRecipient(got))
	}
}

// claimLost writes each claim for the chosen recipients and then reports an
// error, as a claim does when DynamoDB stalls past the deadline and applies
// the write when it resumes.
type claimLost struct {
	notify.Store
	mu   sync.Mutex
	lose map[string]bool
}

func (c *claimLost) ClaimDelivery(ctx context.Context, eventID, recipient, token string, now time.Time) (bool, string, error) {
	claimed, held, err := c.Store.ClaimDelivery(ctx, eventID, recipient, token, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && c.lose[recipient] {
		return false, "", context.DeadlineExceeded
	}
	return claimed, held, err
}

// TestClaimWrittenButUnansweredIsTakenOver: a claim whose call failed was
// written all the same; the retry finds its own claim, knows nothing was
// sent under it, and sends the email once (not never, not twice).
func TestClaimWrittenButUnansweredIsTakenOver(t *testing.T) {
	e, sender := setup(t)
	store := &claimLost{Store: dynamo.New(emulator.DynamoClient(endpointOf(t)), e.store.Table(), linkKey), lose: map[string]bool{"alice@example.com": true}}
	h := notify.NewHandler(notify.Deps{Store: store, Sender: sender, Signer: e.signer, PublicBaseURL: baseURL, Clock: elevate.SystemClock})
	ev := loadBatch(t, "request-insert-pending.json")
	resp, err := h(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("first attempt: %v %v, want the record reported", resp, err)
	}
	store.mu.Lock()
	store.lose = nil
	store.mu.Unlock()
	for range 2 { // the retry, and one more: neither sends twice
		if resp, err := h(context.Background(), ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("retry: %v %v", resp, err)
		}
	}
	want := "alice@example.com [Elevate] Approval needed|bob@example.com [Elevate] Approval needed"
	if r := byRecipient(e.emails(t)); strings.Join(r, "|") != want {
		t.Fatalf("emails %v, want %s", r, want)
	}
}

func endpointOf(t *testing.T) string {
	_, endpoint := emulatortest.DynamoForTest(t)
	return endpoint
}
