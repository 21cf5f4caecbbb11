package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

type historyEntryDoc struct {
	ID              int64           `json:"id"`
	Time            string          `json:"time"`
	SKUID           string          `json:"sku_id"`
	WarehouseID     string          `json:"warehouse_id"`
	Previous        *int            `json:"previous"`
	Quantity        int             `json:"quantity"`
	Outcome         string          `json:"outcome"`
	Cause           string          `json:"cause"`
	Inputs          json.RawMessage `json:"inputs"`
	SettingsVersion int64           `json:"settings_version"`
	Modules         []moduleDoc     `json:"modules"`
	Trace           json.RawMessage `json:"trace"`
	Computed        map[string]int  `json:"computed"`
	RequestID       string          `json:"request_id"`
	ErrorCode       string          `json:"error_code"`
	ErrorMessage    string          `json:"error_message"`
}

type moduleDoc struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
}

type historyPageDoc struct {
	Entries []historyEntryDoc `json:"entries"`
	Next    string            `json:"next"`
}

// syncAll drives the shop's sync until nothing is pending, as the
// queue's worker does.
func (s *server) syncAll(tb testing.TB, id string) {
	tb.Helper()
	for range 100 {
		more, err := s.shops.SyncShop(context.Background(), id)
		if err != nil {
			tb.Fatalf("SyncShop: %v", err)
		}
		if !more {
			return
		}
	}
	tb.Fatal("the sync still has items pending after 100 calls")
}

