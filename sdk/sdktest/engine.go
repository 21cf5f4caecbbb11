package sdktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
	"github.com/syncrules/syncrules/sdk"
)

// Check runs rule natively and, built from the Go package in dir (usually
// "."), through the host's engine exactly as the server runs a plugin, and
// fails tb unless both produce the same output byte for byte. It returns
// the result, or the error both runs failed the batch with.
//
// The package is built once per test binary; compiled modules are cached
// under the user's cache directory, so later runs start fast.
func Check(tb testing.TB, rule sdk.Rule, dir string, b Batch) (*Result, error) {
	tb.Helper()
	input, err := b.Encode()
	if err != nil {
		tb.Fatalf("sdktest: %v", err)
	}
	native := slices.Clone(sdk.NewRunner(rule).Run(input))
	mod := loadModule(tb, dir)
	var wasm []byte
	if err := mod.Call(context.Background(), input, func(out []byte) error {
		wasm = slices.Clone(out)
		return nil
	}); err != nil {
		tb.Fatalf("sdktest: the module built from %s failed where the rule ran natively: %v", dir, err)
	}
	if !bytes.Equal(native, wasm) {
		nres, nerr := Decode(b, native)
		wres, werr := Decode(b, wasm)
		tb.Fatalf("sdktest: the rule run natively and the module built from %s disagree:\nnative: %s\nwasm:   %s",
			dir, describe(nres, nerr), describe(wres, werr))
	}
	return Decode(b, wasm)
}

func describe(r *Result, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%+v", r.Items)
}

var harness struct {
	sync.Mutex
	eng     *engine.Engine
	modules map[string]*engine.Module // by absolute package directory
}

// loadModule builds the package in dir and loads it into the shared engine.
func loadModule(tb testing.TB, dir string) *engine.Module {
	tb.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		tb.Fatalf("sdktest: %v", err)
	}
	harness.Lock()
	defer harness.Unlock()
	if m, ok := harness.modules[abs]; ok {
		return m
	}
	ctx := context.Background()
	if harness.eng == nil {
		cfg := engine.Config{}
		if cache, err := os.UserCacheDir(); err == nil {
			cfg.CacheDir = filepath.Join(cache, "syncrules", "sdktest")
		}
		eng, err := engine.New(ctx, cfg)
		if err != nil {
			tb.Fatalf("sdktest: %v", err)
		}
		harness.eng, harness.modules = eng, map[string]*engine.Module{}
	}
	tmp, err := os.MkdirTemp("", "sdktest-")
	if err != nil {
		tb.Fatalf("sdktest: %v", err)
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "rule.wasm")
	if err := wasmbuild.Build(ctx, abs, ".", out); err != nil {
		tb.Fatalf("sdktest: %v", err)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		tb.Fatalf("sdktest: %v", err)
	}
	m, err := harness.eng.Load(ctx, filepath.Base(abs), wasm)
	if err != nil {
		if errors.Is(err, engine.ErrInvalidModule) {
			tb.Fatalf("sdktest: the host refuses the module built from %s: %v", dir, err)
		}
		tb.Fatalf("sdktest: %v", err)
	}
	harness.modules[abs] = m
	return m
}
