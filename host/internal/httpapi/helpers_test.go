package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/httpapi"
	"github.com/syncrules/syncrules/host/internal/metrics"
	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/secret"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/wasmbuild"
)

const defaultModulePkg = "./rules/defaultrule/module"

// cacheDir holds wazero's compilation cache for the whole test binary, so
// that each test's engine compiles the default module only once.
var cacheDir string

func TestMain(m *testing.M) {
	// Sandboxed engines with workers start this test binary as their
	// worker process.
	if engine.IsWorker() {
		os.Exit(engine.ServeWorker())
	}
	dir, err := os.MkdirTemp("", "httpapi-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// rule is the real default rule module, loaded in a real engine.
type rule struct {
	wasm   []byte
	module *engine.Module
	engine *engine.Engine
}

// loadRule builds the default rule module from source (once per test
// binary) and loads it in a new engine that the test closes.
func loadRule(tb testing.TB) *rule {
	tb.Helper()
	wasm := wasmbuild.ForTest(tb, defaultModulePkg)
	ctx := context.Background()
	eng, err := engine.New(ctx, engine.Config{CacheDir: cacheDir})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := eng.Close(context.Background()); err != nil {
			tb.Errorf("closing engine: %v", err)
		}
	})
	mod, err := eng.Load(ctx, "default", wasm)
	if err != nil {
		tb.Fatal(err)
	}
	return &rule{wasm: wasm, module: mod, engine: eng}
}

// server is the real API handler served over loopback, with a client whose
// every exchange is checked against the OpenAPI document.
type server struct {
	url     string
	handler *httpapi.Handler
	service *compute.Service
	store   *store.Store
	// shops is the application layer the handler calls: tests drive
	// the sync with it, as the queue's worker does.
	shops *shop.Service
	// token is sent as Authorization: Bearer on every request; newServer
	// makes it the admin token. as returns the server with another.
	token string
	// session, if set, is sent as the page sends it: the session cookie,
	// and its CSRF token on a change (withSession).
	session pageSession
	client  *http.Client
	// transport reaches the server without checks, for benchmarks.
	transport http.RoundTripper
}

// serverConfig configures a server. The zero value serves the real default
// rule with the default limits, and no plugins.
type serverConfig struct {
	runner         compute.Runner // default: the real default rule module
	limits         compute.Limits
	maxQuantity    int // default 999999
	computeTimeout time.Duration
	// plugins, if not nil, serves the plugin endpoints, settings.rules and
	// /metrics with its registry and metrics, as the server does.
	plugins *pluginHost
	// maxModuleBytes bounds an upload; zero means the API's default.
	maxModuleBytes int
	// logger receives the server's logs; default: discarded.
	logger *slog.Logger
	// store is the server's store; default: the plugin host's, or a new
	// SQLite store in a temporary folder.
	store *store.Store
	// pluginQuota bounds what each partner stores; zero: no bound.
	pluginQuota registry.Quota
	// bounds are the API's timeouts, bound of body bytes in flight and
	// rate of computes; the zero value bounds nothing.
	bounds bounds
	// platforms configure the Shopify and TikTok Shop clients that
	// connecting a shop uses; see startPlatforms for the fakes'.
	platforms shop.Platforms
	// queue enqueues the shops' sync jobs; nil: webhooks answer 503.
	queue shop.Queue
	// clock tells the service the time; default time.Now.
	clock func() time.Time
}

// bounds are the options of the API's bounds on clients (limits.go).
type bounds struct {
	readTimeout, writeTimeout time.Duration
	inflightBytes             int64
	inflightWait              time.Duration
	computeRate               float64
	computeBurst              int
}

// testAdminToken is the SYNCRULES_ADMIN_TOKEN of every test server.
const testAdminToken = "test-admin-token-0123456789abcdefghijklmnop"

