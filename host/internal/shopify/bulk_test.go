package shopify

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// Ids above 2^53, which a float64 would round.
const (
	v1 = "gid://shopify/ProductVariant/9007199254740993"
	v2 = "gid://shopify/ProductVariant/9007199254740995"
	i1 = "gid://shopify/InventoryItem/9007199254740997"
	i2 = "gid://shopify/InventoryItem/9007199254740999"
	l1 = "gid://shopify/Location/9007199254741001"
	l2 = "gid://shopify/Location/9007199254741003"
)

func variantLine(id, item string) string {
	return fmt.Sprintf(`{"id":%q,"sku":"SKU-%s","inventoryPolicy":"CONTINUE","product":{"id":"gid://shopify/Product/1","tags":["a","b"]},"inventoryItem":{"id":%q,"tracked":true}}`,
		id, id[len(id)-4:], item)
}

func levelLine(parent, loc string, q int) string {
	return fmt.Sprintf(`{"id":"gid://shopify/InventoryLevel/1?inventory_item_id=2","location":{"id":%q},"quantities":[{"name":"available","quantity":%d}],"__parentId":%q}`,
		loc, q, parent)
}

func TestAssembleBulk(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lines   []string
		window  int
		want    map[string]map[string]int // variant → available
		wantErr string
	}{
		{"grouped", []string{variantLine(v1, i1), levelLine(v1, l1, 5), levelLine(v1, l2, -2), variantLine(v2, i2), levelLine(v2, l1, 0)}, 1,
			map[string]map[string]int{v1: {l1: 5, l2: -2}, v2: {l1: 0}}, ""},
		{"children later, within the window", []string{variantLine(v1, i1), variantLine(v2, i2), levelLine(v1, l1, 5), levelLine(v2, l2, 7)}, 2,
			map[string]map[string]int{v1: {l1: 5}, v2: {l2: 7}}, ""},
		{"parent named by its item", []string{variantLine(v1, i1), levelLine(i1, l1, 3)}, 1,
			map[string]map[string]int{v1: {l1: 3}}, ""},
		{"no levels", []string{variantLine(v1, i1), "", variantLine(v2, i2)}, 1,
			map[string]map[string]int{v1: {}, v2: {}}, ""},
		{"other lines ignored", []string{`{"id":"gid://shopify/Product/1"}`, variantLine(v1, i1)}, 1,
			map[string]map[string]int{v1: {}}, ""},
		{"child past the window", []string{variantLine(v1, i1), variantLine(v2, i2), levelLine(v1, l1, 5)}, 1,
			nil, "line 3: a level of " + v1},
		{"child before its parent", []string{levelLine(v1, l1, 5), variantLine(v1, i1)}, 8,
			nil, "line 1"},
		{"broken line", []string{variantLine(v1, i1), `{"id":`}, 8,
			nil, "line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]map[string]int{}
			err := assembleBulk(strings.NewReader(strings.Join(tc.lines, "\n")), tc.window, func(v Variant) error {
				if v.SKU == "" || v.InventoryPolicy != PolicyContinue || !v.Tracked || len(v.Tags) != 2 || v.ProductID == "" {
					t.Errorf("variant fields lost: %+v", v)
				}
				got[v.ID] = v.Available
				return nil
			})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.EqualFunc(got, tc.want, maps.Equal) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// bulkShop answers the bulk flow for a catalog of n generated variants of
// three levels each, its file written line by line as it is read: the
// server holds none of it.
func bulkShop(t *testing.T, n int) (base string, downloads *atomic.Int32) {
	downloads = new(atomic.Int32)
	file := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Shopify-Access-Token") != "" {
			t.Error("the bulk file's URL got the access token")
		}
		downloads.Add(1)
		bw := bufio.NewWriter(w)
		for i := range n {
			v := fmt.Sprintf("gid://shopify/ProductVariant/%d", 1<<53+i)
			fmt.Fprintln(bw, variantLine(v, fmt.Sprintf("gid://shopify/InventoryItem/%d", 1<<53+i)))
			for l, loc := range []string{l1, l2, "gid://shopify/Location/9007199254741005"} {
				fmt.Fprintln(bw, levelLine(v, loc, i%100+l))
			}
		}
		bw.Flush()
	}))
	t.Cleanup(file.Close)
	var polls atomic.Int32
	srv := newGQLServer(t, func(w http.ResponseWriter, req gqlRequest) {
		switch req.op() {
		case "VariantsCount":
			answerData(w, map[string]any{"productVariantsCount": map[string]any{"count": n, "precision": "EXACT"}})
		case "RunBulk":
			if !strings.Contains(fmt.Sprint(req.Variables["query"]), "productVariants") {
				t.Errorf("bulk query %v", req.Variables)
			}
			answerData(w, map[string]any{"bulkOperationRunQuery": map[string]any{
				"bulkOperation": map[string]any{"id": "gid://shopify/BulkOperation/9007199254740995", "status": "CREATED"}, "userErrors": []any{}}})
		case "BulkOperation":
			status, url := "RUNNING", any(nil)
			if polls.Add(1) > 2 {
				status, url = "COMPLETED", file.URL+"/bulk.jsonl?X-Goog-Signature=secret"
			}
			answerData(w, map[string]any{"node": map[string]any{"id": req.Variables["id"], "status": status, "errorCode": nil, "url": url}})
		default:
			t.Errorf("unexpected query %s", req.Query)
		}
	})
	return srv.URL, downloads
}

