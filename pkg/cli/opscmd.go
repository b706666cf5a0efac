package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/spf13/cobra"

	"github.com/elevate-pam/elevate/pkg/redrive"
)

func (a *app) opsCmd() *cobra.Command {
	return parent("ops", "Operator tasks on a deployment (AWS credentials from the standard environment)", a.redriveCmd())
}

// redriveVisibility hides a message from other readers while it is redriven.
const redriveVisibility = 5 * time.Minute

func (a *app) redriveCmd() *cobra.Command {
	var queueURL, function string
	var max int
	c := &cobra.Command{
		Use:   "redrive --queue-url URL --function NAME [--max N]",
		Short: "Replay the stream ranges a consumer gave up on, from its failure queue",
		Long: `redrive reads the failure queue of a stream consumer (stack outputs
NotifyFailureQueueUrl, AuditFailureQueueUrl). Each message describes a batch
the consumer gave up on: a shard and a range of sequence numbers, not the
records. redrive reads that range back from the table's stream and invokes
the same function with it (stack outputs NotifyFunctionName,
AuditFunctionName), in batches of 100, as its event source mapping would.
The functions are idempotent, so redriving a range twice changes nothing.
A message is deleted once its whole range went through; it stays when the
function still fails or the stream no longer holds the range (records live
24 hours; consumers give up after 6).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlags(cmd, "queue-url", "function"); err != nil {
				return err
			}
			if max < 1 {
				return usagef("--max must be at least 1")
			}
			ctx := cmd.Context()
			cfg, err := awsconfig.LoadDefaultConfig(ctx)
			if err != nil {
				return fmt.Errorf("load AWS configuration: %w", err)
			}
			if cfg.Region == "" {
				return usagef("no AWS region: set AWS_REGION")
			}
			q, lam, st := sqs.NewFromConfig(cfg), lambda.NewFromConfig(cfg), dynamodbstreams.NewFromConfig(cfg)
			return a.redriveQueue(ctx, q, st, invoker(lam, function), queueURL, cfg.Region, max)
		},
	}
	c.Flags().StringVar(&queueURL, "queue-url", "", "failure queue URL (stack output NotifyFailureQueueUrl or AuditFailureQueueUrl)")
	c.Flags().StringVar(&function, "function", "", "the consumer's function name (stack output NotifyFunctionName or AuditFunctionName)")
	c.Flags().IntVar(&max, "max", 100, "redrive at most this many messages")
	return c
}

// queue is the part of SQS a redrive uses.
type queue interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

var _ queue = (*sqs.Client)(nil)

func (a *app) redriveQueue(ctx context.Context, q queue, st redrive.Streams, h redrive.Handler, queueURL, region string, max int) error {
	var done, kept int
	for done+kept < max {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: int32(min(10, max-done-kept)),
			VisibilityTimeout: int32(redriveVisibility / time.Second), WaitTimeSeconds: 1,
		})
		if err != nil {
			return fmt.Errorf("read the failure queue: %w", err)
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			f, res, err := redrive.One(ctx, st, h, []byte(aws.ToString(m.Body)), region)
			b := f.Batch
			switch {
			case err != nil:
				kept++
				fmt.Fprintf(a.env.Stdout, "kept     %s: %v\n", aws.ToString(m.MessageId), err)
				continue
			case res.FailedAt != "":
				kept++
				fmt.Fprintf(a.env.Stdout, "kept     shard %s %s..%s: %d records redriven, the function still fails at %s\n",
					b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber, res.Records, res.FailedAt)
				continue
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return fmt.Errorf("redriven, but the message could not be deleted (redriving it again is harmless): %w", err)
			}
			done++
			fmt.Fprintf(a.env.Stdout, "redriven shard %s %s..%s: %d records\n", b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber, res.Records)
		}
	}
	fmt.Fprintf(a.env.Stdout, "%d redriven, %d kept in the queue\n", done, kept)
	if kept > 0 {
		return fmt.Errorf("%d failure records could not be redriven", kept)
	}
	return nil
}

// invoker calls the deployed consumer with a stream event, synchronously,
// and returns its batch response.
func invoker(lam *lambda.Client, function string) redrive.Handler {
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		var resp events.DynamoDBEventResponse
		payload, err := json.Marshal(ev)
		if err != nil {
			return resp, err
		}
		out, err := lam.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(function), Payload: payload})
		if err != nil {
			return resp, fmt.Errorf("invoke %s: %w", function, err)
		}
		if out.FunctionError != nil {
			var fe struct {
				ErrorMessage string `json:"errorMessage"`
			}
			_ = json.Unmarshal(out.Payload, &fe)
			return resp, fmt.Errorf("%s failed (%s): %s", function, aws.ToString(out.FunctionError), fe.ErrorMessage)
		}
		if err := json.Unmarshal(out.Payload, &resp); err != nil {
			return resp, errors.New(function + " answered with something other than a stream batch response")
		}
		return resp, nil
	}
}
