package shopifyfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Webhook is one webhook the fake made: sent, held or to be sent.
type Webhook struct {
	ID, EventID, Topic string
	TriggeredAt        time.Time
	Body               []byte
}

// Delivery is one attempt to deliver a webhook.
type Delivery struct {
	WebhookID string    `json:"webhook_id"`
	Topic     string    `json:"topic"`
	Time      time.Time `json:"time"`
	Status    int       `json:"status"`          // the receiver's answer; 0 when it did not answer
	Error     string    `json:"error,omitempty"` // why it did not answer
	Body      string    `json:"body"`
}

// WebhookSettings say where and how webhooks go.
type WebhookSettings struct {
	// URL receives them; "" sends none (they are still made and counted).
	URL string `json:"url"`
	// Duplicates sends each webhook this many extra times, with the same
	// X-Shopify-Webhook-Id, as Shopify's retries do.
	Duplicates int `json:"duplicates,omitempty"`
	// Hold keeps webhooks until ReleaseWebhooks, to deliver them out of
	// order.
	Hold bool `json:"hold,omitempty"`
}

type webhookState struct {
	url        string
	duplicates int
	hold       bool
	held       []Webhook
	seq        int
	deliveries []Delivery
}

// SetWebhooks changes where and how webhooks go.
func (s *Server) SetWebhooks(w WebhookSettings) error {
	if w.Duplicates < 0 || w.Duplicates > 10 {
		return fmt.Errorf("webhooks: duplicates %d: want 0 to 10", w.Duplicates)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks.url, s.hooks.duplicates, s.hooks.hold = w.URL, w.Duplicates, w.Hold
	return nil
}

// ReleaseWebhooks delivers the webhooks held, newest first when reverse
// (out of order), and stops holding.
func (s *Server) ReleaseWebhooks(reverse bool) {
	s.mu.Lock()
	held := s.hooks.held
	s.hooks.held, s.hooks.hold = nil, false
	s.mu.Unlock()
	if reverse {
		slices.Reverse(held)
	}
	for _, h := range held {
		s.deliver(h)
	}
}

// Deliveries returns every delivery attempt so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.hooks.deliveries)
}

// TriggerWebhook sends a webhook of topic with the current state of the
// object id names (an inventory item for inventory_items/update, a
// product for products/update, a location for locations/*), or for
// inventory_levels/update of the level of inventory item id at location.
func (s *Server) TriggerWebhook(topic, id, location string) error {
	s.mu.Lock()
	var hook *Webhook
	switch topic {
	case "inventory_levels/update":
		it, loc := s.itemByID[idNumber(id, "InventoryItem")], s.locByID[idNumber(location, "Location")]
		if it == nil || loc == nil {
			s.mu.Unlock()
			return fmt.Errorf("webhook %s: no inventory item %q or no location %q", topic, id, location)
		}
		hook = s.levelWebhook(it, loc)
	case "inventory_items/update":
		it := s.itemByID[idNumber(id, "InventoryItem")]
		if it == nil {
			s.mu.Unlock()
			return fmt.Errorf("webhook %s: no inventory item %q", topic, id)
		}
		hook = s.itemWebhook(it)
	case "products/update":
		p := s.products[idNumber(id, "Product")]
		if p == nil {
			s.mu.Unlock()
			return fmt.Errorf("webhook %s: no product %q", topic, id)
		}
		hook = s.productWebhook(p)
	case "locations/update", "locations/activate", "locations/deactivate":
		l := s.locByID[idNumber(id, "Location")]
		if l == nil {
			s.mu.Unlock()
			return fmt.Errorf("webhook %s: no location %q", topic, id)
		}
		hook = s.locationWebhook(l, l.active)
		hook.Topic = topic
	default:
		s.mu.Unlock()
		return fmt.Errorf("webhook topic %q: want inventory_levels/update, inventory_items/update, products/update or locations/update|activate|deactivate", topic)
	}
	s.mu.Unlock()
	s.send(hook)
	return nil
}

// number writes an id as a JSON number, as Shopify's webhook payloads do
// (a reader must not decode it as float64).
func number(id string) json.Number { return json.Number(id) }

func (s *Server) stamp() string { return s.now().UTC().Format(time.RFC3339) }

// newWebhook makes a webhook; the caller holds the lock.
func (s *Server) newWebhook(topic string, payload any) *Webhook {
	body, _ := json.Marshal(payload)
	s.hooks.seq++
	n := s.hooks.seq
	return &Webhook{
		ID:      fmt.Sprintf("b54557e4-bdd9-4b37-8a5f-%012d", n),
		EventID: fmt.Sprintf("98880550-7158-44d4-b7cd-%012d", n),
		Topic:   topic, TriggeredAt: s.now(), Body: body,
	}
}

