// Package engine runs rule modules in wazero. It is the only package that
// imports wazero: the rest of the host sees a Module it can Call with an
// encoded batch, as package abi lays it out.
//
//	eng, err := engine.New(ctx, engine.Config{CacheDir: "data/cache"})
//	mod, err := eng.Load(ctx, "default", wasmBytes)
//	err = mod.Call(ctx, input, func(output []byte) error { ... })
//
// Load compiles a module once (wazero's compilation cache makes a restart
// cheap; a sandboxed engine compiles in a child process first, bounded in
// time and memory, once per module and bounds), checks its exports, imports, memory and ABI version, and
// instantiates one instance so that a bad module fails at load, never on the
// first request (a lazy engine does not keep it). Instances are pooled per module and never shared between
// goroutines; an instance that returns any error is discarded, because a
// trapped instance is left corrupt.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/syncrules/syncrules/sdk/abi"
)

// SupportedABIVersions lists the ABI versions this host runs.
var SupportedABIVersions = []uint32{abi.Version}

// Errors a caller tests with errors.Is.
var (
	// ErrInvalidModule wraps every reason Load refuses a module.
	ErrInvalidModule = errors.New("invalid rule module")
	// ErrTrap means the guest trapped: a panic outside the rule, an
	// out-of-bounds access, a stack overflow or running out of memory.
	ErrTrap = errors.New("rule module trapped")
	// ErrClosed means the module or engine was closed.
	ErrClosed = errors.New("rule module closed")
)

// Config configures an Engine. The zero value is usable and trusts its
// modules: nothing stops a guest that never returns.
type Config struct {
	// CacheDir holds wazero's compilation cache. Empty means in memory.
	CacheDir string
	// MaxMemoryBytes caps each instance's linear memory. Zero means 1 GiB.
	MaxMemoryBytes uint64
	// RecycleMemoryBytes discards an instance after a call that left its
	// memory larger than this, so one huge batch does not pin memory.
	// Zero means 64 MiB.
	RecycleMemoryBytes uint64
	// RecycleCalls discards an instance after this many calls, so no
	// guest state lives forever. Zero means 100,000.
	RecycleCalls int
	// PoolSize bounds the instances of each module. Zero means GOMAXPROCS.
	PoolSize int
	// Lazy keeps no instance of a module nobody calls: Load still
	// instantiates one to check the module, but does not keep it, and
	// instances idle for IdleTimeout are closed.
	Lazy bool
	// IdleTimeout is how long a lazy engine keeps an unused instance.
	// Zero means two minutes.
	IdleTimeout time.Duration
	// LogBytes bounds the guest's stdout and stderr kept per call.
	// Zero means 4 KiB.
	LogBytes int
	// MaxOutputBytes bounds a call's output. Zero means 256 MiB.
	MaxOutputBytes int

	// Sandboxed runs every module as untrusted: each call has a deadline
	// of CallTimeout plus ItemTimeout per item, enforced in process by
	// wazero's context checks or, for big batches, by killing a worker
	// process (see Worker).
	Sandboxed bool
	// CallTimeout is a sandboxed call's base time. Zero means 100 ms.
	CallTimeout time.Duration
	// ItemTimeout is a sandboxed call's time per item. Zero means 10 µs.
	ItemTimeout time.Duration
	// InitTimeout bounds a sandboxed instance's initialisation, which
	// runs the guest's init functions. Zero means 5 s.
	InitTimeout time.Duration
	// CompileTimeout bounds a sandboxed module's compilation, which runs
	// in a child process killed at this time (Linux only; ten times that
	// in a race build). Zero means 30 s.
	CompileTimeout time.Duration
	// CompileMemoryBytes caps the data of that child. Zero means 512 MiB.
	// An engine with workers and a CacheDir starts a second such child at
	// the same time, with the same bounds, to compile for the workers'
	// runtime, so that a worker's start is a cache hit.
	CompileMemoryBytes uint64
	// Worker runs big sandboxed batches in worker processes.
	Worker WorkerConfig

	// Observer receives call, pool and compile measurements.
	Observer Observer

	compileHooks *compileHooks // tests
	inWorker     bool          // a worker's engine: nobody reads its CompileInfo
}

