package registry_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"testing"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
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
// instance, write to disk. The target names a 2 MB module: the raw-exports
// test module is 2.3 MB; the buffer plugin, which links encoding/json, 3.7 MB.
func BenchmarkUpload(b *testing.B) {
	for _, m := range []struct{ name, pkg string }{
		{"raw", "./host/engine/testdata/trap"},
		{"buffer", "./plugins/buffer"},
	} {
		wasm := wasmbuild.ForTest(b, m.pkg)
		b.Run(fmt.Sprintf("%s/size=%.1fMB", m.name, float64(len(wasm))/1e6), func(b *testing.B) {
			ctx := context.Background()
			eng, err := engine.New(ctx, engine.Config{CacheDir: b.TempDir(), Sandboxed: true})
			if err != nil {
				b.Fatal(err)
			}
			defer eng.Close(ctx)
			r, err := registry.Open(ctx, eng, registry.Options{Store: storetest.SQLite(b, b.TempDir()), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close(ctx)
			i := 0
			for b.Loop() {
				i++
				module := withCustomSection(wasm, fmt.Sprint(i))
				if _, created, err := r.Put(ctx, "p", fmt.Sprintf("1.0.%d", i), module, registry.Claim{}); err != nil || !created {
					b.Fatal(created, err)
				}
			}
		})
	}
}
