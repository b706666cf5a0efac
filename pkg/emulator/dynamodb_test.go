package emulator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

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
