package cli

import (
	"errors"
	"fmt"
)

// Exit codes, documented in cmd/elevate/README.md so scripts can branch on them.
const (
	ExitOK       = 0
	ExitInternal = 1 // a bug or an unexpected response; never a refusal
	ExitUsage    = 2 // bad flags or arguments; nothing was sent
	ExitRefused  = 3 // the API refused the call (a 4xx problem)
	ExitServer   = 4 // the API failed (5xx) or could not be reached
	ExitDenied   = 5 // `elevate authorize` answered "denied"
)

// Exit code of `elevate audit verify` (issue 11).
const ExitVerifyFailed = 6 // the evidence bundle differs from the bucket

// UsageError is a mistake on the command line, found before any call.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// APIError is a problem+json answer from the API.
type APIError struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Code   string `json:"code,omitempty"`
}

func (e *APIError) Error() string {
	switch {
	case e.Title != "" && e.Detail != "":
		return e.Title + ": " + e.Detail
	case e.Detail != "":
		return e.Detail
	case e.Title != "":
		return e.Title
	}
	return fmt.Sprintf("HTTP %d", e.Status)
}

// TransportError is a call that got no usable HTTP answer.
type TransportError struct{ Err error }

func (e *TransportError) Error() string { return "cannot reach the API: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// ErrDenied is returned by `authorize` when the answer is no; the answer
// itself has already been printed.
var ErrDenied = errors.New("denied")

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	var ue *UsageError
	var ae *APIError
	var te *TransportError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrDenied):
		return ExitDenied
	case errors.As(err, new(*VerifyFailedError)):
		return ExitVerifyFailed
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ae):
		if ae.Status >= 500 {
			return ExitServer
		}
		return ExitRefused
	case errors.As(err, &te):
		return ExitServer
	}
	return ExitInternal
}