// WorkerConfig configures worker processes. A worker runs one module
// without deadline checks, which cost a Go guest 4-6x in wazero, and is
// killed at the deadline instead; its fixed cost per call (a few µs) is why
// small batches stay in process. See RATIONALE.md, "Why a worker process
// for big batches?".
type WorkerConfig struct {
	// MinItems sends sandboxed batches of at least this many items to a
	// worker. Zero disables workers.
	MinItems int
	// Command is the executable started as a worker; it must call
	// ServeWorker when IsWorker reports true. Empty means this program.
	Command string
	// MaxInputBytes bounds the batches a worker takes; bigger ones run in
	// process. Zero means 128 MiB.
	MaxInputBytes int
	// IdleTimeout stops a worker unused for this long, so that plugins
	// nobody calls do not keep processes. Zero means two minutes.
	IdleTimeout time.Duration
	// MaxProcesses bounds the worker processes of all the engine's
	// modules; a batch that would start one more runs in process, under
	// the same deadline. Zero means twice GOMAXPROCS.
	MaxProcesses int
}

func (c Config) withDefaults() Config {
	if c.MaxMemoryBytes == 0 {
		c.MaxMemoryBytes = 1 << 30
	}
	if c.RecycleMemoryBytes == 0 {
		c.RecycleMemoryBytes = 64 << 20
	}
	if c.RecycleCalls <= 0 {
		c.RecycleCalls = 100_000
	}
	if c.PoolSize <= 0 {
		c.PoolSize = runtime.GOMAXPROCS(0)
	}
	if c.LogBytes <= 0 {
		c.LogBytes = 4 << 10
	}
	if c.MaxOutputBytes <= 0 {
		c.MaxOutputBytes = 256 << 20
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 100 * time.Millisecond
	}
	if c.ItemTimeout <= 0 {
		c.ItemTimeout = 10 * time.Microsecond
	}
	if c.InitTimeout <= 0 {
		c.InitTimeout = 5 * time.Second
	}
	if c.CompileTimeout <= 0 {
		c.CompileTimeout = 30 * time.Second
	}
	if c.CompileMemoryBytes == 0 {
		c.CompileMemoryBytes = 512 << 20
	}
	if c.Worker.MaxInputBytes <= 0 {
		c.Worker.MaxInputBytes = 128 << 20
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.Worker.MaxProcesses <= 0 {
		c.Worker.MaxProcesses = 2 * runtime.GOMAXPROCS(0)
	}
	if c.Worker.IdleTimeout <= 0 {
		c.Worker.IdleTimeout = 2 * time.Minute
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return c
}

// initTimeout bounds a sandboxed instance's initialisation and the ABI
// version query at load.
func (c *Config) initTimeout() time.Duration { return c.InitTimeout }

// timeout returns a sandboxed call's time for a batch of n items.
func (c *Config) timeout(n int) time.Duration {
	return c.CallTimeout + time.Duration(n)*c.ItemTimeout
}

const pageSize = 65536

// Engine compiles and runs rule modules. It is safe for concurrent use.
type Engine struct {
	cfg   Config
	rt    wazero.Runtime
	cache wazero.CompilationCache

	mu      sync.Mutex
	modules map[*Module]struct{} // loaded and not closed
	// compiling orders compilations of the same bytes: wazero publishes a
	// module read from its file cache before its entry preambles are
	// built, so a second compilation of the same bytes racing the first
	// can instantiate it half made (an index-out-of-range panic).
	compiling map[[32]byte]*compileLock
	procs     chan struct{} // one token per live worker process
	stop      chan struct{} // stops the reaper of idle workers and instances
}

// New returns an Engine.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	cfg = cfg.withDefaults()
	if cfg.MaxMemoryBytes > 1<<32 || cfg.MaxMemoryBytes < pageSize {
		return nil, fmt.Errorf("engine: max memory %d bytes is outside [64 KiB, 4 GiB]", cfg.MaxMemoryBytes)
	}
	if cfg.Worker.MinItems > 0 && !workersSupported {
		return nil, fmt.Errorf("engine: worker processes are not supported on %s", runtime.GOOS)
	}
	rc := runtimeConfig(cfg.MaxMemoryBytes, cfg.Sandboxed)
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("engine: compilation cache: %w", err)
		}
		var err error
		if cache, err = wazero.NewCompilationCacheWithDir(cfg.CacheDir); err != nil {
			return nil, fmt.Errorf("engine: compilation cache: %w", err)
		}
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("engine: wasi: %w", err)
	}
	e := &Engine{cfg: cfg, rt: rt, cache: cache, modules: map[*Module]struct{}{}, compiling: map[[32]byte]*compileLock{},
		procs: make(chan struct{}, cfg.Worker.MaxProcesses), stop: make(chan struct{})}
	if cfg.Lazy || cfg.Sandboxed && cfg.Worker.MinItems > 0 {
		go e.reapIdle()
	}
	return e, nil
}

