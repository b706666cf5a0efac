package httpapi

import (
	"net/http"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Approver delegation endpoints (F17).

func putDelegation(s *server, c *call) (response, error) {
	var in elevate.DelegationInput
	if err := decodeRequest(c.req, &in, false, "delegate", "from", "until"); err != nil {
		return response{}, err
	}
	d, err := s.deps.Service.PutDelegation(c.ctx, c.caller, c.params["principal"], in)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, d)
}

func listDelegations(s *server, c *call) (response, error) {
	ds, err := s.deps.Service.ListDelegations(c.ctx, c.caller)
	if err != nil {
		return response{}, err
	}
	return reply(http.StatusOK, List[elevate.Delegation]{Items: nonNil(ds)})
}

func deleteDelegation(s *server, c *call) (response, error) {
	if err := s.deps.Service.DeleteDelegation(c.ctx, c.caller, c.params["principal"]); err != nil {
		return response{}, err
	}
	return noContent()
}
