// Package shopifyfake is a fake Shopify store for tests and the demo: the
// Admin GraphQL endpoint a sync reads stock from, cost throttling, bulk
// operations and webhooks, from a generated catalog.
//
// # The API
//
// POST /admin/api/{version}/graphql.json with X-Shopify-Access-Token and a
// JSON body {"query", "variables", "operationName"}. A wrong or missing
// token answers 401 {"errors":"[API] Invalid API key or access token
// (unrecognized login or wrong password)"}. Every GraphQL answer carries
// extensions.cost {requestedQueryCost, actualQueryCost, throttleStatus
// {maximumAvailable, currentlyAvailable, restoreRate}}.
//
// Cost: scalars and enums 0, an object 1, a list of small objects
// (quantities, userErrors) 1, a connection 2 + first × (its
// node's cost), nodes(ids:) the number of ids × the node's cost, a
// mutation 10. A query above 1000 is refused (MAX_COST_EXCEEDED). The
// bucket (one per fake: one app on one shop) holds 1000 points and refills
// 50 a second; a query whose requested cost the bucket cannot pay answers
// errors [{"message":"Throttled","extensions":{"code":"THROTTLED"}}] with
// no data and costs nothing; otherwise the actual cost is taken.
//
// Supported, exactly (anything else answers "Field 'x' doesn't exist on
// type 'Y'", code undefinedField; the real arguments last, before,
// reverse, query, sortKey answer code argumentNotSupportedByFake):
//
//	query:
//	  shop { id name myshopifyDomain }
//	  locations(first, after, includeInactive, includeLegacy)   inactive ones only with includeInactive: true
//	  location(id)
//	  productVariants(first, after)
//	  productVariant(id)   inventoryItem(id)
//	  productVariantsCount { count precision }   productsCount { count precision }
//	  node(id)   nodes(ids: [...] ≤ 250)   (Location, Product, ProductVariant, InventoryItem, InventoryLevel, BulkOperation)
//	  currentBulkOperation(type)
//	mutation:
//	  bulkOperationRunQuery(query, groupObjects) { bulkOperation {…} userErrors { field message code } }
//	connections: edges { cursor node {…} }  nodes {…}  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
//	             first is required (at most 250) except inside a bulk query
//	Location        id legacyResourceId name isActive
//	Product         id legacyResourceId title tags
//	ProductVariant  id legacyResourceId sku title displayName inventoryPolicy product inventoryItem
//	InventoryItem   id legacyResourceId sku tracked variant inventoryLevels(first, after, includeInactive) inventoryLevel(locationId)
//	InventoryLevel  id isActive location item quantities(names: [available on_hand committed reserved incoming])
//	BulkOperation   id status errorCode createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl query type
//
// __typename, aliases, variables ($first, $after, $ids, …), inline
// fragments (… on InventoryItem) and named fragments work; directives do
// not. Global ids are gid://shopify/{Type}/{number}; an InventoryLevel's is
// gid://shopify/InventoryLevel/{location number}?inventory_item_id={item
// number}. on_hand equals available; committed, reserved and incoming are
// 0.
//
// A bulk operation runs the query's one top-level connection over the
// whole shop when it is created, and reports COMPLETED once
// Options.BulkDuration has passed; its url serves JSONL: one line per
// object of a connection, a nested connection's objects on lines of their
// own with "__parentId" naming the id of the line they belong to (which
// must therefore select id).
//
// Webhooks go to the configured URL when the control API (or the Go
// methods) change the shop, signed as Shopify signs them. The control API
// is under /_control/ (see the README); every request the fake answers is
// recorded with its secrets redacted.
package shopifyfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

// Defaults for Options.
const (
	DefaultShopDomain    = "fake-shop.myshopify.com"
	DefaultAccessToken   = "shpat_fake_access_token"
	DefaultWebhookSecret = "fake-webhook-secret"
	DefaultMaximum       = 1000
	DefaultRestoreRate   = 50
	// MaxQueryCost is the most one query may cost.
	MaxQueryCost = 1000
	// MutationCost is what a mutation costs.
	MutationCost = 10
)