// runtimeConfig is the engine's wazero configuration but for the cache; a
// compiling child uses the same, or the engine's (or a worker's)
// compilation would miss the cache the child filled.
func runtimeConfig(maxMemory uint64, sandboxed bool) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().
		WithMemoryLimitPages(uint32(maxMemory / pageSize)).
		WithCloseOnContextDone(sandboxed)
}

// reapIdle stops workers idle for longer than Worker.IdleTimeout and, in a
// lazy engine, closes instances idle for longer than IdleTimeout.
func (e *Engine) reapIdle() {
	t := time.NewTicker(max(min(e.cfg.IdleTimeout, e.cfg.Worker.IdleTimeout)/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			e.reapIdleAt(now)
		}
	}
}

func (e *Engine) reapIdleAt(now time.Time) {
	e.mu.Lock()
	mods := slices.Collect(maps.Keys(e.modules))
	e.mu.Unlock()
	for _, m := range mods {
		m.workers.reap(func(w *worker) bool { return now.Sub(w.lastUsed()) > e.cfg.Worker.IdleTimeout })
		if e.cfg.Lazy {
			m.pool.reap(func(inst *instance) bool { return now.Sub(inst.used) > e.cfg.IdleTimeout })
		}
	}
}

// Close closes the engine and every module it loaded. Calls in flight fail
// with ErrClosed, as do calls made after.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	select {
	case <-e.stop:
	default:
		close(e.stop)
	}
	for m := range e.modules {
		m.pool.close()
		m.workers.close()
	}
	clear(e.modules)
	e.mu.Unlock()
	err := e.rt.Close(ctx)
	if e.cache != nil {
		err = errors.Join(err, e.cache.Close(ctx))
	}
	return err
}

// Module is a loaded rule module with its pool of instances and, when the
// engine has workers, its pool of worker processes.
type Module struct {
	name       string
	sha256     string
	abiVersion uint32
	eng        *Engine
	compiled   wazero.CompiledModule
	compile    CompileInfo
	wasm       []byte // for workers, which compile it themselves
	pool       pool[*instance]
	workers    pool[*worker]
}

// Name returns the name the module was loaded under.
func (m *Module) Name() string { return m.name }

// SHA256 returns the hex SHA-256 of the module's bytes.
func (m *Module) SHA256() string { return m.sha256 }

// ABIVersion returns the ABI version the module exports.
func (m *Module) ABIVersion() uint32 { return m.abiVersion }

// Size returns the size of the module's bytes.
func (m *Module) Size() int { return len(m.wasm) }

