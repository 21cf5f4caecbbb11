package store_test

import (
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// TestSyncHistoryPage: the history pages newest first, narrowed by SKU,
// cause and time, below a cursor's id; an entry keeps its trace, computed
// quantities and modules; a publication of many entries is recorded whole
// and in order.
func TestSyncHistoryPage(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		mustPutShop(t, s, "b")
		t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		// 130 entries in one publication: more than one insert holds.
		var many []shop.HistoryEntry
		for i := range 130 {
			many = append(many, shop.HistoryEntry{Time: t0.Add(time.Duration(i) * time.Minute), SKUID: fmt.Sprintf("k%d", i%3),
				WarehouseID: "w", Quantity: i, Outcome: shop.OutcomePublished, Cause: []string{"resync", "h1"}[i%2],
				Trace: []byte(`[{"stage":"default"}]`), Computed: map[string]int{"w": i, "x": 0},
				Modules: []byte(`[{"name":"default","sha256":"ab"}]`), RequestID: fmt.Sprintf("r%d", i)})
		}
		if err := s.RecordPublication(ctx, "a", shop.Publication{History: many}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordPublication(ctx, "b", shop.Publication{History: many[:1]}); err != nil {
			t.Fatal(err)
		}
		all, err := s.SyncHistoryPage(ctx, "a", shop.HistoryFilter{}, 0, 0)
		if err != nil || len(all) != 130 {
			t.Fatalf("history = %d entries, %v; want 130", len(all), err)
		}
		for i, e := range all {
			if e.Quantity != 129-i || (i > 0 && e.ID >= all[i-1].ID) {
				t.Fatalf("entry %d = %+v, want quantity %d, newest first", i, e, 129-i)
			}
		}
		if e := all[0]; string(e.Trace) != `[{"stage":"default"}]` || !maps.Equal(e.Computed, map[string]int{"w": 129, "x": 0}) ||
			string(e.Modules) != `[{"name":"default","sha256":"ab"}]` || e.RequestID != "r129" || !e.Time.Equal(t0.Add(129*time.Minute)) {
			t.Errorf("newest entry = %+v", e)
		}

		tests := []struct {
			name   string
			f      shop.HistoryFilter
			before int64
			limit  int
			want   []int // quantities, newest first
		}{
			{"a page", shop.HistoryFilter{}, 0, 3, []int{129, 128, 127}},
			{"below a cursor", shop.HistoryFilter{}, all[2].ID, 2, []int{126, 125}},
			{"one SKU", shop.HistoryFilter{SKUID: "k1"}, 0, 3, []int{127, 124, 121}},
			{"one cause", shop.HistoryFilter{Cause: "h1"}, 0, 3, []int{129, 127, 125}},
			{"since a time", shop.HistoryFilter{Since: t0.Add(127 * time.Minute)}, 0, 0, []int{129, 128, 127}},
			{"every filter", shop.HistoryFilter{SKUID: "k0", Cause: "resync", Since: t0.Add(100 * time.Minute)}, all[0].ID, 0, []int{126, 120, 114, 108, 102}},
			{"no match", shop.HistoryFilter{SKUID: "nope"}, 0, 0, nil},
		}
		for _, tt := range tests {
			got, err := s.SyncHistoryPage(ctx, "a", tt.f, tt.before, tt.limit)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var qs []int
			for _, e := range got {
				qs = append(qs, e.Quantity)
			}
			if fmt.Sprint(qs) != fmt.Sprint(tt.want) {
				t.Errorf("%s: quantities %v, want %v", tt.name, qs, tt.want)
			}
		}

		e, found, err := s.SyncHistoryEntry(ctx, "a", all[5].ID)
		if err != nil || !found || e.Quantity != 124 || e.ID != all[5].ID {
			t.Errorf("SyncHistoryEntry = %+v, %v, %v; want quantity 124", e, found, err)
		}
		// Another shop's entry is not this shop's.
		other, _ := s.SyncHistoryPage(ctx, "b", shop.HistoryFilter{}, 0, 0)
		if _, found, err := s.SyncHistoryEntry(ctx, "a", other[0].ID); err != nil || found {
			t.Errorf("SyncHistoryEntry of b's entry in a: found %v, %v; want not found", found, err)
		}
		if _, _, err := s.SyncHistoryEntry(ctx, "nope", 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SyncHistoryEntry of no shop: %v, want ErrNotFound", err)
		}
		if _, err := s.SyncHistoryPage(ctx, "nope", shop.HistoryFilter{}, 0, 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SyncHistoryPage of no shop: %v, want ErrNotFound", err)
		}
	})
}

// TestPublishedAtAndCatalogVariant: the published quantities come with
// when TikTok accepted them; a variant is read by id with its link.
func TestPublishedAtAndCatalogVariant(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "a")
		before := time.Now().Add(-time.Second)
		if err := s.RecordPublication(ctx, "a", shop.Publication{Accepted: map[shop.PublishKey]int{{SKUID: "k1", WarehouseID: "w"}: 8, {SKUID: "k2", WarehouseID: "w"}: 3}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.PublishedAt(ctx, "a", []string{"k1"})
		if q := got[shop.PublishKey{SKUID: "k1", WarehouseID: "w"}]; err != nil || len(got) != 1 || q.Quantity != 8 || q.Time.Before(before) {
			t.Errorf("PublishedAt = %+v, %v; want k1 in w: 8, accepted now", got, err)
		}

		if err := s.PutVariants(ctx, "a", 1, []shop.Variant{{ID: "v1", ProductID: "p", SKU: "A", InventoryItemID: "i1", Tags: []string{"x"},
			Available: map[string]int{"L": 4}, InventoryPolicy: "DENY", Tracked: true}}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetLinks(ctx, "a", map[string]shop.Link{"v1": {Status: shop.LinkLinked, SKUID: "k1", TikTokProductID: "tp"}}, nil); err != nil {
			t.Fatal(err)
		}
		v, found, err := s.CatalogVariant(ctx, "a", "v1")
		if err != nil || !found || v.SKU != "A" || v.Available["L"] != 4 || v.Link.SKUID != "k1" || v.Link.Status != shop.LinkLinked || len(v.Tags) != 1 {
			t.Errorf("CatalogVariant = %+v, %v, %v", v, found, err)
		}
		if _, found, err := s.CatalogVariant(ctx, "a", "v2"); err != nil || found {
			t.Errorf("CatalogVariant of no variant: found %v, %v; want not found", found, err)
		}
		if _, _, err := s.CatalogVariant(ctx, "nope", "v1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CatalogVariant of no shop: %v, want ErrNotFound", err)
		}
	})
}
