package local

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// TokenPath is the local-only route that mints tokens; it is never deployed.
const TokenPath = "/_local/token"

type tokenRequest struct {
	Principal string   `json:"principal"`
	Groups    []string `json:"groups"`
}

type tokenResponse struct {
	Token     string `json:"token"`
	ExpiresAt string `json:"expiresAt"`
}

// TokenHandler serves POST /_local/token {principal, groups[]}.
func (a *Authority) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeProblem(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		var in tokenRequest
		if err := dec.Decode(&in); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeProblem(w, http.StatusRequestEntityTooLarge, "body is larger than 64 KiB")
				return
			}
			writeProblem(w, http.StatusBadRequest, "body must be a JSON object {principal, groups[]}")
			return
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			writeProblem(w, http.StatusBadRequest, "body must hold exactly one JSON object")
			return
		}
		p := strings.TrimSpace(in.Principal)
		if p == "" || !strings.Contains(p, "@") {
			writeProblem(w, http.StatusBadRequest, "principal must be an email address")
			return
		}
		for _, g := range in.Groups {
			if strings.TrimSpace(g) == "" {
				writeProblem(w, http.StatusBadRequest, "groups must be non-empty strings")
				return
			}
		}
		tok, exp, err := a.Mint(p, in.Groups)
		if err != nil {
			writeProblem(w, http.StatusInternalServerError, "could not mint a token")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(tokenResponse{Token: tok, ExpiresAt: exp.Format(time.RFC3339)})
	})
}

// guardTokens serves the token route only where nobody but this machine can
// reach it: on a loopback listener, or beyond it when explicitly allowed, in
// which case it says so loudly. Elsewhere the route answers 403.
func guardTokens(tokens http.Handler, listen net.Addr, allowBeyondLoopback bool, log *slog.Logger) http.Handler {
	if tcp, ok := listen.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return tokens
	}
	if allowBeyondLoopback {
		log.Warn("the API listens beyond loopback and "+TokenPath+" is served there: anyone who reaches "+listen.String()+" can mint an admin token",
			"addr", listen.String())
		return tokens
	}
	log.Warn(TokenPath+" is refused because the API listens beyond loopback", "addr", listen.String())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusForbidden, "this local-only route is refused: the API listens on "+listen.String()+", beyond loopback; allow it explicitly to serve this route there")
	})
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "about:blank",
		"title":  http.StatusText(status),
		"status": status,
		"detail": detail,
	})
}
