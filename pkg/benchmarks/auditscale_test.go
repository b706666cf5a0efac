package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/audit"
	"github.com/elevate-pam/elevate/pkg/auditquery"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
	"github.com/elevate-pam/elevate/pkg/emulator"
)

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// buildCLI compiles cmd/elevate once: the query is measured as a user runs
// it, in its own process, so its peak RSS is the CLI's alone.
func buildCLI(b *testing.B) string {
	cliOnce.Do(func() {
		root, err := emulator.RepoRoot()
		if err != nil {
			cliErr = err
			return
		}
		dir, err := os.MkdirTemp("", "elevate-cli-")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "elevate")
		cmd := exec.Command("go", "build", "-trimpath", "-o", cliPath, "./cmd/elevate")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = &buildError{fn: "cmd/elevate", out: string(out), err: err}
		}
	})
	if cliErr != nil {
		b.Fatal(cliErr)
	}
	return cliPath
}

// auditTrail is a generated audit bucket.
type auditTrail struct {
	srv          *emulator.S3Server
	keys         []string
	records      int
	perDay       int // records in each day but the last
	since, until time.Time
}

var benchActions = []string{auditrecord.ActionAuthorizeDenied, auditrecord.ActionAuthorizeAllowed, auditrecord.ActionAuthorizeAllowed,
	auditrecord.ActionAuthorizeAllowed, auditrecord.ActionRequestCreated, auditrecord.ActionRequestApproved, auditrecord.ActionGrantCreated}

// generateTrail fills a fresh in-process S3 with records spread evenly over
// objects and days, each object a gzip JSON-lines batch made by the audit
// writer's own encoder, in time order within its day as the stream writes
// them. Records carry random 32-hex ids like stream eventIDs, so the gzip
// ratio is realistic. Objects are encoded and stored by one worker per CPU.
func generateTrail(b *testing.B, records, objects, days int) *auditTrail {
	b.Helper()
	srv, err := emulator.StartS3("elevate-audit-scale")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	c := emulator.S3Client(srv.Endpoint)
	since := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -days+1)
	tr := &auditTrail{srv: srv, keys: make([]string, objects), records: records, since: since, until: since.AddDate(0, 0, days).Add(-time.Nanosecond)}
	perObject := records / objects
	perDay := objects / days
	tr.perDay = perDay * perObject
	if perObject == 0 || perDay == 0 {
		b.Fatalf("%d records in %d objects over %d days: too few to spread", records, objects, days)
	}
	objectIDs := make([]int, objects)
	for o := range objectIDs {
		objectIDs[o] = o
	}
	err = inParallel(objectIDs, runtime.GOMAXPROCS(0)*2, func(w int) func(int) error {
		rng := rand.New(rand.NewPCG(uint64(w), 11))
		return func(o int) error {
			day := since.AddDate(0, 0, min(o/perDay, days-1))
			slot := time.Duration(o%perDay) * (24 * time.Hour / time.Duration(perDay))
			n := perObject
			if o == objects-1 {
				n = records - perObject*(objects-1)
			}
			recs := make([]auditrecord.Record, n)
			for i := range recs {
				action := benchActions[rng.IntN(len(benchActions))]
				actor := fmt.Sprintf("user%d@example.com", rng.IntN(5000))
				recs[i] = auditrecord.Record{
					ID:        fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()),
					Time:      day.Add(slot + time.Duration(i)*time.Millisecond),
					Action:    action,
					Actor:     actor,
					Target:    &auditrecord.Target{Type: "Task", Scope: "Exchange", Name: fmt.Sprintf("Cmdlet-%d", rng.IntN(30))},
					RequestID: fmt.Sprintf("%016x", rng.Uint64()),
					Detail:    map[string]any{"reason": "grant", "askedBy": actor},
				}
			}
			body, err := audit.Encode(recs)
			if err == nil {
				key := auditrecord.ObjectKey(day, fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64()))
				tr.keys[o] = key
				_, err = c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
			}
			return err
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return tr
}

