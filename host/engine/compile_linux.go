package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero"
	"golang.org/x/sys/unix"
)

// A sandboxed engine compiles a module first in a child process, killed at
// Config.CompileTimeout, with its data capped at Config.CompileMemoryBytes:
// wazero's compiler is quadratic in a function's nesting and in a br_table's
// size, and cannot be stopped in process (RATIONALE.md, "Why compile in a
// child process?"). The child fills the compilation cache, so that the
// engine's own compilation afterwards is a cache hit; for an engine with
// workers, a second child at the same time fills the workers' entry, so
// that a worker's start is one too.

// compileEnv carries a compiling child's spec; its presence makes a process
// one.
const compileEnv = "SYNCRULES_ENGINE_COMPILE"

// compileSpec is what a compiling child needs, passed in its environment;
// the module comes on its stdin.
type compileSpec struct {
	// CacheDir is a directory of the child's own, holding links to the
	// engine's cache files, and whose new files the engine moves into its
	// cache: a child killed while writing one leaves nothing behind.
	CacheDir       string
	MaxMemoryBytes uint64
	// DeadlineChecks compiles for the sandboxed engine's runtime rather
	// than a worker's.
	DeadlineChecks bool
	MemoryBytes    uint64
	Stall          bool // tests: never finish
}

// compileRefused is the exit code of a child whose module wazero refused;
// the reason is on its stdout.
const compileRefused = 3

// compileHooks let tests hold a child and see it start.
type compileHooks struct {
	stall   bool
	started func(pid int)
}

