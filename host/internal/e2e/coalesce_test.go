package e2e_test

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// TestBurstCoalesces: a hundred signed webhooks for one inventory item,
// sent at once, within the coalescing window, cost one Shopify nodes
// query for the item and at most one TikTok update call, and TikTok ends
// with the rule's output for the item's stock after the burst.
func TestBurstCoalesces(t *testing.T) {
	// Long enough for a hundred webhooks to be recorded on a loaded
	// machine; the configuration takes at most 5 s.
	window := min(3*time.Second*slowtest.Factor, 5*time.Second)
	onEachEngine(t, func(t *testing.T, engine, dsn string) {
		p := startPlatforms(t, platformOptions{
			catalog: catalog.Options{Products: 2, Variants: 2, Locations: 2, Seed: 13, WithoutConflicts: true},
			domain:  "burst.myshopify.com",
		})
		prepareStock(t, p) // every item's stock counts, at the first location
		d := deploy(t, p, dsn, extraConfig{sync: fmt.Sprintf("coalesce = %q\n", window)})
		d.start("server")
		d.addShop(t, "burst", p, `{"percentage":80}`)

		// The stock changes in Shopify with its webhook lost: only the
		// test's burst tells the server.
		if err := p.shopify.SetWebhooks(shopifyfake.WebhookSettings{}); err != nil {
			t.Fatal(err)
		}
		item, loc := p.catalog.Links[0].InventoryItemID, p.catalog.Locations[0].ID
		if err := p.shopify.SetAvailable(item, loc, 37); err != nil {
			t.Fatal(err)
		}
		readsBefore, callsBefore := len(levelReads(p.shopify)[item]), updateCalls(t, p.tiktok)

		body := fmt.Appendf(nil, `{"inventory_item_id":%s,"location_id":%s,"available":37,"updated_at":"2026-12-07T00:00:00Z"}`, item, loc)
		mac := sign(p.shopify.WebhookSecret(), body)
		var (
			wg       sync.WaitGroup
			fire     = make(chan struct{})
			mu       sync.Mutex
			failures []string
		)
		for i := range 100 {
			wg.Go(func() {
				<-fire
				if err := postSigned(d.webhookURL(), p.shopify.ShopDomain(), fmt.Sprintf("burst-%d", i), mac, body); err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
			})
		}
		sent := time.Now()
		close(fire)
		wg.Wait()
		took := time.Since(sent)
		if took >= window {
			t.Fatalf("sending the burst took %s, longer than the window %s: raise SYNCRULES_TEST_SLOWDOWN", took, window)
		}
		if len(failures) > 0 {
			t.Fatalf("%d of the burst's webhooks failed: %s", len(failures), strings.Join(failures, "; "))
		}
		d.waitIdle(t)

		if reads := len(levelReads(p.shopify)[item]) - readsBefore; reads != 1 {
			t.Errorf("the burst (sent at %s, in %s) cost %d Shopify nodes queries for its item, want 1; the item's level queries:\n%s",
				sent.Format("15:04:05.000"), took, reads, strings.Join(levelQueries(p.shopify, item), "\n"))
		}
		if calls := updateCalls(t, p.tiktok) - callsBefore; calls > 1 {
			t.Errorf("the burst cost %d TikTok update calls, want at most 1:\n%s", calls, strings.Join(updateBodies(p.tiktok, callsBefore), "\n"))
		}
		d.checkPublished(t, "burst", p)
	})
}

// postSigned sends an inventory level webhook as Shopify would and wants
// it accepted.
func postSigned(url, domain, id, mac string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Shop-Domain", domain)
	req.Header.Set("X-Shopify-Topic", "inventory_levels/update")
	req.Header.Set("X-Shopify-Webhook-Id", id)
	req.Header.Set("X-Shopify-Hmac-Sha256", mac)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", id, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook %s: %d, want 200", id, resp.StatusCode)
	}
	return nil
}

// levelQueries describes the level queries of Shopify that named the
// inventory item (its numeric id), answered or not: when, and the answer.
func levelQueries(sf *shopifyfake.Server, item string) []string {
	named := regexp.MustCompile(`gid://shopify/InventoryItem/` + regexp.QuoteMeta(item) + `\b`)
	var out []string
	for _, r := range sf.Requests() {
		if strings.Contains(r.Body, "ItemLevels") && named.MatchString(r.Body) {
			out = append(out, fmt.Sprintf("%s status %d %s", r.Time.Format("15:04:05.000"), r.Status, r.Code))
		}
	}
	return out
}
