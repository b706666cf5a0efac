package httpapi

import (
	"net/http"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Break-glass holds (issue 16 item 5), admin-only.

func listBreakGlassHolds(s *server, c *call) (response, error) {
	hs, err := s.deps.Service.ListBreakGlassHolds(c.ctx, c.caller)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, List[elevate.BreakGlassHold]{Items: nonNil(hs)})
}

func clearBreakGlassHold(s *server, c *call) (response, error) {
	if err := s.deps.Service.ClearBreakGlassHold(c.ctx, c.caller, c.params["principal"]); err != nil {
		return response{}, err
	}
	return noContent()
}