// Options configure a fake shop. Zero values take the defaults.
type Options struct {
	// Catalog is the shop's content (copied); nil generates 3 products ×
	// 2 variants × 2 locations from seed 1.
	Catalog *catalog.Catalog
	// ShopDomain is the shop's myshopify domain.
	ShopDomain string
	// AccessToken is the only token the Admin API accepts.
	AccessToken string
	// WebhookSecret signs webhooks (X-Shopify-Hmac-Sha256).
	WebhookSecret string
	// WebhookURL receives webhooks; "" sends none. The control API can
	// change it.
	WebhookURL string
	// MaximumAvailable and RestoreRate size the cost bucket.
	MaximumAvailable, RestoreRate float64
	// BulkDuration is how long a bulk operation runs before it completes.
	BulkDuration time.Duration
	// Now is the clock (the cost bucket, timestamps); nil is time.Now.
	Now func() time.Time
	// HTTPClient delivers webhooks; nil is a client with a 5 s timeout.
	HTTPClient *http.Client
	// Logger says what the fake does; nil says nothing.
	Logger *slog.Logger
	// MaxLoggedRequests bounds the request log (0: 10,000).
	MaxLoggedRequests int
}

// Server is a fake Shopify store. It is an http.Handler; Start serves it
// on a loopback address.
type Server struct {
	opts   Options
	now    func() time.Time
	log    *fakes.Log
	faults *fakes.Faults
	logger *slog.Logger
	client *http.Client

	mu sync.Mutex // guards everything below
	shopState
	bucket   bucket
	usage    Usage
	bulk     *bulkOperation
	bulkSeq  int
	bulkData map[string][]byte // JSONL by bulk operation number
	hooks    webhookState

	fakes.Serving
}

type shopState struct {
	shop        shopInfo
	locations   []*location
	locByID     map[string]*location
	products    map[string]*product
	variants    []*variant
	variantByID map[string]*variant
	itemByID    map[string]*item
}

type shopInfo struct{ id, name, domain string }

type location struct {
	id, name string
	active   bool
}

type product struct {
	id, title string
	tags      []string
	variants  []*variant
}

type variant struct {
	id, sku, title, policy string
	product                *product
	item                   *item
}

type item struct {
	id      string
	tracked bool
	variant *variant
	levels  map[string]int // by location id
}

// New makes a fake shop.
func New(opts Options) *Server {
	if opts.Catalog == nil {
		c, err := catalog.Generate(catalog.Options{Products: 3, Variants: 2, Locations: 2, Seed: 1})
		if err != nil {
			panic(err)
		}
		opts.Catalog = c
	}
	if opts.ShopDomain == "" {
		opts.ShopDomain = DefaultShopDomain
	}
	if opts.AccessToken == "" {
		opts.AccessToken = DefaultAccessToken
	}
	if opts.WebhookSecret == "" {
		opts.WebhookSecret = DefaultWebhookSecret
	}
	if opts.MaximumAvailable <= 0 {
		opts.MaximumAvailable = DefaultMaximum
	}
	if opts.RestoreRate <= 0 {
		opts.RestoreRate = DefaultRestoreRate
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts: opts, now: opts.Now, log: fakes.NewLog(opts.MaxLoggedRequests), faults: fakes.NewFaults(opts.Now),
		logger: opts.Logger, client: opts.HTTPClient, bulkData: map[string][]byte{},
	}
	s.bucket = bucket{max: opts.MaximumAvailable, rate: opts.RestoreRate, level: opts.MaximumAvailable, at: opts.Now()}
	s.hooks.url = opts.WebhookURL
	s.load(opts.Catalog)
	return s
}

