// Command elevate-local runs the whole of Elevate on this machine (make run):
// DynamoDB Local, the SES v2 emulator, an in-process S3 and the API behind a
// local gateway that behaves like API Gateway with a JWT authorizer.
// Wiring only; everything lives in pkg/local.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/config"
	"github.com/elevate-pam/elevate/pkg/local"
	"github.com/elevate-pam/elevate/pkg/wire"
)

// The ready-made token printed for the CLI.
const (
	adminPrincipal = "admin@example.com"
	envAddr        = "ELEVATE_ADDR"
	// The principals given a user in the local Identity Store (comma-separated).
	envIdentityCenterUsers     = "ELEVATE_LOCAL_IDENTITY_CENTER_USERS"
	defaultIdentityCenterUsers = "alice@example.com,bob@example.com,carol@example.com"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: wire.LogLevel()}))
	slog.SetDefault(log)
	if err := run(log); err != nil {
		log.Error("elevate-local failed", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	adminGroup := config.Get(config.EnvAdminGroup, app.DefaultAdminGroup)
	var trust *local.TrustedIssuer
	if iss := config.Get(config.EnvLocalTrustIssuer, ""); iss != "" {
		trust = &local.TrustedIssuer{Issuer: iss, Audience: config.Get(config.EnvLocalTrustAudience, "")}
	}
	st, err := local.Start(ctx, local.Options{
		Addr:       config.Get(envAddr, local.DefaultAddr),
		SESPort:    local.DefaultSESPort,
		Table:      config.Get(config.EnvTable, local.DefaultTable),
		Bucket:     config.Get(config.EnvAuditBucket, local.DefaultBucket),
		Sender:     config.Get(config.EnvSender, local.DefaultSender),
		AdminGroup: adminGroup,
		PublicURL:  config.Get(config.EnvPublicBaseURL, ""),
		LinkKey:    wire.ParseKey(config.Get(config.EnvLinkKey, "")), // empty: a random per-run key
		PageKey:    wire.ParseKey(config.Get(config.EnvPageKey, "")), // empty: another random per-run key
		Log:        log,
		// Anyone who reaches the token route can mint an admin token.
		TokensBeyondLoopback: config.Get(config.EnvLocalTokensBeyondLoopback, "false") == "true",
		IdentityCenterUsers:  strings.Split(config.Get(envIdentityCenterUsers, defaultIdentityCenterUsers), ","),
		TrustIssuer:          trust,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Stop(); err != nil {
			log.Error("stop", "error", err)
		}
		log.Info("local stack stopped")
	}()

	tok, err := st.Token(adminPrincipal, adminGroup)
	if err != nil {
		return err
	}
	fmt.Printf("# Elevate API:   %s\n# Email viewer:  %s\n# Token for %s (group %s); mint others with POST %s%s\n",
		st.URL, st.SESEndpoint, adminPrincipal, adminGroup, st.URL, local.TokenPath)
	fmt.Printf("# IAM Identity Center (in process): instance %s, permission set %s (DatabaseAdmin, PT1H), Identity Store users %s\n",
		local.LocalInstanceArn, local.LocalPermissionSetArn, config.Get(envIdentityCenterUsers, defaultIdentityCenterUsers))
	fmt.Printf("# Link and page keys in the local Secrets Manager; rotate both now with: curl -X POST %s%s\n", st.URL, local.RotateKeysPath)
	for _, l := range st.Exports(tok) {
		fmt.Println(l)
	}
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}
