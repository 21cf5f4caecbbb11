package sync_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/sync"
)

// page is one Reconcile call the test answers.
type page struct {
	shop, after string
	reply       chan<- pageResult
}

type pageResult struct {
	next string
	err  error
}

// fakeReconcile is a Reconcile whose every call waits for the test's
// answer, until done is closed: then each finds nothing to do.
type fakeReconcile struct {
	pages chan page
	done  chan struct{}
}

func newFakeReconcile() *fakeReconcile {
	return &fakeReconcile{pages: make(chan page), done: make(chan struct{})}
}

func (f *fakeReconcile) Reconcile(ctx context.Context, shop, after string) (string, int, error) {
	reply := make(chan pageResult, 1)
	select {
	case f.pages <- page{shop: shop, after: after, reply: reply}:
	case <-f.done:
		return "", 0, nil
	case <-ctx.Done():
		return "", 0, ctx.Err()
	}
	select {
	case r := <-reply:
		return r.next, 1, r.err
	case <-ctx.Done():
		return "", 0, ctx.Err()
	}
}

func (f *fakeReconcile) next(t *testing.T) page {
	t.Helper()
	select {
	case p := <-f.pages:
		return p
	case <-time.After(wait):
		t.Fatalf("no Reconcile call within %s", wait)
		return page{}
	}
}

// connectedShop stores a connected shop.
func connectedShop(t *testing.T, s *store.Store, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.PutShop(ctx, shop.Shop{ID: id, Name: id}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Connect(ctx, id, shop.Connection{Locations: []shop.Location{{ID: "l1", Active: true}}, Warehouses: []shop.Warehouse{{ID: "w1", Active: true, Default: true}}}); err != nil {
		t.Fatal(err)
	}
}

// TestReconcileJobPagesAndResumes: a queued reconciliation takes the
// shop's pages in order; one that fails is retried from the page that
// failed, and ends recorded done.
func TestReconcileJobPagesAndResumes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		connectedShop(t, s, "acme")
		f := newFakeReconcile()
		q := open(t, s, newFakeShops(), func(o *sync.Options) {
			o.Reconcile = f.Reconcile
			o.ReconcileInterval = 24 * time.Hour // the schedule stays out of the way
		})
		start(t, q)
		if err := q.EnqueueReconcile(context.Background(), "acme"); err != nil {
			t.Fatal(err)
		}
		var took []string
		for _, r := range []pageResult{{next: "v1"}, {err: fmt.Errorf("TikTok answered 503")}, {next: "v2"}, {}} {
			p := f.next(t)
			took = append(took, p.shop+"@"+p.after)
			p.reply <- r
		}
		if want := "[acme@ acme@v1 acme@v1 acme@v2]"; fmt.Sprint(took) != want {
			t.Errorf("pages taken = %v, want %s", took, want)
		}
		close(f.done)
		stop(t, q) // waits for the job to end
		states, err := s.ReconcileStates(context.Background())
		if err != nil || len(states) != 1 || states[0].Started.IsZero() || states[0].ResumeAfter != "" {
			t.Errorf("reconciliation state = %+v, %v; want started and done", states, err)
		}
	})
}

// TestReconcileScheduleQueuesDueShops: River's periodic job queues the
// reconciliation of a connected shop whose slot has come, and of no shop
// that is not connected.
func TestReconcileScheduleQueuesDueShops(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		connectedShop(t, s, "acme")
		if _, err := s.PutShop(context.Background(), shop.Shop{ID: "unconnected", Name: "u"}, nil); err != nil {
			t.Fatal(err)
		}
		f := newFakeReconcile()
		// Every second is a slot: the shop is due at the first look.
		q := open(t, s, newFakeShops(), func(o *sync.Options) {
			o.Reconcile = f.Reconcile
			o.ReconcileInterval = time.Second
		})
		start(t, q)
		p := f.next(t)
		if p.shop != "acme" || p.after != "" {
			t.Errorf("first reconciliation: shop %q after %q, want acme from the first page", p.shop, p.after)
		}
		p.reply <- pageResult{}
		close(f.done)
		stop(t, q)
		for k, n := range jobs(t, s) {
			if strings.HasPrefix(k, "unconnected ") {
				t.Errorf("%d jobs %q: a shop not connected has nothing to reconcile", n, k)
			}
		}
	})
}

// TestReconcileBlockedShopIsCancelled: a shop that cannot publish is not
// retried (its next slot tries again, from the first page).
func TestReconcileBlockedShopIsCancelled(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		connectedShop(t, s, "acme")
		f := newFakeReconcile()
		q := open(t, s, newFakeShops(), func(o *sync.Options) {
			o.Reconcile = f.Reconcile
			o.ReconcileInterval = 24 * time.Hour
		})
		start(t, q)
		if err := q.EnqueueReconcile(context.Background(), "acme"); err != nil {
			t.Fatal(err)
		}
		f.next(t).reply <- pageResult{next: "v1"}
		f.next(t).reply <- pageResult{err: fmt.Errorf("shop %q: %w: it has no settings", "acme", shop.ErrSyncBlocked)}
		close(f.done) // a retry would now complete the job
		stop(t, q)
		if got := jobs(t, s)[key("acme", "cancelled")]; got != 1 {
			t.Errorf("jobs = %v, want acme's reconciliation cancelled", jobs(t, s))
		}
		states, err := s.ReconcileStates(context.Background())
		if err != nil || len(states) != 1 || states[0].ResumeAfter != "" {
			t.Errorf("reconciliation state = %+v, %v; want to start again from the first page", states, err)
		}
	})
}