// Load compiles and checks a module, and instantiates its first instance.
// Every reason to refuse the module wraps ErrInvalidModule and says what to
// change.
func (e *Engine) Load(ctx context.Context, name string, wasm []byte) (*Module, error) {
	start := time.Now()
	sum := sha256.Sum256(wasm)
	compiled, info, err := e.compile(ctx, name, wasm, sum)
	if err != nil {
		return nil, err
	}
	m := &Module{name: name, sha256: hex.EncodeToString(sum[:]), eng: e, compiled: compiled, compile: info, wasm: slices.Clone(wasm)}
	m.pool = pool[*instance]{name: name, kind: "instance", obs: e.cfg.Observer, create: m.instantiate,
		destroy: func(inst *instance) { inst.close(context.WithoutCancel(ctx)) }}
	m.pool.init(e.cfg.PoolSize)
	m.workers = pool[*worker]{name: name, kind: "worker", obs: e.cfg.Observer, create: m.startWorker,
		destroy: func(w *worker) { w.destroy(); <-e.procs }}
	m.workers.init(e.cfg.PoolSize)
	inst, err := m.instantiate(ctx)
	if err != nil {
		compiled.Close(ctx)
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidModule, name, err)
	}
	m.abiVersion, err = inst.abiVersion(ctx, e.cfg.Sandboxed)
	if err == nil && !slices.Contains(SupportedABIVersions, m.abiVersion) {
		err = fmt.Errorf("it speaks ABI version %d; this host supports %s: rebuild it against a matching sdk", m.abiVersion, versions())
	}
	if err != nil {
		inst.close(ctx)
		compiled.Close(ctx)
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidModule, name, err)
	}
	if e.cfg.Lazy {
		inst.close(ctx)
	} else {
		m.pool.add(inst)
	}
	e.mu.Lock()
	e.modules[m] = struct{}{}
	e.mu.Unlock()
	e.cfg.Observer.Compiled(name, time.Since(start))
	// No worker is started here: a module nobody sends a big batch costs
	// no process. The first big batch waits for one to start (its
	// compilation comes from the cache).
	return m, nil
}

// CompileInfo says how Load compiled the module.
func (m *Module) CompileInfo() CompileInfo { return m.compile }

// Compile compiles a module and checks its exports, imports and memory,
// without instantiating it or keeping it: it puts the module in the
// compilation cache, so that a later Load takes milliseconds. It says
// how it compiled the module.
func (e *Engine) Compile(ctx context.Context, name string, wasm []byte) (CompileInfo, error) {
	compiled, info, err := e.compile(ctx, name, wasm, sha256.Sum256(wasm))
	if err != nil {
		return info, err
	}
	return info, compiled.Close(ctx)
}

// compile compiles and checks a module; a sandboxed engine compiles it
// first in a bounded child process, once per module and bounds (see
// proven).
func (e *Engine) compile(ctx context.Context, name string, wasm []byte, sum [32]byte) (wazero.CompiledModule, CompileInfo, error) {
	// Before the child, which fills the cache.
	info := CompileInfo{Cached: e.inCache(wasm)}
	if e.cfg.Sandboxed && workersSupported && (childrenServed.Load() || e.cfg.Worker.Command != "") {
		var keys []boundedKey
		for _, checks := range e.runtimesToCompile() {
			if key := e.boundedKey(sum, checks); e.cfg.compileHooks != nil || !e.proven(key) {
				keys = append(keys, key)
			}
		}
		if len(keys) > 0 {
			if err := e.compileBoundedAll(ctx, name, wasm, keys); err != nil {
				return nil, info, err
			}
			info.Child = true
			for _, key := range keys {
				e.prove(key)
			}
		}
	}
	unlock := e.lockCompile(sum)
	compiled, err := e.rt.CompileModule(ctx, wasm)
	unlock()
	if err != nil {
		return nil, info, fmt.Errorf("%w: %s does not compile: %v", ErrInvalidModule, name, describeCompileError(err, e.cfg.MaxMemoryBytes))
	}
	if err := e.check(compiled); err != nil {
		compiled.Close(ctx)
		return nil, info, fmt.Errorf("%w: %s: %v", ErrInvalidModule, name, err)
	}
	return compiled, info, nil
}

// runtimesToCompile says, by whether they check deadlines, the runtimes a
// sandboxed engine compiles a module for in bounded children: its own and,
// when it has workers and a cache they share, the workers' runtime, which
// has no deadline checks and so another cache entry; without it a
// module's first big batch would wait for its worker to compile it again,
// unbounded (RATIONALE.md, "Why does the upload compile for the workers
// too?").
func (e *Engine) runtimesToCompile() []bool {
	if e.cfg.Worker.MinItems > 0 && e.cfg.CacheDir != "" {
		return []bool{true, false}
	}
	return []bool{true}
}

