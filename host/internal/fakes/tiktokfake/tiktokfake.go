// Package tiktokfake is a fake TikTok Shop for tests and the demo: the
// Open API 202309 calls an inventory sync makes, and the token endpoints of
// the auth host, from a generated catalog. One fake plays both hosts: point
// the API base URL and the auth base URL at it.
//
// # Every signed call
//
// Query app_key, timestamp (unix seconds), sign, and shop_cipher for
// shop-scoped calls; header x-tts-access-token. The fake checks, in order:
//   - app_key is the app's (else 106002, HTTP 401);
//   - timestamp is at most 5 minutes old and at most 30 s ahead (else
//     36009004, HTTP 400);
//   - sign (else 106001, HTTP 401), computed with its own code from the
//     rule: every query parameter but sign and access_token, sorted by key,
//     each key followed by its value, prefixed with the path and followed by
//     the raw body, wrapped in app_secret on both sides, HMAC-SHA256 keyed
//     with app_secret, lowercase hex;
//   - the access token (missing or unknown 105001, expired 105002; HTTP 401);
//   - shop_cipher, where the call is shop-scoped (missing 36009001 HTTP 400,
//     wrong 106011 HTTP 401).
//
// Answers are {"code", "message", "request_id", "data"}. 36009002 (HTTP
// 429) answers an injected 429 or Options.RateLimit exceeded; 36009003
// (HTTP 500) an injected 5xx. Codes the platform does not document for
// these cases are the fake's choice: 106002, 106011, 36009001 (bad
// parameter), 12052048 (no such product), 36004004 (bad app credentials
// or auth code on the auth host), 36004005 (refresh token unknown,
// expired or revoked).
//
// # Endpoints
//
//	GET  /authorization/202309/shops               data.shops[] {id, name, region, seller_type, cipher, code}; no shop_cipher
//	GET  /logistics/202309/warehouses              data.warehouses[] {id, name, type, sub_type, effect_status, is_default}
//	POST /product/202309/products/search           query page_size (1–100), page_token; data {products[] {id, title, status,
//	                                               skus[] {id, seller_sku, inventory[] {warehouse_id, quantity}}}, total_count, next_page_token}
//	POST /product/202309/products/{id}/inventory/update
//	                                               body {"skus":[{"id","inventory":[{"warehouse_id","quantity"}]}]}
//	POST /product/202309/inventory/search          body {"product_ids" ≤ 100} or {"sku_ids" ≤ 600}; data.inventory[] {product_id,
//	                                               skus[] {id, seller_sku, total_available_quantity, total_committed_quantity,
//	                                               warehouse_inventory[] {warehouse_id, available_quantity, committed_quantity}}}
//	GET  /api/v2/token/get?app_key&app_secret&auth_code&grant_type=authorized_code      (unsigned)
//	GET  /api/v2/token/refresh?app_key&app_secret&refresh_token&grant_type=refresh_token (unsigned)
//	                                               data {access_token, access_token_expire_in, refresh_token,
//	                                               refresh_token_expire_in (both Unix times), open_id, seller_name, seller_base_region}
//
// An inventory update answers HTTP 200 code 0 even when SKUs fail; each
// failed SKU is in data.errors[] {code, message, detail {sku_id,
// extra_errors[] {warehouse_id, code, message}}} and is not changed, while
// the others are. A SKU fails with 12052557 when it is not the product's,
// 12052553 when listed twice, 12052555 when it lists a warehouse twice,
// 12052097 for a warehouse that does not exist or is a return warehouse
// (a disabled or restricted sales warehouse still takes a quantity),
// 12019024 for a quantity that is not a whole number, 12052055 for one
// below 0 or above Options.MaxQuantity, and 12019028 when a SKU stocked in
// several warehouses does not list every one of them (a SKU in one
// warehouse may be given more). An injected SKU fault fails its SKU with
// the fault's code.
//
// Refreshing issues a new pair; the old pair stays valid until it expires.
// The control API (under /_control/, see the README) expires the access
// tokens, revokes the refresh tokens, changes warehouse states, places
// orders (available down, committed up) and reads the quantities back.
package tiktokfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

