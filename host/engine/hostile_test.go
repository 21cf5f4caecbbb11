//go:build linux

package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
	"github.com/syncrules/syncrules/sdk/abi"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

// The hostile-module suite. Partner modules are untrusted code; each module
// under testdata/hostile attacks the host one way. Every attack must end in
// an error of the right kind that says what happened, and the engine must
// keep answering, in both places a sandboxed call runs.

func hostile(name string) string { return testdata("hostile/" + name) }

// hostileModes are the two places a sandboxed batch runs.
var hostileModes = []struct {
	name     string
	minItems int // engine.WorkerConfig.MinItems
}{
	{"in-process", 0},
	{"worker", 1},
}

// hostileConfig is the sandbox the hostile modules run in. The call timeout
// is long enough for the Go runtime of a guest to exhaust 64 MiB, in
// process, where wazero's deadline checks slow it down several times.
func hostileConfig() engine.Config {
	return engine.Config{
		CallTimeout:    10 * time.Second * raceSlowdown,
		ItemTimeout:    time.Microsecond,
		MaxMemoryBytes: 64 << 20,
		MaxOutputBytes: 1 << 20,
		LogBytes:       4 << 10,
		PoolSize:       2,
	}
}

// loadAs loads the module built from pkg under the last element of its path.
func loadAs(t testing.TB, eng *engine.Engine, pkg string) *engine.Module {
	t.Helper()
	mod, err := eng.Load(context.Background(), path.Base(pkg), wasmbuild.ForTest(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// awaitWorker starts a worker for mod, in an engine with workers, so that
// a call's time is the call's and not a worker's start.
func awaitWorker(t testing.TB, mod *engine.Module, minItems int) {
	t.Helper()
	if minItems == 0 {
		return
	}
	if err := engine.StartWorker(mod); err != nil {
		t.Fatalf("%s: starting a worker: %v", mod.Name(), err)
	}
}

// hostileBatch is two items in one warehouse; the first item's id is
// trigger, which sets a hostile module off. An empty trigger makes a
// harmless batch.
func hostileBatch(trigger string) sdktest.Batch {
	b := sdktest.Batch{
		Locations:  []sdktest.Location{{ID: "A", Active: true}},
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}},
		Mappings:   []sdktest.Mapping{{Location: "*", Warehouse: "alpha"}},
		Items: []sdktest.Item{
			{ID: "v-0", Available: map[string]int64{"A": 5}},
			{ID: "v-1", Available: map[string]int64{"A": 7}},
		},
	}
	if trigger != "" {
		b.Items[0].ID = trigger
	}
	return b
}

func encode(t testing.TB, b sdktest.Batch) []byte {
	t.Helper()
	input, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return input
}

// parseOutput returns the reader a host uses: it checks the output against
// the batch's counts with abi.ParseOutput and stores the rule's failure
// message, if the rule failed the batch, in failed.
func parseOutput(b sdktest.Batch, failed *string) func([]byte) error {
	return func(out []byte) error {
		o, err := abi.ParseOutput(out, len(b.Items), len(b.Warehouses))
		if err != nil {
			return err
		}
		*failed, _ = o.Failed()
		return nil
	}
}

// stillAnswers checks that the engine still runs the default rule and,
// unless hostile is nil, a harmless batch on the hostile module.
func stillAnswers(t testing.TB, good, hostile *engine.Module) {
	t.Helper()
	if res, err := call(t, good, seedBatch); err != nil || res.Items[0].Quantities["alpha"] != 788 {
		t.Fatalf("the default rule after a hostile call: %v, %v", res, err)
	}
	if hostile == nil {
		return
	}
	harmless := hostileBatch("")
	var failed string
	if err := hostile.Call(context.Background(), encode(t, harmless), parseOutput(harmless, &failed)); err != nil || failed != "" {
		t.Fatalf("%s on a harmless batch after a hostile call: error %v, rule failure %q", hostile.Name(), err, failed)
	}
}

// TestHostileCalls runs each hostile module on the batch that sets it off,
// twice, in process and in a worker. After each hostile call the engine
// must still run the default rule and, unless the module only misbehaves,
// a harmless batch on the same module.
func TestHostileCalls(t *testing.T) {
	// The endless loop and stream run into it; the default rule, called
	// after them in the same engine, must not: at 100 ms it did, in a
	// worker, beside a second test suite.
	short := 500 * time.Millisecond * slowdown
	shortTimeout := func(c *engine.Config) { c.CallTimeout = short }
	// The limit of hostileBatch's two items.
	stoppedAt := fmt.Sprintf("stopped at the limit of %v for this batch", short+2*time.Microsecond)
	tests := []struct {
		name    string
		pkg     string
		trigger string               // the id of the item that sets it off; "" for a module that always misbehaves
		cfg     func(*engine.Config) // changes to hostileConfig
		wantIs  error                // nil: the call succeeds and the rule fails the batch
		wantMsg []string             // in the error, or in the rule's failure message when wantIs is nil
		long    string               // skipped under -short, because another case takes the same way through the engine
	}{
		{
			name: "endless loop", pkg: testdata("loop"), trigger: "loop", cfg: shortTimeout,
			wantIs: engine.ErrTimeout, wantMsg: []string{"loop: rule module ran out of time: " + stoppedAt},
		},
		{
			name: "unbounded allocation", pkg: hostile("oom"), trigger: "hostile",
			wantIs: engine.ErrMemory, wantMsg: []string{"oom: rule module ran out of memory: "},
		},
		{
			name: "unbounded allocation after 8 KiB of log", pkg: hostile("oom"), trigger: "chatty-hostile",
			wantIs: engine.ErrMemory, wantMsg: []string{"oom: rule module ran out of memory: "},
		},
		{
			name: "panic in a goroutine of the rule", pkg: hostile("goroutinepanic"), trigger: "hostile",
			wantIs: engine.ErrTrap, wantMsg: []string{"rule module trapped: wasm error: unreachable", "panic: boom from a goroutine of the rule"},
		},
		{
			name: "panic deep in a goroutine of the rule", pkg: hostile("goroutinepanic"), trigger: "deep-hostile",
			wantIs: engine.ErrTrap, wantMsg: []string{"rule module trapped: wasm error: unreachable", "panic: boom from deep in a goroutine of the rule"},
		},
		{
			name: "panic in a raw export", pkg: testdata("trap"), long: "panic in a goroutine of the rule",
			wantIs: engine.ErrTrap, wantMsg: []string{"rule module trapped: wasm error: unreachable", "panic: boom from the guest"},
		},
		{
			name: "panic inside the rule", pkg: hostile("rulepanic"), trigger: "hostile",
			wantMsg: []string{"rule panicked: boom from inside the rule"},
		},
		{
			name: "write past the end of memory", pkg: hostile("oob"), trigger: "hostile",
			wantIs: engine.ErrTrap, wantMsg: []string{"rule module trapped: wasm error: out of bounds memory access"},
		},
		{
			// Go's stacks live in linear memory and double as they grow:
			// the runtime fails to allocate the next one.
			name: "unbounded recursion", pkg: hostile("recursion"), trigger: "hostile", long: "unbounded allocation",
			wantIs: engine.ErrMemory, wantMsg: []string{"recursion: rule module ran out of memory: ", "runtime.morestack", "main.recurse"},
		},
		{
			name: "output over MaxOutputBytes", pkg: hostile("bigoutput"), trigger: "hostile",
			wantIs: abi.ErrContract, wantMsg: []string{"output of 2097152 bytes exceeds the limit of 1048576"},
		},
		{
			name: "output for other counts", pkg: hostile("wrongcounts"), trigger: "hostile",
			wantIs: abi.ErrContract, wantMsg: []string{"output is for 3 items x 2 warehouses, the input had 2 x 1"},
		},
		{
			name: "garbage output", pkg: hostile("garbage"), trigger: "hostile", long: "output for other counts",
			wantIs: abi.ErrContract, wantMsg: []string{"output has bad magic 0x7ea07a63"},
		},
		{
			name: "output outside memory", pkg: hostile("outside"), trigger: "hostile", long: "output over MaxOutputBytes",
			wantIs: abi.ErrContract, wantMsg: []string{"output [4294901760, 4294901832) is outside the guest's memory"},
		},
		{
			name: "endless stream to stdout", pkg: hostile("stream"), trigger: "hostile", cfg: shortTimeout,
			wantIs: engine.ErrTimeout, wantMsg: []string{"stream: rule module ran out of time: " + stoppedAt},
		},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.long != "" && testing.Short() {
				t.Skip("-short: compiling one more module, for the way through the engine of " + tt.long)
			}
			// Compiling the module, twice (with and without deadline
			// checks), is most of a case's time: let cases compile at once.
			t.Parallel()
			for _, m := range hostileModes {
				t.Run(m.name, func(t *testing.T) {
					cfg := hostileConfig()
					if tt.cfg != nil {
						tt.cfg(&cfg)
					}
					eng := sandboxed(t, m.minItems, cfg)
					mod := loadAs(t, eng, tt.pkg)
					good := loadAs(t, eng, defaultModulePkg)
					awaitWorker(t, mod, m.minItems)
					awaitWorker(t, good, m.minItems)
					survivor := mod
					if tt.trigger == "" {
						survivor = nil
					}
					batch := hostileBatch(tt.trigger)
					input := encode(t, batch)
					timeout := cfg.CallTimeout + time.Duration(len(batch.Items))*cfg.ItemTimeout
					for round := range 2 {
						var failed string
						start := time.Now()
						err := mod.Call(ctx, input, parseOutput(batch, &failed))
						took := time.Since(start)
						switch {
						case tt.wantIs == nil && err != nil:
							t.Fatalf("Call() = %v, want success with the batch failed", err)
						case tt.wantIs == nil:
							if !containsAll(failed, tt.wantMsg) {
								t.Fatalf("the rule failed the batch with %q, want %q", failed, tt.wantMsg)
							}
							t.Logf("round %d: the batch failed: %s", round, failed)
						case !errors.Is(err, tt.wantIs) || !containsAll(err.Error(), tt.wantMsg):
							t.Fatalf("Call() = %v (kind %q), want %v containing %q", err, engine.KindOf(err), tt.wantIs, tt.wantMsg)
						default:
							t.Logf("round %d (%v): %v", round, took.Round(time.Millisecond), firstLine(err))
						}
						if tt.wantIs == engine.ErrTimeout {
							t.Logf("round %d: stopped %v past the %v deadline", round, (took - timeout).Round(10*time.Microsecond), timeout)
							if took > timeout+time.Second*slowdown {
								t.Errorf("stopped after %v, more than %v past the %v deadline", took, time.Second*slowdown, timeout)
							}
						}
						stillAnswers(t, good, survivor)
					}
				})
			}
		})
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// firstLine is an error's first line and, when wazero's stack trace follows
// it, the guest output the engine appends at the end.
func firstLine(err error) string {
	s := err.Error()
	first, rest, ok := strings.Cut(s, "\n")
	if !ok {
		return s
	}
	if i := strings.LastIndex(rest, " (guest output: "); i >= 0 {
		return first + " […]" + rest[i:]
	}
	return first + " […]"
}

// TestWorkerErrorsNameTheirKindOnce: an error from a worker reads like the
// same error in process, naming its kind once.
func TestWorkerErrorsNameTheirKindOnce(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		pkg  string
		kind error
	}{
		{hostile("oob"), engine.ErrTrap},
		{hostile("oom"), engine.ErrMemory},
		{hostile("bigoutput"), abi.ErrContract},
	} {
		for _, m := range hostileModes {
			eng := sandboxed(t, m.minItems, hostileConfig())
			mod := loadAs(t, eng, tt.pkg)
			err := mod.Call(ctx, encode(t, hostileBatch("hostile")), func([]byte) error { return nil })
			if n := strings.Count(err.Error(), tt.kind.Error()); !errors.Is(err, tt.kind) || n != 1 {
				t.Errorf("%s, %s: error names %q %d times, want once: %v", m.name, mod.Name(), tt.kind, n, firstLine(err))
			}
		}
	}
}

