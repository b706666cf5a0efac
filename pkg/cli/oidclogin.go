package cli

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/elevate-pam/elevate/pkg/config"
)

// loginTimeout bounds how long login waits for the user in the browser or
// on the device page.
const loginTimeout = 5 * time.Minute

// refreshMargin: a cached ID token this close to its expiry is refreshed
// before use, so it cannot expire between the check and API Gateway's.
const refreshMargin = 30 * time.Second

// DefaultScopes are what login asks for: the ID token must carry email (the
// principal) and email_verified.
var DefaultScopes = []string{oidc.ScopeOpenID, "email", "profile"}

// oidcLogin holds one sign-in's settings.
type oidcLogin struct {
	issuer, clientID string
	scopes           []string
	scopesGiven      bool // --scope was passed: ask for exactly those
	redirect         string
	device           bool
	noBrowser        bool
}

func (a *app) httpClient() *http.Client {
	if a.env.HTTP != nil {
		return a.env.HTTP
	}
	return &http.Client{Timeout: a.timeout}
}

// provider discovers the issuer (its /.well-known/openid-configuration must
// name the same issuer) and returns the OAuth 2.0 settings for clientID.
func (a *app) provider(ctx context.Context, issuer, clientID string, scopes []string, redirect string) (*oidc.Provider, *oauth2.Config, context.Context, error) {
	ctx = oidc.ClientContext(ctx, a.httpClient())
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, nil, ctx, fmt.Errorf("discover the identity provider %s: %w", issuer, err)
	}
	return p, &oauth2.Config{ClientID: clientID, Endpoint: p.Endpoint(), Scopes: scopes, RedirectURL: redirect}, ctx, nil
}

func (a *app) runOIDCLogin(ctx context.Context, l oidcLogin) error {
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	p, conf, ctx, err := a.provider(ctx, l.issuer, l.clientID, l.scopes, "")
	if err != nil {
		return err
	}
	if !l.scopesGiven && offersOfflineAccess(p) {
		// Most providers issue a refresh token only for offline_access;
		// Cognito issues one anyway and does not list it (nor accept it).
		l.scopes = append(l.scopes, oidc.ScopeOfflineAccess)
		conf.Scopes = l.scopes
	}
	var tok *oauth2.Token
	var nonce string
	if l.device {
		tok, err = a.deviceGrant(ctx, p, conf)
	} else {
		tok, nonce, err = a.browserGrant(ctx, conf, l)
	}
	if err != nil {
		return err
	}
	s := &session{Issuer: l.issuer, ClientID: l.clientID, Scopes: l.scopes}
	if err := a.adopt(ctx, p, s, tok, nonce); err != nil {
		return err
	}
	path, err := a.saveSession(s)
	if err != nil {
		return err
	}
	who := s.Principal
	if who == "" {
		who = "(no email claim)"
	}
	_, err = fmt.Fprintf(a.env.Stdout, "Signed in to %s as %s until %s; the API commands use it (refreshed as needed) unless %s is set.\nSign-in cached in %s (mode 0600); elevate logout removes it.\n",
		l.issuer, who, s.Expiry.UTC().Format(time.RFC3339), EnvToken, path)
	return err
}

func offersOfflineAccess(p *oidc.Provider) bool {
	var d struct {
		Scopes []string `json:"scopes_supported"`
	}
	if err := p.Claims(&d); err != nil {
		return false
	}
	for _, s := range d.Scopes {
		if s == oidc.ScopeOfflineAccess {
			return true
		}
	}
	return false
}

// adopt verifies the ID token in tok (signature, issuer, audience, expiry,
// and the nonce when one was sent) and stores it and the refresh token in s.
func (a *app) adopt(ctx context.Context, p *oidc.Provider, s *session, tok *oauth2.Token, nonce string) error {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return errors.New("the identity provider answered without an ID token (is the openid scope allowed for this client?)")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: s.ClientID}).Verify(ctx, raw)
	if err != nil {
		return fmt.Errorf("the identity provider's ID token does not verify: %w", err)
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return errors.New("the ID token answers another sign-in (nonce mismatch)")
	}
	var claims struct {
		Email string `json:"email"`
	}
	_ = idt.Claims(&claims)
	s.IDToken, s.Expiry, s.Principal = raw, idt.Expiry, claims.Email
	if tok.RefreshToken != "" {
		s.RefreshToken = tok.RefreshToken
	}
	return nil
}