func TestBulkCatalogStreamsInFlatMemory(t *testing.T) {
	const n = 50_000
	base, downloads := bulkShop(t, n)
	c := newTestClient(t, base, &fakeClock{}, func(o *Options) { o.BulkAbove = 2000 })
	var (
		ms         runtime.MemStats
		start, top uint64
		count      int
	)
	for v, err := range c.Catalog(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Available) != 3 {
			t.Fatalf("variant %s has %d levels, want 3", v.ID, len(v.Available))
		}
		count++
		if count == 1 || count%5000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			if count == 1 {
				start = ms.HeapAlloc
			}
			top = max(top, ms.HeapAlloc)
		}
	}
	if count != n || downloads.Load() != 1 {
		t.Fatalf("%d variants in %d downloads, want %d in 1", count, downloads.Load(), n)
	}
	// The file is ~35 MB and its variants as Go values more: holding
	// either would blow this bound; the window and buffers are < 2 MB.
	const bound = 12 << 20
	if grew := top - min(top, start); grew > bound {
		t.Errorf("the heap grew by %d MiB while streaming %d variants, want under %d MiB", grew>>20, n, bound>>20)
	}
	t.Logf("heap at the first variant %d KiB, highest %d KiB", start>>10, top>>10)
}

func TestBulkFailureIsTyped(t *testing.T) {
	srv := newGQLServer(t, func(w http.ResponseWriter, req gqlRequest) {
		switch req.op() {
		case "RunBulk":
			answerData(w, map[string]any{"bulkOperationRunQuery": map[string]any{
				"bulkOperation": map[string]any{"id": "gid://shopify/BulkOperation/1", "status": "CREATED"}, "userErrors": []any{}}})
		default:
			answerData(w, map[string]any{"node": map[string]any{"id": "gid://shopify/BulkOperation/1", "status": "FAILED", "errorCode": "TIMEOUT", "url": nil}})
		}
	})
	c := newTestClient(t, srv.URL, &fakeClock{}, func(o *Options) { o.BulkAbove = 0 })
	for _, err := range c.Catalog(context.Background()) {
		be, ok := err.(*BulkError)
		if !ok || be.Status != "FAILED" || be.Code != "TIMEOUT" {
			t.Fatalf("%v, want a *BulkError FAILED TIMEOUT", err)
		}
		return
	}
	t.Fatal("no error")
}

func TestBulkDownloadKeepsTheSignatureOutOfErrors(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL + "/bulk.jsonl?X-Goog-Signature=topsecret"
	dead.Close()
	c := newTestClient(t, "http://127.0.0.1:9", &fakeClock{}, nil)
	err := c.downloadBulk(context.Background(), url, func(io.Reader) error { return nil })
	if err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Fatalf("%v, want an error without the URL's signature", err)
	}
}
