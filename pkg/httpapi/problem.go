package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/elevate-pam/elevate/pkg/elevate"
)

// Problem is an RFC 9457 problem document, the body of every JSON error.
// Code is the stable machine-readable code of a domain refusal.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code,omitempty"`
}

const problemBase = "https://elevate.dev/problems/"

// kinds is the one table from domain error kind to HTTP status; order matters
// only in that a more specific kind must come first (none overlap today).
var kinds = []struct {
	kind   error
	status int
	code   string
}{
	{elevate.ErrInvalid, http.StatusBadRequest, "invalid"},
	{elevate.ErrUnauthorized, http.StatusUnauthorized, "unauthenticated"},
	{elevate.ErrForbidden, http.StatusForbidden, "forbidden"},
	{elevate.ErrNotFound, http.StatusNotFound, "not-found"},
	{elevate.ErrConflict, http.StatusConflict, "conflict"},
	{elevate.ErrUnprocessable, http.StatusUnprocessableEntity, "unprocessable"},
	{elevate.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	// The invocation's deadline passed (a dependency stalled) in a call that
	// did not say unavailable itself.
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable"},
	{errTooLarge, http.StatusRequestEntityTooLarge, "too-large"},
	{errMediaType, http.StatusUnsupportedMediaType, "unsupported-media-type"},
}

// ProblemFor maps any error to its problem document. It is the only place an
// error becomes a status code. internal is true when the error is not a known
// refusal: the caller must log it, and the detail never repeats it.
func ProblemFor(err error) (p Problem, internal bool) {
	for _, k := range kinds {
		if !errors.Is(err, k.kind) {
			continue
		}
		p = Problem{Status: k.status, Title: http.StatusText(k.status), Code: k.code}
		var de *elevate.Error
		var he *httpError
		switch {
		case errors.As(err, &de):
			p.Detail = de.Message
			if de.Code != "" {
				p.Code = de.Code
			}
		case errors.As(err, &he):
			p.Detail = he.detail
		case k.status == http.StatusServiceUnavailable:
			p.Detail = "the service is temporarily unavailable; retry later"
			internal = true
		case k.kind == errTooLarge || k.kind == errMediaType:
			p.Detail = err.Error()
		default:
			// A bare sentinel wrapped with context (fmt.Errorf("%w: ...")) may
			// carry internals in its text: show only the kind's generic text.
			p.Detail = k.kind.Error()
			internal = true
		}
		p.Type = problemBase + p.Code
		return p, internal
	}
	return Problem{
		Type:   "about:blank",
		Title:  http.StatusText(http.StatusInternalServerError),
		Status: http.StatusInternalServerError,
		Detail: "an internal error occurred; it has been logged",
	}, true
}

// unavailable reports a fault that a retry may clear: a dependency that is
// down or that did not answer before the invocation's deadline.
func unavailable(err error) bool {
	return errors.Is(err, elevate.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// Errors of the HTTP layer itself that have no domain kind.
var (
	errTooLarge  = errors.New("request body is larger than 64 KiB")
	errMediaType = errors.New("unsupported media type")
)

// httpError is a refusal raised by the HTTP layer (body, query, path) with a
// caller-facing detail.
type httpError struct {
	kind   error
	detail string
}

func (e *httpError) Error() string { return e.detail }
func (e *httpError) Unwrap() error { return e.kind }

func badRequest(detail string) error { return &httpError{elevate.ErrInvalid, detail} }
func unsupported(detail string) error {
	return &httpError{errMediaType, detail}
}
func unauthenticated(detail string) error { return &httpError{elevate.ErrUnauthorized, detail} }
func notFound(detail string) error        { return &httpError{elevate.ErrNotFound, detail} }
