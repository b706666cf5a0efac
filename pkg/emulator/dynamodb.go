package emulator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

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
		return nil, fmt.Errorf("emulator: DynamoDB Local is not installed (%s missing): run scripts/deps.sh", jar)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, errors.New("emulator: java is not on PATH: run scripts/deps.sh (it installs openjdk-17-jre-headless)")
	}
	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 90 * time.Second
	}
	return onFreePort(ctx, opts.Port, func(port int) (*Process, error) {
		return startDynamoOnce(ctx, dir, jar, port, opts.LogWriter, timeout)
	})
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
	loopbackLauncher      = "pkg/emulator/dynamodblocal/LoopbackDynamoDBLocal.java"
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
		return "", fmt.Errorf("emulator: %w", err)
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
		return "", fmt.Errorf("emulator: launcher cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		return "", fmt.Errorf("emulator: launcher cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	// The jar's manifest Class-Path brings DynamoDB Local's libraries.
	out, err := exec.Command("java", "-m", "jdk.compiler/com.sun.tools.javac.Main", "-d", tmp, "-cp", jar, srcPath).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("emulator: compile %s: %w: %s", loopbackLauncher, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(class); statErr != nil {
			return "", fmt.Errorf("emulator: launcher cache: %w", err)
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
		return nil, fmt.Errorf("emulator: start DynamoDB Local: %w", err)
	}
	p := &Process{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, timeout); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("emulator: DynamoDB Local on port %d: %w", port, err)
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
			p.stopErr = fmt.Errorf("emulator: kill process group: %w", err)
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

// pooled keeps ConcurrentCallers idle connections on an SDK HTTP client.
func pooled(c aws.HTTPClient) aws.HTTPClient {
	if b, ok := c.(*awshttp.BuildableClient); ok {
		return b.WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConns, t.MaxIdleConnsPerHost = ConcurrentCallers, ConcurrentCallers
		})
	}
	return c
}

// ConcurrentCallers is how many concurrent callers a local client keeps a
// connection for: the load test's and the benchmarks' largest client counts.
const ConcurrentCallers = 256

// DynamoClient returns a client for a local endpoint: static credentials,
// us-east-1, the functions' retry policy (pkg/budget), and response checksum
// validation off because DynamoDB Local's CRC32 headers do not match what
// the SDK computes. Not budget's per-attempt HTTP timeouts: on shared cores
// DynamoDB Local can take longer than DynamoDB ever would to answer a call
// it will answer, and the caller's context bounds the call anyway. Its
// connection pool keeps ConcurrentCallers connections alive: the local stack
// serves many callers from one process (a Lambda instance serves one), and
// the SDK's default of 10 idle connections per host would make every caller
// beyond the tenth open a new one. Never use it for real AWS.
func DynamoClient(endpoint string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	opts := dynamodb.Options{
		Region:                          Region,
		Credentials:                     credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		BaseEndpoint:                    aws.String(endpoint),
		DisableValidateResponseChecksum: true,
		Retryer:                         budget.Retryer(),
		HTTPClient:                      pooled(awshttp.NewBuildableClient()),
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
