package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/slowtest"
	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// platforms are a fake Shopify and a fake TikTok Shop serving one catalog
// on loopback, and the options that point the clients at them.
type platforms struct {
	catalog   *catalog.Catalog
	shopify   *shopifyfake.Server
	tiktok    *tiktokfake.Server
	platforms shop.Platforms
}

// startPlatforms serves the fakes until the test ends. The Shopify cost
// bucket refills so fast that it never slows a test.
func startPlatforms(tb testing.TB, o catalog.Options) *platforms {
	tb.Helper()
	cat, err := catalog.Generate(o)
	if err != nil {
		tb.Fatal(err)
	}
	sf := shopifyfake.New(shopifyfake.Options{Catalog: cat, MaximumAvailable: 1e9, RestoreRate: 1e9})
	if err := sf.Start("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sf.Close() })
	tf := tiktokfake.New(tiktokfake.Options{Catalog: cat})
	if err := tf.Start("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tf.Close() })
	timeout := 10 * time.Second * slowtest.Factor
	return &platforms{catalog: cat, shopify: sf, tiktok: tf, platforms: shop.Platforms{
		// Above the catalog's size: read page by page, as a small shop is.
		Shopify: shopify.Options{BaseURL: sf.URL(), BulkAbove: 10_000, RequestTimeout: timeout},
		TikTok:  tiktok.Options{BaseURL: tf.URL(), AuthBaseURL: tf.URL(), RequestTimeout: timeout},
	}}
}

// credentials is a PUT .../credentials body with the fakes' credentials,
// changed by the edits given as "group/name": value ("" leaves it out).
func (p *platforms) credentials(edits map[string]string) string {
	tokens := p.tiktok.Tokens()
	creds := map[string]map[string]string{
		"shopify": {"access_token": p.shopify.AccessToken()},
		"tiktok": {"app_key": p.tiktok.AppKey(), "app_secret": p.tiktok.AppSecret(), "access_token": tokens.AccessToken,
			"refresh_token": tokens.RefreshToken, "shop_cipher": p.tiktok.ShopCipher()},
	}
	for field, v := range edits {
		group, name, _ := strings.Cut(field, "/")
		if v == "" {
			delete(creds[group], name)
		} else {
			creds[group][name] = v
		}
	}
	b, _ := json.Marshal(creds)
	return string(b)
}

// runDoc mirrors the documented Run.
type runDoc struct {
	ID       int64          `json:"id"`
	Kind     string         `json:"kind"`
	State    string         `json:"state"`
	Phase    string         `json:"phase"`
	Done     int64          `json:"done"`
	Total    int64          `json:"total"`
	Counts   *linkCountsDoc `json:"counts"`
	Error    string         `json:"error"`
	Started  string         `json:"started"`
	Updated  string         `json:"updated"`
	Finished string         `json:"finished"`
}

type linkCountsDoc struct {
	Linked            int `json:"linked"`
	UnmatchedVariants int `json:"unmatched_variants"`
	UnmatchedSKUs     int `json:"unmatched_skus"`
	Conflicts         int `json:"conflicts"`
}

// syncStatusDoc mirrors the documented SyncStatus.
type syncStatusDoc struct {
	Shop          string `json:"shop"`
	ShopifyDomain string `json:"shopify_domain"`
	Connected     bool   `json:"connected"`
	Settings      struct {
		State    string `json:"state"`
		Version  int64  `json:"version"`
		Problems []struct {
			Field  string `json:"field"`
			Detail string `json:"detail"`
		} `json:"problems"`
	} `json:"settings"`
	Run     *runDoc        `json:"run"`
	Catalog *linkCountsDoc `json:"catalog"`
	Sync    syncStateDoc   `json:"sync"`
}

// syncStateDoc mirrors the documented SyncState.
type syncStateDoc struct {
	Paused       bool  `json:"paused"`
	PendingItems int64 `json:"pending_items"`
	AllPending   bool  `json:"all_pending"`
	FailingSKUs  int64 `json:"failing_skus"`
	Failures     []struct {
		SKUID     string `json:"sku_id"`
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
		Time      string `json:"time"`
	} `json:"failures"`
	LastPublished string `json:"last_published"`
	OldestPending string `json:"oldest_pending"`
}

// linkDoc, variantDoc and skuDoc mirror the documented Link,
// CatalogVariant and CatalogSKU.
type linkDoc struct {
	Status          string `json:"status"`
	VariantID       string `json:"variant_id"`
	SKUID           string `json:"sku_id"`
	TikTokProductID string `json:"tiktok_product_id"`
	Reason          string `json:"reason"`
}

type variantDoc struct {
	VariantID       string         `json:"variant_id"`
	ProductID       string         `json:"product_id"`
	SKU             string         `json:"sku"`
	Tags            []string       `json:"tags"`
	InventoryPolicy string         `json:"inventory_policy"`
	InventoryItemID string         `json:"inventory_item_id"`
	Tracked         bool           `json:"tracked"`
	Available       map[string]int `json:"available"`
	Link            linkDoc        `json:"link"`
}

type skuDoc struct {
	SKUID      string         `json:"sku_id"`
	ProductID  string         `json:"product_id"`
	SellerSKU  string         `json:"seller_sku"`
	Warehouses []string       `json:"warehouses"`
	Quantities map[string]int `json:"quantities"`
	Link       linkDoc        `json:"link"`
}

// syncStatus reads GET .../sync, which must succeed.
func (s *server) syncStatus(tb testing.TB, id string) syncStatusDoc {
	tb.Helper()
	ex := s.do(tb, http.MethodGet, "/v1/shops/"+id+"/sync", "", "")
	if ex.status != http.StatusOK {
		tb.Fatalf("GET /v1/shops/%s/sync: %d %s", id, ex.status, ex.body)
	}
	var st syncStatusDoc
	decodeStrict(tb, ex.body, &st)
	return st
}

// connect starts connecting a shop, which must be accepted.
func (s *server) connect(tb testing.TB, id string) runDoc {
	tb.Helper()
	ex := s.do(tb, http.MethodPost, "/v1/shops/"+id+"/sync/connect", "", "")
	if ex.status != http.StatusAccepted {
		tb.Fatalf("POST /v1/shops/%s/sync/connect: %d %s", id, ex.status, ex.body)
	}
	if loc := ex.header.Get("Location"); loc != "/v1/shops/"+id+"/sync" {
		tb.Errorf("Location %q, want /v1/shops/%s/sync", loc, id)
	}
	var run runDoc
	decodeStrict(tb, ex.body, &run)
	return run
}

// waitRun polls GET .../sync until the latest run is no longer running,
// and returns that status.
func (s *server) waitRun(tb testing.TB, id string) syncStatusDoc {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute * slowtest.Factor)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		st := s.syncStatus(tb, id)
		if st.Run != nil && st.Run.State != string(shop.RunRunning) {
			return st
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the connect of %s still runs after %v: %+v", id, 2*time.Minute*slowtest.Factor, st.Run)
		}
		<-tick.C
	}
}