// browserGrant is the authorization code grant with PKCE (RFC 7636) and a
// loopback redirect (RFC 8252): the code comes back to a listener on this
// machine only, and is useless without the verifier that never left it.
func (a *app) browserGrant(ctx context.Context, conf *oauth2.Config, l oidcLogin) (*oauth2.Token, string, error) {
	ln, redirect, err := listenLoopback(l.redirect)
	if err != nil {
		return nil, "", err
	}
	defer ln.Close()
	conf.RedirectURL = redirect
	verifier, state, nonce := oauth2.GenerateVerifier(), randomString(), randomString()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	type result struct {
		code string
		err  error
	}
	done := make(chan result, 1)
	path := mustPath(redirect)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		var res result
		switch {
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			// Not our sign-in (a stale tab, or another page trying its luck):
			// refused, and the wait goes on.
			http.Error(w, "This sign-in link is not the one elevate is waiting for.", http.StatusBadRequest)
			return
		case q.Get("error") != "":
			res.err = fmt.Errorf("the identity provider refused the sign-in: %s %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			res.err = errors.New("the identity provider returned no authorization code")
		default:
			res.code = q.Get("code")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		msg := "Signed in. You can close this window and return to the terminal."
		if res.err != nil {
			msg = "Sign-in failed: " + res.err.Error()
		}
		fmt.Fprintf(w, "<!doctype html><title>elevate login</title><p>%s</p>\n", html.EscapeString(msg))
		select {
		case done <- res:
		default:
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	fmt.Fprintf(a.env.Stderr, "Sign in in your browser. If it does not open, visit:\n\n  %s\n\n", authURL)
	if !l.noBrowser {
		open := a.env.OpenBrowser
		if open == nil {
			open = openBrowser
		}
		if err := open(authURL); err != nil {
			fmt.Fprintf(a.env.Stderr, "(could not open a browser: %v)\n", err)
		}
	}
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		return nil, "", fmt.Errorf("no sign-in within %s: %w", loginTimeout, ctx.Err())
	}
	if res.err != nil {
		return nil, "", res.err
	}
	tok, err := conf.Exchange(ctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, "", fmt.Errorf("exchange the authorization code: %w", redactOAuthError(err))
	}
	return tok, nonce, nil
}

// deviceGrant is the device authorization grant (RFC 8628), for a machine
// without a browser: the user enters a code on another device.
func (a *app) deviceGrant(ctx context.Context, p *oidc.Provider, conf *oauth2.Config) (*oauth2.Token, error) {
	if p.Endpoint().DeviceAuthURL == "" {
		return nil, usagef("the identity provider offers no device authorization grant (Cognito does not); sign in with the browser instead (without --device)")
	}
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		return nil, fmt.Errorf("start the device authorization: %w", redactOAuthError(err))
	}
	where := da.VerificationURIComplete
	if where == "" {
		where = da.VerificationURI
	}
	fmt.Fprintf(a.env.Stderr, "On any device, open\n\n  %s\n\nand enter the code %s\n", where, da.UserCode)
	tok, err := conf.DeviceAccessToken(ctx, da)
	if err != nil {
		return nil, fmt.Errorf("device sign-in: %w", redactOAuthError(err))
	}
	return tok, nil
}

// sessionToken returns the cached ID token, refreshed first when it is
// expired or about to be.
func (a *app) sessionToken(ctx context.Context) (string, error) {
	s, path, err := a.loadSession()
	if err != nil {
		return "", err
	}
	if time.Until(s.Expiry) > refreshMargin {
		return s.IDToken, nil
	}
	if s.RefreshToken == "" {
		return "", fmt.Errorf("the sign-in expired at %s and holds no refresh token: run elevate login again", s.Expiry.UTC().Format(time.RFC3339))
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	p, conf, ctx, err := a.provider(ctx, s.Issuer, s.ClientID, s.Scopes, "")
	if err != nil {
		return "", err
	}
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: s.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		return "", fmt.Errorf("the sign-in expired and could not be refreshed (%w): run elevate login again", redactOAuthError(err))
	}
	if err := a.adopt(ctx, p, s, tok, ""); err != nil {
		return "", err
	}
	if _, err := a.saveSession(s); err != nil {
		return "", fmt.Errorf("refreshed, but %w (%s)", err, path)
	}
	return s.IDToken, nil
}

// redactOAuthError keeps the provider's error code and description and
// drops the raw response body, which may echo what was sent.
func redactOAuthError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return fmt.Errorf("%s %s", re.ErrorCode, re.ErrorDescription)
		}
		if re.Response != nil {
			return fmt.Errorf("HTTP %d from the token endpoint", re.Response.StatusCode)
		}
	}
	return err
}

// listenLoopback listens where redirect points, which must be a loopback
// http URL. Port 0 or none picks a free port, put into the returned URL.
func listenLoopback(redirect string) (net.Listener, string, error) {
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme != "http" || u.Path == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, "", usagef("--redirect-url %q must be an http URL on this machine with a path, e.g. %s", redirect, config.LoginRedirectURL)
	}
	host := u.Hostname()
	listenHost := host
	switch {
	case host == "localhost":
		listenHost = "127.0.0.1"
	case net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback():
	default:
		return nil, "", usagef("--redirect-url %q must point at this machine (localhost, 127.0.0.1 or [::1]): the code must not leave it", redirect)
	}
	port := u.Port()
	if port == "" {
		port = "0"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(listenHost, port))
	if err != nil {
		return nil, "", fmt.Errorf("listen for the sign-in redirect on %s: %w (another login running? pass --redirect-url with another port the provider accepts)", u.Host, err)
	}
	if port == "0" {
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		u.Host = net.JoinHostPort(host, p)
	}
	return ln, u.String(), nil
}

func mustPath(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return "/"
	}
	return u.Path
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// openBrowser asks the desktop to open u.
func openBrowser(u string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", u)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// trimScopes drops empty entries from a --scope list.
func trimScopes(in []string) []string {
	var out []string
	for _, s := range in {
		out = append(out, strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })...)
	}
	return out
}
