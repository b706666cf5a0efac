package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// LocalTokenPath is the local runtime's token-minting route; it exists only
// in `make run`, never in a deployment.
const LocalTokenPath = "/_local/token"

func (a *app) loginCmd() *cobra.Command {
	var local bool
	var as string
	var groups []string
	c := &cobra.Command{
		Use:   "login --local --as EMAIL [--group NAME]...",
		Short: "Get a token from the local stack and print an export line for it",
		Long: `login mints a token from the local stack (make run) and prints
	export ELEVATE_TOKEN='...'
so that eval "$(elevate login --local --as alice@example.com)" signs you in.
Against AWS, get a JWT from your identity provider and set ELEVATE_TOKEN.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !local {
				return usagef("only --local login is supported; against AWS, set %s to a JWT from your identity provider", EnvToken)
			}
			if err := requireFlags(cmd, "as"); err != nil {
				return err
			}
			format, err := a.format("table", "table", "json")
			if err != nil {
				return err
			}
			c, err := a.client(false)
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
	c.Flags().BoolVar(&local, "local", false, "mint a token from the local stack's /_local/token")
	c.Flags().StringVar(&as, "as", "", "principal (email) to sign in as")
	c.Flags().StringArrayVar(&groups, "group", nil, "group claim (repeatable), e.g. elevate-admins")
	return c
}

// shellQuote single-quotes s for POSIX shells, so eval cannot be tricked by
// whatever the server returned.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
