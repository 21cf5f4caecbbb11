package shop

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/syncrules/syncrules/host/internal/shopify"
)

// Shopify sends a webhook when something of a connected shop changes. The
// receipt checks its signature with the shop's webhook secret, records it
// once per webhook id (Shopify's retries repeat it), marks the inventory
// items it names as pending for the shop's sync, and makes sure the shop's
// sync job will run: all in one store transaction, so that a webhook
// answered 200 is never lost and one answered otherwise changed nothing.
// The payload only says what changed; the sync reads the current levels.

// Queue makes sure a shop's sync job will run. EnqueueTx does it inside
// the store transaction tx (*sql.Tx on SQLite, pgx.Tx on PostgreSQL), so
// that the job exists if and only if tx commits.
type Queue interface {
	EnqueueTx(ctx context.Context, tx any, shop string) error
}

// MaxWebhookBytes bounds a webhook's body. Shopify's largest payloads are
// products/update of products with many variants (up to 2,048, about
// 1.5 KB each): a bound they reach would make Shopify retry, then remove
// the subscription.
const MaxWebhookBytes = 4 << 20

// AllItems is the pending item that stands for every inventory item of a
// shop: a topic such as locations/update changes them all.
const AllItems = "*"

// The webhook topics that mark items pending. Others are recorded and
// answered 200 (Shopify removes subscriptions whose deliveries fail), and
// mark nothing.
const (
	TopicInventoryLevelsUpdate = "inventory_levels/update"
	TopicInventoryItemsUpdate  = "inventory_items/update"
	TopicInventoryItemsDelete  = "inventory_items/delete"
	TopicProductsUpdate        = "products/update"
	TopicProductsDelete        = "products/delete"
	TopicLocationsUpdate       = "locations/update"
	TopicLocationsActivate     = "locations/activate"
	TopicLocationsDeactivate   = "locations/deactivate"
)

// maxWebhookHeader bounds the webhook id and topic: Shopify's are UUIDs
// and short paths.
const maxWebhookHeader = 255

// ShopifyWebhook is one delivery as it arrived: its headers and raw body.
type ShopifyWebhook struct {
	ShopDomain  string // X-Shopify-Shop-Domain
	Topic       string // X-Shopify-Topic
	WebhookID   string // X-Shopify-Webhook-Id
	HMAC        string // X-Shopify-Hmac-Sha256
	TriggeredAt string // X-Shopify-Triggered-At, "" if absent
	Body        []byte
}

// WebhookResult is what a receipt did.
type WebhookResult struct {
	Shop string
	// Duplicate: the webhook id was recorded before; nothing was done.
	Duplicate bool
	// Items is how many inventory items were marked pending; All, that
	// every item of the shop was.
	Items int
	All   bool
}

// WebhookReceipt is a webhook as the store records it.
type WebhookReceipt struct {
	Shop, WebhookID, Topic string
	Received               time.Time // set by the store when zero
	TriggeredAt            string
	Body                   []byte
}

// PendingItem is an inventory item a shop's sync still has to read. Seq
// grows on every webhook that names the item; Cause is that webhook's id.
type PendingItem struct {
	InventoryItemID string // or AllItems
	Seq             int64
	Cause           string
	// Since is when the first webhook that left the item pending was
	// received, kept while it stays pending; zero if no webhook did (a
	// settings change, a resync).
	Since time.Time
}

// WebhookStore is the part of Store that records webhooks and the items
// they leave pending.
type WebhookStore interface {
	// RecordWebhook records r and, unless its webhook id is recorded
	// already (duplicate, and nothing else is done), upserts the pending
	// items (AllItems too when all) with a new seq each and calls
	// enqueue, unless nil, with the open transaction: *sql.Tx on SQLite,
	// pgx.Tx on PostgreSQL. An error of enqueue rolls everything back.
	// ErrNotFound if the shop does not exist.
	RecordWebhook(ctx context.Context, r WebhookReceipt, items []string, all bool,
		enqueue func(ctx context.Context, tx any) error) (duplicate bool, err error)
	// PendingItems returns at most limit (<= 0: every) pending items of a
	// shop, oldest seq first.
	PendingItems(ctx context.Context, shop string, limit int) ([]PendingItem, error)
	// TakePending deletes the pending items given unless a webhook named
	// them again since: those whose seq is still at most the one given.
	TakePending(ctx context.Context, shop string, items []PendingItem) error
	// ProductInventoryItems returns the inventory items of a product's
	// variants in the shop's catalog.
	ProductInventoryItems(ctx context.Context, shop, productID string) ([]string, error)
}

// webhookRefused is the answer to every webhook that does not verify,
// whatever the reason: an unknown domain, a shop without a webhook secret,
// a missing or wrong signature. A sender learns nothing of which.
var webhookRefused = &Error{Code: Unauthorized,
	Message: "The webhook is refused: its X-Shopify-Hmac-Sha256 does not verify with the webhook secret of the shop X-Shopify-Shop-Domain names."}

