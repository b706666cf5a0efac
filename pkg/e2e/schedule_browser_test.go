package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserScheduledRequest: bob opens the link of a scheduled request
// that carries a ticket; the page shows the window and the ticket, the
// email's subject names the ticket, and approving before the start makes the
// grant not yet active until the window opens.
func TestBrowserScheduledRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the local stack and Chromium")
	}
	chromiumPath(t)
	st := startStack(t)
	browser := startBrowser(t)
	alice := newAPI(t, st, "alice@example.com")

	start := time.Now().UTC().Add(3 * time.Hour).Truncate(time.Minute)
	_, created := alice.must(201, "POST", "/v1/requests", map[string]any{"scope": "Exchange", "name": "New-MoveRequest",
		"reason": "Mailbox moves in tonight's change window", "durationHours": 2, "startAt": start.Format(time.RFC3339), "ticket": "CHG-4711"})
	id, _ := created["id"].(string)
	mail := awaitApprovalEmail(t, st, id)
	if !strings.Contains(mail.Subject, "CHG-4711") {
		t.Errorf("approval email subject %q does not name the ticket", mail.Subject)
	}
	link := personalLink(t, st, mail)

	resp, err := chromedp.Run(browser, chromedp.NavigateResponse(link))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("open the link: %v %v", resp, err)
	}
	if err := chromedp.Do(browser, chromedp.WaitVisible(approveButton)); err != nil {
		t.Fatalf("no Approve button: %v", err)
	}
	window := start.Format("2006-01-02 15:04") + " – " + start.Add(2*time.Hour).Format("2006-01-02 15:04") + " UTC"
	page := text(t, browser)
	for _, want := range []string{"Window", window, "Ticket", "CHG-4711", "2 hours"} {
		if !strings.Contains(page, want) {
			t.Errorf("scheduled request's page lacks %q:\n%s", want, page)
		}
	}
	png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveScreenshot(t, "scheduled-approval-page.png", png)

	if _, err := chromedp.RunResponse(browser, chromedp.Click(approveButton)); err != nil {
		t.Fatalf("click Approve: %v", err)
	}
	if result := text(t, browser); !strings.Contains(result, "Request approved") || !strings.Contains(result, window) {
		t.Errorf("result page:\n%s", result)
	}
	got := alice.authorize(false, "not-yet-active")
	if got["activeFrom"] != start.Format(time.RFC3339) {
		t.Fatalf("activeFrom %v, want %s", got["activeFrom"], start.Format(time.RFC3339))
	}
}
