package benchmarks

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/auditquery"
	"github.com/elevate-pam/elevate/pkg/auditrecord"
)

func auditFilter(since time.Time) auditquery.Filter {
	return auditquery.Filter{Since: since.Add(-time.Second), Until: since.Add(time.Hour), Action: "group.created"}
}

func queryAudit(ctx context.Context, c *s3.Client, bucket string, f auditquery.Filter, each func(map[string]any)) error {
	return auditquery.Query(ctx, c, bucket, f, func(r auditrecord.Record) error {
		each(r.Detail)
		return nil
	}, nil)
}
