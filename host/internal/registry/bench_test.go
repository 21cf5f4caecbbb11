package registry_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"testing"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/wasmbuild"
)

// withCustomSection appends a custom section, which changes the module's
// hash and so misses the compilation cache, as a new upload does.
func withCustomSection(wasm []byte, payload string) []byte {
	name := "syncrules-bench"
	body := binary.AppendUvarint(nil, uint64(len(name)))
	body = append(body, name...)
	body = append(body, payload...)
	out := append([]byte(nil), wasm...)
	out = append(out, 0) // custom section id
	out = binary.AppendUvarint(out, uint64(len(body)))
	return append(out, body...)
}

// BenchmarkUpload installs a module the compilation cache has never seen,
// as PUT /v1/plugins/{name}/versions/{version} does: compile, check, first
// instance, write to disk. The buffer plugin is about 3.7 MB, more than the
// 2 MB the target names.
func BenchmarkUpload(b *testing.B) {
	ctx := context.Background()
	wasm := wasmbuild.ForTest(b, "./plugins/buffer")
	eng, err := engine.New(ctx, engine.Config{CacheDir: b.TempDir(), Sandboxed: true})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close(ctx)
	r, err := registry.Open(ctx, eng, registry.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(ctx)
	i := 0
	for b.Loop() {
		i++
		module := withCustomSection(wasm, fmt.Sprint(i))
		if _, created, err := r.Put(ctx, "buffer", fmt.Sprintf("1.0.%d", i), module); err != nil || !created {
			b.Fatal(created, err)
		}
	}
	b.ReportMetric(float64(len(wasm))/(1<<20), "MiB")
}