// Defaults for Options.
const (
	DefaultAppKey       = "fake-app-key"
	DefaultAppSecret    = "fake-app-secret"
	DefaultAccessToken  = "TTP_fake_access_token"
	DefaultRefreshToken = "TTP_fake_refresh_token"
	DefaultAuthCode     = "fake-auth-code"
	DefaultShopID       = "7495581100000000001"
	DefaultShopCipher   = "ROW_fake_shop_cipher"
	DefaultMaxQuantity  = 999_999
	DefaultAccessTTL    = 7 * 24 * time.Hour
	DefaultRefreshTTL   = 365 * 24 * time.Hour
)

// Error codes the fake answers.
const (
	CodeOK                = 0
	CodeTooManyRequests   = 36009002
	CodeInternal          = 36009003
	CodeTimestamp         = 36009004
	CodeInvalidParam      = 36009001
	CodeInvalidToken      = 105001
	CodeExpiredToken      = 105002
	CodeBadSign           = 106001
	CodeBadAppKey         = 106002
	CodeBadShopCipher     = 106011
	CodeNoProduct         = 12052048
	CodeBadAppCredentials = 36004004
	CodeBadRefreshToken   = 36004005

	CodeInvalidStock       = 12019024
	CodeMissingWarehouse   = 12019028
	CodeQuantityRange      = 12052055
	CodeNoWarehouse        = 12052097
	CodeDuplicateSKU       = 12052553
	CodeDuplicateWarehouse = 12052555
	CodeOtherProduct       = 12052557
	CodeOverLimit          = 12052109
)

// Options configure a fake TikTok Shop. Zero values take the defaults.
type Options struct {
	// Catalog is the shop's content (copied); nil generates 3 products ×
	// 2 variants × 2 locations from seed 1.
	Catalog *catalog.Catalog
	// AppKey and AppSecret are the app's.
	AppKey, AppSecret string
	// AccessToken and RefreshToken are the pair valid at the start.
	AccessToken, RefreshToken string
	// AccessTokenTTL and RefreshTokenTTL are how long issued tokens live.
	AccessTokenTTL, RefreshTokenTTL time.Duration
	// AuthCode is the code /api/v2/token/get accepts.
	AuthCode string
	// ShopID, ShopName, ShopRegion and ShopCipher describe the shop.
	ShopID, ShopName, ShopRegion, ShopCipher string
	// MaxQuantity is the highest quantity an update may set.
	MaxQuantity int
	// RateLimit, if positive, answers 36009002 (HTTP 429) to API calls
	// beyond this many a second (bursts of RateBurst, default 1).
	RateLimit float64
	RateBurst int
	// Now is the clock (timestamps, token expiry); nil is time.Now.
	Now func() time.Time
	// Logger says what the fake does; nil says nothing.
	Logger *slog.Logger
	// MaxLoggedRequests bounds the request log (0: 10,000).
	MaxLoggedRequests int
}

// Server is a fake TikTok Shop. It is an http.Handler; Start serves it on
// a loopback address.
type Server struct {
	opts    Options
	now     func() time.Time
	log     *fakes.Log
	faults  *fakes.Faults
	logger  *slog.Logger
	limiter *rate.Limiter

	mu         sync.Mutex
	warehouses []*warehouse
	whByID     map[string]*warehouse
	products   []*product
	prodByID   map[string]*product
	skuByID    map[string]*sku
	access     map[string]time.Time // access token → expiry
	refresh    map[string]time.Time // refresh token → expiry
	latest     Tokens
	tokenSeq   int
	requestSeq int
	fakes.Serving
}

type warehouse struct {
	id, name, typ, status string
	isDefault             bool
}

type product struct {
	id, title string
	skus      []*sku
}

type sku struct {
	id, sellerSKU string
	product       *product
	stock         []*stock // in the order the SKU got its warehouses
}

type stock struct {
	warehouse            string
	available, committed int
}

// Tokens is a token pair and when each expires.
type Tokens struct {
	AccessToken         string    `json:"access_token"`
	AccessTokenExpires  time.Time `json:"access_token_expires"`
	RefreshToken        string    `json:"refresh_token"`
	RefreshTokenExpires time.Time `json:"refresh_token_expires"`
}

