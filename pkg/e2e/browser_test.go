// Package e2e drives the approval path the way people meet it: an email in
// the SES emulator, a link opened in a real (headless) Chromium, a form
// submitted by clicking, all against the local stack with its stream poller.
package e2e

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Selectors by what a person sees: the comment box through its label, the
// buttons through their text.
const (
	commentBox    = chromedp.Search(`//textarea[@id=//label[starts-with(normalize-space(), "Comment")]/@for]`)
	approveButton = chromedp.Search(`//form//button[normalize-space()="Approve"]`)
	denyButton    = chromedp.Search(`//form//button[normalize-space()="Deny"]`)
	mainText      = chromedp.CSS("main")
)

// TestBrowserApproval is the acceptance test of the approval path: the
// request's stream record becomes bob's email, bob approves from the link in
// Chromium, alice is allowed at once and told by email, and the link is dead
// afterwards.
func TestBrowserApproval(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack and Chromium")
	}
	chromiumPath(t) // skip before starting anything when there is no browser
	st := startStack(t)
	browser := startBrowser(t)
	alice := newAPI(t, st, "alice@example.com")
	bob := newAPI(t, st, "bob@example.com")

	const reason = "Move mailbox of j.doe to the EU database, ticket CHG-4711"
	const comment = "OK for CHG-4711, change window tonight"
	_, created := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": reason, "durationHours": 2})
	id, _ := created["id"].(string)
	if id == "" || created["status"] != "Pending" {
		t.Fatalf("created request = %v", created)
	}
	alice.authorize(false, "approval-required")

	mail := awaitApprovalEmail(t, st, id)
	if got := emailsTo(t, st, "alice@example.com", ""); len(got) != 0 {
		t.Fatalf("alice got %d email(s) before any decision: %q", len(got), got[0].Subject)
	}
	link := personalLink(t, st, mail)
	before, _ := alice.get(id)

	resp, err := chromedp.Run(browser, chromedp.NavigateResponse(link))
	if err != nil {
		t.Fatalf("open the link: %v", err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("link page: HTTP %d, want 200", resp.Status)
	}
	if err := chromedp.Do(browser, chromedp.WaitVisible(approveButton), chromedp.WaitVisible(denyButton)); err != nil {
		t.Fatalf("approval page has no Approve and Deny buttons: %v", err)
	}
	page := text(t, browser)
	for _, want := range []string{"Approve or deny access", "alice@example.com", `Exchange\New-MoveRequest`, reason, "2 hours", "Pending", "You are deciding as bob@example.com"} {
		if !strings.Contains(page, want) {
			t.Errorf("approval page lacks %q:\n%s", want, page)
		}
	}
	if after, _ := alice.get(id); after != before {
		t.Fatalf("opening the link changed the request:\nbefore %s\nafter  %s", before, after)
	}

	if err := chromedp.Do(browser, chromedp.Click(commentBox), chromedp.SendKeys(commentBox, comment)); err != nil {
		t.Fatalf("type the comment: %v", err)
	}
	// Without focus there is no blinking caret, so the picture is stable.
	if err := chromedp.Do(browser, chromedp.Blur(commentBox)); err != nil {
		t.Fatalf("blur the comment box: %v", err)
	}
	png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveScreenshot(t, "approval-page.png", png)

	resp, err = chromedp.RunResponse(browser, chromedp.Click(approveButton))
	if err != nil {
		t.Fatalf("click Approve: %v", err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("approve result page: HTTP %d, want 200", resp.Status)
	}
	result := text(t, browser)
	for _, want := range []string{"Request approved", "Approved", comment} {
		if !strings.Contains(result, want) {
			t.Errorf("result page lacks %q:\n%s", want, result)
		}
	}

	approvedRaw, approved := alice.get(id)
	if approved.Status != "Approved" || !approved.Active || len(approved.Decisions) != 1 {
		t.Fatalf("after approval: %s", approvedRaw)
	}
	if d := approved.Decisions[0]; d.By != "bob@example.com" || d.Decision != "approve" || d.Comment != comment {
		t.Fatalf("decision = %+v, want bob's approve with %q", d, comment)
	}
	if got := alice.authorize(true, "grant"); got["requestId"] != id {
		t.Fatalf("authorize names request %v, want %s", got["requestId"], id)
	}
	// bob sees the same state through his own view.
	if _, r := bob.get(id); r.Status != "Approved" {
		t.Fatalf("bob sees status %s", r.Status)
	}

	waitFor(t, "alice's approval email", func() bool {
		return len(emailsTo(t, st, "alice@example.com", "[Elevate] Request approved")) > 0
	})
	told := emailsTo(t, st, "alice@example.com", "[Elevate] Request approved")[0]
	if !strings.Contains(told.Body.Text, "bob@example.com") || !strings.Contains(told.Body.Text, comment) {
		t.Errorf("alice's email does not name bob and his comment:\n%s", told.Body.Text)
	}

	// Replay, in the browser: the link no longer offers a form.
	resp, err = chromedp.Run(browser, chromedp.NavigateResponse(link))
	if err != nil {
		t.Fatalf("reopen the link: %v", err)
	}
	if resp.Status != http.StatusConflict {
		t.Errorf("reopened link: HTTP %d, want 409", resp.Status)
	}
	if again := text(t, browser); !strings.Contains(again, "can no longer be decided") || strings.Contains(again, "You are deciding as") {
		t.Errorf("reopened link page:\n%s", again)
	}
	// Replay, as a resubmitted form: refused with a page that says why. The
	// request is no longer pending, which the service checks before the
	// link's single use, so either refusal is right.
	for _, decision := range []string{"approve", "deny"} {
		code, body := postForm(t, link, url.Values{"decision": {decision}, "comment": {"replayed"}, "request": {id}})
		says := strings.Contains(body, "can no longer be decided") || strings.Contains(body, "already been used")
		if code != http.StatusConflict || !says || strings.Contains(body, "<form") {
			t.Errorf("replayed %s: HTTP %d, want 409 with a refusal page:\n%s", decision, code, body)
		}
	}
	if after, _ := alice.get(id); after != approvedRaw {
		t.Fatalf("replays changed the request:\nbefore %s\nafter  %s", approvedRaw, after)
	}
	alice.authorize(true, "grant")
}

// TestBrowserDenyAndGetIsSafe: a mail scanner's repeated GETs change nothing
// and do not use the link up; bob then denies in the browser.
func TestBrowserDenyAndGetIsSafe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack and Chromium")
	}
	chromiumPath(t)
	st := startStack(t)
	browser := startBrowser(t)
	alice := newAPI(t, st, "alice@example.com")

	const reason = "Rebalance mailbox databases after DAG failover"
	const comment = "Not during the freeze, please ask again Monday"
	_, created := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest", "reason": reason})
	id, _ := created["id"].(string)
	link := personalLink(t, st, awaitApprovalEmail(t, st, id))
	before, _ := alice.get(id)

	for i := range 3 {
		code, body := plainGet(t, link)
		if code != http.StatusOK || !strings.Contains(body, reason) || !strings.Contains(body, `value="approve"`) {
			t.Fatalf("GET %d: HTTP %d, want the approval form:\n%s", i+1, code, body)
		}
	}
	if after, _ := alice.get(id); after != before {
		t.Fatalf("GETs changed the request:\nbefore %s\nafter  %s", before, after)
	}
	alice.authorize(false, "approval-required")

	if _, err := chromedp.Run(browser, chromedp.NavigateResponse(link)); err != nil {
		t.Fatalf("open the link: %v", err)
	}
	if err := chromedp.Do(browser, chromedp.WaitVisible(denyButton), chromedp.SendKeys(commentBox, comment)); err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	resp, err := chromedp.RunResponse(browser, chromedp.Click(denyButton))
	if err != nil {
		t.Fatalf("click Deny: %v", err)
	}
	if page := text(t, browser); resp.Status != http.StatusOK || !strings.Contains(page, "Request denied") {
		t.Fatalf("deny result: HTTP %d:\n%s", resp.Status, page)
	}

	raw, denied := alice.get(id)
	if denied.Status != "Denied" || denied.Active || len(denied.Decisions) != 1 {
		t.Fatalf("after deny: %s", raw)
	}
	if d := denied.Decisions[0]; d.By != "bob@example.com" || d.Decision != "deny" || d.Comment != comment {
		t.Fatalf("decision = %+v, want bob's deny with %q", d, comment)
	}
	alice.authorize(false, "approval-required")
	waitFor(t, "alice's denial email", func() bool {
		return len(emailsTo(t, st, "alice@example.com", "[Elevate] Request denied")) > 0
	})
}

// text is the visible text of the page's main element.
func text(t *testing.T, browser context.Context) string {
	t.Helper()
	s, err := chromedp.Run(browser, chromedp.Text(mainText))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return s
}

// postForm submits the approval form outside the browser, as a replay would.
func postForm(t *testing.T, link string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(link, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
