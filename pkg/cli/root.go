// Package cli is the elevate command line: the API verbs over HTTP API v1,
// the audit reader over the audit bucket, and local login.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/elevate-pam/elevate/pkg/auditquery"
)

// Environment variables the CLI reads besides the standard AWS ones.
const (
	EnvAPIURL      = "ELEVATE_API_URL"
	EnvToken       = "ELEVATE_TOKEN"
	EnvAuditBucket = "ELEVATE_AUDIT_BUCKET"
)

// Env is everything the CLI touches outside itself, so tests can run it
// in-process.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// StderrIsTerminal turns on audit progress without --progress.
	StderrIsTerminal bool
	// HTTP, when set, replaces the default client (the --timeout still
	// applies through the context).
	HTTP *http.Client
	// NewS3, when set, replaces the client built from the AWS environment.
	NewS3 func(ctx context.Context) (auditquery.S3Reader, error)
	// OpenBrowser, when set, replaces opening the system browser at the
	// identity provider's sign-in page.
	OpenBrowser func(url string) error
}

// OSEnv is the real process environment.
func OSEnv() Env {
	fi, err := os.Stderr.Stat()
	tty := err == nil && fi.Mode()&os.ModeCharDevice != 0
	return Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, StderrIsTerminal: tty}
}

type app struct {
	env     Env
	apiURL  string
	token   string
	output  string
	timeout time.Duration
	root    *cobra.Command
	// ran is set once cobra has parsed flags and arguments and reached a
	// command, so earlier failures are reported as usage errors.
	ran bool
}

// Run executes one command line and returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	a := &app{env: env}
	root := a.newRoot()
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	if code == ExitInternal && !a.ran {
		code = ExitUsage
	}
	var ae *APIError
	switch {
	case errors.Is(err, ErrDenied):
		// The answer was printed on stdout; the exit code says the rest.
	case errors.As(err, &ae):
		fmt.Fprintln(env.Stderr, ae.Error())
	case code == ExitUsage:
		path := "elevate"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(env.Stderr, "elevate: %s\nRun '%s --help' for usage.\n", err, path)
	default:
		fmt.Fprintf(env.Stderr, "elevate: %s\n", err)
	}
	return code
}

func (a *app) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "elevate",
		Short: "Just-in-time privileged access: request, approve and audit privileged tasks",
		Long: `elevate manages privileged access: turn it on, define approver groups and
approval policies, request a task for a bounded time, approve or deny, ask
whether a principal may perform a task now, and query the audit trail.

API commands read ELEVATE_API_URL and ELEVATE_TOKEN (or --api-url, --token);
without a token they use the sign-in of elevate login, refreshing it as needed.
audit commands read the audit bucket directly (ELEVATE_AUDIT_BUCKET and the
standard AWS environment).

Exit codes: 0 success, 1 unexpected error, 2 usage error, 3 refused by the
API (4xx), 4 server or network failure, 5 authorize answered "denied".`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			a.ran = true
			return a.checkGlobal()
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	// Defaults are resolved at run time, never shown in --help: the token
	// must not appear in help output or shell history of a screen share.
	pf.StringVar(&a.apiURL, "api-url", "", "API base URL (default $"+EnvAPIURL+")")
	pf.StringVar(&a.token, "token", "", "bearer token (default $"+EnvToken+")")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table|json (audit: table|json|csv)")
	pf.DurationVar(&a.timeout, "timeout", 30*time.Second, "timeout of each API call")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Msg: err.Error()} })
	a.root = root

	root.AddCommand(
		a.enableCmd(), a.disableCmd(), a.settingsCmd(), a.lockboxCmd(),
		a.groupCmd(), a.policyCmd(),
		a.requestCmd(),
		a.decisionCmd("approve", "Approve a pending request (Approve-ElevatedAccessRequest)"),
		a.decisionCmd("deny", "Deny a pending request (Deny-ElevatedAccessRequest)"),
		a.decisionCmd("revoke", "Revoke an approved request and its grant (Revoke-ElevatedAccessAuthorization)"),
		a.decisionCmd("cancel", "Cancel your own pending request"),
		a.decisionCmd("ratify", "Ratify a break-glass grant after the fact"),
		a.delegateCmd(), a.delegationCmd(), a.breakGlassCmd(),
		a.authorizeCmd(),
		a.credentialsCmd(),
		a.loginCmd(), a.logoutCmd(),
		a.opsCmd(),
		a.auditCmd(),
	)
	return root
}

func (a *app) checkGlobal() error {
	if a.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return nil
}

// format validates --output against what this command can print. def is
// used when the user did not set --output.
func (a *app) format(def string, allowed ...string) (string, error) {
	f := a.output
	if fl := a.root.PersistentFlags().Lookup("output"); fl != nil && !fl.Changed {
		f = def
	}
	f = strings.ToLower(f)
	for _, x := range allowed {
		if f == x {
			return f, nil
		}
	}
	return "", usagef("--output must be one of %s", strings.Join(allowed, ", "))
}

func (a *app) client(ctx context.Context, needToken bool) (*Client, error) {
	base := a.apiURL
	if base == "" {
		base = strings.TrimSpace(a.env.Getenv(EnvAPIURL))
	}
	if base == "" {
		return nil, usagef("no API URL: set %s or pass --api-url", EnvAPIURL)
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, usagef("the API URL must start with http:// or https://")
	}
	tok := a.token
	if tok == "" {
		tok = strings.TrimSpace(a.env.Getenv(EnvToken))
	}
	if needToken && tok == "" {
		var err error
		tok, err = a.sessionToken(ctx)
		if errors.Is(err, errNoSession) {
			return nil, usagef("no token: run elevate login --issuer URL --client-id ID, set %s or pass --token (locally: eval \"$(elevate login --local --as you@example.com)\")", EnvToken)
		}
		if err != nil {
			return nil, err
		}
	}
	hc := a.env.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: a.timeout}
	} else {
		c := *hc
		c.Timeout = a.timeout
		hc = &c
	}
	return &Client{BaseURL: base, Token: tok, HTTP: hc}, nil
}

// noArgs refuses stray arguments, naming them, as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s needs %s", cmd.CommandPath(), strings.Join(names, " and "))
		}
		for i, v := range args {
			if strings.TrimSpace(v) == "" {
				return usagef("%s must not be empty", names[i])
			}
		}
		return nil
	}
}

// parent builds a command that only groups subcommands; a missing or unknown
// subcommand is a usage error rather than a silent help page.
func parent(use, short string, children ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usagef("%s needs a subcommand; see '%s --help'", cmd.CommandPath(), cmd.CommandPath())
		},
	}
	c.AddCommand(children...)
	return c
}

// requireFlags reports missing required flags as one usage error.
func requireFlags(cmd *cobra.Command, names ...string) error {
	var missing []string
	for _, n := range names {
		if !cmd.Flags().Changed(n) {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usagef("%s needs %s", cmd.CommandPath(), strings.Join(missing, ", "))
	}
	return nil
}
