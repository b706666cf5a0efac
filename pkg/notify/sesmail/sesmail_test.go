package sesmail

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/elevate-pam/elevate/pkg/notify"
)

func TestClassify(t *testing.T) {
	throttled := &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 429}}, Err: errors.New("throttled")}}
	noAnswer := &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{}}, Err: context.DeadlineExceeded}}
	cases := []struct {
		name string
		err  error
		want error // nil: retry
	}{
		{"rejected address", &smithy.GenericAPIError{Code: "MessageRejected"}, notify.ErrUndeliverable},
		{"malformed address", &smithy.GenericAPIError{Code: "BadRequestException"}, notify.ErrUndeliverable},
		{"sandbox recipient not verified", &smithy.GenericAPIError{Code: "AccessDeniedException"}, notify.ErrUndeliverable},
		{"account sending paused", &smithy.GenericAPIError{Code: "SendingPausedException"}, nil},
		{"throttling", &smithy.GenericAPIError{Code: "TooManyRequestsException"}, nil},
		{"HTTP error response", throttled, nil},
		{"SES not reachable", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, nil},
		{"reply lost after sending", io.ErrUnexpectedEOF, notify.ErrUncertain},
		// What the SDK returns when the deadline passes while SES (stalled)
		// holds the request: no status, so no answer; it may still send.
		{"no answer before the deadline", noAnswer, notify.ErrUncertain},
	}
	for _, c := range cases {
		got := classify(c.err)
		if !errors.Is(got, c.err) {
			t.Errorf("%s: the cause is lost: %v", c.name, got)
		}
		for _, kind := range []error{notify.ErrUndeliverable, notify.ErrUncertain} {
			if errors.Is(got, kind) != (kind == c.want) {
				t.Errorf("%s: classified %v, want %v", c.name, got, c.want)
			}
		}
	}
}
