package shopifyfake_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newCatalog(t *testing.T, n, m, k int) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Generate(catalog.Options{Products: n, Variants: m, Locations: k, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func start(t *testing.T, opts shopifyfake.Options) (*shopifyfake.Server, *httptest.Server) {
	t.Helper()
	s := shopifyfake.New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

type answer struct {
	Data       map[string]json.RawMessage `json:"data"`
	Errors     []map[string]any           `json:"errors"`
	Extensions struct {
		Cost struct {
			RequestedQueryCost int  `json:"requestedQueryCost"`
			ActualQueryCost    *int `json:"actualQueryCost"`
			ThrottleStatus     struct {
				MaximumAvailable   float64 `json:"maximumAvailable"`
				CurrentlyAvailable float64 `json:"currentlyAvailable"`
				RestoreRate        float64 `json:"restoreRate"`
			} `json:"throttleStatus"`
		} `json:"cost"`
	} `json:"extensions"`
}

func query(t *testing.T, ts *httptest.Server, token, q string, vars map[string]any) (int, answer) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/admin/api/2026-10/graphql.json", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Access-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a answer
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatalf("answer %s: %v", raw, err)
		}
	}
	return resp.StatusCode, a
}

func TestTokenIsChecked(t *testing.T) {
	_, ts := start(t, shopifyfake.Options{})
	for _, token := range []string{"", "shpat_wrong"} {
		if status, _ := query(t, ts, token, `{ shop { name } }`, nil); status != http.StatusUnauthorized {
			t.Errorf("token %q: status %d, want 401", token, status)
		}
	}
	if status, a := query(t, ts, shopifyfake.DefaultAccessToken, `{ shop { name myshopifyDomain } }`, nil); status != 200 || a.Errors != nil {
		t.Errorf("right token: status %d, errors %v", status, a.Errors)
	}
}

const variantsQuery = `query Variants($first: Int!, $after: String) {
  productVariants(first: $first, after: $after) {
    edges { cursor node { id sku inventoryPolicy product { id tags }
      inventoryItem { id tracked inventoryLevels(first: 10) { edges { node {
        location { id isActive } quantities(names: ["available"]) { name quantity } } } } } } }
    pageInfo { hasNextPage endCursor }
  }
}`

