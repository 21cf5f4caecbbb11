package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/metrics"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/sync"
)

// Metrics is what the shop layer and the queue report to.
var (
	_ shop.SyncMetrics = (*metrics.Metrics)(nil)
	_ sync.JobMetrics  = (*metrics.Metrics)(nil)
)

// TestSyncSeries: each report lands in its series with its labels.
func TestSyncSeries(t *testing.T) {
	m := metrics.New(nil)
	m.WebhookReceived(shop.TopicInventoryLevelsUpdate, shop.WebhookRecorded)
	m.WebhookReceived(shop.TopicInventoryLevelsUpdate, shop.WebhookRecorded)
	m.WebhookReceived("other", shop.WebhookRefused)
	m.Published(3)
	m.Failed("12052055", 2)
	m.Failed("", 1)
	m.Lag(300 * time.Millisecond)
	m.Lag(3 * time.Second)
	m.Repaired(4)
	m.JobStarted("webhooks", "shop_sync", 2*time.Millisecond)
	m.JobFinished("webhooks", "shop_sync", "snoozed", time.Second)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	mfs := scrape(t, srv.URL)
	for _, c := range []struct {
		name string
		kv   []string
		want float64
	}{
		{"syncrules_sync_webhooks_total", []string{"topic", "inventory_levels/update", "outcome", "recorded"}, 2},
		{"syncrules_sync_webhooks_total", []string{"topic", "other", "outcome", "refused"}, 1},
		{"syncrules_sync_publications_total", nil, 3},
		{"syncrules_sync_failures_total", []string{"code", "12052055"}, 2},
		{"syncrules_sync_failures_total", []string{"code", "unknown"}, 1},
		{"syncrules_sync_repairs_total", nil, 4},
	} {
		if got := counter(t, mfs, c.name, c.kv...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.kv, got, c.want)
		}
	}
	lag := histogram(t, mfs, "syncrules_sync_lag_seconds")
	for _, b := range lag.GetBucket() {
		// Within a second: the first; within 5: both.
		want := map[float64]uint64{1: 1, 5: 2}[b.GetUpperBound()]
		if want != 0 && b.GetCumulativeCount() != want {
			t.Errorf("lag bucket le=%v has %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if h := histogram(t, mfs, "syncrules_sync_job_wait_seconds", "queue", "webhooks", "kind", "shop_sync"); h.GetSampleCount() != 1 {
		t.Errorf("job waits = %d, want 1", h.GetSampleCount())
	}
	if h := histogram(t, mfs, "syncrules_sync_job_duration_seconds", "queue", "webhooks", "kind", "shop_sync", "outcome", "snoozed"); h.GetSampleCount() != 1 {
		t.Errorf("job runs = %d, want 1", h.GetSampleCount())
	}
	if mfs["syncrules_sync_jobs"] != nil {
		t.Error("queue gauges without WatchQueue")
	}
}

// The queue's depth is read at scrape time, at most once a second.
func TestQueueDepth(t *testing.T) {
	m := metrics.New(func() []engine.PoolStats { return nil })
	var reads atomic.Int64
	m.WatchQueue(func(ctx context.Context) (metrics.QueueDepth, error) {
		reads.Add(1)
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the depth is read without a deadline")
		}
		return metrics.QueueDepth{
			ByState: map[string]int{"available": 3, "running": 2, "completed": 40},
			ByQueue: map[string]map[string]int{"webhooks": {"available": 3, "running": 1}, "bulk": {"available": 0, "running": 1}},
		}, nil
	})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	first := time.Now()
	mfs := scrape(t, srv.URL)
	for _, c := range []struct {
		name string
		kv   []string
		want float64
	}{
		{"syncrules_sync_jobs", []string{"state", "available"}, 3},
		{"syncrules_sync_jobs", []string{"state", "completed"}, 40},
		{"syncrules_sync_queue_jobs", []string{"queue", "webhooks", "state", "available"}, 3},
		{"syncrules_sync_queue_jobs", []string{"queue", "bulk", "state", "running"}, 1},
	} {
		if got := gauge(t, mfs, c.name, c.kv...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.kv, got, c.want)
		}
	}
	scrape(t, srv.URL)
	// A machine too busy to scrape twice within the second proves nothing.
	if n := reads.Load(); n != 1 && time.Since(first) < time.Second {
		t.Errorf("two scrapes within a second read the depth %d times, want 1", n)
	}
}

// A depth that fails to read costs its series, not the scrape.
func TestQueueDepthFails(t *testing.T) {
	m := metrics.New(nil)
	m.Published(1)
	m.WatchQueue(func(context.Context) (metrics.QueueDepth, error) {
		return metrics.QueueDepth{}, errors.New("database gone")
	})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	mfs := scrape(t, srv.URL)
	if mfs["syncrules_sync_jobs"] != nil {
		t.Error("queue gauges from a failed read")
	}
	if got := counter(t, mfs, "syncrules_sync_publications_total"); got != 1 {
		t.Errorf("publications = %v, want 1 despite the failed read", got)
	}
}
