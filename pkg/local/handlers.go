package local

import (
	"log/slog"

	"github.com/elevate-pam/elevate/pkg/app"
	"github.com/elevate-pam/elevate/pkg/httpapi"
	"github.com/elevate-pam/elevate/pkg/linktoken"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// APIHandlers builds every API function's handler over one service, as the
// Lambdas do; Start serves them, and benchmarks serve them over tables of
// their own.
func APIHandlers(svc *app.Service, signer *linktoken.Signer, log *slog.Logger) map[string]HTTPHandler {
	return handlersOf(func(string) *app.Service { return svc }, signer, log)
}

// handlersOf builds every API function's handler over the service serviceOf
// gives it: Start gives each function its own when it records their calls.
func handlersOf(serviceOf func(function string) *app.Service, signer *linktoken.Signer, log *slog.Logger) map[string]HTTPHandler {
	fns := map[string]HTTPHandler{}
	for _, f := range manifest.APIFunctions {
		fns[f] = HTTPHandler(httpapi.New(f, httpapi.Deps{Service: serviceOf(f), Links: signer, Log: log}))
	}
	return fns
}
