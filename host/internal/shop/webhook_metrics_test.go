package shop_test

import (
	"bytes"
	"log/slog"
	"slices"
	gosync "sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/secret"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// syncMetrics records what the service reports.
type syncMetrics struct {
	mu       gosync.Mutex
	webhooks []string // topic outcome
}

func (m *syncMetrics) WebhookReceived(topic, outcome string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.webhooks = append(m.webhooks, topic+" "+outcome)
}
func (m *syncMetrics) Published(int)      {}
func (m *syncMetrics) Failed(string, int) {}
func (m *syncMetrics) Lag(time.Duration)  {}
func (m *syncMetrics) Repaired(int)       {}
func (m *syncMetrics) last() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.webhooks) == 0 {
		return ""
	}
	return m.webhooks[len(m.webhooks)-1]
}

// TestWebhookMetrics: every receipt is counted once, by a topic from a
// bounded set and by what it was answered.
func TestWebhookMetrics(t *testing.T) {
	h := newWebhookHarness(t, true)
	sl, err := secret.NewSealer(bytes.Repeat([]byte{7}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	m := &syncMetrics{}
	svc := shop.New(shop.Options{Store: h.store, Sealer: sl, Queue: h.queue, SyncMetrics: m, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(svc.Close)
	noQueue := shop.New(shop.Options{Store: h.store, Sealer: sl, SyncMetrics: m, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(noQueue.Close)

	const level = `{"inventory_item_id":1,"location_id":2,"available":3}`
	forged := webhook("w9", shop.TopicInventoryLevelsUpdate, level)
	forged.HMAC = sign("guessed", forged.Body)
	unknownTopic := webhook("w10", "made/up", `{}`)
	unknownTopic.HMAC = "forged"
	tests := []struct {
		name string
		svc  *shop.Service
		w    shop.ShopifyWebhook
		want string
	}{
		{"recorded", svc, webhook("w1", shop.TopicInventoryLevelsUpdate, level), "inventory_levels/update recorded"},
		{"a retry", svc, webhook("w1", shop.TopicInventoryLevelsUpdate, level), "inventory_levels/update duplicate"},
		{"a topic the sync ignores", svc, webhook("w2", "orders/create", `{}`), "other recorded"},
		{"forged", svc, forged, "inventory_levels/update refused"},
		{"forged, of a made-up topic", svc, unknownTopic, "other refused"},
		{"signed, without an id", svc, webhook("", shop.TopicProductsUpdate, `{"id":1}`), "products/update refused"},
		{"no queue", noQueue, webhook("w3", shop.TopicLocationsUpdate, `{}`), "locations/update unavailable"},
	}
	for i, tt := range tests {
		_, _ = tt.svc.ReceiveWebhook(t.Context(), tt.w)
		if got := m.last(); got != tt.want || len(m.webhooks) != i+1 {
			t.Errorf("%s: counted %q (%d in all), want %q (%d)", tt.name, got, len(m.webhooks), tt.want, i+1)
		}
	}
	if slices.Contains(m.webhooks, "made/up refused") {
		t.Error("an unsigned topic became a label")
	}
}