// floorGET reads every object, parallel at a time, discarding the bodies:
// the least any query of these objects must spend.
func floorGET(b *testing.B, c *s3.Client, bucket string, keys []string, parallel int) time.Duration {
	b.Helper()
	start := time.Now()
	err := inParallel(keys, parallel, func(int) func(string) error {
		return func(k string) error {
			out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
			if err == nil {
				_, err = io.Copy(io.Discard, out.Body)
				out.Body.Close()
			}
			return err
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// childCPU is a finished child's user and system CPU time.
func childCPU(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

// lineCounter counts the records the CLI prints (one JSON line each).
type lineCounter struct{ n int }

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n += bytes.Count(p, []byte{'\n'})
	return len(p), nil
}

// runQuery runs `elevate audit query -o json` over [since, until] of the
// trail as a child process and returns its wall time, its CPU time (user
// and system), peak RSS (MB, sampled: watchHWM) and the records it printed.
func runQuery(b *testing.B, cli string, tr *auditTrail, parallel int, since, until time.Time) (time.Duration, time.Duration, float64, int) {
	b.Helper()
	dir := b.TempDir()
	cmd := exec.Command(cli, "audit", "query", "-o", "json", "--parallel", fmt.Sprint(parallel),
		"--since", since.Format(time.RFC3339Nano), "--until", until.Format(time.RFC3339Nano))
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"ELEVATE_AUDIT_BUCKET=" + tr.srv.Bucket, "AWS_ENDPOINT_URL_S3=" + tr.srv.Endpoint, "AWS_REGION=" + emulator.Region,
		"AWS_ACCESS_KEY_ID=" + emulator.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + emulator.SecretAccessKey,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	var lines lineCounter
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &lines, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	peak := make(chan int64, 1)
	go func() { peak <- watchHWM(cmd.Process.Pid, done) }()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	if err != nil {
		b.Fatalf("audit query: %v\n%s", err, stderr.String())
	}
	hwm := <-peak
	if hwm == 0 {
		b.Fatal("the query ended before its memory could be sampled")
	}
	return wall, childCPU(cmd.ProcessState), float64(hwm) / 1024, lines.n
}

// watchHWM samples the VmHWM (peak RSS, KiB) of a running process every
// 2 ms until done, and returns the last value read: the kernel keeps the
// high-water mark, so only growth in the last 2 ms can be missed. The
// child's rusage cannot be used: exec through Go's vfork-style clone
// leaves the parent's (this process's, holding the whole bucket)
// high-water mark in the child's ru_maxrss.
func watchHWM(pid int, done <-chan struct{}) int64 {
	var hwm int64
	path := fmt.Sprintf("/proc/%d/status", pid)
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
					var kb int64
					if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb); err == nil && kb > hwm {
						hwm = kb
					}
				}
			}
		}
		select {
		case <-done:
			return hwm
		case <-t.C:
		}
	}
}

