// Package sesmail sends notify's emails through Amazon SES v2.
package sesmail

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/elevate-pam/elevate/pkg/budget"
	"github.com/elevate-pam/elevate/pkg/notify"
)

// API is the part of the SES v2 client the sender uses.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// ClientOptions are the SES client's: SendEmail has no idempotency token,
// so the SDK never retries it (a timed-out attempt may have sent the email);
// the stream retries what surely failed.
func ClientOptions(o *sesv2.Options) { o.Retryer = budget.Once() }

// Sender sends each email as Simple content with a text and an HTML part.
type Sender struct {
	API  API
	From string
}

var _ notify.Sender = (*Sender)(nil)

// Send sends e to its one recipient.
func (s *Sender) Send(ctx context.Context, e notify.Email) error {
	if err := ctx.Err(); err != nil {
		// Out of time before anything was sent: a plain failure, retried.
		return fmt.Errorf("ses: not sent: %w", err)
	}
	utf8 := aws.String("UTF-8")
	_, err := s.API.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.From),
		Destination:      &types.Destination{ToAddresses: []string{e.To}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(e.Subject), Charset: utf8},
			Body: &types.Body{
				Text: &types.Content{Data: aws.String(e.Text), Charset: utf8},
				Html: &types.Content{Data: aws.String(e.HTML), Charset: utf8},
			},
		}},
	})
	if err != nil {
		return fmt.Errorf("ses: send email: %w", classify(err))
	}
	return nil
}

// permanentRefusals are SES answers that sending the same email again cannot
// change. AccessDenied is what the SES sandbox answers for a recipient whose
// identity is not verified (or whose identity the role may not send to).
// Throttling, a paused or suspended account and other errors are retried.
var permanentRefusals = map[string]bool{
	"MessageRejected":                    true,
	"BadRequestException":                true,
	"AccessDenied":                       true,
	"AccessDeniedException":              true,
	"MailFromDomainNotVerifiedException": true,
}

// classify tells notify how a failed send may be retried. SES answering
// with an error means it did not accept the message; a connection that was
// never made means nothing was sent; anything else (a reply lost after the
// request went out, or never given before the deadline: the SDK reports
// that as a response error with no status) may have sent it.
func classify(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if permanentRefusals[apiErr.ErrorCode()] {
			return errors.Join(notify.ErrUndeliverable, err)
		}
		return err
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return err
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() != 0 {
		return err
	}
	return errors.Join(notify.ErrUncertain, err)
}
