package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

type streamSetting struct {
	retries    int
	maxAgeHour int
}

// streamSettings: a consumer gives up on a batch once its oldest record is
// six hours old, well inside the stream's 24 h retention, so the range the
// failure queue describes can still be read back from the stream for at
// least 18 hours (`elevate ops redrive`). Until then it retries, within
// Lambda's bound of 10,000 attempts: the handlers never report a record that
// cannot succeed (notify records and passes over addresses SES refuses for
// good; audit records what it cannot map), so a retried record is waiting
// out an outage of SES, S3 or DynamoDB. A batch that still fails is
// described in the failure queue, whose alarm fires.
var streamSettings = map[string]streamSetting{
	notifyName: {retries: 10000, maxAgeHour: MaxRecordAgeHours},
	auditName:  {retries: 10000, maxAgeHour: MaxRecordAgeHours},
	// A deny that cannot be written is retried until IAM answers: the
	// record is never given up while the stream still holds it.
	accessName: {retries: 10000, maxAgeHour: MaxRecordAgeHours},
}

// MaxRecordAgeHours is how old a stream record may get before its consumer
// gives up on it; StreamRetentionHours is how long DynamoDB keeps it.
const (
	MaxRecordAgeHours    = 6
	StreamRetentionHours = 24
)

// newStreamConsumer wires fn to the table's stream and returns the queue
// that receives the shard ranges of batches it gave up on.
func newStreamConsumer(scope constructs.Construct, id string, table awsdynamodb.Table, fn awslambda.Function, set streamSetting) awssqs.Queue {
	q := awssqs.NewQueue(scope, jsii.String(id+"Failures"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	awslambda.NewEventSourceMapping(scope, jsii.String(id+"Stream"), &awslambda.EventSourceMappingProps{
		Target:                  fn,
		EventSourceArn:          table.TableStreamArn(),
		StartingPosition:        awslambda.StartingPosition_TRIM_HORIZON,
		BatchSize:               jsii.Number(100),
		BisectBatchOnError:      jsii.Bool(true),
		ReportBatchItemFailures: jsii.Bool(true),
		RetryAttempts:           jsii.Number(set.retries),
		MaxRecordAge:            awscdk.Duration_Hours(jsii.Number(set.maxAgeHour)),
		// One poller per shard keeps each item's changes in order.
		ParallelizationFactor: jsii.Number(1),
		OnFailure:             awslambdaeventsources.NewSqsDlq(q),
	})
	suppress(q, "AwsSolutions-SQS3", "This queue is itself the dead-letter destination: the stream consumer's on-failure destination, which cdk-nag does not recognise as a DLQ; nothing consumes it but an operator's redrive")
	return q
}
