package shop_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/secret"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
)

// TestPreviewCatalog is a differential test: previewing the stored
// catalog a page at a time gives the summary that previewing every
// variant at once gives, and lists the items that change most, most
// first, whatever the page size; stock at a location the shop does not
// have is left out, as the sync leaves it out. On SQLite, and on
// PostgreSQL when SYNCRULES_TEST_POSTGRES is set.
func TestPreviewCatalog(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testPreviewCatalog(t, false) })
	t.Run("postgres", func(t *testing.T) { testPreviewCatalog(t, true) })
}

func testPreviewCatalog(t *testing.T, postgres bool) {
	ctx := context.Background()
	svc, db := previewService(t, postgres)
	if _, _, err := svc.PutShop(ctx, shop.Operator, "cat", shop.ShopInput{Name: "Cat",
		Locations:  []shop.Location{{ID: "A", Active: true}, {ID: "B", Active: true}, {ID: "C", Active: false}},
		Warehouses: []shop.Warehouse{{ID: "alpha", Active: true, Default: true}, {ID: "beta", Active: true}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutSettings(ctx, shop.Operator, "cat", settingsOf(t, `{"percentage":80}`), nil); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	var variants []shop.Variant
	var items []compute.Item
	skus := map[string]string{}
	for i := range 45 {
		v := shop.Variant{ID: fmt.Sprintf("v%03d", i), SKU: fmt.Sprintf("SKU-%d", i), Tracked: i%9 != 0, InventoryPolicy: "DENY",
			Available: map[string]int{}}
		if i%11 == 0 {
			v.InventoryPolicy = "CONTINUE"
		}
		for _, loc := range []string{"A", "B", "C", "Z"} {
			if rng.IntN(4) > 0 {
				v.Available[loc] = rng.IntN(300) - 20
			}
		}
		variants, skus[v.ID] = append(variants, v), v.SKU
		// The item as a caller would send it: Z is no location of the
		// shop's.
		available := maps.Clone(v.Available)
		delete(available, "Z")
		doc, _ := json.Marshal(map[string]any{"id": v.ID, "tracked": v.Tracked, "continue_selling": v.InventoryPolicy == "CONTINUE",
			"sku": v.SKU, "available": available})
		var it compute.Item
		if err := compute.Decode(doc, &it, "an item"); err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	// Stored out of order: the preview reads them by id.
	shuffled := slices.Clone(variants)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if err := db.PutVariants(ctx, "cat", 1, shuffled); err != nil {
		t.Fatal(err)
	}

	proposed := settingsOf(t, `{"percentage":50,"max_quantity":100,"mappings":[{"location":"A","warehouse":"alpha"},{"location":"B","warehouse":"beta"}]}`)
	whole, err := svc.Preview(ctx, shop.Operator, "cat", proposed, items)
	if err != nil {
		t.Fatal(err)
	}
	if whole.Summary.Changed <= shop.PreviewTop {
		t.Fatalf("only %d items change: the test needs more than %d to check the cut", whole.Summary.Changed, shop.PreviewTop)
	}
	type ranked struct {
		id   string
		size int64
	}
	var want []ranked
	for _, it := range whole.Items {
		if !it.Changed {
			continue
		}
		var size int64
		for wh, q := range it.Proposed.Quantities.All() {
			before, _ := it.Current.Quantities.Get(wh)
			size += max(int64(q-before), int64(before-q))
		}
		want = append(want, ranked{it.ID, size})
	}
	slices.SortFunc(want, func(a, b ranked) int { return cmp.Or(cmp.Compare(b.size, a.size), cmp.Compare(a.id, b.id)) })
	want = want[:shop.PreviewTop]
	wantSummary, _ := json.Marshal(whole.Summary)

	for _, size := range []int{1, 7, 45, 100} {
		t.Run(fmt.Sprintf("pages of %d", size), func(t *testing.T) {
			shop.SetPreviewPageSize(t, size)
			got, err := svc.PreviewCatalog(ctx, shop.Operator, "cat", proposed)
			if err != nil {
				t.Fatal(err)
			}
			if gotSummary, _ := json.Marshal(got.Summary); !bytes.Equal(gotSummary, wantSummary) {
				t.Errorf("summary\n%s\nwant the whole catalog's at once\n%s", gotSummary, wantSummary)
			}
			if len(got.Items) != len(want) {
				t.Fatalf("%d items listed, want the %d that change most", len(got.Items), len(want))
			}
			for i, it := range got.Items {
				if it.ID != want[i].id || it.SKU != skus[it.ID] {
					t.Errorf("item %d: %s (SKU %q), want %s (change of %d units)", i, it.ID, it.SKU, want[i].id, want[i].size)
				}
			}
		})
	}
}

// TestPreviewCatalogChecksSettings: a shop with no catalog yet previews no
// items, and the proposed settings are still checked, with pointers into
// the request.
func TestPreviewCatalogChecksSettings(t *testing.T) {
	ctx := context.Background()
	svc, _ := previewService(t, false)
	if _, _, err := svc.PutShop(ctx, shop.Operator, "empty", shop.ShopInput{Name: "Empty",
		Locations: []shop.Location{{ID: "A", Active: true}}, Warehouses: []shop.Warehouse{{ID: "alpha", Active: true, Default: true}}}); err != nil {
		t.Fatal(err)
	}
	got, err := svc.PreviewCatalog(ctx, shop.Operator, "empty", settingsOf(t, `{"percentage":50}`))
	if err != nil || got.Summary.Items != 0 || len(got.Items) != 0 {
		t.Errorf("preview of an empty catalog: %+v, %v; want no items", got, err)
	}
	_, err = svc.PreviewCatalog(ctx, shop.Operator, "empty", settingsOf(t, `{"mappings":[{"location":"Q","warehouse":"alpha"}]}`))
	var in *compute.InputError
	if !errors.As(err, &in) || len(in.Errors) == 0 || in.Errors[0].Field != "/settings/mappings/0/location" {
		t.Errorf("preview of settings naming an unknown location: %v, want an error at /settings/mappings/0/location", err)
	}
	if _, err := svc.PreviewCatalog(ctx, shop.Operator, "empty", nil); !errors.As(err, &in) || in.Errors[0].Field != "/settings" {
		t.Errorf("preview without settings: %v, want an error at /settings", err)
	}
}

// previewService is a shop service on a new store: SQLite, or PostgreSQL
// (skipped without one).
func previewService(t *testing.T, postgres bool) (*shop.Service, *store.Store) {
	t.Helper()
	var db *store.Store
	if postgres {
		db = storetest.Postgres(t)
	} else {
		db = storetest.SQLite(t, t.TempDir())
	}
	sealer, err := secret.NewSealer(bytes.Repeat([]byte{9}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	svc := shop.New(shop.Options{Store: db, Compute: nativeCompute(t), Sealer: sealer})
	t.Cleanup(svc.Close)
	return svc, db
}

func settingsOf(t *testing.T, doc string) *compute.Settings {
	t.Helper()
	st, err := shop.DecodeSettings([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return st
}
