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

// streamSettings bound how long a poisoned batch can block its shard. Audit
// keeps trying for the stream's whole 24 h retention: a record it gives up on
// must be replayed by hand from the failure queue's shard range. Notify gives
// up sooner: an email hours late is worth less than the ones queued behind.
var streamSettings = map[string]streamSetting{
	notifyName: {retries: 5, maxAgeHour: 6},
	auditName:  {retries: 10, maxAgeHour: 24},
}

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
	return q
}
