package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/elevate-pam/elevate/pkg/tabledef"
)

func str(name string) *awsdynamodb.Attribute {
	return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
}

// streamViewType maps tabledef's view name to CDK's enum; an unknown name is
// a programming error caught by the first synth.
func streamViewType(view string) awsdynamodb.StreamViewType {
	switch view {
	case "NEW_AND_OLD_IMAGES":
		return awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES
	case "NEW_IMAGE":
		return awsdynamodb.StreamViewType_NEW_IMAGE
	case "OLD_IMAGE":
		return awsdynamodb.StreamViewType_OLD_IMAGE
	case "KEYS_ONLY":
		return awsdynamodb.StreamViewType_KEYS_ONLY
	}
	panic(fmt.Sprintf("tabledef.StreamView %q has no CDK equivalent", view))
}

// newTable declares the one table from pkg/tabledef. It is retained on
// stack deletion and protected against deletion: it holds live grants and
// the audit events not yet drained by the stream.
func newTable(scope constructs.Construct) awsdynamodb.Table {
	t := awsdynamodb.NewTable(scope, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey: str(tabledef.PartitionKey),
		SortKey:      str(tabledef.SortKey),
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection:  jsii.Bool(true),
		Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
		Stream:              streamViewType(tabledef.StreamView),
		TimeToLiveAttribute: jsii.String(tabledef.TTLAttribute),
		RemovalPolicy:       awscdk.RemovalPolicy_RETAIN,
	})
	for _, ix := range tabledef.Indexes {
		t.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(ix.Name),
			PartitionKey:   str(ix.PartitionKey),
			SortKey:        str(ix.SortKey),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	return t
}