// TestCallAfterTrapGetsItsWholeDeadline: a call that discards its instance
// does not eat into the next call's deadline. In process, acquire makes the
// replacement instance before the deadline starts; a worker must too, or a
// well-behaved batch after a trap times out and its worker is killed. The
// module's initialisation takes 60 ms in a worker, three times the call
// timeout. Only a busy machine stretches the timeout: it slows the
// initialisation as much, but the race detector does not (the guest is
// machine code wazero made), and 60 ms would then fit in the deadline.
func TestCallAfterTrapGetsItsWholeDeadline(t *testing.T) {
	ctx := context.Background()
	for _, m := range hostileModes {
		t.Run(m.name, func(t *testing.T) {
			cfg := hostileConfig()
			cfg.CallTimeout = 20 * time.Millisecond * busySlowdown
			// The replacement instance's initialisation (60 ms) has room:
			// it took over 5 s under the race detector beside a second
			// suite, and in process beside two more (load 19). The test is
			// about the call's deadline, not the initialisation's.
			cfg.InitTimeout = 30 * time.Second * slowdown
			eng := sandboxed(t, m.minItems, cfg)
			mod := loadAs(t, eng, hostile("slowinit"))
			awaitWorker(t, mod, m.minItems)
			trap, harmless := encode(t, hostileBatch("hostile")), encode(t, hostileBatch(""))
			nop := func([]byte) error { return nil }
			for i := range 3 {
				if err := mod.Call(ctx, trap, nop); !errors.Is(err, engine.ErrTrap) {
					t.Fatalf("call %d: Call() = %v, want ErrTrap", i, err)
				}
				start := time.Now()
				if err := mod.Call(ctx, harmless, nop); err != nil {
					t.Errorf("call %d: a harmless batch after a trap: %v after %v", i, err, time.Since(start))
				}
			}
		})
	}
}

