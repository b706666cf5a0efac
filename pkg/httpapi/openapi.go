package httpapi

import (
	"net/http"

	"github.com/elevate-pam/elevate/pkg/openapi"
)

// openAPIDocument serves the API's OpenAPI description (pkg/openapi). It is
// public: the document is in the repository, the same for every caller, and
// a client generator needs it before it has a token.
func openAPIDocument(*server, *call) (response, error) {
	h := jsonHeaders("application/json")
	return response{StatusCode: http.StatusOK, Headers: h, Body: string(openapi.Document)}, nil
}
