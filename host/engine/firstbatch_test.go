//go:build linux

package engine_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
)

// newVersion returns wasm with a custom section naming version appended: a
// module that runs the same but that no cache, proof or engine has seen,
// as a plugin's new version is.
func newVersion(wasm []byte, version string) []byte {
	name := "syncrules-test-version"
	content := binary.AppendUvarint(nil, uint64(len(name)))
	content = append(content, name...)
	content = append(content, version...)
	out := append([]byte(nil), wasm...)
	out = append(out, 0) // custom section
	out = binary.AppendUvarint(out, uint64(len(content)))
	return append(out, content...)
}

// BenchmarkFirstBigBatch loads a new version of a module in a sandboxed
// engine with workers, as an upload does (not timed), then times its first
// batch of worker_min_items items, which starts the module's first worker,
// and its second, which reuses it: the default rule and, after make build,
// the buffer example plugin.
func BenchmarkFirstBigBatch(b *testing.B) {
	modules := []struct {
		name string
		wasm func() []byte
	}{
		{"default", func() []byte { return wasmbuild.ForTest(b, defaultModulePkg) }},
		{"buffer", func() []byte {
			wasm, err := os.ReadFile("../../bin/plugins/buffer.wasm")
			if err != nil {
				b.Skip("no bin/plugins/buffer.wasm: run make build")
			}
			return wasm
		}},
	}
	for _, m := range modules {
		b.Run(m.name, func(b *testing.B) { benchFirstBigBatch(b, m.wasm()) })
	}
}

func benchFirstBigBatch(b *testing.B, wasm []byte) {
	ctx := context.Background()
	const minItems = 256
	input, err := benchBatch(minItems).Encode()
	if err != nil {
		b.Fatal(err)
	}
	cfg := engine.Config{Sandboxed: true, CacheDir: b.TempDir(), Worker: engine.WorkerConfig{MinItems: minItems}}
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(ctx)
	var first, second time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		mod, err := eng.Load(ctx, "fresh", newVersion(wasm, fmt.Sprint(i)))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for n, took := range []*time.Duration{&first, &second} {
			var where string
			start := time.Now()
			err := mod.CallInfo(ctx, input, func(_ []byte, info *engine.CallInfo) error { where = info.Where; return nil })
			if err != nil || where != engine.RunWorker {
				b.Fatalf("batch %d ran %q: %v", n+1, where, err)
			}
			*took += time.Since(start)
		}
		b.StopTimer()
		mod.Close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "first-ms")
	b.ReportMetric(float64(second.Microseconds())/float64(b.N), "second-µs")
}
