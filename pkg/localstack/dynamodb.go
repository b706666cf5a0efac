package localstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/elevate-pam/elevate/pkg/budget"
)

// Region and static credentials the local clients use. DynamoDB Local keys
// its data by access key and region unless -sharedDb is given; we pass it, so
// these values only need to produce a valid SigV4 signature.
const (
	Region          = "us-east-1"
	AccessKeyID     = "local"
	SecretAccessKey = "local"
)

// EnvTestDynamoEndpoint, when set, makes DynamoForTest use an already running
// DynamoDB Local instead of starting one (handy on a loaded machine).
const EnvTestDynamoEndpoint = "ELEVATE_TEST_DYNAMODB_ENDPOINT"

// DynamoOptions configures StartDynamoDB.
type DynamoOptions struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// LogWriter receives java's stdout and stderr; nil discards them.
	LogWriter io.Writer
	// ReadyTimeout bounds the wait for the first successful call; 0 means 90s
	// (a cold JVM on a busy machine is slow).
	ReadyTimeout time.Duration
}

// Process is a running local server. Stop kills its whole process group.
type Process struct {
	Endpoint string

	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// EmulatorDir is where scripts/deps.sh installs DynamoDBLocal.jar.
func EmulatorDir() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "scripts", "node_modules", "amplify-dynamodb-simulator", "emulator"), nil
}

// StartDynamoDB runs DynamoDB Local in memory and returns once it answers a
// real ListTables call.
func StartDynamoDB(ctx context.Context, opts DynamoOptions) (*Process, error) {
	dir, err := EmulatorDir()
	if err != nil {
		return nil, err
	}
	jar := filepath.Join(dir, "DynamoDBLocal.jar")
	if _, err := os.Stat(jar); err != nil {
		return nil, fmt.Errorf("localstack: DynamoDB Local is not installed (%s missing): run scripts/deps.sh", jar)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, errors.New("localstack: java is not on PATH: run scripts/deps.sh (it installs openjdk-17-jre-headless)")
	}
	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 90 * time.Second
	}
	// A free port can be taken by someone else between our probe and java's
	// bind; java then exits at once, and we retry on another port.
	attempts := 1
	if opts.Port == 0 {
		attempts = 3
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		port := opts.Port
		if port == 0 {
			if port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		p, err := startDynamoOnce(ctx, dir, jar, port, opts.LogWriter, timeout)
		if err == nil {
			return p, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

var errExited = errors.New("exited before it was ready")

// DynamoDB Local's options beyond the port. -cors names an allow-list no
// browser origin can match ("none" is not an origin), so no web page may call
// it: its documented default is "*". -disableTelemetry keeps it from calling
// out to AWS.
var dynamoArgs = []string{"-inMemory", "-sharedDb", "-cors", "none", "-disableTelemetry"}

// loopbackLauncher is the Java source of the main class that makes DynamoDB
// Local listen on 127.0.0.1 only: the jar has no option for its bind address
// and listens on every interface by default.
const (
	loopbackLauncher      = "pkg/localstack/dynamodblocal/LoopbackDynamoDBLocal.java"
	loopbackLauncherClass = "LoopbackDynamoDBLocal"
)

// launcherClasses returns a directory holding the compiled launcher. It is
// compiled once per version of its source into the user's cache, with the
// compiler module of the JVM itself (a JRE carries it; no javac needed):
// compiling it at every start would cost each test binary seconds of CPU.
// Concurrent first starts each compile into a directory of their own and
// the first rename wins.
func launcherClasses(root, jar string) (string, error) {
	srcPath := filepath.Join(root, filepath.FromSlash(loopbackLauncher))
	src, err := os.ReadFile(srcPath)
	if err != nil {
		return "", fmt.Errorf("localstack: %w", err)
	}
	sum := sha256.Sum256(src)
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "elevate", "dynamodblocal-"+hex.EncodeToString(sum[:8]))
	class := filepath.Join(dir, loopbackLauncherClass+".class")
	if _, err := os.Stat(class); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("localstack: launcher cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		return "", fmt.Errorf("localstack: launcher cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	// The jar's manifest Class-Path brings DynamoDB Local's libraries.
	out, err := exec.Command("java", "-m", "jdk.compiler/com.sun.tools.javac.Main", "-d", tmp, "-cp", jar, srcPath).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("localstack: compile %s: %w: %s", loopbackLauncher, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(class); statErr != nil {
			return "", fmt.Errorf("localstack: launcher cache: %w", err)
		}
	}
	return dir, nil
}

func startDynamoOnce(ctx context.Context, dir, jar string, port int, logw io.Writer, timeout time.Duration) (*Process, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	classes, err := launcherClasses(root, jar)
	if err != nil {
		return nil, err
	}
	args := []string{
		"-Djava.library.path=" + filepath.Join(dir, "DynamoDBLocal_lib"),
		"-Djava.net.preferIPv4Stack=true",
		"-Delevate.dynamodb.host=127.0.0.1",
		"-cp", classes + string(filepath.ListSeparator) + jar,
		loopbackLauncherClass,
		"-port", strconv.Itoa(port),
	}
	cmd := exec.Command("java", append(args, dynamoArgs...)...)
	cmd.Dir = dir
	if logw == nil {
		logw = io.Discard
	}
	cmd.Stdout, cmd.Stderr = logw, logw
	// Its own process group, so Stop can kill java and anything it forks;
	// Pdeathsig, so a test binary killed by a timeout or Ctrl-C takes it along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localstack: start DynamoDB Local: %w", err)
	}
	p := &Process{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, timeout); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("localstack: DynamoDB Local on port %d: %w", port, err)
	}
	return p, nil
}

func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := DynamoClient(p.Endpoint, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	for {
		callCtx, callCancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := client.ListTables(callCtx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)})
		callCancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return errExited
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// Stop kills the process group and waits for java to exit. It is safe to call
// more than once.
func (p *Process) Stop() error {
	if p == nil {
		return nil
	}
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			p.stopErr = fmt.Errorf("localstack: kill process group: %w", err)
		}
		<-p.exited
	})
	return p.stopErr
}

