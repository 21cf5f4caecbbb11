package shop_test

import (
	"context"
	"testing"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// TestRepublishKeepsCatalogCounts: a settings run and a resync change no
// link, and once they succeed the status still shows the catalog's links
// as the connect counted them, not zeros (the page shows them).
func TestRepublishKeepsCatalogCounts(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testRepublishKeepsCatalogCounts(t, false) })
	t.Run("postgres", func(t *testing.T) { testRepublishKeepsCatalogCounts(t, true) })
}

func testRepublishKeepsCatalogCounts(t *testing.T, postgres bool) {
	h := newSyncHarness(t, generate(t, 20, 2, 2), postgres)
	linked := len(h.variants(shop.LinkLinked))
	if linked == 0 {
		t.Fatal("the catalog links nothing")
	}
	check := func(after string, kind string) {
		t.Helper()
		st := h.status()
		if st.Run == nil || st.Run.Kind != kind || st.Run.State != shop.RunSucceeded {
			t.Fatalf("after %s: run %+v, want a %s run succeeded", after, st.Run, kind)
		}
		if st.Catalog == nil || st.Catalog.Linked != linked || st.Run.Counts == nil || *st.Run.Counts != *st.Catalog {
			t.Errorf("after %s: catalog %+v, run counts %+v; want %d linked in both", after, st.Catalog, st.Run.Counts, linked)
		}
	}
	check("the settings", shop.RunKindSettings)
	if _, err := h.svc.Resync(context.Background(), shop.Operator, shopID); err != nil {
		t.Fatal(err)
	}
	h.sync()
	check("a resync", shop.RunKindResync)
}
