package e2e_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

// sign is X-Shopify-Hmac-Sha256 of body under secret.
func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TestForgedWebhooks: a webhook with a forged signature, a truncated
// body, or a genuine one replayed with another body is refused and
// changes nothing: no receipt, nothing pending, no TikTok call, though
// the item it names did change in Shopify. A genuine webhook sent beside
// them is processed, and only its product is published.
func TestForgedWebhooks(t *testing.T) {
	p := startPlatforms(t, platformOptions{
		catalog: catalog.Options{Products: 3, Variants: 2, Locations: 2, Seed: 5, WithoutConflicts: true},
		domain:  "hmac.myshopify.com",
	})
	d := deploy(t, p, "", extraConfig{})
	d.start("server")
	w := &world{d: d, p: p, shop: "hmac"}
	d.addShop(t, w.shop, p, `{"percentage":100}`)
	calls := len(updatePaths(p))

	// Both items change in Shopify unbeknown to the server (the webhooks
	// are lost): only a webhook the server accepts can make it publish
	// them.
	// Two tracked items of different products, whose stock counts.
	var tracked []catalog.Link
	for _, l := range p.catalog.Links {
		for _, pr := range p.catalog.Products {
			for _, v := range pr.Variants {
				if v.ID == l.VariantID && v.Tracked && v.InventoryPolicy == "DENY" &&
					(len(tracked) == 0 || tracked[0].ProductID != l.ProductID) {
					tracked = append(tracked, l)
				}
			}
		}
	}
	if len(tracked) < 2 {
		t.Fatal("the catalog changed: no two tracked items of different products")
	}
	target, genuine := tracked[0], tracked[1]
	loc := p.catalog.Locations[0].ID
	w.deliver(t, "drop")
	for _, it := range []string{target.InventoryItemID, genuine.InventoryItemID} {
		if err := p.shopify.SetAvailable(it, loc, 25); err != nil {
			t.Fatal(err)
		}
	}
	w.deliver(t, "deliver")
	targetStock := stockOf(p, target.TikTokID)
	level := func(item string) []byte {
		return fmt.Appendf(nil, `{"inventory_item_id":%s,"location_id":%s,"available":25,"updated_at":"2026-12-07T00:00:00Z"}`, item, loc)
	}
	secret := p.shopify.WebhookSecret()
	genuineBody := level(genuine.InventoryItemID)
	genuineMAC := sign(secret, genuineBody)
	headers := func(id, mac string) map[string]string {
		return map[string]string{"X-Shopify-Shop-Domain": p.shopify.ShopDomain(), "X-Shopify-Topic": "inventory_levels/update",
			"X-Shopify-Webhook-Id": id, "X-Shopify-Hmac-Sha256": mac}
	}
	if status := d.postWebhook(t, headers("genuine", genuineMAC), genuineBody); status != http.StatusOK {
		t.Fatalf("the genuine webhook: %d", status)
	}
	targetBody := level(target.InventoryItemID)
	for _, tt := range []struct {
		name, id, mac string
		body          []byte
	}{
		{"forged", "forged", sign("a-guess", targetBody), targetBody},
		{"truncated", "truncated", sign(secret, targetBody), targetBody[:len(targetBody)-10]},
		{"replayed with another body", "genuine", genuineMAC, targetBody},
		{"replayed with another body and id", "replayed", genuineMAC, targetBody},
		{"signed for another shop's domain", "other", sign(secret, targetBody), nil},
	} {
		h := headers(tt.id, tt.mac)
		body := tt.body
		if body == nil {
			body = targetBody
			h["X-Shopify-Shop-Domain"] = "another.myshopify.com"
		}
		if status := d.postWebhook(t, h, body); status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", tt.name, status)
		}
	}
	d.waitIdle(t)

	var receipts int
	if err := d.store.QueryRow(`SELECT COUNT(*) FROM webhook_receipts WHERE shop = 'hmac'`).Scan(&receipts); err != nil {
		t.Fatal(err)
	}
	if receipts != 1 {
		t.Errorf("%d webhook receipts, want the genuine one", receipts)
	}
	published := updatePaths(p)[calls:]
	want := "/product/202309/products/" + genuine.TikTokProductID + "/inventory/update"
	if len(published) != 1 || published[0] != want {
		t.Errorf("TikTok update calls after the webhooks: %v, want the genuine item's product only (%s)", published, want)
	}
	if got := stockOf(p, target.TikTokID); got != targetStock {
		t.Errorf("the forged webhooks' SKU changed on TikTok: %s, was %s", got, targetStock)
	}
}

// updatePaths returns the paths of the update calls TikTok answered.
func updatePaths(p *platforms) []string {
	var out []string
	for _, r := range p.tiktok.Requests() {
		if strings.HasSuffix(r.Path, "/inventory/update") {
			out = append(out, r.Path)
		}
	}
	return out
}

// stockOf returns a TikTok SKU's quantities as the fake has them.
func stockOf(p *platforms, sku string) string {
	for _, k := range p.tiktok.Stock() {
		if k.SKUID == sku {
			return fmt.Sprint(k.Warehouses)
		}
	}
	return ""
}
