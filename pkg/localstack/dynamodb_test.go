package localstack

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
)

func TestMain(m *testing.M) { DynamoMain(m) }

func TestRepoRootHoldsGoMod(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "module github.com/elevate-pam/elevate"; string(b[:len(want)]) != want {
		t.Fatalf("go.mod at %s starts %q", root, b[:len(want)])
	}
}

func TestFindModuleRootFailsOutsideModule(t *testing.T) {
	if _, ok := findModuleRoot(t.TempDir()); ok {
		t.Fatal("found a go.mod above a fresh temp dir")
	}
}

func TestSharedDynamoServesTablesAndStreams(t *testing.T) {
	client, endpoint := DynamoForTest(t)
	ctx := context.Background()
	name := UniqueTableName("ls")
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("PK"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}}}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(name), ConsistentRead: aws.Bool(true), Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}}})
	if err != nil || out.Item == nil {
		t.Fatalf("get back: %v %v", out, err)
	}
	d, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if d.Table.LatestStreamArn == nil {
		t.Fatal("no stream ARN")
	}
	ds, err := StreamsClient(endpoint).DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: d.Table.LatestStreamArn})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.StreamDescription.Shards) == 0 {
		t.Fatal("stream has no shards after a write")
	}
}

func TestStartDynamoDBIsolatedAndStopKillsGroup(t *testing.T) {
	p, err := StartDynamoDB(context.Background(), DynamoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.cmd.Process.Pid
	client := DynamoClient(p.Endpoint)
	if _, err := client.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process group %d still exists after Stop: %v", pid, err)
	}
	fast := DynamoClient(p.Endpoint, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	if _, err := fast.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err == nil {
		t.Fatal("endpoint still answers after Stop")
	}
}