// compileLock is held while one module's bytes compile.
type compileLock struct {
	mu      sync.Mutex
	waiters int // under Engine.mu
}

// lockCompile holds the bytes sum's compile lock until the returned
// function is called; other modules compile meanwhile.
func (e *Engine) lockCompile(sum [32]byte) (unlock func()) {
	e.mu.Lock()
	l := e.compiling[sum]
	if l == nil {
		l = &compileLock{}
		e.compiling[sum] = l
	}
	l.waiters++
	e.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		e.mu.Lock()
		if l.waiters--; l.waiters == 0 {
			delete(e.compiling, sum)
		}
		e.mu.Unlock()
	}

}

// errNoProcess means the engine has Worker.MaxProcesses workers already.
var errNoProcess = errors.New("the engine's worker processes are all in use")

// startWorker starts a worker if the engine's bound on processes allows;
// the pool's destroy gives the process back.
func (m *Module) startWorker(ctx context.Context) (*worker, error) {
	select {
	case m.eng.procs <- struct{}{}:
	default:
		return nil, errNoProcess
	}
	w, err := m.spawnWorker(ctx)
	if err != nil {
		<-m.eng.procs
	}
	return w, err
}

// describeCompileError turns wazero's refusal of a memory minimum into what
// the partner must change.
func describeCompileError(err error, limit uint64) string {
	msg := err.Error()
	if strings.Contains(msg, "invalid magic number") {
		return "it is not a WebAssembly module (wrong magic number): send the .wasm file that \"syncrules rule build\" writes"
	}
	if strings.Contains(msg, "memory") && strings.Contains(msg, "limit") {
		return fmt.Sprintf("%s: its initial memory exceeds this host's limit of %d MiB; shrink its static data", msg, limit>>20)
	}
	return msg
}

func versions() string {
	s := make([]string, len(SupportedABIVersions))
	for i, v := range SupportedABIVersions {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}

// check validates a compiled module's exports, imports and memory against
// the contract before anything of it runs.
func (e *Engine) check(c wazero.CompiledModule) error {
	exports := c.ExportedFunctions()
	for _, name := range slices.Sorted(maps.Keys(abi.Exports)) {
		want := abi.Exports[name]
		def, ok := exports[name]
		if !ok {
			return fmt.Errorf("it does not export %s: build it with -buildmode=c-shared and import github.com/syncrules/syncrules/sdk", name)
		}
		if !sameTypes(def.ParamTypes(), want.Params) || !sameTypes(def.ResultTypes(), want.Results) {
			return fmt.Errorf("export %s has signature %s, want %s", name, signature(def.ParamTypes(), def.ResultTypes()), signature(toValueTypes(want.Params), toValueTypes(want.Results)))
		}
	}
	for _, def := range c.ImportedFunctions() {
		mod, fn, _ := def.Import()
		if mod != wasi_snapshot_preview1.ModuleName {
			return fmt.Errorf("it imports %s.%s; a rule may import only %s", mod, fn, wasi_snapshot_preview1.ModuleName)
		}
	}
	if len(c.ImportedMemories()) > 0 {
		return errors.New("it imports a memory; a rule must define its own")
	}
	// A memory minimum over the limit is refused by wazero at compile time.
	return nil
}

func sameTypes(got []api.ValueType, want []abi.ValType) bool {
	return slices.Equal(got, toValueTypes(want))
}

func toValueTypes(ts []abi.ValType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		out[i] = api.ValueType(t)
	}
	return out
}

func signature(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return "(" + names(params) + ") -> (" + names(results) + ")"
}

// CallInfo describes a finished call.
type CallInfo struct {
	// Where the call ran: RunTrusted, RunSandboxed or RunWorker.
	Where string
	// Log is what the guest wrote to stdout and stderr, up to the limit;
	// LogDropped counts the bytes beyond it.
	Log        []byte
	LogDropped int
	// MemoryBytes is the size of the guest's linear memory after the call.
	MemoryBytes uint64
	// Timeout is the call's time limit; zero for a trusted call.
	Timeout time.Duration
}