func TestVariantsPageThroughTheCatalog(t *testing.T) {
	c := newCatalog(t, 5, 3, 3)
	_, ts := start(t, shopifyfake.Options{Catalog: c})
	want := 0
	for _, p := range c.Products {
		want += len(p.Variants)
	}
	var after any
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		_, a := query(t, ts, shopifyfake.DefaultAccessToken, variantsQuery, map[string]any{"first": 4, "after": after})
		if a.Errors != nil {
			t.Fatalf("errors: %v", a.Errors)
		}
		var conn struct {
			Edges []struct {
				Node struct {
					ID, SKU       string
					InventoryItem struct {
						InventoryLevels struct {
							Edges []struct {
								Node struct {
									Quantities []struct {
										Name     string
										Quantity int
									}
								}
							}
						}
					}
				}
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
		if err := json.Unmarshal(a.Data["productVariants"], &conn); err != nil {
			t.Fatal(err)
		}
		for _, e := range conn.Edges {
			if seen[e.Node.ID] {
				t.Errorf("variant %s seen twice", e.Node.ID)
			}
			seen[e.Node.ID] = true
			if !strings.HasPrefix(e.Node.ID, "gid://shopify/ProductVariant/") {
				t.Errorf("id %q is not a global id", e.Node.ID)
			}
			if levels := e.Node.InventoryItem.InventoryLevels.Edges; len(levels) != 3 || levels[0].Node.Quantities[0].Name != "available" {
				t.Errorf("variant %s: levels %+v", e.Node.ID, levels)
			}
		}
		// The requested cost is the worst case: 2 + 4 × (variant 1 + product 1 + item 1 + levels (2 + 10 × (level 1 + location 1 + quantities 1))).
		if got, wantCost := a.Extensions.Cost.RequestedQueryCost, 2+4*(1+1+1+2+10*3); got != wantCost {
			t.Errorf("requested cost %d, want %d", got, wantCost)
		}
		if !conn.PageInfo.HasNextPage {
			break
		}
		after = conn.PageInfo.EndCursor
	}
	if len(seen) != want {
		t.Errorf("saw %d variants, want %d", len(seen), want)
	}
}

func TestUnsupportedFieldFailsLoudly(t *testing.T) {
	_, ts := start(t, shopifyfake.Options{})
	for q, want := range map[string]string{
		`{ shop { name billingAddress { city } } }`:                                   "Field 'billingAddress' doesn't exist on type 'Shop'",
		`{ locations(first: 5) { edges { node { id fulfillmentService { id } } } } }`: "Field 'fulfillmentService' doesn't exist on type 'Location'",
		`{ productVariants(first: 5, query: "sku:A") { nodes { id } } }`:              "not supported by the fake",
		`{ productVariants { nodes { id } } }`:                                        "you must provide one of first or last",
		`{ productVariants(first: 251) { nodes { id } } }`:                            "between 0 and 250",
	} {
		_, a := query(t, ts, shopifyfake.DefaultAccessToken, q, nil)
		if len(a.Errors) == 0 || !strings.Contains(a.Errors[0]["message"].(string), want) {
			t.Errorf("%s: errors %v, want one saying %q", q, a.Errors, want)
		}
		if a.Data != nil {
			t.Errorf("%s: data %v with a refused query", q, a.Data)
		}
	}
}

func TestNodesReadsInventoryItemsByID(t *testing.T) {
	c := newCatalog(t, 2, 2, 2)
	s, ts := start(t, shopifyfake.Options{Catalog: c})
	v := c.Products[0].Variants[0]
	loc := c.Locations[0].ID
	if err := s.SetAvailable(v.InventoryItemID, loc, 42); err != nil {
		t.Fatal(err)
	}
	q := `query Levels($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on InventoryItem { id tracked
	  variant { id sku inventoryPolicy }
	  inventoryLevels(first: 5) { nodes { location { id } quantities(names: ["available"]) { name quantity } } } } } }`
	ids := []string{"gid://shopify/InventoryItem/" + v.InventoryItemID, "gid://shopify/InventoryItem/9007199254740993"}
	_, a := query(t, ts, shopifyfake.DefaultAccessToken, q, map[string]any{"ids": ids})
	if a.Errors != nil {
		t.Fatalf("errors: %v", a.Errors)
	}
	var nodes []*struct {
		Typename        string `json:"__typename"`
		ID              string
		InventoryLevels struct {
			Nodes []struct {
				Location   struct{ ID string }
				Quantities []struct{ Quantity int }
			}
		}
	}
	if err := json.Unmarshal(a.Data["nodes"], &nodes); err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0] == nil || nodes[1] != nil {
		t.Fatalf("nodes %s: want the item and null for an unknown id", a.Data["nodes"])
	}
	got := map[string]int{}
	for _, l := range nodes[0].InventoryLevels.Nodes {
		got[l.Location.ID] = l.Quantities[0].Quantity
	}
	if got["gid://shopify/Location/"+loc] != 42 {
		t.Errorf("levels %v: want 42 at %s", got, loc)
	}
	// The id survives as a string: 2^53 < id.
	if nodes[0].ID != ids[0] {
		t.Errorf("id %s, want %s", nodes[0].ID, ids[0])
	}
}

func TestLocationsHideInactiveUnlessAsked(t *testing.T) {
	c := newCatalog(t, 1, 1, 3)
	_, ts := start(t, shopifyfake.Options{Catalog: c})
	count := func(q string) int {
		_, a := query(t, ts, shopifyfake.DefaultAccessToken, q, nil)
		var conn struct{ Nodes []struct{ IsActive bool } }
		if err := json.Unmarshal(a.Data["locations"], &conn); err != nil {
			t.Fatalf("%v: %v", a.Errors, err)
		}
		return len(conn.Nodes)
	}
	if n := count(`{ locations(first: 10) { nodes { id isActive } } }`); n != 2 {
		t.Errorf("default: %d locations, want the 2 active", n)
	}
	if n := count(`{ locations(first: 10, includeInactive: true) { nodes { id isActive } } }`); n != 3 {
		t.Errorf("includeInactive: %d locations, want 3", n)
	}
}