func (s *Server) levelWebhook(it *item, loc *location) *Webhook {
	var available any = it.levels[loc.id]
	if !it.tracked {
		available = nil
	}
	return s.newWebhook("inventory_levels/update", map[string]any{
		"inventory_item_id": number(it.id), "location_id": number(loc.id), "available": available,
		"updated_at": s.stamp(), "admin_graphql_api_id": levelGID(it.id, loc.id),
	})
}

func (s *Server) itemWebhook(it *item) *Webhook {
	return s.newWebhook("inventory_items/update", map[string]any{
		"id": number(it.id), "sku": it.variant.sku, "tracked": it.tracked, "requires_shipping": true,
		"cost": nil, "country_code_of_origin": nil, "province_code_of_origin": nil, "harmonized_system_code": nil,
		"created_at": s.stamp(), "updated_at": s.stamp(), "admin_graphql_api_id": gid("InventoryItem", it.id),
	})
}

func (s *Server) productWebhook(p *product) *Webhook {
	var variants []map[string]any
	for _, v := range p.variants {
		var mgmt any = "shopify"
		if !v.item.tracked {
			mgmt = nil
		}
		total := 0
		for _, q := range v.item.levels {
			total += q
		}
		variants = append(variants, map[string]any{
			"id": number(v.id), "product_id": number(p.id), "title": v.title, "sku": v.sku,
			"inventory_policy": strings.ToLower(v.policy), "inventory_management": mgmt,
			"inventory_item_id": number(v.item.id), "inventory_quantity": total,
			"admin_graphql_api_id": gid("ProductVariant", v.id),
		})
	}
	return s.newWebhook("products/update", map[string]any{
		"id": number(p.id), "title": p.title, "tags": strings.Join(p.tags, ", "), "variants": variants,
		"updated_at": s.stamp(), "admin_graphql_api_id": gid("Product", p.id),
	})
}

func (s *Server) locationWebhook(l *location, active bool) *Webhook {
	topic := "locations/deactivate"
	if active {
		topic = "locations/activate"
	}
	return s.newWebhook(topic, map[string]any{
		"id": number(l.id), "name": l.name, "active": l.active, "legacy": false,
		"updated_at": s.stamp(), "admin_graphql_api_id": gid("Location", l.id),
	})
}

// send delivers a webhook now, or holds it.
func (s *Server) send(h *Webhook) {
	s.mu.Lock()
	if s.hooks.hold {
		s.hooks.held = append(s.hooks.held, *h)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.deliver(*h)
}

// webhookHMAC is the X-Shopify-Hmac-Sha256 of body under secret.
func webhookHMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// deliver posts a webhook (and its duplicates) to the URL and records
// each attempt in Deliveries. A receiver that fails is recorded and
// logged, not retried, and does not fail the change that sent it: a test
// of a failing receiver reads Deliveries.
func (s *Server) deliver(h Webhook) {
	s.mu.Lock()
	url, dups := s.hooks.url, s.hooks.duplicates
	s.mu.Unlock()
	if url == "" {
		return
	}
	for range 1 + dups {
		d := Delivery{WebhookID: h.ID, Topic: h.Topic, Time: s.now(), Body: string(h.Body)}
		if err := s.post(url, h, &d); err != nil {
			d.Error = err.Error()
			s.logger.Warn("webhook not delivered", "topic", h.Topic, "webhook_id", h.ID, "error", err)
		} else {
			s.logger.Info("webhook delivered", "topic", h.Topic, "webhook_id", h.ID, "status", d.Status)
		}
		s.mu.Lock()
		s.hooks.deliveries = append(s.hooks.deliveries, d)
		s.mu.Unlock()
	}
}

func (s *Server) post(url string, h Webhook, d *Delivery) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(h.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Topic", h.Topic)
	req.Header.Set("X-Shopify-Hmac-Sha256", webhookHMAC(s.opts.WebhookSecret, h.Body))
	req.Header.Set("X-Shopify-Shop-Domain", s.opts.ShopDomain)
	req.Header.Set("X-Shopify-Webhook-Id", h.ID)
	req.Header.Set("X-Shopify-Event-Id", h.EventID)
	req.Header.Set("X-Shopify-Triggered-At", h.TriggeredAt.UTC().Format(time.RFC3339Nano))
	req.Header.Set("X-Shopify-API-Version", "2026-10")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s to %s: %w", h.Topic, url, err)
	}
	resp.Body.Close()
	d.Status = resp.StatusCode
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s to %s: the receiver answered %d", h.Topic, url, resp.StatusCode)
	}
	return nil
}