// TestGuestOutputIsBounded: a guest that writes without end to stdout is
// stopped at its deadline, and the host keeps only LogBytes of what a guest
// writes, however much that is.
func TestGuestOutputIsBounded(t *testing.T) {
	ctx := context.Background()
	for _, m := range hostileModes {
		t.Run(m.name, func(t *testing.T) {
			cfg := hostileConfig()
			// Room for the 32 MiB burst on a busy machine.
			cfg.CallTimeout = time.Second * raceSlowdown
			eng := sandboxed(t, m.minItems, cfg)
			mod := loadAs(t, eng, hostile("stream"))
			good := loadAs(t, eng, defaultModulePkg)
			awaitWorker(t, mod, m.minItems)

			// A burst of 32 MiB: the call succeeds with LogBytes of it.
			var logLen, dropped int
			err := mod.CallInfo(ctx, encode(t, hostileBatch("burst")), func(_ []byte, info *engine.CallInfo) error {
				logLen, dropped = len(info.Log), info.LogDropped
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if logLen != cfg.LogBytes || logLen+dropped != 32<<20 {
				t.Errorf("after a 32 MiB burst the call kept %d bytes and dropped %d, want %d kept of %d", logLen, dropped, cfg.LogBytes, 32<<20)
			}

			// An endless stream: stopped at the deadline, and the host
			// allocated next to nothing meanwhile.
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			err = mod.Call(ctx, encode(t, hostileBatch("hostile")), func([]byte) error { return nil })
			runtime.ReadMemStats(&after)
			if !errors.Is(err, engine.ErrTimeout) {
				t.Fatalf("Call() = %v, want ErrTimeout", err)
			}
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("the host allocated %d KiB while the guest streamed for %v; heap in use %d -> %d KiB",
				allocated>>10, cfg.CallTimeout, before.HeapInuse>>10, after.HeapInuse>>10)
			if allocated > 16<<20 {
				t.Errorf("the host allocated %d MiB during the stream, want it bounded (LogBytes is %d)", allocated>>20, cfg.LogBytes)
			}
			stillAnswers(t, good, mod)
		})
	}
}

// TestHostileModulesRefusedAtLoad: a module that cannot be run safely is
// refused at Load with ErrInvalidModule and a message saying what to
// change, and the engine goes on loading and running other modules.
func TestHostileModulesRefusedAtLoad(t *testing.T) {
	notWasm := "does not compile: it is not a WebAssembly module (wrong magic number)"
	tests := []struct {
		name    string
		wasm    func(t *testing.T) []byte
		wantMsg string
		hangs   bool // the guest never returns: Load must stop it within its call timeout
	}{
		{name: "import the host does not provide", wasm: build(testdata("envimport")),
			wantMsg: "hostile: it imports env.steal_secrets; a rule may import only wasi_snapshot_preview1"},
		{name: "memory minimum over the limit", wasm: build(hostile("hugestatic")),
			wantMsg: "hostile does not compile: section memory: min 1576 pages (98 Mi) over limit of 1024 pages (64 Mi): its initial memory exceeds this host's limit of 64 MiB; shrink its static data"},
		{name: "unsupported ABI version", wasm: build(testdata("badabi")),
			wantMsg: "hostile: it speaks ABI version 99; this host supports 1: rebuild it against a matching sdk"},
		{name: "ELF bytes", wasm: constant("\x7fELF\x02\x01\x01\x00 not a wasm module"), wantMsg: notWasm},
		{name: "wasm text", wasm: constant("(module)"), wantMsg: notWasm},
		{name: "empty", wasm: constant(""), wantMsg: "does not compile"},
		{name: "truncated module", wasm: func(t *testing.T) []byte {
			wasm := wasmbuild.ForTest(t, defaultModulePkg)
			return wasm[:len(wasm)/2]
		}, wantMsg: "does not compile: section code: "},
		{name: "endless initialisation", wasm: build(hostile("initloop")), wantMsg: "hostile: rule module ran out of time: it did not finish initialising", hangs: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, m := range hostileModes {
				t.Run(m.name, func(t *testing.T) {
					cfg := hostileConfig()
					cfg.CallTimeout = 100 * time.Millisecond * slowdown
					cfg.InitTimeout = 500 * time.Millisecond * slowdown
					eng := sandboxed(t, m.minItems, cfg)
					wasm := tt.wasm(t)
					if tt.hangs {
						// Fill the compilation cache, so the timed Load
						// below does not compile.
						ctx, cancel := context.WithTimeout(context.Background(), time.Minute*slowdown)
						eng.Load(ctx, "hostile", wasm)
						cancel()
					}
					// The context only keeps a hanging Load from hanging the
					// test: compiling took over a minute under the race
					// detector beside two suites.
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute*slowdown)
					defer cancel()
					start := time.Now()
					_, err := eng.Load(ctx, "hostile", wasm)
					took := time.Since(start)
					if !errors.Is(err, engine.ErrInvalidModule) || !strings.Contains(err.Error(), tt.wantMsg) {
						t.Fatalf("Load() = %v, want ErrInvalidModule containing %q", err, tt.wantMsg)
					}
					if tt.hangs && took > cfg.InitTimeout+5*time.Second*slowdown {
						t.Errorf("Load() took %v; a sandboxed engine must stop the guest's initialisation at %v", took, cfg.InitTimeout)
					}
					t.Logf("%v", err)
					stillAnswers(t, loadAs(t, eng, defaultModulePkg), nil)
				})
			}
		})
	}
	t.Run("the static array raises the initial memory", func(t *testing.T) {
		cfg := hostileConfig()
		cfg.MaxMemoryBytes = 256 << 20
		// Initialising 96 MiB took over 5 s under the race detector beside
		// two other suites: the test is about memory, not time.
		cfg.InitTimeout = 5 * time.Second * slowdown * raceSlowdown
		eng := sandboxed(t, 0, cfg)
		mod := loadAs(t, eng, hostile("hugestatic"))
		var memory uint64
		err := mod.CallInfo(context.Background(), encode(t, hostileBatch("")), func(_ []byte, info *engine.CallInfo) error {
			memory = info.MemoryBytes
			return nil
		})
		if err != nil || memory < 96<<20 {
			t.Fatalf("Call() = %v with %d MiB of memory, want at least the 96 MiB array", err, memory>>20)
		}
		t.Logf("initial memory of the module with a 96 MiB array: %d MiB", memory>>20)
	})
}

