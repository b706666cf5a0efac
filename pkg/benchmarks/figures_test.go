package benchmarks

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// figure reports a result both as a benchmark metric and, when
// $BENCH_FIGURES names a file, as a "name=value" line appended to it, which
// is how scripts/bench.sh ends with one line per figure.
func figure(b *testing.B, name string, value float64, unit string) {
	b.Helper()
	b.ReportMetric(value, unit)
	path := os.Getenv("BENCH_FIGURES")
	if path == "" {
		return
	}
	figuresMu.Lock()
	defer figuresMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s=%s\n", name, strconv.FormatFloat(value, 'f', -1, 64)); err != nil {
		b.Fatal(err)
	}
}

var figuresMu sync.Mutex

// envInt reads a size override, so `AUDIT_RECORDS=10000 make bench` is a
// quick run.
func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q is not a positive integer", name, s)
	}
	return n
}

func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	b.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q is not a positive duration", name, s)
	}
	return d
}

// quantile is the q-th quantile (0..1) of d, nearest rank.
func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// round3 keeps figures readable in the closing lines.
func round3(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 3, 64), 64)
	return f
}