// compileBoundedAll compiles wasm for each key's runtime, each in a child
// of its own with the whole bounds, at once: with a core each, the upload
// waits for the slower, not for the sum. The first failure stops the
// others and is the error.
func (e *Engine) compileBoundedAll(ctx context.Context, name string, wasm []byte, keys []boundedKey) error {
	if len(keys) == 1 {
		return e.compileBounded(ctx, name, wasm, keys[0].deadlineChecks)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, key := range keys {
		wg.Go(func() {
			if err := e.compileBounded(ctx, name, wasm, key.deadlineChecks); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	return first
}

// compileBounded compiles wasm in a child process, for a runtime with or
// without deadline checks, and, when the engine has a cache directory,
// leaves the result in it. A module the child cannot compile in time or
// memory is ErrInvalidModule.
func (e *Engine) compileBounded(ctx context.Context, name string, wasm []byte, deadlineChecks bool) (err error) {
	cfg := &e.cfg
	spec := compileSpec{MaxMemoryBytes: cfg.MaxMemoryBytes, DeadlineChecks: deadlineChecks, MemoryBytes: cfg.CompileMemoryBytes}
	if cfg.CacheDir != "" {
		if spec.CacheDir, err = os.MkdirTemp(cfg.CacheDir, ".compile-"); err != nil {
			return fmt.Errorf("engine: compilation cache: %w", err)
		}
		defer os.RemoveAll(spec.CacheDir)
		// A module already compiled is a cache hit in the child too.
		if err := linkFiles(cfg.CacheDir, spec.CacheDir); err != nil {
			return fmt.Errorf("engine: compilation cache: %w", err)
		}
	}
	var hooks compileHooks
	if cfg.compileHooks != nil {
		hooks = *cfg.compileHooks
		spec.Stall = hooks.stall
	}
	env, _ := json.Marshal(spec)
	exe := cfg.Worker.Command
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return err
		}
	}
	timeout := cfg.CompileTimeout * raceFactor
	timed, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(timed, exe)
	cmd.Env = []string{compileEnv + "=" + string(env)}
	cmd.Stdin = bytes.NewReader(wasm)
	stdout := &lockedLog{logBuffer: logBuffer{limit: errBytes}}
	stderr := &lockedLog{logBuffer: logBuffer{limit: 4096}}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Output pipes a grandchild could hold open do not delay the answer.
	cmd.WaitDelay = time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("engine: start %s to compile: %w", exe, err)
	}
	if hooks.started != nil {
		hooks.started(cmd.Process.Pid)
	}
	waitErr := cmd.Wait()
	switch {
	case waitErr == nil:
		if spec.CacheDir != "" {
			return moveFiles(spec.CacheDir, cfg.CacheDir)
		}
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("engine: load %s: %w", name, context.Cause(ctx))
	case timed.Err() != nil:
		return fmt.Errorf("%w: %s: compilation took longer than %v; a rule's functions must not nest blocks thousands deep nor branch to thousands of targets", ErrInvalidModule, name, timeout)
	}
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == compileRefused {
		return fmt.Errorf("%w: %s does not compile: %s", ErrInvalidModule, name, describeCompileError(errors.New(stdout.buf.String()), cfg.MaxMemoryBytes))
	}
	if stderr.outOfMemory() || starved(stderr) {
		return fmt.Errorf("%w: %s: compilation needed more than %d MiB of memory", ErrInvalidModule, name, cfg.CompileMemoryBytes>>20)
	}
	return fmt.Errorf("%w: %s: the compiling process died after %v (%v)%s", ErrInvalidModule, name, time.Since(start).Round(time.Millisecond), waitErr, stderr.String())
}

// starved reports whether a child's crash report says that it hit its
// memory limit: the Go runtime or a new thread failing to allocate. The
// runtime may also fault outright when an mmap fails under the limit (1 in
// 30 compiles at 40 MiB on a busy machine): a bare SIGSEGV report, which
// pure Go code cannot otherwise produce (a nil dereference panics).
func starved(stderr *lockedLog) bool {
	stderr.mu.Lock()
	defer stderr.mu.Unlock()
	out := stderr.buf.Bytes()
	for _, s := range []string{"out of memory", "cannot allocate memory", "pthread_create failed", "failed to create new OS thread", "failed to allocate"} {
		if bytes.Contains(out, []byte(s)) {
			return true
		}
	}
	return bytes.HasPrefix(out, []byte("SIGSEGV: segmentation violation"))
}

// linkFiles hard-links wazero's cache files under from into to.
func linkFiles(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && path != from && strings.HasPrefix(d.Name(), "."):
			return filepath.SkipDir // the engine's: another child's, the proofs
		case d.IsDir() || !d.Type().IsRegular() || strings.HasSuffix(d.Name(), ".tmp"):
			return nil
		}
		dst, err := beside(from, to, path)
		if err != nil {
			return err
		}
		if err := os.Link(path, dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

// beside returns path's place under to, as it is under from, making its
// folder.
func beside(from, to, path string) (string, error) {
	rel, err := filepath.Rel(from, path)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(to, rel)
	return dst, os.MkdirAll(filepath.Dir(dst), 0o755)
}

// moveFiles renames every file under from to the same place under to;
// rename is atomic, so a reader of to sees a whole file or none.
func moveFiles(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		dst, err := beside(from, to, path)
		if err != nil {
			return err
		}
		return os.Rename(path, dst)
	})
}

// serveCompile runs this process as a compiling child and returns its exit
// code.
func serveCompile() int {
	var spec compileSpec
	if err := json.Unmarshal([]byte(os.Getenv(compileEnv)), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "syncrules compile:", err)
		return 2
	}
	// RLIMIT_DATA, not RLIMIT_AS: the Go runtime reserves far more address
	// space than it uses, and fails to start under a small RLIMIT_AS.
	// The soft limit makes the collector work before the hard one.
	lim := unix.Rlimit{Cur: spec.MemoryBytes, Max: spec.MemoryBytes}
	if !raceBuild {
		if err := unix.Setrlimit(unix.RLIMIT_DATA, &lim); err != nil {
			fmt.Fprintln(os.Stderr, "syncrules compile: limit memory:", err)
			return 2
		}
	}
	debug.SetMemoryLimit(int64(spec.MemoryBytes) / 4 * 3)
	wasm, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncrules compile:", err)
		return 2
	}
	for spec.Stall {
		time.Sleep(time.Hour)
	}
	ctx := context.Background()
	rc := runtimeConfig(spec.MaxMemoryBytes, spec.DeadlineChecks)
	if spec.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(spec.CacheDir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "syncrules compile: compilation cache:", err)
			return 2
		}
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := rt.CompileModule(ctx, wasm); err != nil {
		fmt.Print(err)
		return compileRefused
	}
	return 0
}