func TestBulkOperationStreamsJSONLWithParentIDs(t *testing.T) {
	c := newCatalog(t, 3, 2, 2)
	_, ts := start(t, shopifyfake.Options{Catalog: c})
	bulk := `{ productVariants { edges { node { id sku inventoryItem { id tracked inventoryLevels { edges { node { location { id } quantities(names: ["available"]) { name quantity } } } } } } } } }`
	_, a := query(t, ts, shopifyfake.DefaultAccessToken,
		`mutation Run($q: String!) { bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { field message } } }`,
		map[string]any{"q": bulk})
	if a.Errors != nil {
		t.Fatalf("errors: %v", a.Errors)
	}
	if a.Extensions.Cost.RequestedQueryCost != shopifyfake.MutationCost {
		t.Errorf("mutation cost %d", a.Extensions.Cost.RequestedQueryCost)
	}
	var run struct {
		BulkOperation struct{ ID, Status string }
		UserErrors    []any
	}
	json.Unmarshal(a.Data["bulkOperationRunQuery"], &run)
	if run.BulkOperation.Status != "CREATED" || len(run.UserErrors) != 0 {
		t.Fatalf("run: %s", a.Data["bulkOperationRunQuery"])
	}
	_, a = query(t, ts, shopifyfake.DefaultAccessToken, `{ currentBulkOperation { id status objectCount url } }`, nil)
	var op struct{ ID, Status, ObjectCount, URL string }
	json.Unmarshal(a.Data["currentBulkOperation"], &op)
	if op.Status != "COMPLETED" || op.ID != run.BulkOperation.ID || op.URL == "" {
		t.Fatalf("current: %s", a.Data["currentBulkOperation"])
	}
	resp, err := http.Get(op.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	variants, levels := map[string]bool{}, 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %s: %v", sc.Bytes(), err)
		}
		if parent, ok := line["__parentId"].(string); ok {
			if !variants[parent] {
				t.Errorf("level line before (or without) its parent %s", parent)
			}
			levels++
			continue
		}
		variants[line["id"].(string)] = true
		if _, nested := line["inventoryItem"].(map[string]any)["inventoryLevels"]; nested {
			t.Errorf("a nested connection stayed in its parent's line: %s", sc.Bytes())
		}
	}
	wantVariants := 3*2 + 4 // and the conflicts product's four
	if len(variants) != wantVariants || levels != wantVariants*2 {
		t.Errorf("%d variant lines and %d level lines, want %d and %d", len(variants), levels, wantVariants, wantVariants*2)
	}
	if op.ObjectCount != "30" {
		t.Errorf("objectCount %q, want 30", op.ObjectCount)
	}
}

func TestThrottlingRefillsAtTheRestoreRate(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	s, ts := start(t, shopifyfake.Options{Now: clk.Now, Catalog: newCatalog(t, 1, 1, 3)})
	q := `{ locations(first: 10) { nodes { id } } }` // requested 2 + 10 × 1 = 12, actual 2 + 2 active
	_, a := query(t, ts, shopifyfake.DefaultAccessToken, q, nil)
	cost := a.Extensions.Cost
	if cost.RequestedQueryCost != 12 || *cost.ActualQueryCost != 4 {
		t.Fatalf("cost %+v, want requested 12 and actual 4", cost)
	}
	if ts := cost.ThrottleStatus; ts.MaximumAvailable != 1000 || ts.RestoreRate != 50 || ts.CurrentlyAvailable != 996 {
		t.Errorf("throttle status %+v, want 1000, 50, 996", ts)
	}

	s.SetThrottle(11) // cannot pay 12
	_, a = query(t, ts, shopifyfake.DefaultAccessToken, q, nil)
	if len(a.Errors) != 1 || a.Errors[0]["extensions"].(map[string]any)["code"] != "THROTTLED" || a.Data != nil {
		t.Fatalf("with 11 points: %+v, want THROTTLED", a)
	}
	if a.Extensions.Cost.ActualQueryCost != nil || a.Extensions.Cost.ThrottleStatus.CurrentlyAvailable != 11 {
		t.Errorf("a throttled query cost something: %+v", a.Extensions.Cost)
	}
	clk.Add(20 * time.Millisecond) // + 1 point
	_, a = query(t, ts, shopifyfake.DefaultAccessToken, q, nil)
	if a.Errors != nil || a.Extensions.Cost.ThrottleStatus.CurrentlyAvailable != 8 {
		t.Errorf("after 20 ms: %+v, want 12 - 4 = 8 left", a)
	}
	clk.Add(time.Hour)
	if got := s.Throttle().CurrentlyAvailable; got != 1000 {
		t.Errorf("after an hour: %v, want the maximum 1000", got)
	}
	// Two answered queries at 4 points each, one refused.
	if u := s.Usage(); u != (shopifyfake.Usage{Queries: 2, Points: 8, Throttled: 1}) {
		t.Errorf("usage %+v, want 2 queries, 8 points, 1 throttled", u)
	}
}

