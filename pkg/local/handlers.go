package local

import (
	"github.com/elevate-pam/elevate/pkg/manifest"
	"github.com/elevate-pam/elevate/pkg/wire"
)

// APIHandlers builds every API function's handler through pkg/wire, as the
// Lambdas do; Start serves them, and benchmarks serve them over tables of
// their own.
func APIHandlers(d wire.Deps) map[string]HTTPHandler {
	fns := map[string]HTTPHandler{}
	for _, f := range manifest.APIFunctions {
		fns[f] = HTTPHandler(d.API(f))
	}
	return fns
}