// New makes a fake TikTok Shop.
func New(opts Options) *Server {
	if opts.Catalog == nil {
		c, err := catalog.Generate(catalog.Options{Products: 3, Variants: 2, Locations: 2, Seed: 1})
		if err != nil {
			panic(err)
		}
		opts.Catalog = c
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&opts.AppKey, DefaultAppKey)
	def(&opts.AppSecret, DefaultAppSecret)
	def(&opts.AccessToken, DefaultAccessToken)
	def(&opts.RefreshToken, DefaultRefreshToken)
	def(&opts.AuthCode, DefaultAuthCode)
	def(&opts.ShopID, DefaultShopID)
	def(&opts.ShopName, "Fake TikTok Shop")
	def(&opts.ShopRegion, "US")
	def(&opts.ShopCipher, DefaultShopCipher)
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = DefaultAccessTTL
	}
	if opts.RefreshTokenTTL <= 0 {
		opts.RefreshTokenTTL = DefaultRefreshTTL
	}
	if opts.MaxQuantity <= 0 {
		opts.MaxQuantity = DefaultMaxQuantity
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts: opts, now: opts.Now, log: fakes.NewLog(opts.MaxLoggedRequests), faults: fakes.NewFaults(opts.Now),
		logger: opts.Logger, whByID: map[string]*warehouse{}, prodByID: map[string]*product{}, skuByID: map[string]*sku{},
		access: map[string]time.Time{}, refresh: map[string]time.Time{},
	}
	if opts.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(opts.RateLimit), max(1, opts.RateBurst))
	}
	now := opts.Now().Truncate(time.Second) // expiries go on the wire as Unix seconds
	s.latest = Tokens{opts.AccessToken, now.Add(opts.AccessTokenTTL), opts.RefreshToken, now.Add(opts.RefreshTokenTTL)}
	s.access[opts.AccessToken] = s.latest.AccessTokenExpires
	s.refresh[opts.RefreshToken] = s.latest.RefreshTokenExpires
	for _, w := range opts.Catalog.Warehouses {
		wh := &warehouse{id: w.ID, name: w.Name, typ: w.Type, status: w.EffectStatus, isDefault: w.IsDefault}
		s.warehouses = append(s.warehouses, wh)
		s.whByID[w.ID] = wh
	}
	for _, p := range opts.Catalog.TikTokProducts {
		prod := &product{id: p.ID, title: p.Title}
		for _, k := range p.SKUs {
			sk := &sku{id: k.ID, sellerSKU: k.SellerSKU, product: prod}
			for _, st := range k.Inventory {
				sk.stock = append(sk.stock, &stock{warehouse: st.WarehouseID, available: st.Quantity})
			}
			prod.skus = append(prod.skus, sk)
			s.skuByID[k.ID] = sk
		}
		s.products = append(s.products, prod)
		s.prodByID[p.ID] = prod
	}
	return s
}

// Start serves the fake on addr ("127.0.0.1:0" picks a port) until Close;
// URL is then both its API's and (TikTok) its auth host's base URL.
func (s *Server) Start(addr string) error { return s.Serve(addr, s) }

// AppKey, AppSecret, ShopCipher, ShopID and AuthCode are the fake's.
func (s *Server) AppKey() string     { return s.opts.AppKey }
func (s *Server) AppSecret() string  { return s.opts.AppSecret }
func (s *Server) ShopCipher() string { return s.opts.ShopCipher }
func (s *Server) ShopID() string     { return s.opts.ShopID }
func (s *Server) AuthCode() string   { return s.opts.AuthCode }

// Tokens returns the pair issued last (the initial pair until a refresh).
func (s *Server) Tokens() Tokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest
}

// ExpireAccessTokens makes every access token issued so far expired: the
// next call with one answers 105002.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.access {
		s.access[t] = s.now().Add(-time.Second)
	}
}

// RevokeRefreshTokens makes every refresh token issued so far fail: the
// shop must be authorised again (token/get with the auth code).
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.refresh)
}

// Requests returns the requests answered so far (not the control API's),
// oldest first, secrets redacted.
func (s *Server) Requests() []fakes.Request { return s.log.Requests() }

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() { s.log.Reset() }