// decoySecret is verified against when there is no secret to verify with,
// so that an unknown shop costs the time a known one does.
var decoySecret = func() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// ReceiveWebhook verifies a Shopify webhook and records it with the items
// it leaves pending, enqueueing the shop's sync in the same transaction.
// No principal: the signature is the authentication.
//
// A webhook that does not verify is Unauthorized, the same error whatever
// the reason, and nothing is stored. One that verifies without a webhook
// id or topic is Invalid. A webhook id recorded before is a duplicate:
// answered as a success, nothing done again. The store failing, or no
// queue, is Unavailable: Shopify retries.
func (s *Service) ReceiveWebhook(ctx context.Context, w ShopifyWebhook) (res WebhookResult, err error) {
	defer func() { s.countWebhook(w.Topic, res, err) }()
	sh, secret, reason, err := s.webhookSecret(ctx, w.ShopDomain)
	if err != nil {
		return WebhookResult{}, err
	}
	ok := shopify.VerifyWebhook(cmp.Or(secret, decoySecret), w.Body, w.HMAC)
	if !ok || reason != "" {
		if reason == "" {
			reason = "the signature does not verify"
			if w.HMAC == "" {
				reason = "no signature"
			}
		}
		s.log.Debug("webhook refused", "reason", reason, "shop_domain", w.ShopDomain, "topic", w.Topic, "webhook_id", w.WebhookID)
		return WebhookResult{}, webhookRefused
	}
	if err := checkWebhookHeaders(w); err != nil {
		return WebhookResult{}, err
	}
	if s.queue == nil {
		return WebhookResult{}, Errorf(Unavailable, "The sync is not running, so the webhook cannot be processed. Retry later.")
	}
	items, all, err := s.webhookItems(ctx, sh.ID, w.Topic, w.Body)
	if err != nil {
		return WebhookResult{}, &Error{Code: Unavailable, Message: "The webhook could not be recorded. Retry later.", Err: err}
	}
	r := WebhookReceipt{Shop: sh.ID, WebhookID: w.WebhookID, Topic: w.Topic, Body: w.Body}
	// Kept for the record only: a value the store cannot keep is dropped
	// rather than the webhook refused.
	if len(w.TriggeredAt) <= maxWebhookHeader && printable(w.TriggeredAt) {
		r.TriggeredAt = w.TriggeredAt
	}
	var enqueue func(ctx context.Context, tx any) error
	if all || len(items) > 0 { // a topic that changes nothing runs no job
		enqueue = func(ctx context.Context, tx any) error { return s.queue.EnqueueTx(ctx, tx, sh.ID) }
	}
	dup, err := s.store.RecordWebhook(ctx, r, items, all, enqueue)
	switch {
	case errors.Is(err, ErrNotFound): // deleted since it was found
		s.log.Debug("webhook refused", "reason", "the shop was deleted", "shop", sh.ID, "webhook_id", w.WebhookID)
		return WebhookResult{}, webhookRefused
	case err != nil:
		return WebhookResult{}, &Error{Code: Unavailable, Message: "The webhook could not be recorded. Retry later.", Err: err}
	}
	res = WebhookResult{Shop: sh.ID, Duplicate: dup}
	if !dup {
		res.Items, res.All = len(items), all
	}
	s.log.Debug("webhook received", "shop", sh.ID, "topic", w.Topic, "webhook_id", w.WebhookID,
		"duplicate", dup, "items", res.Items, "all", res.All)
	return res, nil
}

// webhookSecret finds the shop of a domain and its webhook secret. reason
// says why there is none (the caller refuses the webhook after verifying
// against a decoy); err is the store failing.
func (s *Service) webhookSecret(ctx context.Context, domain string) (sh Shop, secret, reason string, err error) {
	if domain == "" {
		return Shop{}, "", "no shop domain", nil
	}
	sh, err = s.store.ShopByDomain(ctx, domain)
	switch {
	case errors.Is(err, ErrNotFound):
		// The read a known shop costs, so that the time taken does not
		// tell which domains are shops here. No shop has the id "".
		_, _ = s.store.Credentials(ctx, "")
		return Shop{}, "", "no shop has this shopify_domain", nil
	case err != nil:
		return Shop{}, "", "", &Error{Code: Unavailable, Message: "The webhook could not be checked. Retry later.", Err: err}
	}
	creds, err := s.store.Credentials(ctx, sh.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return Shop{}, "", "no shop has this shopify_domain", nil
	case err != nil:
		return Shop{}, "", "", &Error{Code: Unavailable, Message: "The webhook could not be checked. Retry later.", Err: err}
	}
	for _, c := range creds {
		if c.Group != "shopify" || c.Name != "webhook_secret" {
			continue
		}
		plain, err := s.sealer.Open(c.Sealed, credentialAAD(sh.ID, c.Group, c.Name))
		if err != nil {
			// The server's key does not open it: the operator's to fix.
			s.log.Error("a shop's webhook secret does not open: store it again", "shop", sh.ID, "err", err)
			return sh, "", "the webhook secret does not open", nil
		}
		return sh, string(plain), "", nil
	}
	return sh, "", "the shop has no shopify/webhook_secret", nil
}