// items walks GET .../sync/items with query, limit at a time, and returns
// every page's raw items.
func (s *server) items(tb testing.TB, id, query string, limit int) []json.RawMessage {
	tb.Helper()
	var all []json.RawMessage
	cursor := ""
	for pages := 0; ; pages++ {
		q := fmt.Sprintf("?limit=%d", limit)
		if query != "" {
			q += "&" + query
		}
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		ex := s.do(tb, http.MethodGet, "/v1/shops/"+id+"/sync/items"+q, "", "")
		if ex.status != http.StatusOK {
			tb.Fatalf("GET items%s: %d %s", q, ex.status, ex.body)
		}
		var page struct {
			Items []json.RawMessage `json:"items"`
			Next  string            `json:"next"`
		}
		decodeStrict(tb, ex.body, &page)
		if len(page.Items) > limit || (page.Next != "" && len(page.Items) != limit) {
			tb.Fatalf("a page of %d items with next %q, limit %d", len(page.Items), page.Next, limit)
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			return all
		}
		if pages > 1000 {
			tb.Fatal("more than 1000 pages: the cursor does not move")
		}
		cursor = page.Next
	}
}

func variantsOf(tb testing.TB, raw []json.RawMessage) []variantDoc {
	tb.Helper()
	out := make([]variantDoc, len(raw))
	for i, r := range raw {
		decodeStrict(tb, r, &out[i])
	}
	return out
}

