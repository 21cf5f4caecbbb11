package engine

import (
	"context"
	"errors"
	"time"

	"github.com/syncrules/syncrules/sdk/abi"
)

// Errors a caller tests with errors.Is, beside ErrTrap and ErrClosed.
var (
	// ErrTimeout means a sandboxed call ran past its deadline and was
	// stopped.
	ErrTimeout = errors.New("rule module ran out of time")
	// ErrMemory means the guest needed more memory than its limit.
	ErrMemory = errors.New("rule module ran out of memory")
)

// ErrorKind classifies a failed call for metrics and logs.
type ErrorKind string

// Kinds of failure. A successful call has the kind "".
const (
	KindTrap     ErrorKind = "trap"     // panic, out-of-bounds access, stack overflow
	KindTimeout  ErrorKind = "timeout"  // stopped at the deadline
	KindMemory   ErrorKind = "memory"   // over the memory limit
	KindContract ErrorKind = "contract" // broke the ABI: bad output, bad pointers
	KindCanceled ErrorKind = "canceled" // the caller gave up
	KindClosed   ErrorKind = "closed"   // the module or engine closed
	KindOther    ErrorKind = "other"
)

// KindOf classifies err; it returns "" for nil.
func KindOf(err error) ErrorKind {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTimeout):
		return KindTimeout
	case errors.Is(err, ErrMemory):
		return KindMemory
	case errors.Is(err, ErrTrap):
		return KindTrap
	case errors.Is(err, abi.ErrContract):
		return KindContract
	case errors.Is(err, ErrClosed):
		return KindClosed
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return KindCanceled
	default:
		return KindOther
	}
}

// Observer receives the engine's measurements; package metrics turns them
// into Prometheus series. Methods are called on hot paths, concurrently, and
// must be quick.
type Observer interface {
	// Compiled reports that a module was compiled and checked at load.
	Compiled(module string, d time.Duration)
	// Called reports a finished call: where it ran (RunTrusted,
	// RunSandboxed or RunWorker), its failure kind ("" on success) and
	// its duration, waiting for an instance included.
	Called(module string, where string, kind ErrorKind, d time.Duration)
	// Waited reports time spent waiting for a free instance or worker,
	// only when the pool was full.
	Waited(module string, d time.Duration)
}

// Where a call ran, as reported to an Observer.
const (
	RunTrusted   = "trusted"   // in process, no deadline checks
	RunSandboxed = "sandboxed" // in process, deadline enforced
	RunWorker    = "worker"    // in a worker process, killed at the deadline
)

// PoolStats describe one module's instances and workers.
type PoolStats struct {
	Module    string
	Instances int // live in-process instances
	Idle      int // of which idle
	Workers   int // live worker processes
}

type nopObserver struct{}

func (nopObserver) Compiled(string, time.Duration)                  {}
func (nopObserver) Called(string, string, ErrorKind, time.Duration) {}
func (nopObserver) Waited(string, time.Duration)                    {}
