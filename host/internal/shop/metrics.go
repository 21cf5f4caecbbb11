package shop

import (
	"errors"
	"time"
)

// SyncMetrics receives the sync's measurements. Package metrics implements
// it with Prometheus series; the shop layer only calls it, so that it does
// not depend on Prometheus. Its methods must be safe for concurrent use
// and cheap: they run on the webhook's and the sync's paths.
type SyncMetrics interface {
	// WebhookReceived counts a webhook by topic and outcome (one of the
	// Webhook* outcomes). topic is a known topic or "other": a sender
	// that did not sign must not be able to add series.
	WebhookReceived(topic, outcome string)
	// Published counts n quantities (SKU and warehouse) TikTok accepted.
	Published(n int)
	// Failed counts n quantities not published, by code: TikTok's per-SKU
	// code, or the sync's reason (a rule's error code,
	// sku_not_in_warehouse, invalid_update).
	Failed(code string, n int)
	// Lag observes the time from the first webhook that left an item
	// pending to TikTok accepting its new quantity.
	Lag(d time.Duration)
	// Repaired counts n quantities a reconciliation corrected on TikTok.
	Repaired(n int)
}

// The outcomes of a webhook receipt, as SyncMetrics counts them.
const (
	WebhookRecorded    = "recorded"    // recorded, its work enqueued: answered 200
	WebhookDuplicate   = "duplicate"   // its id was recorded before: answered 200, nothing done
	WebhookRefused     = "refused"     // did not verify, or lacked a header: answered 401 or 400
	WebhookUnavailable = "unavailable" // could not be recorded: answered 503, Shopify retries
)

// noSyncMetrics is the SyncMetrics of Options.SyncMetrics nil.
type noSyncMetrics struct{}

func (noSyncMetrics) WebhookReceived(string, string) {}
func (noSyncMetrics) Published(int)                  {}
func (noSyncMetrics) Failed(string, int)             {}
func (noSyncMetrics) Lag(time.Duration)              {}
func (noSyncMetrics) Repaired(int)                   {}

// webhookTopics are the topics counted by name; any other is "other".
var webhookTopics = map[string]bool{
	TopicInventoryLevelsUpdate: true, TopicInventoryItemsUpdate: true, TopicInventoryItemsDelete: true,
	TopicProductsUpdate: true, TopicProductsDelete: true,
	TopicLocationsUpdate: true, TopicLocationsActivate: true, TopicLocationsDeactivate: true,
}

// countWebhook counts a receipt by its topic and what ReceiveWebhook
// answered.
func (s *Service) countWebhook(topic string, res WebhookResult, err error) {
	if !webhookTopics[topic] {
		topic = "other"
	}
	outcome := WebhookRecorded
	var e *Error
	switch {
	case err == nil && res.Duplicate:
		outcome = WebhookDuplicate
	case err == nil:
	case errors.As(err, &e) && (e.Code == Unauthorized || e.Code == Invalid):
		outcome = WebhookRefused
	default:
		outcome = WebhookUnavailable
	}
	s.metrics.WebhookReceived(topic, outcome)
}

// observe reports recorded history entries to the metrics, and the lag of
// each target TikTok accepted a new quantity of.
func (p *publisher) observe(history []HistoryEntry, sent []*target) {
	m := p.s.metrics
	published := map[string]bool{} // SKUs with a quantity accepted
	for _, h := range history {
		if h.Outcome == OutcomePublished {
			m.Published(1)
			published[h.SKUID] = true
		} else {
			m.Failed(h.ErrorCode, 1)
		}
	}
	now := time.Now()
	for _, t := range sent {
		if published[t.SKUID] && !t.since.IsZero() {
			m.Lag(now.Sub(t.since))
		}
	}
}