func skusOf(tb testing.TB, raw []json.RawMessage) []skuDoc {
	tb.Helper()
	out := make([]skuDoc, len(raw))
	for i, r := range raw {
		decodeStrict(tb, r, &out[i])
	}
	return out
}

// number is the number that ends a platform id, a global id
// (gid://shopify/ProductVariant/123) or a plain one: the catalog knows the
// numbers.
func number(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }

// TestConnectShop connects a shop end to end over HTTP against the fakes:
// a shop created with a domain alone, its credentials, the connect's 202,
// the run followed to its end, then the locations and warehouses read
// into the shop, the counts and the catalog's links page by page, and what
// a connected shop refuses.
func TestConnectShop(t *testing.T) {
	p := startPlatforms(t, catalog.Options{Products: 7, Variants: 3, Locations: 3, Seed: 11})
	cat := p.catalog
	s := newServer(t, loadRule(t), serverConfig{platforms: p.platforms})
	domain := p.shopify.ShopDomain()

	created := s.putShop(t, "acme", `{"name":"Acme","shopify_domain":"`+strings.ToUpper(domain)+`"}`)
	if created.ShopifyDomain != domain || created.Connected || len(created.Locations) != 0 || len(created.Warehouses) != 0 {
		t.Fatalf("a shop created with a domain alone: %+v; want domain %s in lower case, no locations or warehouses, not connected", created, domain)
	}
	if ex := s.do(t, http.MethodPut, "/v1/shops/acme/credentials", "application/json", p.credentials(nil)); ex.status != http.StatusOK {
		t.Fatalf("credentials: %d %s", ex.status, ex.body)
	}
	if st := s.syncStatus(t, "acme"); st.Connected || st.Run != nil || st.Catalog != nil || st.ShopifyDomain != domain || st.Settings.State != "none" {
		t.Errorf("before connecting: %+v", st)
	}

	run := s.connect(t, "acme")
	if run.Kind != "connect" || run.State != "running" || run.ID < 1 {
		t.Errorf("the accepted run: %+v", run)
	}
	st := s.waitRun(t, "acme")
	if st.Run.State != "succeeded" || st.Run.ID != run.ID || st.Run.Phase != "done" || st.Run.Finished == "" || st.Run.Error != "" {
		t.Fatalf("the finished run: %+v", st.Run)
	}
	want := linkCountsDoc{Linked: len(cat.Links), UnmatchedVariants: len(cat.ShopifyOnly), UnmatchedSKUs: len(cat.TikTokOnly), Conflicts: len(cat.DuplicateSKUs)}
	if st.Run.Counts == nil || *st.Run.Counts != want || st.Catalog == nil || *st.Catalog != want {
		t.Errorf("counts: run %+v, catalog %+v; want %+v", st.Run.Counts, st.Catalog, want)
	}
	if !st.Connected {
		t.Error("the shop is not connected after a succeeded connect")
	}
	for name, v := range map[string]string{"started": st.Run.Started, "updated": st.Run.Updated, "finished": st.Run.Finished} {
		if !timestampRE.MatchString(v) {
			t.Errorf("the run's %s %q is not RFC 3339 in UTC with six fractional digits", name, v)
		}
	}

	// The locations and the pickup warehouses come from the platforms.
	ex := s.do(t, http.MethodGet, "/v1/shops/acme", "", "")
	var sh shopDoc
	decodeStrict(t, ex.body, &sh)
	var gotLocs, wantLocs []string
	for _, l := range sh.Locations {
		gotLocs = append(gotLocs, fmt.Sprintf("%s active=%v", number(l.ID), l.Active))
	}
	for _, l := range cat.Locations {
		wantLocs = append(wantLocs, fmt.Sprintf("%s active=%v", l.ID, l.Active))
	}
	slices.Sort(gotLocs)
	slices.Sort(wantLocs)
	if !slices.Equal(gotLocs, wantLocs) {
		t.Errorf("locations %v, want %v", gotLocs, wantLocs)
	}
	var gotWhs, wantWhs []string
	for _, w := range sh.Warehouses {
		gotWhs = append(gotWhs, fmt.Sprintf("%s active=%v default=%v", number(w.ID), w.Active, w.Default))
	}
	for _, w := range cat.Warehouses {
		if w.Type == "SALES_WAREHOUSE" {
			wantWhs = append(wantWhs, fmt.Sprintf("%s active=%v default=%v", w.ID, w.EffectStatus == "ENABLED", w.IsDefault))
		}
	}
	slices.Sort(gotWhs)
	slices.Sort(wantWhs)
	if !sh.Connected || !slices.Equal(gotWhs, wantWhs) {
		t.Errorf("connected %v, warehouses %v; want connected, %v (sales warehouses only)", sh.Connected, gotWhs, wantWhs)
	}

	// The linked variants, a page of 4 at a time: exactly the catalog's
	// links, each naming its SKU and product.
	linked := variantsOf(t, s.items(t, "acme", "status=linked", 4))
	wantLinks := map[string]catalog.Link{}
	for _, l := range cat.Links {
		wantLinks[l.VariantID] = l
	}
	seen := map[string]bool{}
	for _, v := range linked {
		l, ok := wantLinks[number(v.VariantID)]
		switch {
		case !ok:
			t.Errorf("variant %s (sku %q) is linked; the catalog does not link it", v.VariantID, v.SKU)
		case v.Link.Status != "linked" || number(v.Link.SKUID) != l.TikTokID || number(v.Link.TikTokProductID) != l.TikTokProductID || v.SKU != l.SellerSKU:
			t.Errorf("variant %s: sku %q, link %+v; want SKU %s of product %s", v.VariantID, v.SKU, v.Link, l.TikTokID, l.TikTokProductID)
		}
		if seen[v.VariantID] {
			t.Errorf("variant %s is on two pages", v.VariantID)
		}
		seen[v.VariantID] = true
	}
	if len(seen) != len(wantLinks) {
		t.Errorf("%d linked variants, want %d", len(seen), len(wantLinks))
	}

	// Conflicts: both variants with the duplicate SKU, neither linked,
	// with the reason.
	conflicts := variantsOf(t, s.items(t, "acme", "status=conflict&side=shopify", 1))
	if len(conflicts) != 2 {
		t.Errorf("%d variants in conflict, want the 2 with %s", len(conflicts), catalog.DuplicateSKU)
	}
	for _, v := range conflicts {
		if v.SKU != catalog.DuplicateSKU || v.Link.Status != "conflict" || v.Link.SKUID != "" || v.Link.Reason == "" {
			t.Errorf("variant in conflict %+v: want sku %s, no SKU linked, a reason", v, catalog.DuplicateSKU)
		}
	}
	// TikTok SKUs no variant carries.
	var gotOnly []string
	for _, k := range skusOf(t, s.items(t, "acme", "side=tiktok&status=unmatched", 10)) {
		gotOnly = append(gotOnly, number(k.SKUID))
		if k.Link.Status != "unmatched" || k.Link.Reason == "" {
			t.Errorf("unmatched SKU %+v: want a reason", k)
		}
	}
	if !slices.Equal(sorted(gotOnly), sorted(cat.TikTokOnly)) {
		t.Errorf("unmatched TikTok SKUs %v, want %v", gotOnly, cat.TikTokOnly)
	}
	// Every variant, whatever its status, once.
	total := 0
	for _, p := range cat.Products {
		total += len(p.Variants)
	}
	if all := s.items(t, "acme", "", 1000); len(all) != total {
		t.Errorf("%d variants without a status filter, want %d", len(all), total)
	}

	// A connected shop's locations and warehouses are the platforms'.
	ex = s.do(t, http.MethodPut, "/v1/shops/acme", "application/json", seedShopBody)
	if p := problemOf(t, ex, http.StatusConflict); !strings.Contains(p.Detail, "connect") {
		t.Errorf("editing a connected shop's locations: %q, want a detail that says to reconnect", p.Detail)
	}
	renamed := s.putShop(t, "acme", `{"name":"Acme Apparel"}`)
	if renamed.Name != "Acme Apparel" || !renamed.Connected || len(renamed.Locations) != len(sh.Locations) || renamed.ShopifyDomain != domain {
		t.Errorf("a rename of a connected shop: %+v; want the locations, domain and connection kept", renamed)
	}
	// A domain belongs to one shop.
	ex = s.do(t, http.MethodPut, "/v1/shops/other", "application/json", `{"shopify_domain":"`+domain+`"}`)
	if p := problemOf(t, ex, http.StatusConflict); !strings.Contains(p.Detail, "acme") {
		t.Errorf("another shop's domain: %q, want a detail naming shop acme", p.Detail)
	}

	// A cursor is a place in one shop's list: shop B's token gets A's
	// 404, and A's cursor on B's items is a 400 that names no other shop.
	s.putShop(t, "shop-b", `{"name":"B"}`)
	shopB := s.createToken(t, "shop:shop-b")
	ex = s.do(t, http.MethodGet, "/v1/shops/acme/sync/items?limit=1", "", "")
	var first struct {
		Items []json.RawMessage `json:"items"`
		Next  string            `json:"next"`
	}
	decodeStrict(t, ex.body, &first)
	if first.Next == "" {
		t.Fatal("no next on a first page of 1")
	}
	problemOf(t, s.as(shopB).do(t, http.MethodGet, "/v1/shops/acme/sync/items?cursor="+first.Next, "", ""), http.StatusNotFound)
	// (rawGet: the document cannot tell a cursor of another list.)
	ex = s.as(shopB).rawGet(t, "/v1/shops/shop-b/sync/items?cursor="+first.Next)
	if p := problemOf(t, ex, http.StatusBadRequest); !slices.Contains(p.fields(), "cursor") || strings.Contains(string(ex.body), "acme") {
		t.Errorf("A's cursor on B's items: %s", ex.body)
	}
	// A cursor of one status is refused on another.
	ex = s.rawGet(t, "/v1/shops/acme/sync/items?status=linked&cursor="+first.Next)
	if p := problemOf(t, ex, http.StatusBadRequest); !slices.Contains(p.fields(), "cursor") {
		t.Errorf("a cursor of every status with status=linked: %s", ex.body)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestConnectRefused: a connect whose credentials a platform refuses, or
// that lacks what it needs, is a 422 of type credentials-refused naming
// the field to fix, and starts nothing.
func TestConnectRefused(t *testing.T) {
	p := startPlatforms(t, catalog.Options{Products: 2, Variants: 2, Locations: 2, Seed: 3})
	s := newServer(t, loadRule(t), serverConfig{platforms: p.platforms})
	domain := `"shopify_domain":"` + p.shopify.ShopDomain() + `"`
	tests := []struct {
		name, shop, credentials string
		field                   string // the field the problem names
	}{
		{"no shopify_domain", `{"name":"x"}`, p.credentials(nil), "/shopify_domain"},
		{"a refused Shopify access token", `{` + domain + `}`, p.credentials(map[string]string{"shopify/access_token": "shpat_wrong"}), "/shopify/access_token"},
		{"no Shopify access token", `{` + domain + `}`, p.credentials(map[string]string{"shopify/access_token": ""}), "/shopify/access_token"},
		{"a wrong TikTok app secret", `{` + domain + `}`, p.credentials(map[string]string{"tiktok/app_secret": "not-the-secret"}), "/tiktok/app_secret"},
		{"no TikTok app key", `{` + domain + `}`, p.credentials(map[string]string{"tiktok/app_key": ""}), "/tiktok/app_key"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("refused-%d", i)
			// One shop per case: a domain belongs to one shop.
			s.putShop(t, id, tt.shop)
			if ex := s.do(t, http.MethodPut, "/v1/shops/"+id+"/credentials", "application/json", tt.credentials); ex.status != http.StatusOK {
				t.Fatalf("credentials: %d %s", ex.status, ex.body)
			}
			ex := s.do(t, http.MethodPost, "/v1/shops/"+id+"/sync/connect", "", "")
			pr := problemOf(t, ex, http.StatusUnprocessableEntity)
			if pr.Type != "/problems/credentials-refused" {
				t.Errorf("type %q, want /problems/credentials-refused", pr.Type)
			}
			if !slices.Contains(pr.fields(), tt.field) {
				t.Errorf("fields %v, want %s: %s", pr.fields(), tt.field, ex.body)
			}
			if st := s.syncStatus(t, id); st.Run != nil || st.Connected {
				t.Errorf("a refused connect changed the shop: %+v", st)
			}
			// Another shop's id: the shop's domain must be free again.
			s.putShop(t, id, `{"shopify_domain":""}`)
		})
	}
}

// TestSyncItemsQuery: a status or side that is not one of its values is a
// 400 naming it, like any malformed query.
func TestSyncItemsQuery(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "acme", `{"name":"Acme"}`)
	tests := []struct {
		query, field string
		// raw: the document cannot tell this query from a good one, so
		// it is sent without the document's checks.
		raw bool
	}{
		{"status=broken", "status", false},
		{"status=", "status", false},
		{"status=LINKED", "status", false},
		{"side=amazon", "side", false},
		{"limit=0", "limit", false},
		{"limit=1001", "limit", false},
		{"cursor=abc", "cursor", true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			path := "/v1/shops/acme/sync/items?" + tt.query
			var ex exchange
			if tt.raw {
				ex = s.rawGet(t, path)
			} else {
				ex = s.do(t, http.MethodGet, path, "", "")
			}
			p := problemOf(t, ex, http.StatusBadRequest)
			if !slices.Equal(p.fields(), []string{tt.field}) {
				t.Errorf("fields %v, want [%s]", p.fields(), tt.field)
			}
		})
	}
	// An unconnected shop has an empty catalog on either side.
	for _, q := range []string{"", "?side=tiktok", "?status=conflict&side=shopify"} {
		ex := s.do(t, http.MethodGet, "/v1/shops/acme/sync/items"+q, "", "")
		if ex.status != http.StatusOK || string(ex.body) != `{"items":[]}` {
			t.Errorf("items%s of an unconnected shop: %d %s, want 200 {\"items\":[]}", q, ex.status, ex.body)
		}
	}
	problemOf(t, s.do(t, http.MethodGet, "/v1/shops/nope/sync/items", "", ""), http.StatusNotFound)
	problemOf(t, s.do(t, http.MethodGet, "/v1/shops/nope/sync", "", ""), http.StatusNotFound)
	problemOf(t, s.do(t, http.MethodPost, "/v1/shops/nope/sync/connect", "", ""), http.StatusNotFound)
}