// InjectFault puts a fault in force for the next requests.
func (s *Server) InjectFault(f fakes.Fault) error { return s.faults.Add(f) }

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// envelope is every answer's shape.
type envelope struct {
	Code      int    `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	Data      any    `json:"data,omitempty"`
}

// apiError is an answer that is not a success.
type apiError struct {
	status int
	code   int
	msg    string
}

func fail(status, code int, format string, args ...any) *apiError {
	return &apiError{status, code, fmt.Sprintf(format, args...)}
}

var updatePath = regexp.MustCompile(`^/product/202309/products/([^/]+)/inventory/update$`)

// ServeHTTP answers the API, the auth host and the control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, fakes.ControlPrefix) {
		s.control(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	entry := fakes.NewRequest(r, body, s.now())
	rec := &fakes.Recorder{ResponseWriter: w, Entry: &entry, Log: s.log}
	defer rec.Finish()
	answer := func(data any, err *apiError) {
		s.mu.Lock()
		s.requestSeq++
		id := fmt.Sprintf("%s%06d", s.now().UTC().Format("20060102150405"), s.requestSeq)
		s.mu.Unlock()
		env := envelope{Code: CodeOK, Message: "Success", RequestID: id, Data: data}
		status := http.StatusOK
		if err != nil {
			env = envelope{Code: err.code, Message: err.msg, RequestID: id}
			status = err.status
		}
		entry.Code = strconv.Itoa(env.Code)
		rec.Header().Set("X-Tt-Logid", id)
		fakes.WriteJSON(rec, status, env)
	}
	if f, ok := s.faults.Take(r.URL.Path); ok {
		fakes.Sleep(r.Context(), time.Duration(f.Latency))
		switch {
		case f.Drop:
			fakes.DropConnection(rec)
			return
		case f.ExpiredToken:
			answer(nil, fail(http.StatusUnauthorized, CodeExpiredToken, "Access token is expired, please refresh it"))
			return
		case f.Status == http.StatusTooManyRequests:
			answer(nil, fail(f.Status, CodeTooManyRequests, "Too many requests, please retry later"))
			return
		case f.Status != 0:
			answer(nil, fail(f.Status, CodeInternal, "Internal error, please retry later"))
			return
		}
	}
	switch r.URL.Path {
	case "/api/v2/token/get", "/api/v2/token/refresh":
		answer(s.token(r))
		return
	}
	if s.limiter != nil && !s.limiter.Allow() {
		answer(nil, fail(http.StatusTooManyRequests, CodeTooManyRequests, "Too many requests, please retry later"))
		return
	}
	shopScoped := r.URL.Path != "/authorization/202309/shops"
	if err := s.authenticate(r, body, shopScoped); err != nil {
		answer(nil, err)
		return
	}
	method := func(m string) *apiError {
		if r.Method != m {
			return fail(http.StatusMethodNotAllowed, CodeInvalidParam, "%s %s: use %s", r.Method, r.URL.Path, m)
		}
		return nil
	}
	var (
		data any
		err  *apiError
	)
	switch m := updatePath.FindStringSubmatch(r.URL.Path); {
	case r.URL.Path == "/authorization/202309/shops":
		if err = method(http.MethodGet); err == nil {
			data = s.shops()
		}
	case r.URL.Path == "/logistics/202309/warehouses":
		if err = method(http.MethodGet); err == nil {
			data = s.listWarehouses()
		}
	case r.URL.Path == "/product/202309/products/search":
		if err = method(http.MethodPost); err == nil {
			data, err = s.searchProducts(r.URL.Query(), body)
		}
	case r.URL.Path == "/product/202309/inventory/search":
		if err = method(http.MethodPost); err == nil {
			data, err = s.searchInventory(body)
		}
	case m != nil:
		if err = method(http.MethodPost); err == nil {
			data, err = s.updateInventory(r.URL.Path, m[1], body)
		}
	default:
		err = fail(http.StatusNotFound, CodeInvalidParam, "no such API: %s %s", r.Method, r.URL.Path)
	}
	answer(data, err)
}

// authenticate checks app_key, timestamp, sign, access token and, for a
// shop-scoped call, shop_cipher.
func (s *Server) authenticate(r *http.Request, body []byte, shopScoped bool) *apiError {
	q := r.URL.Query()
	if q.Get("app_key") != s.opts.AppKey {
		return fail(http.StatusUnauthorized, CodeBadAppKey, "Invalid app_key")
	}
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	now := s.now()
	if err != nil || ts < now.Add(-5*time.Minute).Unix() || ts > now.Add(30*time.Second).Unix() {
		return fail(http.StatusBadRequest, CodeTimestamp, "Invalid timestamp: it must be unix seconds within 5 minutes in the past and 30 seconds in the future")
	}
	want := signature(s.opts.AppSecret, r.URL.Path, q, body, isMultipart(r))
	if !hmac.Equal([]byte(want), []byte(q.Get("sign"))) {
		return fail(http.StatusUnauthorized, CodeBadSign, "Invalid credentials: the sign does not match")
	}
	token := r.Header.Get("x-tts-access-token")
	s.mu.Lock()
	expiry, known := s.access[token]
	s.mu.Unlock()
	switch {
	case token == "" || !known:
		return fail(http.StatusUnauthorized, CodeInvalidToken, "Invalid access token")
	case !now.Before(expiry):
		return fail(http.StatusUnauthorized, CodeExpiredToken, "Access token is expired, please refresh it")
	}
	if shopScoped {
		switch c := q.Get("shop_cipher"); {
		case c == "":
			return fail(http.StatusBadRequest, CodeInvalidParam, "shop_cipher is required")
		case c != s.opts.ShopCipher:
			return fail(http.StatusUnauthorized, CodeBadShopCipher, "Invalid shop_cipher")
		}
	}
	return nil
}

func isMultipart(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/")
}

// signature is the fake's own implementation of the signing rule (the package
// doc says it).
func signature(secret, path string, query url.Values, body []byte, multipart bool) string {
	keys := make([]string, 0, len(query))
	for k := range query {
		if k != "sign" && k != "access_token" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString(secret)
	b.WriteString(path)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(query.Get(k))
	}
	if !multipart {
		b.Write(body)
	}
	b.WriteString(secret)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(b.Bytes())
	return hex.EncodeToString(m.Sum(nil))
}

// token answers /api/v2/token/get and /api/v2/token/refresh.
func (s *Server) token(r *http.Request) (any, *apiError) {
	q := r.URL.Query()
	if r.Method != http.MethodGet {
		return nil, fail(http.StatusMethodNotAllowed, CodeInvalidParam, "use GET")
	}
	if q.Get("app_key") != s.opts.AppKey || q.Get("app_secret") != s.opts.AppSecret {
		return nil, fail(http.StatusOK, CodeBadAppCredentials, "Invalid app_key or app_secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if r.URL.Path == "/api/v2/token/get" {
		if q.Get("grant_type") != "authorized_code" {
			return nil, fail(http.StatusOK, CodeInvalidParam, "grant_type must be authorized_code")
		}
		if q.Get("auth_code") != s.opts.AuthCode {
			return nil, fail(http.StatusOK, CodeBadAppCredentials, "Invalid auth_code")
		}
	} else {
		if q.Get("grant_type") != "refresh_token" {
			return nil, fail(http.StatusOK, CodeInvalidParam, "grant_type must be refresh_token")
		}
		expiry, ok := s.refresh[q.Get("refresh_token")]
		if !ok || !now.Before(expiry) {
			return nil, fail(http.StatusOK, CodeBadRefreshToken, "Invalid refresh_token: it is unknown, expired or revoked; authorise the shop again")
		}
	}
	s.tokenSeq++
	now = now.Truncate(time.Second) // expiries go on the wire as Unix seconds
	t := Tokens{
		AccessToken: fmt.Sprintf("TTP_fake_access_%d", s.tokenSeq), AccessTokenExpires: now.Add(s.opts.AccessTokenTTL),
		RefreshToken: fmt.Sprintf("TTP_fake_refresh_%d", s.tokenSeq), RefreshTokenExpires: now.Add(s.opts.RefreshTokenTTL),
	}
	s.access[t.AccessToken] = t.AccessTokenExpires
	s.refresh[t.RefreshToken] = t.RefreshTokenExpires
	s.latest = t
	return map[string]any{
		"access_token": t.AccessToken, "access_token_expire_in": t.AccessTokenExpires.Unix(),
		"refresh_token": t.RefreshToken, "refresh_token_expire_in": t.RefreshTokenExpires.Unix(),
		"open_id": "fake-open-id", "seller_name": s.opts.ShopName, "seller_base_region": s.opts.ShopRegion,
		"user_type": 0, "granted_scopes": []string{"seller.product.basic", "seller.logistics"},
	}, nil
}

func (s *Server) shops() any {
	return map[string]any{"shops": []map[string]any{{
		"id": s.opts.ShopID, "name": s.opts.ShopName, "region": s.opts.ShopRegion,
		"seller_type": "LOCAL", "cipher": s.opts.ShopCipher, "code": "USFAKE0001",
	}}}
}

func (s *Server) listWarehouses() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, w := range s.warehouses {
		out = append(out, map[string]any{
			"id": w.id, "name": w.name, "type": w.typ, "sub_type": "DOMESTIC_WAREHOUSE",
			"effect_status": w.status, "is_default": w.isDefault,
		})
	}
	return map[string]any{"warehouses": out}
}

func (s *Server) searchProducts(q url.Values, body []byte) (any, *apiError) {
	size, err := strconv.Atoi(q.Get("page_size"))
	if err != nil || size < 1 || size > 100 {
		return nil, fail(http.StatusBadRequest, CodeInvalidParam, "page_size must be a whole number from 1 to 100")
	}
	if len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
		return nil, fail(http.StatusBadRequest, CodeInvalidParam, "the body is not JSON")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := 0
	if tok := q.Get("page_token"); tok != "" {
		i := slices.IndexFunc(s.products, func(p *product) bool { return pageToken(p.id) == tok })
		if i < 0 {
			return nil, fail(http.StatusBadRequest, CodeInvalidParam, "Invalid page_token")
		}
		start = i
	}
	end := min(len(s.products), start+size)
	out := []map[string]any{}
	for _, p := range s.products[start:end] {
		skus := []map[string]any{}
		for _, k := range p.skus {
			inv := []map[string]any{}
			for _, st := range k.stock {
				inv = append(inv, map[string]any{"warehouse_id": st.warehouse, "quantity": st.available})
			}
			skus = append(skus, map[string]any{"id": k.id, "seller_sku": k.sellerSKU, "inventory": inv,
				"price": map[string]string{"currency": "USD", "sale_price": "10.00", "tax_exclusive_price": "10.00"}})
		}
		out = append(out, map[string]any{"id": p.id, "title": p.title, "status": "ACTIVATE", "skus": skus,
			"sales_regions": []string{s.opts.ShopRegion}, "create_time": 1700000000, "update_time": 1700000000})
	}
	next := ""
	if end < len(s.products) {
		next = pageToken(s.products[end].id)
	}
	return map[string]any{"products": out, "total_count": len(s.products), "next_page_token": next}, nil
}

// pageToken is the opaque token of the page that starts at product id.
func pageToken(id string) string { return "b2Zmc2V0" + hex.EncodeToString([]byte(id)) }

func (s *Server) searchInventory(body []byte) (any, *apiError) {
	var req struct {
		ProductIDs []string `json:"product_ids"`
		SKUIDs     []string `json:"sku_ids"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fail(http.StatusBadRequest, CodeInvalidParam, "the body must be {\"product_ids\":[…]} or {\"sku_ids\":[…]} with string ids: %v", err)
	}
	switch {
	case len(req.ProductIDs) == 0 && len(req.SKUIDs) == 0:
		return nil, fail(http.StatusBadRequest, CodeInvalidParam, "product_ids or sku_ids is required")
	case len(req.ProductIDs) > 0 && len(req.SKUIDs) > 0:
		return nil, fail(http.StatusBadRequest, CodeInvalidParam, "give product_ids or sku_ids, not both")
	case len(req.ProductIDs) > 100:
		return nil, fail(http.StatusBadRequest, CodeInvalidParam, "product_ids: at most 100 (got %d)", len(req.ProductIDs))
	case len(req.SKUIDs) > 600:
		return nil, fail(http.StatusBadRequest, CodeInvalidParam, "sku_ids: at most 600 (got %d)", len(req.SKUIDs))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type group struct {
		product *product
		skus    []*sku
	}
	var groups []*group
	byProduct := map[string]*group{}
	add := func(p *product, k *sku) {
		g := byProduct[p.id]
		if g == nil {
			g = &group{product: p}
			byProduct[p.id] = g
			groups = append(groups, g)
		}
		if !slices.Contains(g.skus, k) {
			g.skus = append(g.skus, k)
		}
	}
	for _, id := range req.ProductIDs {
		if p := s.prodByID[id]; p != nil {
			for _, k := range p.skus {
				add(p, k)
			}
		}
	}
	for _, id := range req.SKUIDs {
		if k := s.skuByID[id]; k != nil {
			add(k.product, k)
		}
	}
	inventory := []map[string]any{}
	for _, g := range groups {
		skus := []map[string]any{}
		for _, k := range g.skus {
			wi := []map[string]any{}
			avail, committed := 0, 0
			for _, st := range k.stock {
				wi = append(wi, map[string]any{"warehouse_id": st.warehouse, "available_quantity": st.available, "committed_quantity": st.committed})
				avail += st.available
				committed += st.committed
			}
			skus = append(skus, map[string]any{"id": k.id, "seller_sku": k.sellerSKU, "total_available_quantity": avail,
				"total_committed_quantity": committed, "warehouse_inventory": wi})
		}
		inventory = append(inventory, map[string]any{"product_id": g.product.id, "skus": skus})
	}
	return map[string]any{"inventory": inventory}, nil
}