// TestSyncHistoryAPI: after a connected shop's settings are published
// through a plugin, its history pages newest first with the sha256 of
// every module that ran; a variant's report explains its number; an
// entry replays identical, and a module whose bytes differ from the
// recorded sha256 is a 409 naming it.
func TestSyncHistoryAPI(t *testing.T) {
	p := startPlatforms(t, catalog.Options{Products: 3, Variants: 2, Locations: 2, Seed: 5})
	ph := newPluginHost(t, pluginHostConfig{})
	buffer := ph.install(t, "buffer", "1.0.0", "buffer")
	r := loadRule(t)
	s := newServer(t, r, serverConfig{platforms: p.platforms, plugins: ph})
	s.putShop(t, "acme", `{"name":"Acme","shopify_domain":"`+p.shopify.ShopDomain()+`"}`)
	if ex := s.do(t, http.MethodPut, "/v1/shops/acme/credentials", "application/json", p.credentials(nil)); ex.status != http.StatusOK {
		t.Fatalf("credentials: %d %s", ex.status, ex.body)
	}
	s.connect(t, "acme")
	if st := s.waitRun(t, "acme"); st.Run.State != "succeeded" {
		t.Fatalf("connect: %+v", st.Run)
	}
	s.putSettings(t, "acme", `{"percentage":80,"rules":[{"plugin":"buffer","version":"1.0.0","params":{"units":1}}]}`)
	s.syncAll(t, "acme")

	page := func(query string) (historyPageDoc, exchange) {
		t.Helper()
		var ex exchange
		if strings.Contains(query, "cursor=") {
			// The document cannot tell a cursor of another list from a
			// good one: sent without its checks.
			ex = s.rawGet(t, "/v1/shops/acme/sync/history"+query)
		} else {
			ex = s.do(t, http.MethodGet, "/v1/shops/acme/sync/history"+query, "", "")
		}
		var doc historyPageDoc
		if ex.status == http.StatusOK {
			decodeStrict(t, ex.body, &doc)
		}
		return doc, ex
	}
	all, ex := page("?limit=1000")
	if ex.status != http.StatusOK || len(all.Entries) < 3 || all.Next != "" {
		t.Fatalf("history: %d, %d entries, next %q; want at least 3, no next", ex.status, len(all.Entries), all.Next)
	}
	var published *historyEntryDoc
	for i, e := range all.Entries {
		if i > 0 && e.ID >= all.Entries[i-1].ID {
			t.Fatalf("entries not newest first: %d after %d", e.ID, all.Entries[i-1].ID)
		}
		if published == nil && e.Outcome == "published" {
			published = &all.Entries[i]
		}
	}
	if published == nil {
		t.Fatal("no published entry")
	}
	wantMods := []moduleDoc{{Name: "default", SHA256: r.module.SHA256()}, {Name: "buffer", Version: "1.0.0", SHA256: buffer.SHA256}}
	if len(published.Modules) != 2 || published.Modules[0] != wantMods[0] || published.Modules[1] != wantMods[1] {
		t.Errorf("modules = %+v, want %+v", published.Modules, wantMods)
	}
	if published.Cause != "settings:1" || published.RequestID == "" || !strings.Contains(string(published.Trace), `"buffer@1.0.0"`) {
		t.Errorf("entry = %+v, want caused by settings:1, TikTok's request id, a trace through buffer@1.0.0", published)
	}

	// Pages of 2 follow one another without gaps; a filter narrows.
	var paged []int64
	for query := "?limit=2"; ; {
		doc, ex := page(query)
		if ex.status != http.StatusOK {
			t.Fatalf("page %s: %d %s", query, ex.status, ex.body)
		}
		for _, e := range doc.Entries {
			paged = append(paged, e.ID)
		}
		if doc.Next == "" {
			break
		}
		query = "?limit=2&cursor=" + doc.Next
	}
	if len(paged) != len(all.Entries) || paged[0] != all.Entries[0].ID || paged[len(paged)-1] != all.Entries[len(all.Entries)-1].ID {
		t.Errorf("paged ids %v, want the %d entries", paged, len(all.Entries))
	}
	bySKU, _ := page("?sku=" + url.QueryEscape(published.SKUID) + "&cause=settings:1&since=2000-01-01T00:00:00Z")
	if len(bySKU.Entries) == 0 {
		t.Errorf("no entries of SKU %s", published.SKUID)
	}
	for _, e := range bySKU.Entries {
		if e.SKUID != published.SKUID {
			t.Errorf("filtered by SKU %s, got %+v", published.SKUID, e)
		}
	}
	first, _ := page("?limit=1")
	bad := []struct{ query, field string }{
		{"?since=yesterday", "since"},
		{"?cause=", "cause"},
		{"?limit=0", "limit"},
		{"?sku=x&cursor=" + first.Next, "cursor"}, // another filter's cursor
	}
	for _, b := range bad {
		_, ex := page(b.query)
		if p := problemOf(t, ex, http.StatusBadRequest); len(p.Errors) != 1 || p.Errors[0].Field != b.field {
			t.Errorf("%s: errors %+v, want one naming %s", b.query, p.Errors, b.field)
		}
	}

	// The variant behind the published SKU explains its number.
	var inputs struct {
		VariantID string `json:"variant_id"`
	}
	if err := json.Unmarshal(published.Inputs, &inputs); err != nil {
		t.Fatal(err)
	}
	ex = s.do(t, http.MethodGet, "/v1/shops/acme/sync/items/"+number(inputs.VariantID), "", "")
	var report struct {
		SKUID  string `json:"sku_id"`
		Levels struct {
			Source string `json:"source"`
		} `json:"levels"`
		Computed struct {
			Quantities map[string]int `json:"quantities"`
		} `json:"computed"`
		Published map[string]struct {
			Quantity int `json:"quantity"`
		} `json:"published"`
		History []historyEntryDoc `json:"history"`
	}
	if ex.status != http.StatusOK {
		t.Fatalf("item: %d %s", ex.status, ex.body)
	}
	if err := json.Unmarshal(ex.body, &report); err != nil {
		t.Fatal(err)
	}
	wh := published.WarehouseID
	if report.SKUID != published.SKUID || report.Levels.Source != "shopify" || report.Computed.Quantities[wh] != published.Computed[wh] ||
		report.Published[wh].Quantity != published.Quantity || len(report.History) == 0 {
		t.Errorf("item report %s, want SKU %s read from Shopify, %d computed and published in %s, with its history", ex.body, published.SKUID, published.Quantity, wh)
	}
	if ex := s.do(t, http.MethodGet, "/v1/shops/acme/sync/items/nope", "", ""); ex.status != http.StatusNotFound {
		t.Errorf("no such variant: %d %s", ex.status, ex.body)
	}

	replay := func(id int64) exchange {
		return s.post(t, "/v1/shops/acme/sync/history/"+strconv.FormatInt(id, 10)+"/replay", "")
	}
	ex = replay(published.ID)
	var rep struct {
		Identical bool `json:"identical"`
		Recorded  struct {
			Quantities map[string]int `json:"quantities"`
		} `json:"recorded"`
		Replayed struct {
			Quantities map[string]int `json:"quantities"`
		} `json:"replayed"`
	}
	if ex.status != http.StatusOK || json.Unmarshal(ex.body, &rep) != nil || !rep.Identical || rep.Replayed.Quantities[wh] != published.Computed[wh] {
		t.Errorf("replay: %d %s; want identical", ex.status, ex.body)
	}
	if _, err := s.store.DB().ExecContext(context.Background(), `UPDATE sync_history SET modules = replace(modules, $1, $2) WHERE id = $3`,
		buffer.SHA256, strings.Repeat("0", 64), published.ID); err != nil {
		t.Fatal(err)
	}
	if p := problemOf(t, replay(published.ID), http.StatusConflict); !strings.Contains(p.Detail, "buffer@1.0.0") {
		t.Errorf("replay with another buffer: %q, want a conflict naming buffer@1.0.0", p.Detail)
	}
	problemOf(t, replay(all.Entries[0].ID+1000), http.StatusNotFound)
	if ex := s.post(t, "/v1/shops/acme/sync/history/x/replay", ""); ex.status != http.StatusBadRequest {
		t.Errorf("replay of id x: %d %s, want 400", ex.status, ex.body)
	}
}
