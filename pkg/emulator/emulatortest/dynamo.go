// Package emulatortest is the test support around pkg/emulator: one shared
// DynamoDB Local per test binary, unique table names, a stream watcher, and
// the least-privilege check of what an emulator.OpRecorder saw. Only tests
// import it, so nothing shipped links package testing.
package emulatortest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/elevate-pam/elevate/pkg/emulator"
)

// EnvTestDynamoEndpoint, when set, makes DynamoForTest use an already running
// DynamoDB Local instead of starting one (handy on a loaded machine).
const EnvTestDynamoEndpoint = "ELEVATE_TEST_DYNAMODB_ENDPOINT"

// One DynamoDB Local per test binary, started on first use.
var shared struct {
	mu       sync.Mutex
	started  bool
	endpoint string
	proc     *emulator.Process
	err      error
}

// DynamoForTest returns a client for this test binary's shared DynamoDB Local,
// starting it on first use. Tests must create their own uniquely named tables
// (see UniqueTableName): the instance is shared by every test in the package.
//
// Every package that uses it stops it from TestMain:
//
//	func TestMain(m *testing.M) { emulatortest.DynamoMain(m) }
//
// Without that, Pdeathsig still kills java when the test binary exits.
// Different packages run as different binaries, each with its own in-memory
// instance on its own free port, so parallel packages never collide.
func DynamoForTest(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	endpoint, err := sharedDynamo()
	if err != nil {
		t.Fatalf("DynamoDB Local: %v", err)
	}
	return emulator.DynamoClient(endpoint), endpoint
}

func sharedDynamo() (string, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		if ep := os.Getenv(EnvTestDynamoEndpoint); ep != "" {
			shared.endpoint = ep
		} else {
			shared.proc, shared.err = emulator.StartDynamoDB(context.Background(), emulator.DynamoOptions{})
			if shared.err == nil {
				shared.endpoint = shared.proc.Endpoint
			}
		}
	}
	return shared.endpoint, shared.err
}

// StopSharedDynamo stops the instance DynamoForTest started, if any. TestMain
// functions that compose several local servers call it after m.Run.
func StopSharedDynamo() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	err := shared.proc.Stop()
	shared.proc, shared.started, shared.endpoint, shared.err = nil, false, "", nil
	return err
}

// DynamoMain runs the package's tests and then stops the shared DynamoDB
// Local. It does not return.
func DynamoMain(m *testing.M) {
	code := m.Run()
	if err := StopSharedDynamo(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// UniqueTableName returns a table name no other test in this binary uses.
func UniqueTableName(prefix string) string {
	tableSeq.Lock()
	defer tableSeq.Unlock()
	tableSeq.n++
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), tableSeq.n)
}

var tableSeq struct {
	sync.Mutex
	n int
}
