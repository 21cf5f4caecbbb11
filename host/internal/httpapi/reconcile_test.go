package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

// reconcileQueue records the reconciliations queued.
type reconcileQueue struct {
	webhookQueue
	mu         sync.Mutex
	reconciles []string
}

func (q *reconcileQueue) EnqueueReconcile(_ context.Context, shopID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reconciles = append(q.reconciles, shopID)
	return nil
}

// TestReconcileShop: POST .../sync/reconcile queues a connected shop's
// reconciliation (202); a shop not connected has nothing to reconcile
// (409), and a server whose queue cannot reconcile says so (503).
func TestReconcileShop(t *testing.T) {
	p := startPlatforms(t, catalog.Options{Products: 2, Variants: 2, Locations: 2, Seed: 11})
	q := &reconcileQueue{}
	st := newStore(t)
	s := newServer(t, loadRule(t), serverConfig{platforms: p.platforms, queue: q, store: st})
	s.putShop(t, "acme", `{"name":"Acme","shopify_domain":"`+p.shopify.ShopDomain()+`"}`)
	if ex := s.do(t, http.MethodPut, "/v1/shops/acme/credentials", "application/json", p.credentials(nil)); ex.status != http.StatusOK {
		t.Fatalf("credentials: %d %s", ex.status, ex.body)
	}
	if ex := s.do(t, http.MethodPost, "/v1/shops/acme/sync/reconcile", "", ""); ex.status != http.StatusConflict || !strings.Contains(string(ex.body), "not connected") {
		t.Errorf("reconcile before connecting: %d %s, want 409 saying it is not connected", ex.status, ex.body)
	}
	s.connect(t, "acme")
	s.waitRun(t, "acme")
	if ex := s.do(t, http.MethodPost, "/v1/shops/acme/sync/reconcile", "", ""); ex.status != http.StatusAccepted {
		t.Errorf("reconcile: %d %s, want 202", ex.status, ex.body)
	}
	q.mu.Lock()
	if !slices.Equal(q.reconciles, []string{"acme"}) {
		t.Errorf("reconciliations queued: %v, want acme's", q.reconciles)
	}
	q.mu.Unlock()

	plain := newServer(t, loadRule(t), serverConfig{platforms: p.platforms, queue: &webhookQueue{}, store: st})
	if ex := plain.do(t, http.MethodPost, "/v1/shops/acme/sync/reconcile", "", ""); ex.status != http.StatusServiceUnavailable {
		t.Errorf("reconcile without a reconciling queue: %d %s, want 503", ex.status, ex.body)
	}
}