func (s *Server) load(c *catalog.Catalog) {
	st := shopState{
		shop:    shopInfo{id: "90071992547409930", name: "Fake Shop", domain: s.opts.ShopDomain},
		locByID: map[string]*location{}, products: map[string]*product{},
		variantByID: map[string]*variant{}, itemByID: map[string]*item{},
	}
	for _, l := range c.Locations {
		loc := &location{id: l.ID, name: l.Name, active: l.Active}
		st.locations = append(st.locations, loc)
		st.locByID[l.ID] = loc
	}
	for _, p := range c.Products {
		prod := &product{id: p.ID, title: p.Title, tags: append([]string(nil), p.Tags...)}
		st.products[p.ID] = prod
		for _, v := range p.Variants {
			va := &variant{id: v.ID, sku: v.SKU, title: v.Title, policy: v.InventoryPolicy, product: prod}
			it := &item{id: v.InventoryItemID, tracked: v.Tracked, variant: va, levels: map[string]int{}}
			for loc, q := range v.Available {
				it.levels[loc] = q
			}
			va.item = it
			prod.variants = append(prod.variants, va)
			st.variants = append(st.variants, va)
			st.variantByID[v.ID] = va
			st.itemByID[it.id] = it
		}
	}
	s.shopState = st
}

// Start serves the fake on addr ("127.0.0.1:0" picks a port) until Close;
// URL is then both its API's and (TikTok) its auth host's base URL.
func (s *Server) Start(addr string) error { return s.Serve(addr, s) }

// AccessToken is the token the fake accepts.
func (s *Server) AccessToken() string { return s.opts.AccessToken }

// WebhookSecret is the secret webhooks are signed with.
func (s *Server) WebhookSecret() string { return s.opts.WebhookSecret }

// ShopDomain is the shop's myshopify domain.
func (s *Server) ShopDomain() string { return s.opts.ShopDomain }

// Requests returns the requests answered so far (not the control API's),
// oldest first, secrets redacted.
func (s *Server) Requests() []fakes.Request { return s.log.Requests() }

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() { s.log.Reset() }

// InjectFault puts a fault in force for the next requests.
func (s *Server) InjectFault(f fakes.Fault) error {
	if f.SKUID != "" {
		return errors.New("fault: sku_id applies to the fake TikTok Shop only")
	}
	return s.faults.Add(f)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

var graphqlPath = regexp.MustCompile(`^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$`)

// ServeHTTP answers the Admin API, bulk operation results and the control
// API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, fakes.ControlPrefix) {
		s.control(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	entry := fakes.NewRequest(r, body, s.now())
	rec := &fakes.Recorder{ResponseWriter: w, Entry: &entry, Log: s.log}
	defer rec.Finish()
	if f, ok := s.faults.Take(r.URL.Path); ok {
		fakes.Sleep(r.Context(), time.Duration(f.Latency))
		switch {
		case f.Drop:
			fakes.DropConnection(rec)
			return
		case f.ExpiredToken:
			s.unauthorized(rec)
			return
		case f.Status == http.StatusTooManyRequests:
			rec.Header().Set("Retry-After", "2.0")
			fakes.WriteJSON(rec, f.Status, map[string]string{"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."})
			return
		case f.Status != 0:
			fakes.WriteJSON(rec, f.Status, map[string]string{"errors": http.StatusText(f.Status)})
			return
		}
	}
	if id, ok := strings.CutPrefix(r.URL.Path, "/_bulk/"); ok {
		s.serveBulkResult(rec, strings.TrimSuffix(id, ".jsonl"))
		return
	}
	m := graphqlPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		fakes.WriteJSON(rec, http.StatusNotFound, map[string]string{"errors": "Not Found"})
		return
	}
	if r.Header.Get("X-Shopify-Access-Token") != s.opts.AccessToken {
		s.unauthorized(rec)
		return
	}
	if r.Method != http.MethodPost {
		fakes.WriteJSON(rec, http.StatusMethodNotAllowed, map[string]string{"errors": "Use POST for GraphQL requests"})
		return
	}
	rec.Header().Set("X-Shopify-API-Version", m[1])
	base := "http://" + r.Host
	status, answer := s.graphql(body, base)
	if errs, ok := answer["errors"].([]*gqlError); ok && len(errs) > 0 {
		if code, ok := errs[0].Extensions["code"].(string); ok {
			entry.Code = code
		}
	}
	fakes.WriteJSON(rec, status, answer)
}

