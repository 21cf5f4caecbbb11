//go:build !linux

package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

const workersSupported = false

var errNoWorkers = errors.New("engine: worker processes need Linux")

// IsWorker reports false: worker processes need Linux.
func IsWorker() bool { return false }

// ServeWorker fails: worker processes need Linux.
func ServeWorker() int { return 2 }

type worker struct{}

func (w *worker) destroy() {}

func (w *worker) lastUsed() time.Time { return time.Time{} }

func (m *Module) spawnWorker(context.Context) (*worker, error) { return nil, errNoWorkers }

func (m *Module) callWorker(context.Context, time.Duration, []byte, func([]byte, *CallInfo) error) error {
	return errNoWorkers
}

var childrenServed atomic.Bool

type compileHooks struct {
	stall   bool
	started func(pid int)
}

// compileBoundedAll is not called: without Linux a module compiles in
// process.
func (e *Engine) compileBoundedAll(context.Context, string, []byte, []boundedKey) error { return nil }
