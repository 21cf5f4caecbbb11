package engine

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCacheDir is one compilation cache for the whole test binary, so each
// test does not recompile the same modules (slow under the race detector).
var testCacheDir string

func TestMain(m *testing.M) {
	// Sandboxed engines start this test binary as their worker process.
	if IsWorker() {
		os.Exit(ServeWorker())
	}
	dir, err := os.MkdirTemp("", "syncrules-engine-cache-")
	if err != nil {
		panic(err)
	}
	testCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// WithTestCache returns cfg with the test binary's shared compilation cache,
// unless cfg names its own.
func WithTestCache(cfg Config) Config {
	if cfg.CacheDir == "" {
		cfg.CacheDir = testCacheDir
	}
	return cfg
}

// StartWorker starts one of the module's workers and pools it, so that a
// test's first big batch is timed without a worker's start.
func StartWorker(m *Module) error {
	w, err := m.workers.acquire(context.Background())
	if err != nil {
		return err
	}
	m.workers.release(w, true)
	return nil
}

// WithCompileHooks returns cfg whose compiling children call started with
// their process id and, if stall, never finish.
func WithCompileHooks(cfg Config, stall bool, started func(pid int)) Config {
	cfg.compileHooks = &compileHooks{stall: stall, started: started}
	return cfg
}

// ReapIdle does what the reaper does at its next tick, as if it were now.
func (e *Engine) ReapIdle(now time.Time) { e.reapIdleAt(now) }

// CompileTimeoutFactor stretches compile timeouts in a race build.
const CompileTimeoutFactor = raceFactor

// ForgetBoundedCompiles forgets, in this process, that children compiled
// wasm, as a restart does; the proofs in a cache directory remain.
func ForgetBoundedCompiles(wasm []byte) {
	sum := sha256.Sum256(wasm)
	provenBounded.Range(func(k, _ any) bool {
		if k.(boundedKey).sum == sum {
			provenBounded.Delete(k)
		}
		return true
	})
}

// BoundedProofDir is the folder of a cache directory that holds the proofs
// of bounded compilations.
func BoundedProofDir(cacheDir string) string { return filepath.Join(cacheDir, provenDir) }

// InWorkerCache reports whether the engine's compilation cache holds wasm's
// machine code for a worker's runtime, which has no deadline checks.
func InWorkerCache(e *Engine, wasm []byte) bool { return e.cacheHolds(wasm, false) }