// skuError is one entry of an inventory update's data.errors.
type skuError struct {
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Detail  skuErrorDetail `json:"detail"`
}

type skuErrorDetail struct {
	SKUID       string       `json:"sku_id"`
	ExtraErrors []extraError `json:"extra_errors"`
}

type extraError struct {
	WarehouseID string `json:"warehouse_id"`
	Code        int    `json:"code"`
	Message     string `json:"message"`
}

func (s *Server) updateInventory(path, productID string, body []byte) (any, *apiError) {
	var req struct {
		SKUs []struct {
			ID        json.RawMessage `json:"id"`
			Inventory []struct {
				WarehouseID json.RawMessage `json:"warehouse_id"`
				Quantity    json.RawMessage `json:"quantity"`
			} `json:"inventory"`
		} `json:"skus"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fail(http.StatusBadRequest, CodeInvalidParam, "the body must be {\"skus\":[{\"id\",\"inventory\":[{\"warehouse_id\",\"quantity\"}]}]}: %v", err)
	}
	if len(req.SKUs) == 0 {
		return nil, fail(http.StatusBadRequest, CodeInvalidParam, "skus is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prod := s.prodByID[productID]
	if prod == nil {
		return nil, fail(http.StatusOK, CodeNoProduct, "The product %s does not exist", productID)
	}
	var errs []skuError
	seen := map[string]bool{}
	for _, in := range req.SKUs {
		var id string
		if err := json.Unmarshal(in.ID, &id); err != nil {
			return nil, fail(http.StatusBadRequest, CodeInvalidParam, "skus[].id must be a string (ids exceed 2^53)")
		}
		skuFail := func(code int, msg string, extra ...extraError) {
			if extra == nil {
				extra = []extraError{}
			}
			errs = append(errs, skuError{Code: code, Message: msg, Detail: skuErrorDetail{SKUID: id, ExtraErrors: extra}})
		}
		if seen[id] {
			skuFail(CodeDuplicateSKU, "The SKU is listed more than once")
			continue
		}
		seen[id] = true
		k := s.skuByID[id]
		if k == nil || k.product != prod {
			skuFail(CodeOtherProduct, fmt.Sprintf("The SKU %s does not belong to product %s: update one product per call", id, productID))
			continue
		}
		if f, ok := s.faults.TakeSKU(path, id); ok {
			code, msg := f.Code, f.Message
			if code == 0 {
				code = CodeOverLimit
			}
			if msg == "" {
				msg = "Injected SKU failure"
			}
			skuFail(code, msg)
			continue
		}
		// Check every warehouse before changing any: a SKU fails whole.
		want := map[string]int{}
		var order []string
		var extra []extraError
		code := 0
		for _, inv := range in.Inventory {
			var wid string
			if err := json.Unmarshal(inv.WarehouseID, &wid); err != nil {
				return nil, fail(http.StatusBadRequest, CodeInvalidParam, "warehouse_id must be a string (ids exceed 2^53)")
			}
			bad := func(c int, msg string) {
				extra = append(extra, extraError{WarehouseID: wid, Code: c, Message: msg})
				if code == 0 {
					code = c
				}
			}
			if _, dup := want[wid]; dup {
				bad(CodeDuplicateWarehouse, "The warehouse is listed more than once")
				continue
			}
			if w := s.whByID[wid]; w == nil || w.typ != "SALES_WAREHOUSE" {
				bad(CodeNoWarehouse, "The warehouse does not exist")
				continue
			}
			q, err := strconv.ParseInt(string(inv.Quantity), 10, 64)
			if err != nil {
				bad(CodeInvalidStock, "Invalid stock count: the quantity must be a whole number")
				continue
			}
			if q < 0 || q > int64(s.opts.MaxQuantity) {
				bad(CodeQuantityRange, fmt.Sprintf("The quantity must be from 0 to %d", s.opts.MaxQuantity))
				continue
			}
			want[wid] = int(q)
			order = append(order, wid)
		}
		if code != 0 {
			skuFail(code, "Invalid inventory", extra...)
			continue
		}
		if len(k.stock) > 1 {
			var missing []extraError
			for _, st := range k.stock {
				if _, ok := want[st.warehouse]; !ok {
					missing = append(missing, extraError{WarehouseID: st.warehouse, Code: CodeMissingWarehouse, Message: "A SKU in several warehouses must list every one of them"})
				}
			}
			if missing != nil {
				skuFail(CodeMissingWarehouse, "Every warehouse of a multi-warehouse SKU must be listed", missing...)
				continue
			}
		}
		if len(order) == 0 {
			skuFail(CodeInvalidStock, "inventory is required")
			continue
		}
		for _, wid := range order {
			i := slices.IndexFunc(k.stock, func(st *stock) bool { return st.warehouse == wid })
			if i < 0 {
				k.stock = append(k.stock, &stock{warehouse: wid})
				i = len(k.stock) - 1
			}
			k.stock[i].available = want[wid]
		}
	}
	if len(errs) == 0 {
		return map[string]any{}, nil
	}
	return map[string]any{"errors": errs}, nil
}

// Quantity returns a SKU's available quantity in a warehouse, and whether
// the SKU is stocked there.
func (s *Server) Quantity(skuID, warehouseID string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.skuByID[skuID]; k != nil {
		for _, st := range k.stock {
			if st.warehouse == warehouseID {
				return st.available, true
			}
		}
	}
	return 0, false
}

// Quantities returns every SKU's available quantity by warehouse.
func (s *Server) Quantities() map[string]map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]int{}
	for id, k := range s.skuByID {
		m := map[string]int{}
		for _, st := range k.stock {
			m[st.warehouse] = st.available
		}
		out[id] = m
	}
	return out
}

// SetWarehouseStatus sets a warehouse's effect_status (ENABLED, DISABLED
// or RESTRICTED).
func (s *Server) SetWarehouseStatus(warehouseID, status string) error {
	if status != "ENABLED" && status != "DISABLED" && status != "RESTRICTED" {
		return fmt.Errorf("warehouse status %q: want ENABLED, DISABLED or RESTRICTED", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.whByID[warehouseID]
	if w == nil {
		return fmt.Errorf("no warehouse %q", warehouseID)
	}
	w.status = status
	return nil
}

// PlaceOrder is a TikTok order: it lowers the SKU's available quantity in
// the warehouse by quantity and raises its committed quantity, as TikTok
// does before the order reaches Shopify.
func (s *Server) PlaceOrder(skuID, warehouseID string, quantity int) error {
	if quantity < 1 {
		return fmt.Errorf("order quantity %d: want at least 1", quantity)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.skuByID[skuID]; k != nil {
		for _, st := range k.stock {
			if st.warehouse == warehouseID {
				if st.available < quantity {
					return fmt.Errorf("order of %d: SKU %s has %d available in warehouse %s", quantity, skuID, st.available, warehouseID)
				}
				st.available -= quantity
				st.committed += quantity
				return nil
			}
		}
	}
	return fmt.Errorf("SKU %q is not stocked in warehouse %q", skuID, warehouseID)
}