// newStore opens a new SQLite store in a temporary folder; the test
// closes it.
func newStore(tb testing.TB) *store.Store {
	tb.Helper()
	s, err := store.Open(context.Background(), store.Options{DataDir: tb.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// testSealer is a sealer with a fixed test key.
func testSealer(tb testing.TB) *secret.Sealer {
	tb.Helper()
	sl, err := secret.NewSealer(bytes.Repeat([]byte{7}, secret.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return sl
}

// as returns the server with requests sent with token ("" sends none).
func (s *server) as(token string) *server {
	c := *s
	c.token = token
	return &c
}

// newServer serves the API on 127.0.0.1 until the test ends. r provides the
// rule when cfg.runner is nil.
func newServer(tb testing.TB, r *rule, cfg serverConfig) *server {
	tb.Helper()
	runner := cfg.runner
	var info httpapi.DefaultRule
	if runner == nil {
		runner = r.module
		info = httpapi.DefaultRule{SHA256: r.module.SHA256(), ABIVersion: r.module.ABIVersion()}
	}
	if cfg.maxQuantity == 0 {
		cfg.maxQuantity = compute.MaxMaxQuantity
	}
	svc, err := compute.NewService(runner, cfg.limits, cfg.maxQuantity)
	if err != nil {
		tb.Fatal(err)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.store == nil && cfg.plugins != nil {
		cfg.store = cfg.plugins.store
	}
	if cfg.store == nil {
		cfg.store = newStore(tb)
	}
	shops := shop.Options{
		Store:          cfg.store,
		Compute:        svc,
		Sealer:         testSealer(tb),
		ComputeTimeout: cfg.computeTimeout,
		AdminToken:     testAdminToken,
		Logger:         cfg.logger,
		Platforms:      cfg.platforms,
		Queue:          cfg.queue,
		Clock:          cfg.clock,
	}
	opt := httpapi.Options{
		DefaultRule:    info,
		Logger:         cfg.logger,
		Version:        "test",
		MaxModuleBytes: cfg.maxModuleBytes,

		ReadTimeout:       cfg.bounds.readTimeout,
		WriteTimeout:      cfg.bounds.writeTimeout,
		InflightBodyBytes: cfg.bounds.inflightBytes,
		InflightWait:      cfg.bounds.inflightWait,
		ComputeRate:       cfg.bounds.computeRate,
		ComputeBurst:      cfg.bounds.computeBurst,
	}
	if p := cfg.plugins; p != nil {
		svc.WithPlugins(p.registry, 4<<10, slog.New(slog.DiscardHandler))
		shops.Plugins, shops.PluginQuota, opt.Metrics = p.registry, cfg.pluginQuota, p.metrics
		if shops.ComputeTimeout == 0 {
			// A worker process compiles its module on its first start:
			// tens of seconds under the race detector.
			shops.ComputeTimeout = 5 * time.Minute
		}
	}
	opt.Shops = shop.New(shops)
	// Runs a test started stop before the store they write closes.
	tb.Cleanup(opt.Shops.Close)
	h := httpapi.New(opt)
	srv := httptest.NewUnstartedServer(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	tb.Cleanup(srv.Close)
	return &server{
		url:       srv.URL,
		handler:   h,
		service:   svc,
		store:     cfg.store,
		shops:     opt.Shops,
		token:     testAdminToken,
		client:    &http.Client{Transport: &checkedTransport{base: srv.Client().Transport, contract: loadContract(tb)}},
		transport: srv.Client().Transport,
	}
}

// exchange is one request and its whole response.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the server's checked client and reads the whole
// response.
func (s *server) do(tb testing.TB, method, path, contentType, body string) exchange {
	tb.Helper()
	return s.send(tb, method, path, contentType, strings.NewReader(body))
}

// send is do with any body: a *bytes.Reader or *strings.Reader is sent
// with its length, another reader chunked, without one.
func (s *server) send(tb testing.TB, method, path, contentType string, body io.Reader) exchange {
	tb.Helper()
	ex, err := s.try(method, path, contentType, body)
	if err != nil {
		tb.Fatal(err)
	}
	return ex
}

// try is send for goroutines other than the test's: it returns the error
// instead of failing the test.
func (s *server) try(method, path, contentType string, body io.Reader) (exchange, error) {
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		return exchange{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if s.session.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "syncrules_session", Value: s.session.cookie})
		if method != http.MethodGet && method != http.MethodHead && s.session.csrf != "" {
			req.Header.Set("X-CSRF-Token", s.session.csrf)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return exchange{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return exchange{}, err
	}
	return exchange{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// post sends body to path (with its query) as JSON.
func (s *server) post(tb testing.TB, path, body string) exchange {
	tb.Helper()
	return s.do(tb, http.MethodPost, path, "application/json", body)
}

// compute posts a request that must succeed and decodes the response.
func (s *server) compute(tb testing.TB, query, body string) computeResponse {
	tb.Helper()
	ex := s.post(tb, "/v1/compute"+query, body)
	if ex.status != http.StatusOK {
		tb.Fatalf("POST /v1/compute%s: status %d, want 200\n%s", query, ex.status, ex.body)
	}
	if ct := ex.header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type %q, want application/json", ct)
	}
	var resp computeResponse
	decodeStrict(tb, ex.body, &resp)
	return resp
}

// computeResponse mirrors the documented response; quantities keep their
// order.
type computeResponse struct {
	Items []struct {
		ID         string            `json:"id"`
		Quantities orderedQuantities `json:"quantities"`
		Error      *itemError        `json:"error"`
		Trace      []struct {
			Stage      string                                `json:"stage"`
			Quantities orderedQuantities                     `json:"quantities"`
			Warehouses map[string]map[string]json.RawMessage `json:"warehouses"`
			Item       map[string]json.RawMessage            `json:"item"`
			Error      *itemError                            `json:"error"`
			Skipped    bool                                  `json:"skipped"`
		} `json:"trace"`
	} `json:"items"`
	Warnings []warning `json:"warnings"`
	Logs     []ruleLog `json:"logs"`
}

// itemError is why an item, or a stage of its trace, has no quantities.
type itemError struct {
	Rule   string `json:"rule"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// ruleLog is what a plugin wrote during a request.
type ruleLog struct {
	Rule      string `json:"rule"`
	Calls     int    `json:"calls"`
	Output    string `json:"output"`
	Truncated bool   `json:"truncated"`
}

type warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// quantity is one warehouse's quantity.
type quantity struct {
	Warehouse string
	Quantity  int64
}

// orderedQuantities is a quantities object with its members in order;
// absent is nil, {} is empty and not nil.
type orderedQuantities []quantity

func (q *orderedQuantities) UnmarshalJSON(b []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return fmt.Errorf("quantities: want an object, got %s", b)
	}
	*q = orderedQuantities{}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		name := tok.String()
		v, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if v.Kind() != '0' {
			return fmt.Errorf("quantities: %s is not a number", name)
		}
		n, err := json.Number(v.String()).Int64()
		if err != nil {
			return fmt.Errorf("quantities: %s: %v", name, err)
		}
		*q = append(*q, quantity{name, n})
	}
	return nil
}

// problemDoc is an RFC 9457 problem document.
type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// fields returns the fields of the problem's errors, in order.
func (p problemDoc) fields() []string {
	fs := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		fs[i] = e.Field
	}
	return fs
}

// decodeStrict decodes b into v, failing on unknown members.
func decodeStrict(tb testing.TB, b []byte, v any) {
	tb.Helper()
	if err := decodeStrictErr(b, v); err != nil {
		tb.Fatal(err)
	}
}

// decodeStrictErr is decodeStrict for goroutines other than the test's.
func decodeStrictErr(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding %s: %w", b, err)
	}
	return nil
}

// problemOf checks that ex is a problem document with status and returns it.
func problemOf(tb testing.TB, ex exchange, status int) problemDoc {
	tb.Helper()
	if ex.status != status {
		tb.Fatalf("status %d, want %d\n%s", ex.status, status, ex.body)
	}
	if ct := ex.header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problemDoc
	decodeStrict(tb, ex.body, &p)
	// about:blank with the status's text, or a type of its own.
	want := problem.Type{URI: "about:blank", Title: http.StatusText(status), Status: status}
	if t, ok := problem.Types()[p.Type]; ok {
		want = t
	}
	if p.Status != want.Status || p.Title != want.Title || p.Type != want.URI {
		tb.Errorf("problem type %q, title %q, status %d; want %s, %q, %d", p.Type, p.Title, p.Status, want.URI, want.Title, want.Status)
	}
	return p
}

// contract is the OpenAPI document the server serves, ready to check
// exchanges against.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

var loadContractOnce = sync.OnceValues(func() (*contract, error) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{doc: doc, router: router}, nil
})

func loadContract(tb testing.TB) *contract {
	tb.Helper()
	c, err := loadContractOnce()
	if err != nil {
		tb.Fatalf("the OpenAPI document: %v", err)
	}
	return c
}

// checkedTransport checks every exchange against the OpenAPI document. A
// response that breaks the document fails the request with an error, so the
// test that sent it fails where it sent it. Beyond the schemas, it checks
// that the document and the server agree on which requests are acceptable:
// a request the server answers 200 must satisfy the document, and one it
// answers 400 must not.
type checkedTransport struct {
	base     http.RoundTripper
	contract *contract
}

func (t *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	sent := req.Clone(req.Context())
	sent.Body = io.NopCloser(bytes.NewReader(reqBody))
	resp, err := t.base.RoundTrip(sent)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err := t.contract.check(req, reqBody, resp, respBody); err != nil {
		return nil, fmt.Errorf("the exchange breaks the OpenAPI document: %w\n%s %s\n%s\n-> %d %s\n%s",
			err, req.Method, req.URL.RequestURI(), clip(reqBody), resp.StatusCode, resp.Header.Get("Content-Type"), clip(respBody))
	}
	return resp, nil
}

func clip(b []byte) string {
	if !utf8.Valid(b) {
		return fmt.Sprintf("(%d bytes, not text)", len(b))
	}
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// check checks one exchange against the document.
func (c *contract) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	ctx := context.Background()
	vreq := req.Clone(ctx)
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(vreq)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		return c.checkUnrouted(resp, respBody, http.StatusNotFound)
	case errors.Is(err, routers.ErrMethodNotAllowed):
		if resp.Header.Get("Allow") == "" {
			return errors.New("a 405 without an Allow header")
		}
		return c.checkUnrouted(resp, respBody, http.StatusMethodNotAllowed)
	case err != nil:
		return err
	}
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{SkipSettingDefaults: true, AuthenticationFunc: bearerPresent},
	}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); reqErr == nil && mt == "application/json" && len(reqBody) > 0 && !jsontext.Value(reqBody).IsValid() {
		// kin-openapi ignores what follows the first JSON value and
		// accepts duplicate names; a body like that is not JSON.
		reqErr = errors.New("the body is not one JSON value with unique names")
	}
	switch {
	case resp.StatusCode/100 == 2 && reqErr != nil:
		return fmt.Errorf("the server accepted a request that the document rejects: %w", reqErr)
	case resp.StatusCode == http.StatusBadRequest && reqErr == nil:
		return errors.New("the server answered 400 to a request that the document accepts")
	}
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(respBody)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		return err
	}
	return checkProblemStatus(resp, respBody)
}

// bearerPresent is the document's security check: a bearer token, or the
// page's session cookie, is sent. Whether it is valid is the server's to
// say; a 2xx to a request without one breaks the document.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	if sc := in.SecurityScheme; sc.Type == "apiKey" && sc.In == "cookie" {
		if _, err := req.Cookie(sc.Name); err != nil {
			return errors.New("no session cookie")
		}
		return nil
	}
	h := req.Header.Get("Authorization")
	if in.SecurityScheme.Type != "http" || in.SecurityScheme.Scheme != "bearer" {
		return fmt.Errorf("unexpected security scheme %s", in.SecuritySchemeName)
	}
	if len(h) < 8 || !strings.EqualFold(h[:7], "bearer ") {
		return errors.New("no bearer token")
	}
	return nil
}

// checkUnrouted checks a response to a request the document has no
// operation for: it must be a problem document with the given status.
func (c *contract) checkUnrouted(resp *http.Response, respBody []byte, status int) error {
	if resp.StatusCode != status {
		return fmt.Errorf("status %d, want %d: the document has no such operation", resp.StatusCode, status)
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "application/problem+json" {
		return fmt.Errorf("Content-Type %q, want application/problem+json", resp.Header.Get("Content-Type"))
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(respBody))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if err := c.doc.Components.Schemas["Problem"].Value.VisitJSON(v, openapi3.VisitAsResponse()); err != nil {
		return err
	}
	return checkProblemStatus(resp, respBody)
}

// checkProblemStatus checks that a problem document's status is the
// response's.
func checkProblemStatus(resp *http.Response, respBody []byte) error {
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/problem+json" {
		return nil
	}
	var p struct{ Status int }
	if err := json.Unmarshal(respBody, &p); err != nil {
		return err
	}
	if p.Status != resp.StatusCode {
		return fmt.Errorf("the problem's status %d is not the response's %d", p.Status, resp.StatusCode)
	}
	return nil
}

// pluginHost is what the server assembles for plugins (see cli's openHost):
// a sandboxed engine that reports to metrics, and a registry that keeps
// its uploads in the store.
type pluginHost struct {
	cfg      pluginHostConfig
	engine   *engine.Engine
	registry *registry.Registry
	metrics  *metrics.Metrics
	// store holds the shops whose settings keep plugin versions in use;
	// servers made with this host use it.
	store *store.Store
}

// pluginHostConfig configures a pluginHost. The zero value runs every call
// in process, with deadlines generous enough that a loaded machine under
// the race detector does not turn slowness into timeouts.
type pluginHostConfig struct {
	// workerMinItems sends batches of at least this many items to worker
	// processes; zero: none.
	workerMinItems int
	// callTimeout is a call's base deadline; zero means 10 s.
	callTimeout time.Duration
	// maxModuleBytes bounds a module in the registry; zero means its
	// default.
	maxModuleBytes int
	// store keeps the uploads; default: a new SQLite store.
	store *store.Store
}

// newPluginHost returns a pluginHost with an empty registry; the test
// closes it.
func newPluginHost(tb testing.TB, cfg pluginHostConfig) *pluginHost {
	tb.Helper()
	if cfg.callTimeout == 0 {
		cfg.callTimeout = 10 * time.Second
	}
	h := &pluginHost{cfg: cfg, store: cfg.store}
	if h.store == nil {
		h.store = newStore(tb)
	}
	h.metrics = metrics.New(func() []engine.PoolStats { return h.engine.PoolStats() })
	eng, err := engine.New(context.Background(), engine.Config{
		CacheDir:       cacheDir,
		MaxMemoryBytes: 128 << 20,
		Sandboxed:      true,
		CallTimeout:    cfg.callTimeout,
		Worker:         engine.WorkerConfig{MinItems: cfg.workerMinItems},
		Observer:       h.metrics,
	})
	if err != nil {
		tb.Fatal(err)
	}
	h.engine = eng
	tb.Cleanup(func() {
		if err := eng.Close(context.Background()); err != nil {
			tb.Errorf("closing the sandboxed engine: %v", err)
		}
	})
	h.open(tb)
	return h
}

// open opens the registry on the host's store.
func (h *pluginHost) open(tb testing.TB) {
	tb.Helper()
	reg, err := registry.Open(context.Background(), h.engine, registry.Options{
		Store:          h.store,
		MaxModuleBytes: h.cfg.maxModuleBytes,
		Forget:         h.metrics.Forget,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	h.registry = reg
	tb.Cleanup(func() { reg.Close(context.Background()) })
}

// reopen closes the registry and opens a new one on the same store, as a
// restart does. Servers made before keep the closed one.
func (h *pluginHost) reopen(tb testing.TB) {
	tb.Helper()
	h.registry.Close(context.Background())
	h.open(tb)
}

// install puts the module of plugin pkg (see pluginModule) as name
// version, without going through the API.
func (h *pluginHost) install(tb testing.TB, name, version, pkg string) registry.Info {
	tb.Helper()
	info, _, err := h.registry.Put(context.Background(), name, version, pluginModule(tb, pkg), registry.Claim{})
	if err != nil {
		tb.Fatalf("installing %s %s: %v", name, version, err)
	}
	return info
}

// storedNames returns the names of the plugins the host's store keeps.
func (h *pluginHost) storedNames(tb testing.TB) []string {
	tb.Helper()
	list, err := h.store.Plugins(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, in := range list {
		names = append(names, in.Name)
	}
	return slices.Compact(names)
}

// examplePlugins are the example plugins the tests install. Under -short
// they are buffer and cap alone: each module costs a compile per test
// binary, seconds, and tens of seconds under the race detector.
func examplePlugins() []string {
	if testing.Short() {
		return []string{"buffer", "cap"}
	}
	return []string{"buffer", "cap", "packsize", "tags", "threshold"}
}

// installExamples installs the example plugins at 1.0.0.
func installExamples(tb testing.TB, h *pluginHost) {
	tb.Helper()
	for _, name := range examplePlugins() {
		h.install(tb, name, "1.0.0", name)
	}
}

// pluginModule builds a module from source once per test binary: an
// example plugin of ./plugins by its name ("buffer"), an engine test module
// ("badabi", "envimport"), or compute's "chaos" plugin, whose behaviour per
// item its tags choose.
func pluginModule(tb testing.TB, pkg string) []byte {
	tb.Helper()
	switch pkg {
	case "badabi", "envimport":
		return wasmbuild.ForTest(tb, "./host/engine/testdata/"+pkg)
	case "chaos":
		return wasmbuild.ForTest(tb, "./host/internal/compute/testdata/chaos")
	}
	return wasmbuild.ForTest(tb, "./plugins/"+pkg)
}

// pluginDoc mirrors the documented Plugin.
type pluginDoc struct {
	Name       string    `json:"name"`
	Version    string    `json:"version"`
	SHA256     string    `json:"sha256"`
	Size       int       `json:"size"`
	ABIVersion uint32    `json:"abi_version"`
	CompileMS  float64   `json:"compile_ms"`
	Created    time.Time `json:"created"`
	Source     string    `json:"source"`
	OwnedBy    string    `json:"owned_by"`
	Owner      string    `json:"owner,omitempty"`
}

// pluginVersionsDoc mirrors the documented PluginVersions.
type pluginVersionsDoc struct {
	Name     string      `json:"name"`
	OwnedBy  string      `json:"owned_by"`
	Owner    string      `json:"owner,omitempty"`
	Versions []pluginDoc `json:"versions"`
}

// upload puts wasm as name version through the API.
func (s *server) upload(tb testing.TB, name, version string, wasm []byte) exchange {
	tb.Helper()
	return s.send(tb, http.MethodPut, versionPath(name, version), httpapi.WasmContentType, bytes.NewReader(wasm))
}

// versionPath is the URL path of a plugin version.
func versionPath(name, version string) string {
	return "/v1/plugins/" + name + "/versions/" + version
}

// hasText reports whether got contains want. An empty want, which every
// text contains, fails the test: a table row must say what it expects.
func hasText(tb testing.TB, got, want string) bool {
	tb.Helper()
	if want == "" {
		tb.Fatalf("the test expects an empty text, which any answer contains: fill in what %q must say", got)
	}
	return strings.Contains(got, want)
}

// soakEnv, a duration that make soak sets, runs the soak tests at full
// length: each hammer for that long, each repeated race for at least its
// full rounds and that long. Unset, they run a short form that asserts the
// same, so that make test stays fast.
const soakEnv = "SYNCRULES_SOAK"

// soakTime is SYNCRULES_SOAK's duration, 0 when it is unset.
func soakTime(tb testing.TB) time.Duration {
	tb.Helper()
	v := os.Getenv(soakEnv)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		tb.Fatalf("%s=%q: want a duration, such as 1m", soakEnv, v)
	}
	return d
}

// soakRounds returns how many rounds a repeated race runs at least, and
// until when it goes on after: short rounds for make test; full rounds,
// then for SYNCRULES_SOAK, for make soak.
func soakRounds(tb testing.TB, short, full int) (rounds int, until time.Time) {
	tb.Helper()
	d := soakTime(tb)
	if d == 0 {
		return short, time.Time{}
	}
	return full, time.Now().Add(d)
}

// sameMethods reports whether two Allow headers list the same methods:
// their order means nothing, and Gin's follows the order routes were added.
func sameMethods(a, b string) bool {
	split := func(s string) []string {
		m := strings.Split(s, ", ")
		slices.Sort(m)
		return m
	}
	return slices.Equal(split(a), split(b))
}
