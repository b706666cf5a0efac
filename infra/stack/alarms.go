package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/elevate-pam/elevate/pkg/notify"
)

var fiveMinutes = awscdk.Duration_Minutes(jsii.Number(5))

// newAlarms raises an alarm on anything that means a request, an email or an
// audit record may be stuck: function errors and throttles, stream lag,
// batches given up on, and API 5xx.
func newAlarms(scope constructs.Construct, props Props, e *Elevate, api *httpAPI) {
	var action awscloudwatch.IAlarmAction
	if props.AlarmEmail != AlarmEmailNone {
		topic := awssns.NewTopic(scope, jsii.String("AlarmTopic"), &awssns.TopicProps{
			DisplayName: jsii.String("Elevate alarms"),
			EnforceSSL:  jsii.Bool(true),
		})
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(props.AlarmEmail), nil))
		action = awscloudwatchactions.NewSnsAction(topic)
	}
	alarm := func(id string, m awscloudwatch.IMetric, threshold float64, what string) {
		a := awscloudwatch.NewAlarm(scope, jsii.String(id), &awscloudwatch.AlarmProps{
			Metric:             m,
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
			AlarmDescription:   jsii.String("Elevate: " + what),
		})
		if action != nil {
			a.AddAlarmAction(action)
		}
	}
	sum := &awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Sum")}
	for _, name := range functionNames() {
		fn := e.Functions[name]
		alarm(title(name)+"Errors", fn.MetricErrors(sum), 1, name+" function errors")
		alarm(title(name)+"Throttles", fn.MetricThrottles(sum), 1, name+" function throttled")
	}
	for _, name := range []string{notifyName, auditName, accessName} {
		alarm(title(name)+"IteratorAge", iteratorAge(e.Functions[name]), 5*60*1000, name+" is more than 5 minutes behind the table stream")
		alarm(title(name)+"FailuresDepth", e.Failures[name].MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period: fiveMinutes, Statistic: jsii.String("Maximum"),
		}), 1, name+" gave up on stream records; replay them from the queue's shard ranges")
	}
	alarm("Api5xx", api.API.MetricServerError(sum), 1, "HTTP API 5xx responses")
	alarm("NotifyFailedDeliveries", failedDeliveries(scope, e.Logs[notifyName]).Metric(sum), 1,
		"SES refused an email for good (sandbox recipient, rejected or malformed address); it was recorded and passed over")
}

// MetricNamespace holds Elevate's own metrics; FailedDeliveriesMetric counts
// emails SES refused for good, from notify's log lines that say so.
const (
	MetricNamespace        = "Elevate"
	FailedDeliveriesMetric = "FailedDeliveries"
)

func failedDeliveries(scope constructs.Construct, logs awslogs.LogGroup) awslogs.MetricFilter {
	return awslogs.NewMetricFilter(scope, jsii.String("NotifyFailedDeliveriesFilter"), &awslogs.MetricFilterProps{
		LogGroup:        logs,
		FilterPattern:   awslogs.FilterPattern_StringValue(jsii.String("$."+notify.DeliveryLogKey), jsii.String("="), jsii.String(notify.DeliveryFailed)),
		MetricNamespace: jsii.String(MetricNamespace),
		MetricName:      jsii.String(FailedDeliveriesMetric),
		MetricValue:     jsii.String("1"),
	})
}

func iteratorAge(fn awslambda.Function) awscloudwatch.IMetric {
	return fn.Metric(jsii.String("IteratorAge"), &awscloudwatch.MetricOptions{Period: fiveMinutes, Statistic: jsii.String("Maximum")})
}
