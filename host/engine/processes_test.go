//go:build linux

package engine_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
)

// TestMaxProcesses: with one worker process allowed across the engine, a
// big batch of a second module runs in process while the first module's
// worker lives, and in a worker once it is gone.
func TestMaxProcesses(t *testing.T) {
	ctx := context.Background()
	cfg := engine.Config{CallTimeout: 10 * time.Second * raceSlowdown}
	cfg.Worker.MaxProcesses = 1
	eng := sandboxed(t, 1, cfg)
	wasm := wasmbuild.ForTest(t, defaultModulePkg)
	a, err := eng.Load(ctx, "a", wasm)
	if err != nil {
		t.Fatal(err)
	}
	awaitWorker(t, a, 1)
	t.Logf("resident memory of a worker running the default rule: %d MiB", childrenRSS(t)>>20)
	b, err := eng.Load(ctx, "b", wasm)
	if err != nil {
		t.Fatal(err)
	}
	input, _ := batchOf(10, -1).Encode()
	where := func(mod *engine.Module) string {
		t.Helper()
		var w string
		if err := mod.CallInfo(ctx, input, func(_ []byte, info *engine.CallInfo) error {
			w = info.Where
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return w
	}
	if w := where(b); w != engine.RunSandboxed {
		t.Fatalf("b's big batch while a's worker lives ran %s, want %s", w, engine.RunSandboxed)
	}
	if w := where(a); w != engine.RunWorker {
		t.Fatalf("a's big batch ran %s, want %s", w, engine.RunWorker)
	}
	if s := b.Stats(); s.Workers != 0 {
		t.Fatalf("b: %+v, want no worker", s)
	}
	eng.ReapIdle(time.Now().Add(time.Hour)) // stops a's worker
	if w := where(b); w != engine.RunWorker {
		t.Fatalf("b's big batch once a's worker stopped ran %s, want %s", w, engine.RunWorker)
	}
	if s := a.Stats(); s.Workers != 0 {
		t.Fatalf("a: %+v, want no worker", s)
	}
}

// childrenRSS sums the resident memory of this process's children.
func childrenRSS(t testing.TB) uint64 {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := "PPid:\t" + strconv.Itoa(os.Getpid()) + "\n"
	var sum uint64
	for _, e := range entries {
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil || !strings.Contains(string(status), self) {
			continue
		}
		_, rss, _ := strings.Cut(string(status), "VmRSS:")
		kib, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.SplitN(rss, "\n", 2)[0], "kB")), 10, 64)
		sum += kib << 10
	}
	return sum
}
