package shop_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/syncrules/syncrules/host/internal/secret"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
)

// recordingQueue records EnqueueTx's calls with the type of the
// transaction it was given; fail makes it fail.
type recordingQueue struct {
	mu    sync.Mutex
	calls []string // shop, tx type
	fail  error
}

func (q *recordingQueue) EnqueueTx(_ context.Context, tx any, shopID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, fmt.Sprintf("%s %T", shopID, tx))
	return q.fail
}

func (q *recordingQueue) taken() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := q.calls
	q.calls = nil
	return c
}

// webhookHarness is a service over a real SQLite store with two shops,
// "acme" and "other", each with its Shopify domain and webhook secret.
type webhookHarness struct {
	t     testing.TB
	store *store.Store
	queue *recordingQueue
	svc   *shop.Service
}

const (
	acmeDomain   = "acme.myshopify.com"
	acmeSecret   = "acme-webhook-secret"
	otherDomain  = "other.myshopify.com"
	otherSecret  = "other-webhook-secret"
	bareDomain   = "bare.myshopify.com" // a shop without a webhook secret
	acmeProduct  = "gid://shopify/Product/9007199254740993"
	catalogItem1 = "gid://shopify/InventoryItem/9007199254740995"
	catalogItem2 = "gid://shopify/InventoryItem/9007199254740997"
)

func newWebhookHarness(t testing.TB, queue bool) *webhookHarness {
	t.Helper()
	return newWebhookHarnessOn(t, storetest.SQLite(t, t.TempDir()), queue)
}

