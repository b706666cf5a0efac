package benchmarks

import (
	"context"
	"sync"
	"sync/atomic"
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

// inParallel hands items to parallel workers, each made by newWorker (so it
// can keep its own buffers), and returns an error one of them met.
func inParallel[T any](items []T, parallel int, newWorker func(worker int) func(T) error) error {
	jobs := make(chan T)
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range parallel {
		work := newWorker(w)
		wg.Go(func() {
			for item := range jobs {
				if err := work(item); err != nil {
					failed.Store(err)
				}
			}
		})
	}
	for _, item := range items {
		jobs <- item
	}
	close(jobs)
	wg.Wait()
	err, _ := failed.Load().(error)
	return err
}
