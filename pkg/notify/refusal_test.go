package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/elevate-pam/elevate/pkg/notify"
)

// refusingSES stands on loopback in front of the SES emulator, which cannot
// be told to refuse a recipient. It answers SendEmail to one address as the
// SES sandbox does for an unverified recipient identity (403,
// AccessDeniedException in the restJson error shape) and forwards every
// other request unchanged.
type refusingSES struct {
	refuse string
	mu     sync.Mutex
	count  int
}

func (p *refusingSES) start(t *testing.T, upstream string) string {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v2/email/outbound-emails") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var in struct {
				Destination struct{ ToAddresses []string }
			}
			if json.Unmarshal(body, &in) == nil && len(in.Destination.ToAddresses) == 1 && in.Destination.ToAddresses[0] == p.refuse {
				p.mu.Lock()
				p.count++
				p.mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Amzn-Errortype", "AccessDeniedException")
				w.WriteHeader(http.StatusForbidden)
				_, _ = io.WriteString(w, `{"message":"User is not authorized to perform ses:SendEmail on resource identity/`+p.refuse+`"}`)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (p *refusingSES) refusals() int { p.mu.Lock(); defer p.mu.Unlock(); return p.count }

// Issue 23 item 5: SES refusing one recipient for good (the sandbox's
// AccessDenied) is recorded as a failed delivery, logged for the stack's
// alarm, and passed over: the batch reports no failure, the next emails are
// delivered, and a retried batch neither resends nor asks SES again.
func TestSESRefusalIsRecordedAlarmedAndPassedOver(t *testing.T) {
	proxy := &refusingSES{refuse: "alice@example.com"}
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&logMu, &logs}, nil))
	e, _ := setupWith(t, func(endpoint string) string { return proxy.start(t, endpoint) }, logger)

	ev := loadBatch(t, "request-insert-pending.json", "slot-ttl-remove-approved.json")
	if failed := run(t, e, ev); len(failed) != 0 {
		t.Fatalf("reported %v: a permanent refusal must not hold the shard", failed)
	}
	want := "bob@example.com [Elevate] Approval needed|rita@example.com [Elevate] Access expired"
	if r := byRecipient(e.emails(t)); strings.Join(r, "|") != want {
		t.Fatalf("emails = %v, want %s (the rest of the batch delivered)", r, want)
	}
	if n := proxy.refusals(); n != 1 {
		t.Fatalf("SES asked %d times for the refused recipient, want 1", n)
	}
	reason, failed, err := e.store.FailedDelivery(context.Background(), ev.Records[0].EventID, "alice@example.com")
	if err != nil || !failed || !strings.Contains(reason, "AccessDenied") {
		t.Fatalf("failed delivery recorded: %v %q (err %v), want the AccessDenied reason", failed, reason, err)
	}
	if _, failed, err := e.store.FailedDelivery(context.Background(), ev.Records[0].EventID, "bob@example.com"); err != nil || failed {
		t.Fatalf("bob's delivery recorded as failed: %v %v", failed, err)
	}

	logMu.Lock()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	logMu.Unlock()
	var alarmed int
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		if m[notify.DeliveryLogKey] == notify.DeliveryFailed {
			alarmed++
			if m["to"] != "alice@example.com" {
				t.Errorf("failed-delivery line names %v", m["to"])
			}
		}
	}
	if alarmed != 1 {
		t.Fatalf("%d log lines carry %s=%s (what the stack's metric filter counts), want 1:\n%s", alarmed, notify.DeliveryLogKey, notify.DeliveryFailed, strings.Join(lines, "\n"))
	}

	if failed := run(t, e, ev); len(failed) != 0 {
		t.Fatal(failed)
	}
	if r := byRecipient(e.emails(t)); strings.Join(r, "|") != want {
		t.Fatalf("the retried batch resent: %v", r)
	}
	if n := proxy.refusals(); n != 1 {
		t.Fatalf("the retried batch asked SES again for the refused recipient (%d requests)", n)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