func build(pkg string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte { return wasmbuild.ForTest(t, pkg) }
}

func constant(s string) func(t *testing.T) []byte {
	return func(*testing.T) []byte { return []byte(s) }
}

// TestGuestSeesNoEntropy: a module that reports the wall clock, the
// monotonic clock, crypto/rand and math/rand gives the same output in two
// fresh engines, in process and in a worker: nothing of the host's time or
// randomness reaches a guest.
func TestGuestSeesNoEntropy(t *testing.T) {
	ctx := context.Background()
	batch := hostileBatch("")
	var first []byte
	var firstReport string
	for _, m := range hostileModes {
		for run := range 2 {
			eng := sandboxed(t, m.minItems, hostileConfig())
			mod := loadAs(t, eng, hostile("nondeterminism"))
			awaitWorker(t, mod, m.minItems)
			var out []byte
			var report string
			err := mod.CallInfo(ctx, encode(t, batch), func(o []byte, info *engine.CallInfo) error {
				if want := map[bool]string{false: engine.RunSandboxed, true: engine.RunWorker}[m.minItems > 0]; info.Where != want {
					return fmt.Errorf("the call ran %s, want %s", info.Where, want)
				}
				res, err := sdktest.Decode(batch, o)
				if err != nil {
					return err
				}
				out, report = bytes.Clone(o), res.Items[0].Err
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s, engine %d: %s", m.name, run, report)
			if !strings.Contains(report, "crypto_err=<nil>") {
				t.Errorf("%s, engine %d: the guest could not read random bytes: %s", m.name, run, report)
			}
			if first == nil {
				first, firstReport = out, report
			} else if !bytes.Equal(out, first) {
				t.Errorf("%s, engine %d: output differs from the first engine's:\n got %s\nwant %s", m.name, run, report, firstReport)
			}
		}
	}
}

// TestThousandHostileCallsLeaveNoTrace makes 1,000 hostile calls, mixed, in
// process and in workers, from four goroutines, each followed by a call of
// the default rule. Afterwards the host's heap is back where it was, every
// worker process is accounted for and none is a zombie, and closing the
// engines brings the goroutines and child processes back to where they
// were before.
func TestThousandHostileCallsLeaveNoTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 hostile calls: make test runs it without -short")
	}
	const calls, goroutines = 1000, 4
	ctx := context.Background()
	settle(t, func() bool { live, zombies := childProcesses(t); return live+zombies == 0 })
	goroutinesBefore := runtime.NumGoroutine()

	// The loop runs in engines with a 100 ms call timeout, the others in
	// engines with 2 s: a worker makes the instance that replaces a
	// trapped one inside the next call (see
	// TestCallAfterTrapGetsItsWholeDeadline), which 100 ms does not always
	// cover. After each hostile call the default rule runs in the 2 s
	// engine of the same mode: with workers starting all the time on a
	// small machine, a worker may wait long for a CPU. The loop's engine
	// also runs harmless calls to fill its pool: at 20 ms, one of them ran
	// out of time on a machine running two test suites at once.
	type hostileCase struct {
		pkg, trigger string
		wantIs       error // nil: the rule fails the batch
	}
	groups := []struct {
		timeout time.Duration
		cases   []hostileCase
	}{
		{100 * time.Millisecond * slowdown, []hostileCase{{testdata("loop"), "loop", engine.ErrTimeout}}},
		{2 * time.Second * slowdown, []hostileCase{
			{hostile("goroutinepanic"), "hostile", engine.ErrTrap},
			{hostile("rulepanic"), "hostile", nil},
			{hostile("oob"), "hostile", engine.ErrTrap},
			{hostile("bigoutput"), "hostile", abi.ErrContract},
			{hostile("wrongcounts"), "hostile", abi.ErrContract},
			{hostile("garbage"), "hostile", abi.ErrContract},
			{hostile("outside"), "hostile", abi.ErrContract},
		}},
	}
	type target struct {
		mode   string
		mod    *engine.Module
		good   *engine.Module
		batch  sdktest.Batch
		input  []byte
		wantIs error
	}
	var (
		engines  []*engine.Engine
		modules  []*engine.Module
		engineOf = map[*engine.Module]int{} // the module's engine's Worker.MinItems
		targets  []target
	)
	closeAll := func() {
		for _, eng := range engines {
			eng.Close(ctx)
		}
		engines = nil
	}
	defer closeAll()
	cfg := hostileConfig()
	// No worker stops for being idle while the pools are compared.
	cfg.Worker.IdleTimeout = time.Hour
	// Every module keeps its worker, beyond the default bound on processes.
	cfg.Worker.MaxProcesses = 64
	var goods []*engine.Module // the default rule in every engine
	for _, m := range hostileModes {
		var good *engine.Module // in the last engine of the mode
		for _, g := range groups {
			c := cfg
			c.CallTimeout = g.timeout
			c.Sandboxed, c.Worker.MinItems = true, m.minItems
			eng, err := engine.New(ctx, engine.WithTestCache(c))
			if err != nil {
				t.Fatal(err)
			}
			engines = append(engines, eng)
			good = loadAs(t, eng, defaultModulePkg)
			goods = append(goods, good)
			modules = append(modules, good)
			engineOf[good] = m.minItems
			for _, h := range g.cases {
				mod := loadAs(t, eng, h.pkg)
				modules = append(modules, mod)
				engineOf[mod] = m.minItems
				b := hostileBatch(h.trigger)
				targets = append(targets, target{mode: m.name, mod: mod, batch: b, input: encode(t, b), wantIs: h.wantIs})
			}
		}
		for i := range targets {
			if targets[i].mode == m.name {
				targets[i].good = good
			}
		}
	}
	for _, mod := range modules {
		awaitWorker(t, mod, engineOf[mod])
	}

	// hostileCall makes target k's hostile call, then calls the default
	// rule of the same engine.
	seed := encode(t, seedBatch)
	var kinds sync.Map // "module/kind" -> *atomic.Int64
	hostileCall := func(k int) error {
		// The goroutines take consecutive calls, so they call the same
		// module at once and wait for its instances and workers.
		tg := targets[k/goroutines%len(targets)]
		var failed string
		err := tg.mod.Call(ctx, tg.input, parseOutput(tg.batch, &failed))
		key := fmt.Sprintf("%s/%s/%s", tg.mode, tg.mod.Name(), engine.KindOf(err))
		n, _ := kinds.LoadOrStore(key, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		switch {
		case tg.wantIs == nil && (err != nil || failed == ""):
			return fmt.Errorf("%s, %s: Call() = %v, rule failure %q; want the batch failed", tg.mode, tg.mod.Name(), err, failed)
		case tg.wantIs != nil && !errors.Is(err, tg.wantIs):
			return fmt.Errorf("%s, %s: Call() = %v, want %v", tg.mode, tg.mod.Name(), firstLine(err), tg.wantIs)
		}
		if err := tg.good.Call(ctx, seed, func([]byte) error { return nil }); err != nil {
			return fmt.Errorf("%s: the default rule after %s: %v", tg.mode, tg.mod.Name(), err)
		}
		return nil
	}

	// runCalls makes n hostile calls from the goroutines and reports the
	// first ten that go wrong.
	runCalls := func(n int) {
		var next, failures atomic.Int64
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				for k := next.Add(1) - 1; k < int64(n); k = next.Add(1) - 1 {
					if err := hostileCall(int(k)); err != nil && failures.Add(1) <= 10 {
						t.Errorf("call %d: %v", k, err)
					}
				}
			})
		}
		wg.Wait()
		if f := failures.Load(); f > 0 {
			t.Errorf("%d of %d calls went wrong", f, n)
		}
	}
	// fillPools brings every pool to the same state, full, by making
	// PoolSize calls at once to each module: the heap holds the memories of
	// the guests in process, so it can be compared only between equal pools.
	harmless := encode(t, hostileBatch(""))
	fillPools := func() {
		for _, mod := range modules {
			input := harmless
			if slices.Contains(goods, mod) {
				input = seed
			}
			var arrived sync.WaitGroup
			arrived.Add(cfg.PoolSize)
			all := make(chan struct{})
			go func() { arrived.Wait(); close(all) }()
			var calls sync.WaitGroup
			for range cfg.PoolSize {
				calls.Go(func() {
					err := mod.Call(ctx, input, func([]byte) error {
						arrived.Done()
						select {
						case <-all:
							return nil
						case <-time.After(10 * time.Second):
							return errors.New("the other calls never came")
						}
					})
					if err != nil {
						t.Errorf("%s: filling the pool: %v", mod.Name(), err)
					}
				})
			}
			calls.Wait()
		}
	}
	instances := func() (n int) {
		for _, mod := range modules {
			n += mod.Stats().Instances
		}
		return n
	}

	// Warm up, the same way: the pools fill up to what concurrent calls
	// keep, before the heap (which holds the guests' memories) is measured.
	runCalls(goroutines * len(targets))
	kinds.Clear()
	fillPools()
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	baseInstances := instances()
	baseGoroutines := runtime.NumGoroutine()

	// Watch the pools while the calls run.
	stop := make(chan struct{})
	var watched sync.WaitGroup
	var maxInstances, maxWorkers atomic.Int64
	watched.Go(func() {
		for {
			for _, mod := range modules {
				s := mod.Stats()
				maxInstances.Store(max(maxInstances.Load(), int64(s.Instances)))
				maxWorkers.Store(max(maxWorkers.Load(), int64(s.Workers)))
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	start := time.Now()
	runCalls(calls)
	close(stop)
	watched.Wait()
	elapsed := time.Since(start)
	var tally []string
	kinds.Range(func(k, v any) bool {
		tally = append(tally, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(tally)
	t.Logf("%d hostile calls (and as many of the default rule) in %v: %s", calls, elapsed.Round(time.Millisecond), strings.Join(tally, " "))
	t.Logf("most instances of a module at once: %d, most workers: %d (pool size %d)", maxInstances.Load(), maxWorkers.Load(), cfg.PoolSize)
	if maxInstances.Load() > int64(cfg.PoolSize) || maxWorkers.Load() > int64(cfg.PoolSize) {
		t.Errorf("a module had %d instances and %d workers at once, want at most %d", maxInstances.Load(), maxWorkers.Load(), cfg.PoolSize)
	}

	// The heap is back where it was after the warm-up.
	fillPools()
	var end runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&end)
	t.Logf("heap in use: %.1f MiB after the warm-up, %.1f MiB after %d hostile calls (%+.1f MiB); %d MiB allocated meanwhile; %d instances, then %d",
		mib(base.HeapInuse), mib(end.HeapInuse), calls, mib(end.HeapInuse)-mib(base.HeapInuse), (end.TotalAlloc-base.TotalAlloc)>>20, baseInstances, instances())
	if end.HeapInuse > base.HeapInuse+8<<20 {
		t.Errorf("heap in use grew from %d to %d bytes, more than 8 MiB", base.HeapInuse, end.HeapInuse)
	}

	// With the machine quiet again, every engine still runs the default
	// rule, and every hostile module a harmless batch.
	for _, good := range goods {
		stillAnswers(t, good, nil)
	}
	for _, tg := range targets {
		stillAnswers(t, tg.good, tg.mod)
	}

	// Every child process is a pooled worker, and none is a zombie.
	workers := func() int {
		n := 0
		for _, mod := range modules {
			n += mod.Stats().Workers
		}
		return n
	}
	var live, zombies int
	settle(t, func() bool {
		live, zombies = childProcesses(t)
		return live == workers() && zombies == 0 && runtime.NumGoroutine() <= baseGoroutines
	})
	t.Logf("child processes: %d live, %d zombies; pooled workers: %d; goroutines: %d after the warm-up, %d now",
		live, zombies, workers(), baseGoroutines, runtime.NumGoroutine())
	if live != workers() || zombies != 0 {
		t.Errorf("%d live child processes and %d zombies, want %d workers and no zombies", live, zombies, workers())
	}
	if n := runtime.NumGoroutine(); n > baseGoroutines {
		t.Errorf("%d goroutines with full pools, %d after the warm-up", n, baseGoroutines)
	}

	// Closing the engines ends every worker and goroutine they started.
	closeAll()
	settle(t, func() bool {
		live, zombies = childProcesses(t)
		return live+zombies == 0 && runtime.NumGoroutine() <= goroutinesBefore
	})
	t.Logf("after closing the engines: %d goroutines (%d before), %d child processes, %d zombies", runtime.NumGoroutine(), goroutinesBefore, live, zombies)
	if live+zombies != 0 || runtime.NumGoroutine() > goroutinesBefore {
		t.Errorf("after closing the engines: %d goroutines, %d before; %d child processes and %d zombies, want none", runtime.NumGoroutine(), goroutinesBefore, live, zombies)
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// settle polls done for up to ten seconds.
func settle(t testing.TB, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !done() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// childProcesses counts this process's children, live and zombie, from
// /proc/<pid>/stat: "pid (comm) state ppid ...".
func childProcesses(t testing.TB) (live, zombies int) {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // it exited
		}
		_, after, ok := bytes.Cut(stat, []byte(") "))
		fields := strings.Fields(string(after))
		if !ok || len(fields) < 2 || fields[1] != self {
			continue
		}
		if fields[0] == "Z" {
			zombies++
		} else {
			live++
		}
	}
	return live, zombies
}

// BenchmarkDeadlineOvershoot measures how long past its deadline an
// endless loop is stopped: by wazero's deadline checks in process, by
// killing the worker process in a worker. Before each timed call an
// untimed harmless call makes an instance or worker ready, as on a busy
// server.
func BenchmarkDeadlineOvershoot(b *testing.B) {
	ctx := context.Background()
	for _, m := range hostileModes {
		b.Run(m.name, func(b *testing.B) {
			cfg := engine.Config{CallTimeout: 20 * time.Millisecond, ItemTimeout: time.Microsecond, PoolSize: 1}
			eng := sandboxed(b, m.minItems, cfg)
			mod := loadAs(b, eng, testdata("loop"))
			awaitWorker(b, mod, m.minItems)
			looping, fine := encode(b, hostileBatch("loop")), encode(b, hostileBatch(""))
			timeout := cfg.CallTimeout + 2*cfg.ItemTimeout
			nop := func([]byte) error { return nil }
			var past time.Duration
			for b.Loop() {
				b.StopTimer()
				if err := mod.Call(ctx, fine, nop); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				err := mod.Call(ctx, looping, nop)
				past += time.Since(start) - timeout
				if !errors.Is(err, engine.ErrTimeout) {
					b.Fatalf("Call() = %v, want ErrTimeout", err)
				}
			}
			b.ReportMetric(float64(past.Microseconds())/1e3/float64(b.N), "ms-past-deadline/op")
		})
	}
}
