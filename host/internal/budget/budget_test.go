package budget

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// waitFor yields until cond holds; the limiter's state changes under
// goroutines the test starts.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

// acquireAsync starts Acquire for tenant and returns a channel that gets
// the release once granted.
func acquireAsync(t *testing.T, l *Limiter, ctx context.Context, tenant string) <-chan func() {
	t.Helper()
	ch := make(chan func(), 1)
	go func() {
		release, err := l.Acquire(ctx, tenant)
		if err != nil {
			close(ch)
			return
		}
		ch <- release
	}()
	return ch
}

// TestLimit: never more holders than the limit, however many tenants and
// calls.
func TestLimit(t *testing.T) {
	const limit = 3
	l := New(limit)
	var in, most atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				release, err := l.Acquire(context.Background(), []string{"a", "b", "c", "d"}[g%4])
				if err != nil {
					t.Error(err)
					return
				}
				n := in.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				runtime.Gosched()
				in.Add(-1)
				release()
			}
		}()
	}
	wg.Wait()
	if most.Load() > limit {
		t.Errorf("%d holders at once, limit %d", most.Load(), limit)
	}
	if st := l.Stats(); st.Busy != 0 || st.Waiting != 0 || st.Tenants != 0 {
		t.Errorf("stats after every release: %+v", st)
	}
}

// TestFairness: a tenant that holds every slot and has many calls waiting
// does not starve one that comes later: each slot freed goes to the
// waiting tenant holding the fewest.
func TestFairness(t *testing.T) {
	l := New(2)
	ctx := context.Background()
	var held []func()
	for range 2 {
		r, err := l.Acquire(ctx, "hog")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	var hogWaiting []<-chan func()
	for range 10 {
		hogWaiting = append(hogWaiting, acquireAsync(t, l, ctx, "hog"))
	}
	waitFor(func() bool { return l.Stats().Waiting == 10 })
	victim := acquireAsync(t, l, ctx, "victim")
	waitFor(func() bool { return l.Stats().Waiting == 11 })

	held[0]() // the hog holds 1, the victim 0: the victim's turn
	release := <-victim
	if release == nil {
		t.Fatal("the victim was not granted")
	}
	if st := l.Stats(); st.Busy != 2 || st.Waiting != 10 {
		t.Errorf("stats %+v, want 2 busy and the hog's 10 waiting", st)
	}
	// The victim's second call, while the hog still waits, is next too.
	release()
	waitFor(func() bool { return l.Stats().Busy == 2 }) // a hog's waiter took the slot
	victim = acquireAsync(t, l, ctx, "victim")
	waitFor(func() bool { return l.Stats().Waiting == 10 })
	held[1]()
	if release = <-victim; release == nil {
		t.Fatal("the victim was not granted")
	}
	release()
	// The hog's calls all run, in turn.
	var granted atomic.Int64
	var wg sync.WaitGroup
	for _, ch := range hogWaiting {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := <-ch; r != nil {
				granted.Add(1)
				r()
			}
		}()
	}
	wg.Wait()
	if st := l.Stats(); st.Busy != 0 || st.Waiting != 0 || granted.Load() != 10 {
		t.Errorf("stats %+v, %d hog calls granted; want all done", st, granted.Load())
	}
}

// TestCancel: a call whose context ends while it waits leaves the queue
// and returns the context's error; the slot goes to the next.
func TestCancel(t *testing.T) {
	l := New(1)
	release, err := l.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, "b")
		gone <- err
	}()
	next := acquireAsync(t, l, context.Background(), "c")
	waitFor(func() bool { return l.Stats().Waiting == 2 })
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire after cancel = %v, want context.Canceled", err)
	}
	if st := l.Stats(); st.Waiting != 1 {
		t.Errorf("stats %+v, want c alone waiting", st)
	}
	release()
	release() // a second call does nothing
	r := <-next
	if r == nil {
		t.Fatal("c was not granted")
	}
	r()
	if st := l.Stats(); st.Busy != 0 || st.Tenants != 0 {
		t.Errorf("stats %+v, want nothing left", st)
	}
}
