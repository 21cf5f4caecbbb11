package httpapi_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// webhookQueue records the sync jobs enqueued, as "shop tx-type"; block,
// if set, makes EnqueueTx wait for its context to end.
type webhookQueue struct {
	mu    sync.Mutex
	calls []string
	block bool
}

func (q *webhookQueue) EnqueueTx(ctx context.Context, tx any, shopID string) error {
	q.mu.Lock()
	q.calls = append(q.calls, fmt.Sprintf("%s %T", shopID, tx))
	block := q.block
	q.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// taken returns the calls since the last taken.
func (q *webhookQueue) taken() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := q.calls
	q.calls = nil
	return c
}

// signWebhook is X-Shopify-Hmac-Sha256 of body under secret.
func signWebhook(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// delivery is one POST /webhooks/shopify: its headers ("" leaves one out)
// and body.
type delivery struct {
	domain, topic, id, hmac string
	body                    []byte
}

// postWebhook sends a delivery without a token, through the checked client.
func (s *server) postWebhook(tb testing.TB, d delivery) exchange {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+"/webhooks/shopify", bytes.NewReader(d.body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for name, v := range map[string]string{"X-Shopify-Shop-Domain": d.domain, "X-Shopify-Topic": d.topic,
		"X-Shopify-Webhook-Id": d.id, "X-Shopify-Hmac-Sha256": d.hmac} {
		if v != "" {
			req.Header.Set(name, v)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return exchange{status: resp.StatusCode, header: resp.Header, body: b}
}

// pendingItems returns a shop's pending items and takes them, as the
// sync will.
func (s *server) pendingItems(tb testing.TB, shopID string) []string {
	tb.Helper()
	items, err := s.store.PendingItems(context.Background(), shopID, 0)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.store.TakePending(context.Background(), shopID, items); err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, p := range items {
		out = append(out, p.InventoryItemID)
	}
	slices.Sort(out)
	return out
}

// webhookReceipts counts the webhook receipts stored.
func (s *server) webhookReceipts(tb testing.TB) int {
	tb.Helper()
	var n int
	if err := s.store.DB().QueryRow(`SELECT COUNT(*) FROM webhook_receipts`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestShopifyWebhooksFromTheFake: the fake Shopify's webhooks, signed with
// the connected shop's secret, are recorded with the items they name and
// enqueue the shop's sync; Shopify's retries of one are recorded once.
func TestShopifyWebhooksFromTheFake(t *testing.T) {
	p := startPlatforms(t, catalog.Options{Products: 3, Variants: 2, Locations: 2, Seed: 1})
	q := &webhookQueue{}
	s := newServer(t, loadRule(t), serverConfig{platforms: p.platforms, queue: q})
	s.putShop(t, "fake", `{"name":"Fake","shopify_domain":"`+p.shopify.ShopDomain()+`"}`)
	if ex := s.do(t, http.MethodPut, "/v1/shops/fake/credentials", "application/json",
		p.credentials(map[string]string{"shopify/webhook_secret": p.shopify.WebhookSecret()})); ex.status != http.StatusOK {
		t.Fatalf("PUT credentials: %d %s", ex.status, ex.body)
	}
	s.connect(t, "fake")
	if st := s.waitRun(t, "fake"); st.Run.State != string(shop.RunSucceeded) {
		t.Fatalf("connect: %+v", st.Run)
	}
	// A connect publishes the whole shop.
	if got := s.pendingItems(t, "fake"); !slices.Equal(got, []string{shop.AllItems}) {
		t.Errorf("pending after connecting %v, want every item", got)
	}
	if calls := q.taken(); !slices.Equal(calls, []string{"fake *sql.Tx"}) {
		t.Errorf("EnqueueTx calls after connecting %v, want one for the shop", calls)
	}
	if err := p.shopify.SetWebhooks(shopifyfake.WebhookSettings{URL: s.url + "/webhooks/shopify"}); err != nil {
		t.Fatal(err)
	}
	state := p.shopify.State()
	v, loc := state.Variants[0], state.Locations[0]
	item := "gid://shopify/InventoryItem/" + v.InventoryItemID
	var productItems []string
	for _, w := range state.Variants {
		if w.ProductID == v.ProductID {
			productItems = append(productItems, "gid://shopify/InventoryItem/"+w.InventoryItemID)
		}
	}
	slices.Sort(productItems)

	tests := []struct {
		name       string
		duplicates int
		change     func() error
		want       []string // pending items after
	}{
		{"a stock change", 0, func() error { return p.shopify.SetAvailable(v.InventoryItemID, loc.ID, 42) }, []string{item}},
		{"a tracking change delivered three times", 2, func() error { return p.shopify.SetTracked(v.InventoryItemID, false) }, []string{item}},
		{"a product change", 0, func() error { return p.shopify.SetInventoryPolicy(v.ID, "CONTINUE") }, productItems},
		{"a location deactivated", 1, func() error { return p.shopify.SetLocationActive(loc.ID, false) }, []string{shop.AllItems}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.shopify.SetWebhooks(shopifyfake.WebhookSettings{URL: s.url + "/webhooks/shopify", Duplicates: tt.duplicates}); err != nil {
				t.Fatal(err)
			}
			before, receipts := len(p.shopify.Deliveries()), s.webhookReceipts(t)
			if err := tt.change(); err != nil {
				t.Fatal(err)
			}
			sent := p.shopify.Deliveries()[before:]
			if len(sent) != 1+tt.duplicates {
				t.Fatalf("%d deliveries, want %d", len(sent), 1+tt.duplicates)
			}
			for _, d := range sent {
				if d.Status != http.StatusOK || d.WebhookID != sent[0].WebhookID {
					t.Errorf("delivery %+v: want 200 for one webhook id", d)
				}
			}
			if got := s.webhookReceipts(t) - receipts; got != 1 {
				t.Errorf("%d receipts for %d deliveries of one webhook, want 1", got, len(sent))
			}
			if got := s.pendingItems(t, "fake"); !slices.Equal(got, tt.want) {
				t.Errorf("pending %v, want %v", got, tt.want)
			}
			if calls := q.taken(); !slices.Equal(calls, []string{"fake *sql.Tx"}) {
				t.Errorf("EnqueueTx calls %v, want one for the shop in the store's transaction", calls)
			}
		})
	}
}

// webhookServer is a server with a queue and two shops, acme and other,
// each with its domain and webhook secret.
func webhookServer(t testing.TB, q shop.Queue) *server {
	t.Helper()
	s := newServer(t, loadRule(t), serverConfig{queue: q})
	for _, sh := range []string{"acme", "other"} {
		s.putShop(t, sh, `{"name":"`+sh+`","shopify_domain":"`+sh+`.myshopify.com"}`)
		if ex := s.do(t, http.MethodPut, "/v1/shops/"+sh+"/credentials", "application/json",
			`{"shopify":{"webhook_secret":"`+sh+`-secret"}}`); ex.status != http.StatusOK {
			t.Fatalf("PUT credentials: %d %s", ex.status, ex.body)
		}
	}
	return s.as("")
}

// TestShopifyWebhookAnswers: what a sender sees of each kind of delivery,
// and that nothing but a genuine webhook is stored.
func TestShopifyWebhookAnswers(t *testing.T) {
	q := &webhookQueue{}
	s := webhookServer(t, q)
	body := []byte(`{"inventory_item_id":9007199254740993,"location_id":1,"available":3}`)
	genuine := delivery{domain: "acme.myshopify.com", topic: "inventory_levels/update", id: "w1", hmac: signWebhook("acme-secret", body), body: body}
	changed := bytes.Replace(body, []byte(`"available":3`), []byte(`"available":900`), 1)
	refused := []struct {
		name string
		d    delivery
	}{
		{"a forged signature", delivery{genuine.domain, genuine.topic, "w2", signWebhook("guess", body), body}},
		{"a truncated body", delivery{genuine.domain, genuine.topic, "w2", genuine.hmac, body[:len(body)-2]}},
		{"a replay with a changed body", delivery{genuine.domain, genuine.topic, "w1", genuine.hmac, changed}},
		{"a replay with a changed body and a new id", delivery{genuine.domain, genuine.topic, "w3", genuine.hmac, changed}},
		{"no signature", delivery{genuine.domain, genuine.topic, "w2", "", body}},
		{"an unknown shop", delivery{"nobody.myshopify.com", genuine.topic, "w2", genuine.hmac, body}},
		{"signed with acme's secret, naming other", delivery{"other.myshopify.com", genuine.topic, "w2", genuine.hmac, body}},
		{"no domain", delivery{"", genuine.topic, "w2", genuine.hmac, body}},
		{"no webhook id nor signature", delivery{genuine.domain, genuine.topic, "", "", body}},
	}
	var first []byte
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ex := s.postWebhook(t, tt.d)
			problemOf(t, ex, http.StatusUnauthorized)
			if got := ex.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "X-Shopify-Hmac-Sha256") {
				t.Errorf("WWW-Authenticate %q, want the signature's scheme", got)
			}
			if first == nil {
				first = ex.body
			} else if !bytes.Equal(ex.body, first) {
				t.Errorf("answer %s differs from %s: a sender could tell refusals apart", ex.body, first)
			}
		})
	}
	if n, calls := s.webhookReceipts(t), q.taken(); n != 0 || len(calls) != 0 {
		t.Fatalf("refused webhooks: %d receipts, EnqueueTx calls %v; want none", n, calls)
	}
	for _, sh := range []string{"acme", "other"} {
		if got := s.pendingItems(t, sh); len(got) != 0 {
			t.Fatalf("refused webhooks left shop %s items pending: %v", sh, got)
		}
	}

	for i, want := range []string{"accepted", "duplicate", "duplicate"} {
		ex := s.postWebhook(t, genuine)
		if ex.status != http.StatusOK || string(ex.body) != `{"status":"`+want+`"}` {
			t.Fatalf("genuine delivery %d: %d %s, want 200 %s", i, ex.status, ex.body, want)
		}
	}
	if got := s.pendingItems(t, "acme"); !slices.Equal(got, []string{"gid://shopify/InventoryItem/9007199254740993"}) {
		t.Errorf("pending %v", got)
	}
	if calls := q.taken(); len(calls) != 1 {
		t.Errorf("EnqueueTx calls %v, want one", calls)
	}
	// The recorded webhook replayed with another body is still refused,
	// not taken for a duplicate.
	problemOf(t, s.postWebhook(t, delivery{genuine.domain, genuine.topic, genuine.id, genuine.hmac, changed}), http.StatusUnauthorized)

	// A signed delivery without an id is malformed; checked after the
	// signature, so an unsigned one stays a 401 (above).
	noID := genuine
	noID.id = ""
	problemOf(t, s.postWebhook(t, noID), http.StatusBadRequest)
	// Over the size bound, whatever the signature.
	big := bytes.Repeat([]byte(" "), shop.MaxWebhookBytes+1)
	problemOf(t, s.postWebhook(t, delivery{genuine.domain, genuine.topic, "w9", signWebhook("acme-secret", big), big}), http.StatusRequestEntityTooLarge)
	if n := s.webhookReceipts(t); n != 1 {
		t.Errorf("%d receipts, want the genuine one", n)
	}
}

// TestShopifyWebhookUnavailable: a webhook that cannot be recorded in
// time is a 503 with Retry-After, within Shopify's 5 s, and is not
// recorded; without a queue, verified webhooks are 503 too.
func TestShopifyWebhookUnavailable(t *testing.T) {
	q := &webhookQueue{block: true}
	s := webhookServer(t, q)
	body := []byte(`{"id":1}`)
	d := delivery{"acme.myshopify.com", "inventory_items/update", "w1", signWebhook("acme-secret", body), body}
	start := time.Now()
	ex := s.postWebhook(t, d)
	took := time.Since(start)
	problemOf(t, ex, http.StatusServiceUnavailable)
	if ex.header.Get("Retry-After") == "" {
		t.Error("a 503 without Retry-After")
	}
	if limit := 5 * time.Second * slowtest.Factor; took > limit {
		t.Errorf("the answer took %v, over %v", took, limit)
	}
	if n := s.webhookReceipts(t); n != 0 {
		t.Errorf("%d receipts after a 503, want none: the retry must be new", n)
	}

	noQueue := webhookServer(t, nil)
	ex = noQueue.postWebhook(t, d)
	if p := problemOf(t, ex, http.StatusServiceUnavailable); !strings.Contains(p.Detail, "sync is not running") || ex.header.Get("Retry-After") == "" {
		t.Errorf("no queue: %+v, Retry-After %q", p, ex.header.Get("Retry-After"))
	}
	d.hmac = signWebhook("guess", body)
	problemOf(t, noQueue.postWebhook(t, d), http.StatusUnauthorized)
}

// FuzzShopifyWebhook: whatever the headers and body, the handler answers
// a documented status, and accepts and stores only what acme's secret
// signed for acme's domain.
func FuzzShopifyWebhook(f *testing.F) {
	s := webhookServer(f, &webhookQueue{})
	f.Add("acme.myshopify.com", "inventory_items/update", "w1", `{"id":1}`, true)
	f.Add("acme.myshopify.com", "products/update", "w2", `{"id":1,"variants":[{"inventory_item_id":"x"}]}`, true)
	f.Add("other.myshopify.com", "locations/update", "w3", `{"id":1}`, true)
	f.Add("acme.myshopify.com", "", "", "", false)
	f.Add("", "inventory_levels/update", "w4", `{"inventory_item_id":1e400}`, true)
	f.Fuzz(func(t *testing.T, domain, topic, id, body string, signed bool) {
		mac := "bm90IGEgbWFj"
		if signed {
			mac = signWebhook("acme-secret", []byte(body))
		}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/shopify", strings.NewReader(body))
		req.Header.Set("X-Shopify-Shop-Domain", domain)
		req.Header.Set("X-Shopify-Topic", topic)
		req.Header.Set("X-Shopify-Webhook-Id", id)
		req.Header.Set("X-Shopify-Hmac-Sha256", mac)
		before := s.webhookReceipts(t)
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, req)
		genuine := signed && domain == "acme.myshopify.com"
		switch {
		case !slices.Contains([]int{200, 400, 401, 413, 503}, rec.Code):
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		case !genuine && rec.Code != http.StatusUnauthorized:
			t.Fatalf("an unverifiable webhook answered %d: %s", rec.Code, rec.Body)
		case !genuine && s.webhookReceipts(t) != before:
			t.Fatal("an unverifiable webhook was stored")
		}
	})
}
