package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"github.com/elevate-pam/elevate/pkg/auditquery"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

// progressThreshold is how many objects a query must read before progress is
// worth showing.
const progressThreshold = 5

type auditFlags struct {
	since, until, action, actor, request, target, bucket string
	progress                                             bool
	parallel                                             int
	evidence                                             string // export only
}

func (a *app) auditCmd() *cobra.Command {
	query := a.auditSub("query", "Query the audit trail (JSON lines with --output json)", "table")
	export := a.auditSub("export", "Export the audit trail for compliance evidence (CSV by default)", "csv")
	return parent("audit", "Read the audit trail from the audit bucket", query, export, a.auditVerifyCmd())
}

func (a *app) auditSub(name, short, defFormat string) *cobra.Command {
	var af auditFlags
	c := &cobra.Command{
		Use:   name + " --since TIME [--until TIME] [--action A] [--actor EMAIL] [--request ID] [--target 'Type:Scope\\Name']",
		Short: short,
		Long: short + `.

TIME is RFC 3339 (2025-03-10T08:00:00Z), a UTC date (2025-03-10), or a
duration ago (24h, 90m). --action matches exactly, or as a prefix ending in
'*' (request.*). --target is Scope\Name, or Type:Scope\Name for one type.
The bucket is --bucket or $` + EnvAuditBucket + `; credentials, region and
endpoint (AWS_ENDPOINT_URL_S3) come from the standard AWS environment.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runAudit(cmd.Context(), af, defFormat)
		},
	}
	f := c.Flags()
	f.StringVar(&af.since, "since", "", "start of the range (required)")
	f.StringVar(&af.until, "until", "", "end of the range (default now)")
	f.StringVar(&af.action, "action", "", "action, e.g. request.approved or request.*")
	f.StringVar(&af.actor, "actor", "", "actor principal")
	f.StringVar(&af.request, "request", "", "request ID")
	f.StringVar(&af.target, "target", "", `target, Scope\Name or Type:Scope\Name`)
	f.StringVar(&af.bucket, "bucket", "", "audit bucket (default $"+EnvAuditBucket+")")
	f.BoolVar(&af.progress, "progress", false, "report progress on stderr even when it is not a terminal")
	f.IntVar(&af.parallel, "parallel", auditquery.DefaultParallel, "objects read at once")
	if name == "export" {
		f.StringVar(&af.evidence, "evidence", "", "write an evidence bundle to DIR: export.csv, export.jsonl and manifest.json")
	}
	return c
}

// ParseTime reads RFC 3339, a bare UTC date, or a duration before now.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("%q is not a time: use RFC 3339 (2025-03-10T08:00:00Z), a date (2025-03-10) or a duration ago (24h)", s)
}

func (af auditFlags) filter(now time.Time) (auditquery.Filter, error) {
	var f auditquery.Filter
	if af.since == "" {
		return f, usagef("--since is required")
	}
	var err error
	if f.Since, err = ParseTime(af.since, now); err != nil {
		return f, err
	}
	f.Until = now
	if af.until != "" {
		if f.Until, err = ParseTime(af.until, now); err != nil {
			return f, err
		}
		// A bare date as --until means the whole of that day.
		if _, derr := time.Parse("2006-01-02", strings.TrimSpace(af.until)); derr == nil {
			f.Until = f.Until.Add(24*time.Hour - time.Nanosecond)
		}
	}
	f.Action, f.Actor, f.RequestID = af.action, af.actor, af.request
	if af.target != "" {
		if f.Target, err = auditquery.ParseTargetFilter(af.target); err != nil {
			return f, &UsageError{Msg: strings.TrimPrefix(err.Error(), auditquery.ErrInvalidFilter.Error()+": ")}
		}
	}
	if err := f.Validate(); err != nil {
		return f, &UsageError{Msg: strings.TrimPrefix(err.Error(), auditquery.ErrInvalidFilter.Error()+": ")}
	}
	if _, err := auditquery.Partitions(f.Since, f.Until); err != nil {
		return f, &UsageError{Msg: strings.TrimPrefix(err.Error(), auditquery.ErrInvalidFilter.Error()+": ")}
	}
	return f, nil
}

func (a *app) runAudit(ctx context.Context, af auditFlags, defFormat string) error {
	format, err := a.format(defFormat, "table", "json", "csv")
	if err != nil {
		return err
	}
	f, err := af.filter(time.Now().UTC())
	if err != nil {
		return err
	}
	if af.parallel < 1 || af.parallel > maxParallel {
		return usagef("--parallel must be between 1 and %d", maxParallel)
	}
	bucket := af.bucket
	if bucket == "" {
		bucket = strings.TrimSpace(a.env.Getenv(EnvAuditBucket))
	}
	if bucket == "" {
		return usagef("no audit bucket: set %s or pass --bucket", EnvAuditBucket)
	}
	client, err := a.auditClient(ctx)
	if err != nil {
		return err
	}
	opts := auditquery.QueryOptions{Parallel: af.parallel, Progress: a.progress(af.progress)}
	if af.evidence != "" {
		return a.writeEvidence(ctx, client, bucket, f, af.evidence, opts)
	}

	var emit func(auditrecord.Record) error
	var finish func() error
	// One write per record would be one syscall per record.
	buffered := bufio.NewWriterSize(a.env.Stdout, 64<<10)
	out := buffered
	switch format {
	case "json":
		// The stored lines are printed as they are: one record per line.
		opts.Lines = func(l auditquery.Line) error {
			if _, err := out.Write(l); err != nil {
				return err
			}
			return out.WriteByte('\n')
		}
		finish = func() error { return nil }
	case "csv":
		w := auditquery.NewCSVWriter(out)
		emit, finish = w.Write, w.Flush
	default:
		tw := newTable(out)
		row(tw, "TIME", "ACTION", "ACTOR", "TARGET", "REQUEST")
		emit = func(r auditrecord.Record) error {
			target := ""
			if r.Target != nil {
				target = r.Target.Type + " " + r.Target.Scope + `\` + r.Target.Name
			}
			row(tw, r.Time.UTC().Format(time.RFC3339), r.Action, r.Actor, target, r.RequestID)
			return nil
		}
		finish = tw.Flush
	}

	if err := auditquery.QueryWith(ctx, client, bucket, f, emit, opts); err != nil {
		_ = buffered.Flush() // what was emitted before the failure still shows
		return auditError(err)
	}
	if err := finish(); err != nil {
		return err
	}
	return buffered.Flush()
}

// maxParallel caps --parallel: beyond it only the number of open
// connections grows.
const maxParallel = 256

func auditError(err error) error {
	if errors.Is(err, auditquery.ErrInvalidFilter) {
		return &UsageError{Msg: err.Error()}
	}
	return &TransportError{Err: err}
}

func (a *app) auditClient(ctx context.Context) (auditquery.S3Reader, error) {
	newS3 := a.env.NewS3
	if newS3 == nil {
		newS3 = a.defaultS3
	}
	return newS3(ctx)
}

// progress returns the progress printer when it should show, else nil.
func (a *app) progress(forced bool) func(done, total int) {
	if forced || a.env.StderrIsTerminal {
		return a.progressPrinter()
	}
	return nil
}

// progressPrinter overwrites one line on a terminal and prints plain lines
// elsewhere, and stays quiet for small queries.
func (a *app) progressPrinter() func(done, total int) {
	w := a.env.Stderr
	return func(done, total int) {
		if total < progressThreshold {
			return
		}
		if a.env.StderrIsTerminal {
			fmt.Fprintf(w, "\rread %d/%d objects", done, total)
			if done == total {
				fmt.Fprintln(w)
			}
			return
		}
		fmt.Fprintf(w, "read %d/%d objects\n", done, total)
	}
}

// defaultS3 builds a client from the standard AWS environment. A custom
// endpoint (the local stack, or any S3-compatible store) gets path-style
// addressing, and checksums only where the API requires them, which local
// emulators handle.
func (a *app) defaultS3(ctx context.Context) (auditquery.S3Reader, error) {
	// Keep a connection per --parallel worker alive: the SDK's default of 10
	// idle connections per host would reconnect on every round of GETs.
	httpClient := awshttp.NewBuildableClient().WithTimeout(a.timeout).
		WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = maxParallel })
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithHTTPClient(httpClient))
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	custom := a.env.Getenv("AWS_ENDPOINT_URL_S3") != "" || a.env.Getenv("AWS_ENDPOINT_URL") != ""
	if custom && cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Region == "" {
		return nil, usagef("no AWS region: set AWS_REGION")
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if custom {
			o.UsePathStyle = true
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	}), nil
}
