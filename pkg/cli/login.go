package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/elevate-pam/elevate/pkg/config"

	"github.com/spf13/cobra"
)

// LocalTokenPath is the local runtime's token-minting route; it exists only
// in `make run`, never in a deployment.
const LocalTokenPath = "/_local/token"

func (a *app) loginCmd() *cobra.Command {
	var local bool
	var as string
	var groups []string
	var l oidcLogin
	var scopes []string
	c := &cobra.Command{
		Use:   "login (--issuer URL --client-id ID [--device] | --local --as EMAIL [--group NAME]...)",
		Short: "Sign in with your identity provider (or get a token from the local stack)",
		Long: `login signs you in with the deployment's OpenID Connect provider, the way
gh auth login --web and aws sso login do: it opens the provider's sign-in
page in your browser (authorization code with PKCE; the code comes back to
a listener on this machine only, ` + config.LoginRedirectURL + ` by default)
and caches the ID token and refresh token in your config directory
(mode 0600). The API commands then use it, refreshing it when it expires,
whenever ELEVATE_TOKEN and --token are unset. Tokens are never printed.
elevate logout removes the cache.

With the stack's Cognito user pool, take --issuer and --client-id from the
stack outputs LoginIssuer and UserPoolClientId (or run the LoginCommand
output); Cognito asks for your TOTP code, and enrols an authenticator app
at the first sign-in. --device uses the device authorization grant instead
(enter a code on another device), where the provider offers it.

--local mints a token from the local stack (make run) and prints
	export ELEVATE_TOKEN='...'
so that eval "$(elevate login --local --as alice@example.com)" signs you in.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !local {
				if err := requireFlags(cmd, "issuer", "client-id"); err != nil {
					return usagef("%s (or --local for the local stack)", err)
				}
				if as != "" || len(groups) > 0 {
					return usagef("--as and --group are for --local only")
				}
				l.scopes, l.scopesGiven = trimScopes(scopes), cmd.Flags().Changed("scope")
				return a.runOIDCLogin(cmd.Context(), l)
			}
			if l.issuer != "" || l.clientID != "" || l.device {
				return usagef("--local mints a local token; --issuer, --client-id and --device are for an identity provider")
			}
			if err := requireFlags(cmd, "as"); err != nil {
				return err
			}
			format, err := a.format("table", "table", "json")
			if err != nil {
				return err
			}
			c, err := a.client(cmd.Context(), false)
			if err != nil {
				return err
			}
			// A stale ELEVATE_TOKEN must not be sent to the minting route.
			c.Token = ""
			var out struct {
				Token     string `json:"token"`
				ExpiresAt string `json:"expiresAt"`
			}
			body := map[string]any{"principal": as, "groups": nonNilStrings(groups)}
			if err := c.Do(cmd.Context(), "POST", LocalTokenPath, nil, body, &out); err != nil {
				return err
			}
			if out.Token == "" {
				return fmt.Errorf("the local stack answered without a token")
			}
			if format == "json" {
				_, err = fmt.Fprintf(a.env.Stdout, "{\"token\":%q,\"expiresAt\":%q}\n", out.Token, out.ExpiresAt)
				return err
			}
			_, err = fmt.Fprintf(a.env.Stdout, "export %s=%s\n", EnvToken, shellQuote(out.Token))
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&l.issuer, "issuer", "", "OpenID Connect issuer URL (stack output LoginIssuer)")
	f.StringVar(&l.clientID, "client-id", "", "OAuth client ID of the CLI (stack output UserPoolClientId)")
	f.StringArrayVar(&scopes, "scope", DefaultScopes, "scope to ask for (repeatable)")
	f.StringVar(&l.redirect, "redirect-url", config.LoginRedirectURL, "loopback URL the provider sends the code to (port 0: any free port, for providers that ignore the loopback port)")
	f.BoolVar(&l.device, "device", false, "device authorization grant: enter a code on another device")
	f.BoolVar(&l.noBrowser, "no-browser", false, "print the sign-in URL instead of opening a browser")
	f.BoolVar(&local, "local", false, "mint a token from the local stack's /_local/token")
	f.StringVar(&as, "as", "", "principal (email) to sign in as (--local)")
	f.StringArrayVar(&groups, "group", nil, "group claim (repeatable), e.g. elevate-admins (--local)")
	return c
}

func (a *app) logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Remove the sign-in elevate login cached on this machine",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			path, err := a.tokenPath()
			if err != nil {
				return err
			}
			err = os.Remove(path)
			if errors.Is(err, fs.ErrNotExist) {
				_, err = fmt.Fprintf(a.env.Stdout, "Not signed in (no %s).\n", path)
				return err
			}
			if err != nil {
				return fmt.Errorf("remove the sign-in cache: %w", err)
			}
			_, err = fmt.Fprintf(a.env.Stdout, "Signed out: removed %s.\n", path)
			return err
		},
	}
}

// shellQuote single-quotes s for POSIX shells, so eval cannot be tricked by
// whatever the server returned.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