// BenchmarkAuditQueryScale measures `elevate audit query` over a generated
// trail against two floors, rotating the order of the three in each round:
// the reader floor, the least work any reader must do (the same listing
// of the day partitions and the same GETs, overlapped, over the same kind
// of client, gunzip and line split, in its own process like the query:
// runReaderFloor), and the plain-GET floor (the GETs alone,
// bodies discarded, in this process). Targets: wall ≤ 1.5 × the reader
// floor and peak RSS ≤ 256 MB, at 1,000,000 records in 5,000 objects over
// 30 days; the 100,000-record run shows how both grow. Sizes:
// AUDIT_RECORDS (comma-separated list), AUDIT_RECORDS_PER_OBJECT (200),
// AUDIT_DAYS (30), AUDIT_PARALLEL (16).
func BenchmarkAuditQueryScale(b *testing.B) {
	cli := buildCLI(b)
	sizes := os.Getenv("AUDIT_RECORDS")
	if sizes == "" {
		sizes = "100000,1000000"
	}
	perObject := envInt(b, "AUDIT_RECORDS_PER_OBJECT", 200)
	days := envInt(b, "AUDIT_DAYS", 30)
	parallel := envInt(b, "AUDIT_PARALLEL", auditquery.DefaultParallel)
	// AUDIT_BASELINE_CLI names another build of the CLI (say, of the
	// previous commit) to run as a fourth side in every round, so a change
	// is measured before and after in one run: *_baseline_* figures.
	baseline := os.Getenv("AUDIT_BASELINE_CLI")
	for _, s := range strings.Split(sizes, ",") {
		var records int
		if _, err := fmt.Sscan(s, &records); err != nil || records <= 0 {
			b.Fatalf("AUDIT_RECORDS: %q is not a count", s)
		}
		b.Run(fmt.Sprintf("records=%d", records), func(b *testing.B) {
			objects := max(records/perObject, days)
			start := time.Now()
			tr := generateTrail(b, records, objects, days)
			b.Logf("generated %d records in %d objects over %d days in %v", records, objects, days, time.Since(start).Round(time.Millisecond))
			// The floor's client keeps a connection per worker, as the CLI's does.
			c := s3.NewFromConfig(aws.Config{}, func(o *s3.Options) {
				*o = emulator.S3Client(tr.srv.Endpoint).Options()
				o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = parallel })
			})
			floorGET(b, c, tr.srv.Bucket, tr.keys, parallel) // warm every side
			runReaderFloor(b, tr, parallel)
			var getFloors, floors, walls, floorCPUs, cpus []time.Duration
			var oldWalls, oldCPUs []time.Duration
			var peak float64
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				sides := []func(){
					func() { getFloors = append(getFloors, floorGET(b, c, tr.srv.Bucket, tr.keys, parallel)) },
					func() {
						wall, cpu := runReaderFloor(b, tr, parallel)
						floors, floorCPUs = append(floors, wall), append(floorCPUs, cpu)
					},
					func() {
						wall, cpu, rss, n := runQuery(b, cli, tr, parallel, tr.since, tr.until)
						if n != records {
							b.Fatalf("the query printed %d records, want %d", n, records)
						}
						walls, cpus = append(walls, wall), append(cpus, cpu)
						peak = max(peak, rss)
					},
				}
				if baseline != "" {
					sides = append(sides, func() {
						wall, cpu, _, n := runQuery(b, baseline, tr, parallel, tr.since, tr.until)
						if n != records {
							b.Fatalf("the baseline query printed %d records, want %d", n, records)
						}
						oldWalls, oldCPUs = append(oldWalls, wall), append(oldCPUs, cpu)
					})
				}
				for k := range sides {
					sides[(i+k)%len(sides)]()
				}
			}
			b.StopTimer()
			wall, floor, getFloor := quantile(walls, 0.5), quantile(floors, 0.5), quantile(getFloors, 0.5)
			cpu, floorCPU := quantile(cpus, 0.5), quantile(floorCPUs, 0.5)
			name := fmt.Sprintf("audit_query_%dk", records/1000)
			if records == 1_000_000 {
				name = "audit_query"
			}
			figure(b, name+"_floor_s", round3(floor.Seconds()), "floor-s")
			figure(b, name+"_get_floor_s", round3(getFloor.Seconds()), "get-floor-s")
			figure(b, name+"_wall_s", round3(wall.Seconds()), "wall-s")
			figure(b, name+"_floor_ratio", round3(float64(wall)/float64(floor)), "floor-ratio")
			figure(b, name+"_get_floor_ratio", round3(float64(wall)/float64(getFloor)), "get-floor-ratio")
			// CPU time (user + system) of each child: what the query spends
			// beyond the floor, less moved by other work on the machine than
			// the wall times are.
			figure(b, name+"_cpu_s", round3(cpu.Seconds()), "cpu-s")
			figure(b, name+"_floor_cpu_s", round3(floorCPU.Seconds()), "floor-cpu-s")
			figure(b, name+"_cpu_ratio", round3(float64(cpu)/float64(floorCPU)), "cpu-ratio")
			figure(b, name+"_peak_rss_mb", round3(peak), "peak-rss-MB")
			figure(b, name+"_records_per_s", float64(int(float64(records)/wall.Seconds())), "records/s")
			if baseline != "" {
				oldWall, oldCPU := quantile(oldWalls, 0.5), quantile(oldCPUs, 0.5)
				figure(b, name+"_baseline_wall_s", round3(oldWall.Seconds()), "baseline-wall-s")
				figure(b, name+"_baseline_floor_ratio", round3(float64(oldWall)/float64(floor)), "baseline-floor-ratio")
				figure(b, name+"_baseline_cpu_ratio", round3(float64(oldCPU)/float64(floorCPU)), "baseline-cpu-ratio")
			}
			// The same trail queried over its first three days only: peak
			// memory follows the busiest day, not the length of the range.
			if days > 3 {
				_, _, rss, n := runQuery(b, cli, tr, parallel, tr.since, tr.since.AddDate(0, 0, 3).Add(-time.Nanosecond))
				if n != 3*tr.perDay {
					b.Fatalf("the three-day query printed %d records, want %d", n, 3*tr.perDay)
				}
				figure(b, name+"_3_days_peak_rss_mb", round3(rss), "3-days-peak-rss-MB")
			}
		})
	}
}