// checkWebhookHeaders refuses a verified webhook without a usable id or
// topic: the id is the dedupe key and the topic says what changed.
func checkWebhookHeaders(w ShopifyWebhook) error {
	for _, h := range []struct{ name, value string }{{"X-Shopify-Webhook-Id", w.WebhookID}, {"X-Shopify-Topic", w.Topic}} {
		switch {
		case h.value == "":
			return Errorf(Invalid, "The webhook has no %s header.", h.name)
		case len(h.value) > maxWebhookHeader:
			return Errorf(Invalid, "The webhook's %s header is over %d bytes.", h.name, maxWebhookHeader)
		case !printable(h.value):
			return Errorf(Invalid, "The webhook's %s header must be printable UTF-8.", h.name)
		}
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// webhookItems returns the inventory items a webhook of topic leaves
// pending, or all. A payload of a known topic that does not read leaves
// every item pending: it is signed, so it is Shopify's, and guessing
// nothing changed could leave a quantity wrong until the reconciliation.
func (s *Service) webhookItems(ctx context.Context, shopID, topic string, body []byte) (items []string, all bool, err error) {
	unreadable := func(err error) ([]string, bool, error) {
		s.log.Warn("a signed webhook's payload does not read: every item of the shop will be read again",
			"shop", shopID, "topic", topic, "err", err)
		return nil, true, nil
	}
	switch topic {
	case TopicInventoryLevelsUpdate:
		u, err := shopify.ParseLevelUpdate(body)
		if err != nil {
			return unreadable(err)
		}
		return []string{u.InventoryItemID}, false, nil
	case TopicInventoryItemsUpdate, TopicInventoryItemsDelete:
		var p struct {
			ID numericID `json:"id"`
		}
		if err := decodePayload(body, &p); err != nil {
			return unreadable(err)
		}
		item, err := p.ID.gid("InventoryItem")
		if err != nil {
			return unreadable(fmt.Errorf("id: %w", err))
		}
		return []string{item}, false, nil
	case TopicProductsUpdate, TopicProductsDelete:
		var p struct {
			ID       numericID `json:"id"`
			Variants []struct {
				InventoryItemID numericID `json:"inventory_item_id"`
			} `json:"variants"`
		}
		if err := decodePayload(body, &p); err != nil {
			return unreadable(err)
		}
		product, err := p.ID.gid("Product")
		if err != nil {
			return unreadable(fmt.Errorf("id: %w", err))
		}
		for i, v := range p.Variants {
			item, err := v.InventoryItemID.gid("InventoryItem")
			if err != nil {
				return unreadable(fmt.Errorf("variants[%d].inventory_item_id: %w", i, err))
			}
			items = append(items, item)
		}
		// The catalog's variants of the product too: those the update
		// removed, or every one of a deleted product.
		known, err := s.store.ProductInventoryItems(ctx, shopID, product)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
		return dedupe(append(items, known...)), false, nil
	case TopicLocationsUpdate, TopicLocationsActivate, TopicLocationsDeactivate:
		return nil, true, nil
	}
	return nil, false, nil
}

// decodePayload decodes a JSON object into v, numbers as json.Number.
func decodePayload(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(v)
}

// numericID is a Shopify id in a webhook payload: a JSON number above 2^53
// (or, leniently, a string of digits), kept as text.
type numericID string

func (n *numericID) UnmarshalJSON(b []byte) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	switch v := v.(type) {
	case json.Number:
		*n = numericID(v.String())
	case string:
		*n = numericID(v)
	case nil:
		*n = ""
	default:
		return fmt.Errorf("an id must be a number, got %s", b)
	}
	return nil
}

// gid is the id as the catalog stores it: gid://shopify/Kind/N.
func (n numericID) gid(kind string) (string, error) {
	s := string(n)
	if s == "" {
		return "", errors.New("missing")
	}
	s = strings.TrimPrefix(s, "gid://shopify/"+kind+"/")
	if s == "" {
		return "", errors.New("missing")
	}
	if len(s) > 20 {
		return "", fmt.Errorf("%q is too long for an id", s)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("%q is not a whole number", s)
		}
	}
	return "gid://shopify/" + kind + "/" + s, nil
}

// dedupe returns xs without repeats, in the order first seen.
func dedupe(xs []string) []string {
	seen := make(map[string]bool, len(xs))
	out := xs[:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