// Pause stops the process group (SIGSTOP), as a dependency that stalls: its
// port still accepts connections, and nothing answers them until Resume.
func (p *Process) Pause() error { return p.signalGroup(syscall.SIGSTOP) }

// Resume continues a paused process group (SIGCONT).
func (p *Process) Resume() error { return p.signalGroup(syscall.SIGCONT) }

func (p *Process) signalGroup(sig syscall.Signal) error {
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("localstack: signal %v to process group %d: %w", sig, p.cmd.Process.Pid, err)
	}
	return nil
}

// Exited is closed once the process has exited (for fault-injection tests).
func (p *Process) Exited() <-chan struct{} { return p.exited }

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localstack: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DynamoClient returns a client for a local endpoint: static credentials,
// us-east-1, the functions' retry policy and HTTP timeouts (pkg/budget), and
// response checksum validation off because DynamoDB Local's CRC32 headers do
// not match what the SDK computes. Never use it for real AWS.
func DynamoClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	opts := dynamodb.Options{
		Region:                          Region,
		Credentials:                     credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint:                    aws.String(endpoint),
		DisableValidateResponseChecksum: true,
		Retryer:                         budget.Retryer(),
		HTTPClient:                      budget.HTTPClient(),
	}
	return dynamodb.New(opts, optFns...)
}

// StreamsClient returns a DynamoDB Streams client for a local endpoint.
func StreamsClient(endpoint string, optFns ...func(*dynamodbstreams.Options)) *dynamodbstreams.Client {
	opts := dynamodbstreams.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
	}
	return dynamodbstreams.New(opts, optFns...)
}

// One DynamoDB Local per test binary, started on first use.
var shared struct {
	mu       sync.Mutex
	started  bool
	endpoint string
	proc     *Process
	err      error
}

// DynamoForTest returns a client for this test binary's shared DynamoDB Local,
// starting it on first use. Tests must create their own uniquely named tables
// (see UniqueTableName): the instance is shared by every test in the package.
//
// Every package that uses it stops it from TestMain:
//
//	func TestMain(m *testing.M) { localstack.DynamoMain(m) }
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
	return DynamoClient(endpoint), endpoint
}

func sharedDynamo() (string, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		if ep := os.Getenv(EnvTestDynamoEndpoint); ep != "" {
			shared.endpoint = ep
		} else {
			shared.proc, shared.err = StartDynamoDB(context.Background(), DynamoOptions{})
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

// WatchStream reads every record of a DynamoDB Local stream from the trim
// horizon, following new shards, and calls fn for each until fn returns true
// (WatchStream then returns nil) or ctx ends.
func WatchStream(ctx context.Context, streams *dynamodbstreams.Client, streamArn string, fn func(streamtypes.Record) bool) error {
	iters := map[string]*string{} // shard ID → next iterator; nil once closed
	for {
		desc, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamArn)})
		if err != nil {
			return fmt.Errorf("localstack: describe stream: %w", err)
		}
		for _, sh := range desc.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if _, known := iters[id]; known {
				continue
			}
			it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(streamArn),
				ShardId: sh.ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
			if err != nil {
				return fmt.Errorf("localstack: shard iterator: %w", err)
			}
			iters[id] = it.ShardIterator
		}
		for id, it := range iters {
			if it == nil {
				continue
			}
			out, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
			if err != nil {
				return fmt.Errorf("localstack: get records: %w", err)
			}
			for _, r := range out.Records {
				if fn(r) {
					return nil
				}
			}
			iters[id] = out.NextShardIterator
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// IsTTLRemove reports whether a stream record is a deletion by DynamoDB's
// TTL process rather than by a caller.
func IsTTLRemove(r streamtypes.Record) bool {
	return r.EventName == streamtypes.OperationTypeRemove && r.UserIdentity != nil &&
		aws.ToString(r.UserIdentity.Type) == "Service" && aws.ToString(r.UserIdentity.PrincipalId) == "dynamodb.amazonaws.com"
}
