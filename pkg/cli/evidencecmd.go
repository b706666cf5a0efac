package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/elevate-pam/elevate/pkg/auditquery"
)

// VerifyFailedError is a bundle that did not verify; the problems have
// been printed.
type VerifyFailedError struct{ Problems int }

func (e *VerifyFailedError) Error() string {
	return fmt.Sprintf("the evidence bundle does not verify: %d problem(s)", e.Problems)
}

func (a *app) writeEvidence(ctx context.Context, client auditquery.S3Reader, bucket string, f auditquery.Filter, dir string, opts auditquery.QueryOptions) error {
	m, err := auditquery.WriteEvidence(ctx, client, bucket, f, dir, opts)
	if errors.Is(err, auditquery.ErrBundleExists) {
		return &UsageError{Msg: err.Error()}
	}
	if err != nil {
		return auditError(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, auditquery.ManifestFile))
	if err != nil {
		return err
	}
	digest := sha256.Sum256(raw)
	// The manifest's own digest is printed, not stored: keep it apart from
	// the bundle (a ticket, a signed note) to pin the manifest itself.
	fmt.Fprintf(a.env.Stdout, "wrote %s: %d records from %d objects\nmanifest sha256 %s\n",
		dir, m.Records, len(m.Objects), hex.EncodeToString(digest[:]))
	return nil
}

func (a *app) auditVerifyCmd() *cobra.Command {
	var bucket string
	var parallel int
	var progress bool
	c := &cobra.Command{
		Use:   "verify DIR",
		Short: "Check an evidence bundle (audit export --evidence) against the bucket",
		Long: `Check an evidence bundle written by 'audit export --evidence DIR'.

Every export file is hashed and compared with the manifest; every source
object is read again and its version ID, ETag, size, SHA-256, Object Lock
mode and retain-until date and record counts compared; and the export is
regenerated from the objects with the manifest's filter and compared. Each
difference is printed naming the object or file, and the exit code is ` + fmt.Sprint(ExitVerifyFailed) + `.
Objects in the range that the manifest does not name are reported as notes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if parallel < 1 || parallel > maxParallel {
				return usagef("--parallel must be between 1 and %d", maxParallel)
			}
			if _, err := auditquery.ReadManifest(args[0]); err != nil {
				return &UsageError{Msg: err.Error()}
			}
			client, err := a.auditClient(cmd.Context())
			if err != nil {
				return err
			}
			v, err := auditquery.Verify(cmd.Context(), client, args[0], bucket, auditquery.QueryOptions{Parallel: parallel, Progress: a.progress(progress)})
			if err != nil {
				return auditError(err)
			}
			for _, n := range v.Notes {
				fmt.Fprintln(a.env.Stderr, "note: "+n)
			}
			for _, p := range v.Problems {
				fmt.Fprintln(a.env.Stdout, "FAIL "+p)
			}
			if !v.OK() {
				return &VerifyFailedError{Problems: len(v.Problems)}
			}
			fmt.Fprintf(a.env.Stdout, "OK %s: %d objects, %d records, every digest matches\n", args[0], v.Objects, v.Records)
			return nil
		},
	}
	c.Flags().StringVar(&bucket, "bucket", "", "read the objects from this bucket instead of the manifest's")
	c.Flags().IntVar(&parallel, "parallel", auditquery.DefaultParallel, "objects read at once")
	c.Flags().BoolVar(&progress, "progress", false, "report progress on stderr even when it is not a terminal")
	return c
}