// Call runs the module on an encoded batch and passes the output to read,
// which must copy what it keeps: the output lives in the instance's memory
// and is reused once Call returns. Call waits for an instance as long as ctx
// allows. Any error, from the guest or from read, discards the instance.
func (m *Module) Call(ctx context.Context, input []byte, read func(output []byte) error) error {
	return m.CallInfo(ctx, input, func(out []byte, _ *CallInfo) error { return read(out) })
}

// CallInfo is Call with what else the call produced: the guest's log and
// the memory it used. info is valid only during read.
func (m *Module) CallInfo(ctx context.Context, input []byte, read func(output []byte, info *CallInfo) error) error {
	start := time.Now()
	cfg := &m.eng.cfg
	where, timeout := RunTrusted, time.Duration(0)
	if cfg.Sandboxed {
		n, _ := abi.InputItems(input)
		where, timeout = RunSandboxed, cfg.timeout(n)
		if cfg.Worker.MinItems > 0 && n >= cfg.Worker.MinItems && len(input) <= cfg.Worker.MaxInputBytes {
			where = RunWorker
		}
	}
	var err error
	if where == RunWorker {
		err = m.callWorker(ctx, timeout, input, read)
		if errors.Is(err, errNoProcess) {
			where = RunSandboxed
			err = m.callInstance(ctx, where, timeout, input, read)
		}
	} else {
		err = m.callInstance(ctx, where, timeout, input, read)
	}
	cfg.Observer.Called(m.name, where, KindOf(err), time.Since(start))
	if err != nil && KindOf(err) != KindCanceled {
		err = fmt.Errorf("%s: %w", m.name, err)
	}
	return err
}

func (m *Module) callInstance(ctx context.Context, where string, timeout time.Duration, input []byte, read func([]byte, *CallInfo) error) error {
	inst, err := m.pool.acquire(ctx)
	if err != nil {
		return err
	}
	callCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err = inst.call(callCtx, input, m.eng.cfg.MaxOutputBytes, func(out []byte) error {
		info := CallInfo{Where: where, Log: inst.log.buf.Bytes(), LogDropped: inst.log.dropped,
			MemoryBytes: uint64(inst.mem.Size()), Timeout: timeout}
		return read(out, &info)
	})
	if err != nil {
		err = inst.classify(ctx, err, timeout)
	}
	inst.calls++
	inst.used = time.Now()
	keep := err == nil && uint64(inst.mem.Size()) <= m.eng.cfg.RecycleMemoryBytes && inst.calls < m.eng.cfg.RecycleCalls
	if closed := m.pool.release(inst, keep); closed && err != nil {
		// The engine or module closed under the call; that, not the
		// guest, is why it failed.
		return ErrClosed
	}
	return err
}

// warm makes sure the pool has an idle instance.
func (m *Module) warm(ctx context.Context) {
	if inst, err := m.pool.acquire(ctx); err == nil {
		m.pool.release(inst, true)
	}
}

// Stats describes the module's pools.
func (m *Module) Stats() PoolStats {
	live, idle := m.pool.stats()
	workers, _ := m.workers.stats()
	return PoolStats{Module: m.name, Instances: live, Idle: idle, Workers: workers}
}

// PoolStats returns the pools of every loaded module.
func (e *Engine) PoolStats() []PoolStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]PoolStats, 0, len(e.modules))
	for m := range e.modules {
		out = append(out, m.Stats())
	}
	slices.SortFunc(out, func(a, b PoolStats) int { return strings.Compare(a.Module, b.Module) })
	return out
}

// Close closes the module's idle instances and refuses new calls; calls in
// flight finish and their instances are closed on release.
func (m *Module) Close(ctx context.Context) error {
	m.eng.mu.Lock()
	delete(m.eng.modules, m)
	m.eng.mu.Unlock()
	m.pool.close()
	m.workers.close()
	return m.compiled.Close(ctx)
}
