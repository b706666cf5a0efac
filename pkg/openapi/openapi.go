// Package openapi holds the HTTP API's OpenAPI 3.1 description
// (openapi.json), which pkg/httpapi serves at GET /v1/openapi.json and
// pkg/openapi/openapitest holds every call of the local-stack and end-to-end
// tests to. Edit the JSON by hand with the handlers: a route, status, field
// or problem code the handlers use and the document lacks fails those tests.
package openapi

import _ "embed"

// Document is openapi.json, byte for byte.
//
//go:embed openapi.json
var Document []byte