func (s *Server) unauthorized(w http.ResponseWriter) {
	fakes.WriteJSON(w, http.StatusUnauthorized, map[string]string{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
}

type graphqlRequest struct {
	Query         string                     `json:"query"`
	Variables     map[string]json.RawMessage `json:"variables"`
	OperationName string                     `json:"operationName"`
}

// graphql answers one GraphQL request: the status and the JSON answer.
func (s *Server) graphql(body []byte, base string) (int, map[string]any) {
	var req graphqlRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || strings.TrimSpace(req.Query) == "" {
		return http.StatusBadRequest, map[string]any{"errors": map[string]string{"query": "Required parameter missing or invalid"}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	answer := func(requested int, actual *int, errs []*gqlError, data any) (int, map[string]any) {
		cost := map[string]any{"requestedQueryCost": requested, "actualQueryCost": nil, "throttleStatus": s.bucket.status(s.now())}
		if actual != nil {
			cost["actualQueryCost"] = *actual
		}
		out := map[string]any{"extensions": map[string]any{"cost": cost}}
		if len(errs) > 0 {
			out["errors"] = errs
		}
		if data != nil {
			out["data"] = data
		}
		return http.StatusOK, out
	}
	doc, err := parseDocument(req.Query, req.OperationName)
	if err != nil {
		return answer(0, nil, []*gqlError{errorf(nil, "parseError", "Parse error: %v", err)}, nil)
	}
	vars, gerr := resolveVars(doc, req.Variables)
	if gerr != nil {
		return answer(0, nil, []*gqlError{gerr}, nil)
	}
	c := &checker{doc: doc, vars: vars}
	root := "QueryRoot"
	if doc.op == "mutation" {
		root = "Mutation"
	}
	requested, gerr := c.check(root, doc.sel, []string{doc.op})
	if gerr != nil {
		return answer(0, nil, []*gqlError{gerr}, nil)
	}
	if doc.op == "mutation" {
		requested = MutationCost
	}
	if requested > MaxQueryCost {
		return answer(requested, nil, []*gqlError{{
			Message:    fmt.Sprintf("Query cost is %d, which exceeds the single query max cost limit (%d).", requested, MaxQueryCost),
			Extensions: map[string]any{"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MaxQueryCost},
		}}, nil)
	}
	if !s.bucket.take(s.now(), float64(requested)) {
		s.usage.Throttled++
		return answer(requested, nil, []*gqlError{{Message: "Throttled", Extensions: map[string]any{
			"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}}, nil)
	}
	e := &executor{s: s, c: c, baseURL: base}
	data := e.object(root, nil, doc.sel, nil, false)
	actual := e.cost
	if doc.op == "mutation" {
		actual = MutationCost
	}
	s.bucket.refund(float64(requested - actual))
	s.usage.Queries++
	s.usage.Points += actual
	return answer(requested, &actual, e.errs, data)
}

// Usage is what the shop's clients have spent of its cost bucket.
type Usage struct {
	Queries   int `json:"queries"`   // answered queries and mutations
	Points    int `json:"points"`    // their actual cost
	Throttled int `json:"throttled"` // queries refused as THROTTLED
}

// Usage returns what the shop's clients have spent so far.
func (s *Server) Usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage
}

// bucket is the cost leaky bucket.
type bucket struct {
	max, rate, level float64
	at               time.Time
}

func (b *bucket) refill(now time.Time) {
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.level = min(b.max, b.level+dt*b.rate)
	}
	b.at = now
}

// take pays cost if the bucket holds it.
func (b *bucket) take(now time.Time, cost float64) bool {
	b.refill(now)
	if b.level < cost {
		return false
	}
	b.level -= cost
	return true
}

func (b *bucket) refund(cost float64) { b.level = min(b.max, b.level+max(0, cost)) }

// ThrottleStatus is extensions.cost.throttleStatus.
type ThrottleStatus struct {
	MaximumAvailable   float64 `json:"maximumAvailable"`
	CurrentlyAvailable float64 `json:"currentlyAvailable"`
	RestoreRate        float64 `json:"restoreRate"`
}

func (b *bucket) status(now time.Time) ThrottleStatus {
	b.refill(now)
	return ThrottleStatus{MaximumAvailable: b.max, CurrentlyAvailable: float64(int(b.level)), RestoreRate: b.rate}
}

// Throttle returns the bucket as an answer would report it now.
func (s *Server) Throttle() ThrottleStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bucket.status(s.now())
}

// SetThrottle sets how many points the bucket holds now (to test a client
// that starts with a nearly empty bucket).
func (s *Server) SetThrottle(currentlyAvailable float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bucket.level, s.bucket.at = min(s.bucket.max, max(0, currentlyAvailable)), s.now()
}

// Available returns an item's available quantity at a location, and
// whether the location stocks the item. Ids may be numbers or global ids.
func (s *Server) Available(inventoryItemID, locationID string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.itemByID[idNumber(inventoryItemID, "InventoryItem")]
	if it == nil {
		return 0, false
	}
	q, ok := it.levels[idNumber(locationID, "Location")]
	return q, ok
}

// SetAvailable sets an item's available quantity at a location (stocking
// it there if it was not) and sends inventory_levels/update.
func (s *Server) SetAvailable(inventoryItemID, locationID string, available int) error {
	s.mu.Lock()
	it := s.itemByID[idNumber(inventoryItemID, "InventoryItem")]
	loc := s.locByID[idNumber(locationID, "Location")]
	if it == nil || loc == nil {
		s.mu.Unlock()
		return fmt.Errorf("no inventory item %q or no location %q", inventoryItemID, locationID)
	}
	it.levels[loc.id] = available
	hook := s.levelWebhook(it, loc)
	s.mu.Unlock()
	s.send(hook)
	return nil
}

// SetTracked sets whether an item's quantity is tracked and sends
// inventory_items/update.
func (s *Server) SetTracked(inventoryItemID string, tracked bool) error {
	s.mu.Lock()
	it := s.itemByID[idNumber(inventoryItemID, "InventoryItem")]
	if it == nil {
		s.mu.Unlock()
		return fmt.Errorf("no inventory item %q", inventoryItemID)
	}
	it.tracked = tracked
	hook := s.itemWebhook(it)
	s.mu.Unlock()
	s.send(hook)
	return nil
}

// SetInventoryPolicy sets a variant's inventory policy (DENY or CONTINUE)
// and sends products/update.
func (s *Server) SetInventoryPolicy(variantID, policy string) error {
	if policy != "DENY" && policy != "CONTINUE" {
		return fmt.Errorf("inventory policy %q: want DENY or CONTINUE", policy)
	}
	s.mu.Lock()
	v := s.variantByID[idNumber(variantID, "ProductVariant")]
	if v == nil {
		s.mu.Unlock()
		return fmt.Errorf("no variant %q", variantID)
	}
	v.policy = policy
	hook := s.productWebhook(v.product)
	s.mu.Unlock()
	s.send(hook)
	return nil
}

// SetLocationActive activates or deactivates a location and sends
// locations/activate or locations/deactivate.
func (s *Server) SetLocationActive(locationID string, active bool) error {
	s.mu.Lock()
	l := s.locByID[idNumber(locationID, "Location")]
	if l == nil {
		s.mu.Unlock()
		return fmt.Errorf("no location %q", locationID)
	}
	l.active = active
	hook := s.locationWebhook(l, active)
	s.mu.Unlock()
	s.send(hook)
	return nil
}

// serveBulkResult streams a bulk operation's JSONL.
func (s *Server) serveBulkResult(w http.ResponseWriter, id string) {
	s.mu.Lock()
	data, ok := s.bulkData[id]
	s.mu.Unlock()
	if !ok {
		http.Error(w, "NoSuchKey: the specified key does not exist", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}

var _ http.Handler = (*Server)(nil)
