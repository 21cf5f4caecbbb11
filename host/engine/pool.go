package engine

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// pool bounds a module's instances, or its worker processes. Acquire reuses
// an idle one, makes a new one while under the bound, or waits as long as
// ctx allows.
type pool[T any] struct {
	name    string
	kind    string // "instance" or "worker", for errors
	obs     Observer
	create  func(context.Context) (T, error)
	destroy func(T)

	idle   chan T
	sem    chan struct{} // one token per live T
	mu     sync.Mutex
	closed bool
}

func (p *pool[T]) init(size int) {
	p.idle = make(chan T, size)
	p.sem = make(chan struct{}, size)
}

func (p *pool[T]) acquire(ctx context.Context) (T, error) {
	var zero T
	select {
	case v := <-p.idle:
		return v, nil
	default:
	}
	if full := len(p.sem) == cap(p.sem); full {
		defer func(start time.Time) { p.obs.Waited(p.name, time.Since(start)) }(time.Now())
	}
	select {
	case v := <-p.idle:
		return v, nil
	case p.sem <- struct{}{}:
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			<-p.sem
			return zero, ErrClosed
		}
		v, err := p.create(ctx)
		if err != nil {
			<-p.sem
			return zero, fmt.Errorf("engine: new %s of %s: %w", p.kind, p.name, err)
		}
		return v, nil
	case <-ctx.Done():
		return zero, fmt.Errorf("engine: waiting for an %s of %s: %w", p.kind, p.name, context.Cause(ctx))
	}
}

// add puts a T made outside acquire into the pool, if there is room.
func (p *pool[T]) add(v T) bool {
	select {
	case p.sem <- struct{}{}:
	default:
		p.destroy(v)
		return false
	}
	return !p.release(v, true)
}

// release returns v to the pool, or destroys it; it reports whether the
// pool was closed.
func (p *pool[T]) release(v T, keep bool) (closed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if keep && !p.closed {
		p.idle <- v // never blocks: idle holds at most one per token
		return false
	}
	p.destroy(v)
	<-p.sem
	return p.closed
}

func (p *pool[T]) stats() (live, idle int) { return len(p.sem), len(p.idle) }

// reap destroys the idle ones that stale reports, keeping the others.
func (p *pool[T]) reap(stale func(T) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range len(p.idle) {
		v := <-p.idle
		if stale(v) {
			p.destroy(v)
			<-p.sem
			continue
		}
		p.idle <- v
	}
}

func (p *pool[T]) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for {
		select {
		case v := <-p.idle:
			p.destroy(v)
			<-p.sem
		default:
			return
		}
	}
}
