package benchmarks

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/elevate-pam/elevate/pkg/audit"
)

func auditFilter(since time.Time) audit.Filter {
	return audit.Filter{Since: since.Add(-time.Second), Until: since.Add(time.Hour), Action: "group.created"}
}

func queryAudit(ctx context.Context, c *s3.Client, bucket string, f audit.Filter, each func(map[string]any)) error {
	return audit.Query(ctx, c, bucket, f, func(r audit.Record) error {
		each(r.Detail)
		return nil
	}, nil)
}
