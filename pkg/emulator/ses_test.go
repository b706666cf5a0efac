package emulator

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

func TestSESStoresSentEmailAndStopKillsGroup(t *testing.T) {
	ctx := context.Background()
	p, err := StartSES(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()

	c := SESClient(p.Endpoint)
	_, err = c.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("elevate@example.com"),
		Destination:      &types.Destination{ToAddresses: []string{"alice@example.com"}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("hi")},
			Body: &types.Body{
				Text: &types.Content{Data: aws.String("plain")},
				Html: &types.Content{Data: aws.String("<p>html</p>")},
			},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	emails, err := p.Emails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(emails) != 1 {
		t.Fatalf("got %d emails, want 1", len(emails))
	}
	e := emails[0]
	if e.From != "elevate@example.com" || len(e.Destination.To) != 1 || e.Destination.To[0] != "alice@example.com" ||
		e.Subject != "hi" || e.Body.Text != "plain" || e.Body.HTML != "<p>html</p>" || e.MessageID == "" || e.At == 0 {
		t.Fatalf("stored email = %+v", e)
	}
	if err := p.ClearEmails(ctx); err != nil {
		t.Fatal(err)
	}
	if emails, err := p.Emails(ctx); err != nil || len(emails) != 0 {
		t.Fatalf("after clear: %d emails, err %v", len(emails), err)
	}

	pgid := p.cmd.Process.Pid
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process group %d still alive after Stop (err %v)", pgid, err)
	}
	if _, err := p.Emails(ctx); err == nil {
		t.Fatal("Emails succeeded after Stop")
	}
}