func TestMaxCostExceeded(t *testing.T) {
	_, ts := start(t, shopifyfake.Options{})
	_, a := query(t, ts, shopifyfake.DefaultAccessToken, variantsQuery, map[string]any{"first": 250})
	if len(a.Errors) != 1 || a.Errors[0]["extensions"].(map[string]any)["code"] != "MAX_COST_EXCEEDED" {
		t.Errorf("errors %v, want MAX_COST_EXCEEDED", a.Errors)
	}
}

// verifyShopifyHMAC is the check a receiver makes, written here
// independently of the fake.
func verifyShopifyHMAC(secret string, body []byte, header string) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(want), []byte(header))
}

type received struct {
	header http.Header
	body   []byte
}

func receiver(t *testing.T) (*httptest.Server, func() []received) {
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, received{r.Header.Clone(), b})
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received { mu.Lock(); defer mu.Unlock(); return append([]received(nil), got...) }
}

func TestWebhooksAreSignedAndCarryTheirHeaders(t *testing.T) {
	c := newCatalog(t, 1, 2, 2)
	recv, got := receiver(t)
	s, _ := start(t, shopifyfake.Options{Catalog: c, WebhookURL: recv.URL, WebhookSecret: "s3cret"})
	v := c.Products[0].Variants[0]
	if err := s.SetAvailable(v.InventoryItemID, c.Locations[0].ID, 17); err != nil {
		t.Fatal(err)
	}
	hooks := got()
	if len(hooks) != 1 {
		t.Fatalf("%d webhooks, want 1", len(hooks))
	}
	h := hooks[0]
	if !verifyShopifyHMAC("s3cret", h.body, h.header.Get("X-Shopify-Hmac-Sha256")) {
		t.Error("the HMAC does not verify")
	}
	if verifyShopifyHMAC("other", h.body, h.header.Get("X-Shopify-Hmac-Sha256")) {
		t.Error("the HMAC verifies with the wrong secret")
	}
	for _, k := range []string{"X-Shopify-Webhook-Id", "X-Shopify-Event-Id", "X-Shopify-Triggered-At"} {
		if h.header.Get(k) == "" {
			t.Errorf("no %s", k)
		}
	}
	if h.header.Get("X-Shopify-Topic") != "inventory_levels/update" || h.header.Get("X-Shopify-Shop-Domain") != shopifyfake.DefaultShopDomain {
		t.Errorf("headers %v", h.header)
	}
	dec := json.NewDecoder(bytes.NewReader(h.body))
	dec.UseNumber()
	var p map[string]any
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p["inventory_item_id"].(json.Number).String() != v.InventoryItemID || p["available"].(json.Number).String() != "17" {
		t.Errorf("payload %s", h.body)
	}
}

