// Package budget bounds the sandboxed plugin calls running at once, and
// shares them fairly between tenants: when calls wait, a freed slot goes
// to the waiting tenant that holds the fewest, so a tenant with many calls
// waiting (a shop whose plugin hangs, a burst of syncs) cannot starve
// another. Each tenant's own calls are served in arrival order.
//
//	lim := budget.New(4)
//	release, err := lim.Acquire(ctx, "shop:acme")
//	if err != nil { return err } // ctx ended while waiting
//	defer release()
//
// golang.org/x/sync/semaphore and a buffered channel are FIFO across all
// callers, which is what lets one tenant's queue starve the others; see
// RATIONALE.md, "Why a fair queue of plugin calls, written by hand?".
package budget

import (
	"context"
	"runtime"
	"sync"
)

// DefaultInteractive is the default budget of interactive plugin calls:
// GOMAXPROCS - 1, at least 1. A plugin call in process holds its thread
// until it returns or reaches its deadline (wazero's compiled code cannot
// be preempted), so this many leave one for the default rule and the API.
// See RATIONALE.md, "Why GOMAXPROCS - 1 plugin calls at once?".
func DefaultInteractive() int { return max(runtime.GOMAXPROCS(0)-1, 1) }

// DefaultSync is the default budget of sync plugin calls, the same.
func DefaultSync() int { return DefaultInteractive() }

// Limiter admits at most its limit of holders at once. It is safe for
// concurrent use.
type Limiter struct {
	mu      sync.Mutex
	limit   int
	busy    int
	tenants map[string]*tenant // those holding or waiting
	served  uint64             // grants so far, to order ties
}

type tenant struct {
	name    string
	held    int
	waiting []*waiter
	last    uint64 // when it was last granted a slot
}

type waiter struct {
	ready   chan struct{} // closed when granted
	granted bool
}

// New returns a Limiter of limit holders; limit < 1 means 1.
func New(limit int) *Limiter {
	return &Limiter{limit: max(limit, 1), tenants: make(map[string]*tenant)}
}

// Limit returns the number of holders admitted at once.
func (l *Limiter) Limit() int { return l.limit }

// Acquire waits for a slot for tenant, as long as ctx allows, and returns
// the function that gives it back; call it exactly once.
func (l *Limiter) Acquire(ctx context.Context, name string) (release func(), err error) {
	l.mu.Lock()
	t := l.tenants[name]
	if t == nil {
		t = &tenant{name: name}
		l.tenants[name] = t
	}
	if l.busy < l.limit && !l.anyWaiting() {
		l.grant(t)
		l.mu.Unlock()
		return l.releaser(t), nil
	}
	w := &waiter{ready: make(chan struct{})}
	t.waiting = append(t.waiting, w)
	l.mu.Unlock()

	select {
	case <-w.ready:
		return l.releaser(t), nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	if w.granted {
		// Granted as ctx ended: hand the slot on.
		l.mu.Unlock()
		l.releaser(t)()
		return nil, context.Cause(ctx)
	}
	for i, x := range t.waiting {
		if x == w {
			t.waiting = append(t.waiting[:i], t.waiting[i+1:]...)
			break
		}
	}
	l.forget(t)
	l.mu.Unlock()
	return nil, context.Cause(ctx)
}

// Stats describes the limiter now.
type Stats struct {
	Limit, Busy, Waiting, Tenants int
}

// Stats returns the slots in use and the calls waiting.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := Stats{Limit: l.limit, Busy: l.busy, Tenants: len(l.tenants)}
	for _, t := range l.tenants {
		s.Waiting += len(t.waiting)
	}
	return s
}

func (l *Limiter) anyWaiting() bool {
	for _, t := range l.tenants {
		if len(t.waiting) > 0 {
			return true
		}
	}
	return false
}

// grant gives t a slot; l.mu is held.
func (l *Limiter) grant(t *tenant) {
	l.busy++
	t.held++
	l.served++
	t.last = l.served
}

func (l *Limiter) releaser(t *tenant) func() {
	var once sync.Once
	return func() { once.Do(func() { l.release(t) }) }
}

// release gives back t's slot, to the waiting tenant that holds the
// fewest, the one served longest ago among equals.
func (l *Limiter) release(t *tenant) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.busy--
	t.held--
	l.forget(t)
	var next *tenant
	for _, c := range l.tenants {
		if len(c.waiting) == 0 {
			continue
		}
		if next == nil || c.held < next.held || (c.held == next.held && c.last < next.last) {
			next = c
		}
	}
	if next == nil {
		return
	}
	w := next.waiting[0]
	next.waiting = next.waiting[1:]
	w.granted = true
	l.grant(next)
	close(w.ready)
}

// forget drops t once it neither holds nor waits; l.mu is held.
func (l *Limiter) forget(t *tenant) {
	if t.held == 0 && len(t.waiting) == 0 && l.tenants[t.name] == t {
		delete(l.tenants, t.name)
	}
}
