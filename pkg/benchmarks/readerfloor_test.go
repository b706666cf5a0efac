package benchmarks

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

// The reader floor runs in a child process: this test binary started again
// with readerFloorEnv naming a file of arguments (endpoint, bucket,
// parallel, then one day partition prefix per line).
const readerFloorEnv = "ELEVATE_BENCH_READER_FLOOR"

func TestMain(m *testing.M) {
	if args := os.Getenv(readerFloorEnv); args != "" {
		lines, err := readerFloor(args)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(lines)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// readerFloor is the least work any reader of the trail must do: list the
// day partitions and GET every object they hold, parallel at a time, over
// a client keeping a connection per worker (as the CLI's does), gunzip it
// and split it into lines. A reader is given a range of days, not keys,
// so it must list; here the GETs start as soon as the first page of keys
// arrives, which no query can beat. It returns the number of lines.
func readerFloor(argsFile string) (int64, error) {
	raw, err := os.ReadFile(argsFile)
	if err != nil {
		return 0, err
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) < 4 {
		return 0, fmt.Errorf("reader floor: %s: want endpoint, bucket, parallel and prefixes", argsFile)
	}
	endpoint, bucket, prefixes := lines[0], lines[1], lines[3:]
	parallel, err := strconv.Atoi(lines[2])
	if err != nil {
		return 0, err
	}
	c := s3.NewFromConfig(aws.Config{}, func(o *s3.Options) {
		*o = emulator.S3Client(endpoint).Options()
		o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = parallel })
	})
	keys := make(chan string, 1024)
	var listErr error
	go func() {
		defer close(keys)
		listErr = inParallel(prefixes, parallel, func(int) func(string) error {
			return func(prefix string) error {
				p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
				for p.HasMorePages() {
					page, err := p.NextPage(context.Background())
					if err != nil {
						return err
					}
					for _, o := range page.Contents {
						keys <- aws.ToString(o.Key)
					}
				}
				return nil
			}
		})
	}()
	var total atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			var zr *gzip.Reader
			br := bufio.NewReaderSize(nil, 64<<10)
			for k := range keys {
				n, err := readObjectLines(c, bucket, k, &zr, br)
				total.Add(n)
				if err != nil {
					failed.Store(err)
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	if listErr != nil {
		return 0, listErr
	}
	return total.Load(), nil
}

func readObjectLines(c *s3.Client, bucket, key string, zr **gzip.Reader, br *bufio.Reader) (int64, error) {
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	if *zr == nil {
		*zr, err = gzip.NewReader(out.Body)
	} else {
		err = (*zr).Reset(out.Body)
	}
	if err != nil {
		return 0, err
	}
	br.Reset(*zr)
	var n int64
	for {
		_, err := br.ReadSlice('\n')
		switch err {
		case nil:
			n++
		case bufio.ErrBufferFull:
			// a line longer than the buffer: read on to its end
		case io.EOF:
			return n, nil
		default:
			return n, err
		}
	}
}

// runReaderFloor runs readerFloor in a child process, as the CLI runs, and
// returns its wall time from process start to exit and its CPU time.
func runReaderFloor(b *testing.B, tr *auditTrail, parallel int) (time.Duration, time.Duration) {
	b.Helper()
	args := filepath.Join(b.TempDir(), "reader-floor-args")
	var prefixes []string
	for d := tr.since; d.Before(tr.until); d = d.AddDate(0, 0, 1) {
		prefixes = append(prefixes, auditrecord.PartitionPrefix(d))
	}
	body := fmt.Sprintf("%s\n%s\n%d\n%s\n", tr.srv.Endpoint, tr.srv.Bucket, parallel, strings.Join(prefixes, "\n"))
	if err := os.WriteFile(args, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), readerFloorEnv+"="+args)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("reader floor: %v\n%s", err, stderr.String())
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err != nil || n != tr.records {
		b.Fatalf("reader floor read %q lines, want %d", out, tr.records)
	}
	return wall, childCPU(cmd.ProcessState)
}