func TestWebhookDuplicatesAndOutOfOrder(t *testing.T) {
	c := newCatalog(t, 1, 1, 2)
	recv, got := receiver(t)
	s, _ := start(t, shopifyfake.Options{Catalog: c, WebhookURL: recv.URL})
	item := c.Products[0].Variants[0].InventoryItemID
	if err := s.SetWebhooks(shopifyfake.WebhookSettings{URL: recv.URL, Duplicates: 1, Hold: true}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []int{1, 2} {
		if err := s.SetAvailable(item, c.Locations[0].ID, q); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(got()); n != 0 {
		t.Fatalf("%d webhooks delivered while held", n)
	}
	s.ReleaseWebhooks(true)
	hooks := got()
	var avail []string
	ids := map[string]int{}
	for _, h := range hooks {
		var p struct{ Available json.Number }
		json.Unmarshal(h.body, &p)
		avail = append(avail, p.Available.String())
		ids[h.header.Get("X-Shopify-Webhook-Id")]++
	}
	if strings.Join(avail, ",") != "2,2,1,1" {
		t.Errorf("delivered available %v, want the newer first, each twice: 2,2,1,1", avail)
	}
	for id, n := range ids {
		if n != 2 {
			t.Errorf("webhook %s delivered %d times, want 2 with one id", id, n)
		}
	}
}

func TestFaultsAndRequestLog(t *testing.T) {
	s, ts := start(t, shopifyfake.Options{})
	if err := s.InjectFault(fakes.Fault{Status: 429, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if status, _ := query(t, ts, shopifyfake.DefaultAccessToken, `{ shop { id } }`, nil); status != 429 {
		t.Errorf("status %d, want the injected 429", status)
	}
	if status, _ := query(t, ts, shopifyfake.DefaultAccessToken, `{ shop { id } }`, nil); status != 200 {
		t.Errorf("status %d after the fault was used up, want 200", status)
	}
	s.InjectFault(fakes.Fault{Drop: true})
	body := strings.NewReader(`{"query":"{ shop { id } }"}`)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/admin/api/2026-10/graphql.json", body)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("a dropped connection answered")
	}
	reqs := s.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests logged, want 3", len(reqs))
	}
	for _, r := range reqs {
		if tok := r.Header.Get("X-Shopify-Access-Token"); tok != "" && tok != fakes.Redacted {
			t.Errorf("the log keeps the access token: %q", tok)
		}
	}
	if reqs[0].Status != 429 || reqs[2].Status != 0 {
		t.Errorf("statuses %d, %d: want 429 and 0 (dropped)", reqs[0].Status, reqs[2].Status)
	}
}

func TestControlAPI(t *testing.T) {
	c := newCatalog(t, 1, 1, 2)
	s, ts := start(t, shopifyfake.Options{Catalog: c})
	item, loc := c.Products[0].Variants[0].InventoryItemID, c.Locations[1].ID
	post := func(path, body string) int {
		resp, err := http.Post(ts.URL+"/_control/"+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post("inventory", `{"inventory_item_id":"gid://shopify/InventoryItem/`+item+`","location_id":"`+loc+`","available":-3}`); st != 200 {
		t.Fatalf("status %d", st)
	}
	if q, _ := s.Available(item, loc); q != -3 {
		t.Errorf("available %d, want -3", q)
	}
	if st := post("inventory", `{"inventory_item_id":"`+item+`","location":"`+loc+`","available":1}`); st != 400 {
		t.Errorf("a misspelt field: status %d, want 400", st)
	}
	if st := post("location", `{"location_id":"`+loc+`","active":false}`); st != 200 || s.State().Locations[1].Active {
		t.Errorf("deactivate: status %d, state %+v", st, s.State().Locations)
	}
}

func TestFragmentsAliasesAndTypename(t *testing.T) {
	c := newCatalog(t, 1, 1, 2)
	_, ts := start(t, shopifyfake.Options{Catalog: c})
	item := "gid://shopify/InventoryItem/" + c.Products[0].Variants[0].InventoryItemID
	loc := "gid://shopify/Location/" + c.Locations[0].ID
	q := `query One($id: ID!, $loc: ID!) {
	  it: node(id: $id) { __typename ...Item }
	  count: productVariantsCount { count precision }
	}
	fragment Item on InventoryItem { id here: inventoryLevel(locationId: $loc) { quantities(names: ["available", "on_hand"]) { name quantity } } }`
	_, a := query(t, ts, shopifyfake.DefaultAccessToken, q, map[string]any{"id": item, "loc": loc})
	if a.Errors != nil {
		t.Fatalf("errors: %v", a.Errors)
	}
	var it struct {
		Typename string `json:"__typename"`
		ID       string
		Here     struct{ Quantities []struct{ Name string } }
	}
	json.Unmarshal(a.Data["it"], &it)
	if it.Typename != "InventoryItem" || it.ID != item || len(it.Here.Quantities) != 2 {
		t.Errorf("it: %s", a.Data["it"])
	}
	if string(a.Data["count"]) != `{"count":5,"precision":"EXACT"}` {
		t.Errorf("count: %s", a.Data["count"])
	}
}

func TestAFailingReceiverIsRecordedNotFatal(t *testing.T) {
	c := newCatalog(t, 1, 1, 2)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer failing.Close()
	s, _ := start(t, shopifyfake.Options{Catalog: c, WebhookURL: failing.URL})
	item, loc := c.Products[0].Variants[0].InventoryItemID, c.Locations[0].ID
	if err := s.SetAvailable(item, loc, 9); err != nil {
		t.Fatalf("the change failed with its webhook: %v", err)
	}
	if q, _ := s.Available(item, loc); q != 9 {
		t.Errorf("available %d, want 9", q)
	}
	if d := s.Deliveries(); len(d) != 1 || d[0].Status != 500 || d[0].Error == "" {
		t.Errorf("deliveries %+v, want one answered 500", d)
	}
}
