package ticketcheck

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

func TestVerifierAgainstATicketSystem(t *testing.T) {
	var paths []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.EscapedPath())
		switch strings.TrimPrefix(r.URL.Path, "/api/tickets/") {
		case "CHG-1":
			_, _ = w.Write([]byte(`{"open":true}`))
		case "CHG-2":
			_, _ = w.Write([]byte(`{"open":true,"windowStart":"2030-01-01T22:00:00Z","windowEnd":"2030-01-02T02:00:00+00:00"}`))
		case "CHG-3":
			_, _ = w.Write([]byte(`{"open":false}`))
		case "CHG-4":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "CHG-5":
			_, _ = w.Write([]byte(`<html>login</html>`))
		case "CHG-6":
			_, _ = w.Write([]byte(`{"windowEnd":"2030-01-02T02:00:00Z"}`))
		case "CHG 7":
			_, _ = w.Write([]byte(`{"open":true}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	v, err := New(srv.URL+"/api/tickets/", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	p := &elevate.Policy{TicketPattern: `CHG[- ][0-9]+(/x)?|\.\.?`}
	ws, we := time.Date(2030, 1, 1, 22, 0, 0, 0, time.UTC), time.Date(2030, 1, 2, 2, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		ticket  string
		want    *elevate.ChangeWindow
		wantErr error
	}{
		{"CHG-1", nil, nil},
		{"CHG-2", &elevate.ChangeWindow{Start: &ws, End: &we}, nil},
		{"CHG-3", nil, elevate.ErrTicketClosed},
		{"CHG-4", nil, elevate.ErrUnavailable},
		{"CHG-5", nil, elevate.ErrUnavailable},
		{"CHG-6", nil, elevate.ErrUnavailable},
		{"CHG-8", nil, elevate.ErrTicketUnknown},
		{"CHG 7", nil, nil},
		{"INC-1", nil, elevate.ErrUnprocessable},
		// Issue 16 item 10: never sent, even where the pattern allows them.
		{"CHG 7/x", nil, elevate.ErrTicketInvalid},
		{"..", nil, elevate.ErrTicketInvalid},
		{".", nil, elevate.ErrTicketInvalid},
	} {
		t.Run(c.ticket, func(t *testing.T) {
			before := len(paths)
			got, err := v.VerifyTicket(t.Context(), p, c.ticket)
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			if c.want == nil && got != nil || c.want != nil && (got == nil || !got.Start.Equal(*c.want.Start) || !got.End.Equal(*c.want.End)) {
				t.Fatalf("window %+v, want %+v", got, c.want)
			}
			if (c.ticket == "INC-1" || errors.Is(c.wantErr, elevate.ErrTicketInvalid)) && len(paths) != before {
				t.Fatal("a ticket refused here was sent to the ticket system")
			}
		})
	}
	if !strings.Contains(strings.Join(paths, " "), "/api/tickets/CHG%207") {
		t.Fatalf("the ticket is not one escaped path segment: %v", paths)
	}
}

func TestVerifierDown(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	v, err := New(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if _, err := v.VerifyTicket(t.Context(), nil, "CHG-1"); !errors.Is(err, elevate.ErrUnavailable) {
		t.Fatalf("a ticket system that is down: %v", err)
	}
}

func TestVerifierNeedsHTTPS(t *testing.T) {
	for _, u := range []string{"http://tickets.example.com", "tickets.example.com", "https://", "https://x.example.com/?a=1"} {
		if _, err := New(u, nil); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}

// Issue 16 item 10: a redirect from the ticket system is never followed (it
// could lead to any host, over plain http): the ticket system is down.
func TestVerifierRefusesRedirects(t *testing.T) {
	var followed bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed = true
		_, _ = w.Write([]byte(`{"open":true}`))
	}))
	defer elsewhere.Close()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/tickets/CHG-1", http.StatusFound)
	}))
	defer srv.Close()
	client := srv.Client()
	v, err := New(srv.URL, client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyTicket(t.Context(), nil, "CHG-1"); !errors.Is(err, elevate.ErrUnavailable) || followed {
		t.Fatalf("a redirect: err %v, followed %v", err, followed)
	}
	if client.CheckRedirect != nil {
		t.Fatal("the caller's client was changed")
	}
}