// newWebhookHarnessOn is newWebhookHarness on a store given.
func newWebhookHarnessOn(t testing.TB, st *store.Store, queue bool) *webhookHarness {
	t.Helper()
	h := &webhookHarness{t: t, store: st, queue: &recordingQueue{}}
	sl, err := secret.NewSealer(bytes.Repeat([]byte{7}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	opt := shop.Options{Store: h.store, Sealer: sl, Logger: slog.New(slog.DiscardHandler)}
	if queue {
		opt.Queue = h.queue
	}
	h.svc = shop.New(opt)
	t.Cleanup(h.svc.Close)
	ctx := context.Background()
	for _, s := range []struct{ id, domain, secret string }{{"acme", acmeDomain, acmeSecret}, {"other", otherDomain, otherSecret}, {"bare", bareDomain, ""}} {
		if _, err := h.store.PutShop(ctx, shop.Shop{ID: s.id, Name: s.id, ShopifyDomain: s.domain}, nil); err != nil {
			t.Fatal(err)
		}
		token := "shpat_" + s.id
		creds := shop.ShopifyCredentials{AccessToken: &token}
		if s.secret != "" {
			creds.WebhookSecret = &s.secret
		}
		if _, err := h.svc.PutCredentials(ctx, shop.Operator, s.id, shop.Credentials{Shopify: &creds}); err != nil {
			t.Fatal(err)
		}
	}
	// The catalog knows two variants of one product, one of them no
	// longer in the product's payload.
	err = h.store.PutVariants(ctx, "acme", 1, []shop.Variant{
		{ID: "gid://shopify/ProductVariant/1", ProductID: acmeProduct, InventoryItemID: catalogItem1},
		{ID: "gid://shopify/ProductVariant/2", ProductID: acmeProduct, InventoryItemID: catalogItem2},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// sign is X-Shopify-Hmac-Sha256 of body under secret.
func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// webhook is a delivery to acme signed with its secret.
func webhook(id, topic, body string) shop.ShopifyWebhook {
	return shop.ShopifyWebhook{ShopDomain: acmeDomain, Topic: topic, WebhookID: id, HMAC: sign(acmeSecret, []byte(body)),
		TriggeredAt: "2026-12-07T02:00:00.123Z", Body: []byte(body)}
}

// pending lists a shop's pending items, oldest first, and takes them.
func (h *webhookHarness) pending(shopID string) []string {
	h.t.Helper()
	items, err := h.store.PendingItems(context.Background(), shopID, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.TakePending(context.Background(), shopID, items); err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, p := range items {
		out = append(out, p.InventoryItemID)
	}
	return out
}

// receipts counts the webhook receipts stored, of every shop.
func (h *webhookHarness) receipts(tb testing.TB) int {
	tb.Helper()
	var n int
	if err := h.store.DB().QueryRow(`SELECT COUNT(*) FROM webhook_receipts`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestReceiveWebhookTopics(t *testing.T) {
	h := newWebhookHarness(t, true)
	const item = "9007199254740993123" // above 2^53: a float64 would round it
	tests := []struct {
		name, topic, body string
		want              []string // pending items after, in seq order
		wantAll           bool
	}{
		{"a level", "inventory_levels/update",
			`{"inventory_item_id":` + item + `,"location_id":9007199254740999,"available":5,"updated_at":"2026-12-07T02:00:00Z"}`,
			[]string{"gid://shopify/InventoryItem/" + item}, false},
		{"an untracked level", "inventory_levels/update", `{"inventory_item_id":12,"location_id":3,"available":null}`,
			[]string{"gid://shopify/InventoryItem/12"}, false},
		{"an inventory item", "inventory_items/update", `{"id":` + item + `,"sku":"A-1","tracked":true}`,
			[]string{"gid://shopify/InventoryItem/" + item}, false},
		{"a product: its variants and those the catalog knows", "products/update",
			`{"id":9007199254740993,"variants":[{"id":1,"inventory_item_id":77},{"id":2,"inventory_item_id":9007199254740995}]}`,
			[]string{catalogItem1, catalogItem2, "gid://shopify/InventoryItem/77"}, false},
		{"a deleted product: the catalog's variants", "products/delete", `{"id":9007199254740993}`,
			[]string{catalogItem1, catalogItem2}, false},
		{"a product the catalog lacks", "products/update", `{"id":5,"variants":[]}`, nil, false},
		{"a location", "locations/update", `{"id":3,"active":true}`, []string{shop.AllItems}, true},
		{"a location activated", "locations/activate", `{"id":3,"active":true}`, []string{shop.AllItems}, true},
		{"a location deactivated", "locations/deactivate", `{"id":3,"active":false}`, []string{shop.AllItems}, true},
		{"a topic nobody subscribed to", "orders/create", `{"id":1}`, nil, false},
		{"a signed payload that does not read", "inventory_levels/update", `{"inventory_item_id":1.5}`, []string{shop.AllItems}, true},
		{"a signed payload that is not JSON", "products/update", `not json`, []string{shop.AllItems}, true},
		{"an id that is not a number", "inventory_items/update", `{"id":"gid://shopify/Product/1"}`, []string{shop.AllItems}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := h.svc.ReceiveWebhook(t.Context(), webhook(fmt.Sprint("w", i), tt.topic, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			got := h.pending("acme")
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("pending %v, want %v", got, want)
			}
			if res.Shop != "acme" || res.Duplicate || res.All != tt.wantAll || res.Items != len(tt.want)-btoi(tt.wantAll) {
				t.Errorf("result %+v, want shop acme, all %v, %d items", res, tt.wantAll, len(tt.want))
			}
			// Nothing pending, no job.
			wantCalls := []string{"acme *sql.Tx"}
			if len(tt.want) == 0 {
				wantCalls = nil
			}
			if calls := h.queue.taken(); !slices.Equal(calls, wantCalls) {
				t.Errorf("EnqueueTx calls %v, want %v", calls, wantCalls)
			}
		})
	}
	if n := h.receipts(t); n != len(tests) {
		t.Errorf("%d receipts, want %d: every verified webhook is recorded", n, len(tests))
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestReceiveWebhookDuplicate(t *testing.T) {
	h := newWebhookHarness(t, true)
	w := webhook("w1", "inventory_items/update", `{"id":1}`)
	for i, wantDup := range []bool{false, true, true} {
		res, err := h.svc.ReceiveWebhook(t.Context(), w)
		if err != nil || res.Duplicate != wantDup {
			t.Fatalf("delivery %d: %+v, %v; want duplicate %v", i, res, err, wantDup)
		}
		wantPending, wantCalls := 0, 0
		if !wantDup {
			wantPending, wantCalls = 1, 1
		}
		if got, calls := h.pending("acme"), h.queue.taken(); len(got) != wantPending || len(calls) != wantCalls {
			t.Errorf("delivery %d: pending %v, EnqueueTx calls %v", i, got, calls)
		}
	}
}

// TestReceiveWebhookRefused: whatever makes a webhook unverifiable, the
// answer is the same and nothing is stored.
func TestReceiveWebhookRefused(t *testing.T) {
	h := newWebhookHarness(t, true)
	const body = `{"inventory_item_id":1,"location_id":2,"available":3}`
	good := webhook("w1", "inventory_levels/update", body)
	tests := []struct {
		name   string
		change func(w *shop.ShopifyWebhook)
	}{
		{"no signature", func(w *shop.ShopifyWebhook) { w.HMAC = "" }},
		{"a forged signature", func(w *shop.ShopifyWebhook) { w.HMAC = sign("guessed", w.Body) }},
		{"a signature that is not base64", func(w *shop.ShopifyWebhook) { w.HMAC = "not base64!" }},
		{"a truncated body", func(w *shop.ShopifyWebhook) { w.Body = w.Body[:len(w.Body)-1] }},
		{"a replay with a changed body", func(w *shop.ShopifyWebhook) {
			w.Body = bytes.Replace(w.Body, []byte(`"available":3`), []byte(`"available":9`), 1)
		}},
		{"an unknown domain", func(w *shop.ShopifyWebhook) { w.ShopDomain = "nobody.myshopify.com" }},
		{"no domain", func(w *shop.ShopifyWebhook) { w.ShopDomain = "" }},
		{"a domain that differs in case", func(w *shop.ShopifyWebhook) { w.ShopDomain = strings.ToUpper(acmeDomain) }},
		{"a shop without a webhook secret", func(w *shop.ShopifyWebhook) { w.ShopDomain = bareDomain }},
		{"signed with another shop's secret", func(w *shop.ShopifyWebhook) { w.HMAC = sign(otherSecret, w.Body) }},
		{"another shop's domain with acme's signature", func(w *shop.ShopifyWebhook) { w.ShopDomain = otherDomain }},
		{"signed with the secret of the shop without one", func(w *shop.ShopifyWebhook) { w.ShopDomain, w.HMAC = bareDomain, sign("", w.Body) }},
	}
	var first *shop.Error
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := good
			w.Body = slices.Clone(good.Body)
			tt.change(&w)
			_, err := h.svc.ReceiveWebhook(t.Context(), w)
			var e *shop.Error
			if !errors.As(err, &e) || e.Code != shop.Unauthorized {
				t.Fatalf("error %v, want Unauthorized", err)
			}
			if first == nil {
				first = e
			} else if e.Message != first.Message || e.Err != nil {
				t.Errorf("error %q differs from %q: a sender could tell refusals apart", e, first)
			}
		})
	}
	if n, calls := h.receipts(t), h.queue.taken(); n != 0 || len(calls) != 0 {
		t.Fatalf("refused webhooks stored %d receipts and enqueued %v", n, calls)
	}
	for _, id := range []string{"acme", "other", "bare"} {
		if got := h.pending(id); len(got) != 0 {
			t.Errorf("shop %s has pending items after refused webhooks: %v", id, got)
		}
	}
	// The genuine delivery of the same id is still new.
	if res, err := h.svc.ReceiveWebhook(t.Context(), good); err != nil || res.Duplicate {
		t.Errorf("the genuine webhook after the refused ones: %+v, %v; want recorded", res, err)
	}
}

// TestReceiveWebhookQueue: the job is enqueued in the receipt's
// transaction; when it cannot be, nothing is recorded and Shopify's retry
// is recorded as new.
func TestReceiveWebhookQueue(t *testing.T) {
	h := newWebhookHarness(t, true)
	w := webhook("w1", "inventory_items/update", `{"id":1}`)
	h.queue.fail = errors.New("the queue is down")
	_, err := h.svc.ReceiveWebhook(t.Context(), w)
	if shop.CodeOf(err) != shop.Unavailable {
		t.Fatalf("a failing queue: %v, want Unavailable", err)
	}
	if calls := h.queue.taken(); !slices.Equal(calls, []string{"acme *sql.Tx"}) {
		t.Errorf("EnqueueTx calls %v, want one with the store's *sql.Tx", calls)
	}
	if n, got := h.receipts(t), h.pending("acme"); n != 0 || len(got) != 0 {
		t.Fatalf("after a failed enqueue: %d receipts, pending %v; want none", n, got)
	}
	h.queue.fail = nil
	if res, err := h.svc.ReceiveWebhook(t.Context(), w); err != nil || res.Duplicate {
		t.Fatalf("the retry: %+v, %v; want recorded", res, err)
	}
	if got := h.pending("acme"); !slices.Equal(got, []string{"gid://shopify/InventoryItem/1"}) {
		t.Errorf("pending after the retry: %v", got)
	}

	// Without a queue a verified webhook is Unavailable, a forged one
	// still Unauthorized; neither is stored.
	noQueue := newWebhookHarness(t, false)
	if _, err := noQueue.svc.ReceiveWebhook(t.Context(), w); shop.CodeOf(err) != shop.Unavailable || !strings.Contains(err.Error(), "sync is not running") {
		t.Errorf("no queue: %v, want Unavailable saying the sync is not running", err)
	}
	forged := w
	forged.HMAC = sign("guess", w.Body)
	if _, err := noQueue.svc.ReceiveWebhook(t.Context(), forged); shop.CodeOf(err) != shop.Unauthorized {
		t.Errorf("no queue, forged: %v, want Unauthorized", err)
	}
	if n := noQueue.receipts(t); n != 0 {
		t.Errorf("no queue: %d receipts stored", n)
	}
}

// TestReceiveWebhookPostgres: on PostgreSQL the queue gets the pgx
// transaction (River's riverpgxv5 inserts through it), and its failure
// rolls the receipt back too.
func TestReceiveWebhookPostgres(t *testing.T) {
	h := newWebhookHarnessOn(t, storetest.Postgres(t), true)
	w := webhook("w1", "products/delete", `{"id":9007199254740993}`)
	h.queue.fail = errors.New("the queue is down")
	if _, err := h.svc.ReceiveWebhook(t.Context(), w); shop.CodeOf(err) != shop.Unavailable {
		t.Fatalf("a failing queue: %v, want Unavailable", err)
	}
	if calls := h.queue.taken(); !slices.Equal(calls, []string{"acme *pgxpool.Tx"}) {
		t.Errorf("EnqueueTx calls %v, want one with the pgx transaction", calls)
	}
	if n := h.receipts(t); n != 0 {
		t.Fatalf("%d receipts after a failed enqueue", n)
	}
	h.queue.fail = nil
	if res, err := h.svc.ReceiveWebhook(t.Context(), w); err != nil || res.Duplicate || res.Items != 2 {
		t.Fatalf("the retry: %+v, %v; want recorded with the catalog's 2 items", res, err)
	}
	if got := h.pending("acme"); !slices.Equal(slices.Sorted(slices.Values(got)), []string{catalogItem1, catalogItem2}) {
		t.Errorf("pending %v", got)
	}
}

func TestReceiveWebhookHeaders(t *testing.T) {
	h := newWebhookHarness(t, true)
	tests := []struct {
		name   string
		change func(w *shop.ShopifyWebhook)
		want   string // in the Invalid error
	}{
		{"no webhook id", func(w *shop.ShopifyWebhook) { w.WebhookID = "" }, "X-Shopify-Webhook-Id"},
		{"no topic", func(w *shop.ShopifyWebhook) { w.Topic = "" }, "X-Shopify-Topic"},
		{"a long webhook id", func(w *shop.ShopifyWebhook) { w.WebhookID = strings.Repeat("x", 256) }, "X-Shopify-Webhook-Id"},
		{"a webhook id with a NUL", func(w *shop.ShopifyWebhook) { w.WebhookID = "a\x00b" }, "X-Shopify-Webhook-Id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := webhook("w1", "inventory_items/update", `{"id":1}`)
			tt.change(&w)
			_, err := h.svc.ReceiveWebhook(t.Context(), w)
			if shop.CodeOf(err) != shop.Invalid || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want Invalid naming %s", err, tt.want)
			}
		})
	}
	if n := h.receipts(t); n != 0 {
		t.Errorf("%d receipts stored", n)
	}
	// X-Shopify-Triggered-At is kept as sent, or dropped when the store
	// cannot keep it; either way the webhook is recorded.
	for id, at := range map[string]string{"w1": "", "w2": "2026-12-07T02:00:00.123Z", "w3": "\xff", "w4": strings.Repeat("9", 256)} {
		w := webhook(id, "inventory_items/update", `{"id":1}`)
		w.TriggeredAt = at
		if _, err := h.svc.ReceiveWebhook(t.Context(), w); err != nil {
			t.Fatalf("triggered at %q: %v", at, err)
		}
		var stored string
		if err := h.store.DB().QueryRow(`SELECT triggered_at FROM webhook_receipts WHERE webhook_id = $1`, id).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"w2": at}[id]; stored != want {
			t.Errorf("triggered at %q stored as %q, want %q", at, stored, want)
		}
	}
}

// TestReceiveWebhookStoreDown: a store that fails is Unavailable, so
// that Shopify retries.
func TestReceiveWebhookStoreDown(t *testing.T) {
	h := newWebhookHarness(t, true)
	h.store.Close()
	_, err := h.svc.ReceiveWebhook(t.Context(), webhook("w1", "inventory_items/update", `{"id":1}`))
	if shop.CodeOf(err) != shop.Unavailable {
		t.Errorf("error %v, want Unavailable", err)
	}
}

// FuzzReceiveWebhook: no input panics, and nothing is recorded unless the
// signature verifies with the secret of the shop the domain names.
func FuzzReceiveWebhook(f *testing.F) {
	h := newWebhookHarness(f, true)
	f.Add(acmeDomain, "inventory_levels/update", "w1", `{"inventory_item_id":1,"location_id":2,"available":3}`, uint8(0), true)
	f.Add(acmeDomain, "products/update", "w2", `{"id":9007199254740993,"variants":[{"inventory_item_id":7}]}`, uint8(0), false)
	f.Add(otherDomain, "locations/update", "w3", `{"id":1}`, uint8(1), true)
	f.Add(bareDomain, "inventory_items/update", "w4", `{"id":"1"}`, uint8(2), true)
	f.Add("", "", "", "", uint8(3), false)
	secrets := []string{acmeSecret, otherSecret, "", "guess"}
	f.Fuzz(func(t *testing.T, domain, topic, id, body string, key uint8, signed bool) {
		secretUsed := secrets[int(key)%len(secrets)]
		w := shop.ShopifyWebhook{ShopDomain: domain, Topic: topic, WebhookID: id, Body: []byte(body), HMAC: "garbage"}
		if signed {
			w.HMAC = sign(secretUsed, w.Body)
		}
		before := h.receipts(t)
		res, err := h.svc.ReceiveWebhook(context.Background(), w)
		genuine := signed && ((domain == acmeDomain && secretUsed == acmeSecret) || (domain == otherDomain && secretUsed == otherSecret))
		after := h.receipts(t)
		switch {
		case !genuine && shop.CodeOf(err) != shop.Unauthorized:
			t.Fatalf("an unverifiable webhook: %+v, %v; want Unauthorized", res, err)
		case !genuine && after != before:
			t.Fatalf("an unverifiable webhook was recorded")
		case genuine && err == nil && !res.Duplicate && after != before+1:
			t.Fatalf("a recorded webhook left %d receipts, had %d", after, before)
		case genuine && err != nil && shop.CodeOf(err) != shop.Invalid:
			t.Fatalf("a genuine webhook: %v", err)
		}
		h.queue.taken()
	})
}