// TestConnectWhileRunning: a second connect while one runs is a 409 that
// names the running run, and starts nothing.
func TestConnectWhileRunning(t *testing.T) {
	p := startPlatforms(t, catalog.Options{Products: 2, Variants: 2, Locations: 2, Seed: 3})
	// The run's read of the warehouses hangs until the test ends, when
	// the service's Close cancels the run; the credential check does not
	// read them.
	hang := fakes.Fault{Path: "/logistics/202309/warehouses", Latency: fakes.Duration(time.Hour), For: fakes.Duration(time.Hour)}
	if err := p.tiktok.InjectFault(hang); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, loadRule(t), serverConfig{platforms: p.platforms})
	s.putShop(t, "acme", `{"shopify_domain":"`+p.shopify.ShopDomain()+`"}`)
	if ex := s.do(t, http.MethodPut, "/v1/shops/acme/credentials", "application/json", p.credentials(nil)); ex.status != http.StatusOK {
		t.Fatalf("credentials: %d %s", ex.status, ex.body)
	}
	run := s.connect(t, "acme")
	pr := problemOf(t, s.do(t, http.MethodPost, "/v1/shops/acme/sync/connect", "", ""), http.StatusConflict)
	if !strings.Contains(pr.Detail, fmt.Sprintf("Run %d", run.ID)) || !strings.Contains(pr.Detail, "running") {
		t.Errorf("a connect while run %d runs: %q, want a detail naming the run", run.ID, pr.Detail)
	}
	if st := s.syncStatus(t, "acme"); st.Run == nil || st.Run.ID != run.ID || st.Run.State != "running" || st.Run.Phase != "locations" {
		t.Errorf("the latest run %+v, want run %d running in phase locations", st.Run, run.ID)
	}
}
