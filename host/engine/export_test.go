package engine

import (
	"context"
	"os"
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
