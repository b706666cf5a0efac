package benchmarks

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/pkg/emulator"
	"github.com/elevate-pam/elevate/pkg/emulator/lambdarie"
	"github.com/elevate-pam/elevate/pkg/manifest"
)

// BenchmarkLambdaInit starts each function's bootstrap (built as make build
// builds it, for this machine) under AWS's Lambda Runtime Interface Emulator
// b.N times. The emulator's own "Init Duration" times only its hand-off of
// the init to the sandbox, which is asynchronous (it reads about 0.02 ms
// whatever the function does), so it is reported as
// lambda_rie_reported_init_ms_<function> for reference only. The figure,
// lambda_init_ms_<function>, is the median of the first invoke's round trip
// (process start, init, the runtime's first request for work, the invoke)
// less the second's (the invoke alone). Init reads only the environment, so
// no emulator is needed behind it.
func BenchmarkLambdaInit(b *testing.B) {
	ctx := context.Background()
	root, err := emulator.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	rie, err := lambdarie.Tool(ctx, root)
	if err != nil {
		b.Fatal(err)
	}
	bins, err := lambdarie.Build(ctx, root, manifest.Functions())
	if err != nil {
		b.Fatal(err)
	}
	for _, fn := range manifest.Functions() {
		bin := bins[fn]
		// API functions answer an empty event 404 (rotation refuses it as
		// naming no step, before any call); stream functions get a
		// settings change, which none of them acts on (an event without
		// records would start access's sweep). Neither does any I/O, so the
		// second invoke costs what the first does less the init.
		payload := []byte(`{}`)
		if slices.Contains(manifest.StreamFunctions, fn) {
			if payload, err = os.ReadFile(filepath.Join(root, "events", "stream", "settings-insert-and-direct-write.json")); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fn, func(b *testing.B) {
			env := lambdarie.EnvList(lambdarie.LocalEnv(fn, "http://127.0.0.1:9", "table"))
			var inits, reported []time.Duration
			for b.Loop() {
				r, err := lambdarie.Start(ctx, rie, bin, env)
				if err != nil {
					b.Fatal(err)
				}
				// The first invoke runs init, the second does not.
				var trips [2]time.Duration
				for i := range trips {
					start := time.Now()
					if status, body, err := r.Invoke(ctx, payload); err != nil || status != 200 {
						r.Stop()
						b.Fatalf("invoke: %d %s %v\n%s", status, body, err, r.Output())
					}
					trips[i] = time.Since(start)
				}
				d, err := r.InitDuration()
				r.Stop()
				if err != nil {
					b.Fatal(err)
				}
				inits = append(inits, trips[0]-trips[1])
				reported = append(reported, d)
			}
			figure(b, "lambda_init_ms_"+fn, median(inits), "init-ms")
			figure(b, "lambda_rie_reported_init_ms_"+fn, median(reported), "rie-init-ms")
		})
	}
}

func median(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Microseconds()) / 1000
}
