// Package httpapi serves the HTTP API with Gin. It is the only package that
// imports Gin. It is an adapter: each handler decodes its request, calls one
// operation of the application layer (package shop) and encodes the result;
// package problem turns errors into statuses.
//
// Every route but /healthz, /readyz, /metrics, /openapi.json, the page
// (/, /assets/), POST /v1/session and /webhooks/shopify (signed by
// Shopify instead) needs Authorization: Bearer <token>, or the page's
// session cookie (session.go), with X-CSRF-Token on a change;
// /openapi.json says which scope each needs.
// Every request has deadlines and its body is metered (limits.go); the
// compute routes are rate-limited per token. Lists answer a page at a time
// (?limit=, ?cursor= from the answer's next; pages.go).
//
//	GET    /                                        the merchant's page (package web), and its files at /assets/{name}
//	POST   /v1/session                              sign the page in with a token: a session cookie and a CSRF token
//	GET    /v1/session                              who is signed in: principal, scopes, shops (and the CSRF token, with the cookie)
//	DELETE /v1/session                              sign out
//	POST   /v1/compute                              quantities per item and warehouse (?explain=true adds a trace)
//	GET    /v1/plugins                              installed plugins, a page at a time (?owner=me: the caller's own)
//	GET    /v1/plugins/{name}                       a plugin's versions
//	PUT    /v1/plugins/{name}/versions/{version}    upload a version (application/wasm)
//	GET    /v1/plugins/{name}/versions/{version}    one version
//	DELETE /v1/plugins/{name}/versions/{version}    delete a version nothing references
//	GET    /v1/shops                                every shop, a page at a time
//	PUT    /v1/shops/{shop}                         create or replace a shop: name, shopify_domain, locations, warehouses
//	GET    /v1/shops/{shop}                         a shop (If-None-Match for a 304)
//	DELETE /v1/shops/{shop}                         delete a shop with its settings and credentials
//	GET    /v1/shops/{shop}/settings                the current settings (If-None-Match for a 304)
//	PUT    /v1/shops/{shop}/settings                change the settings (If-Match for a version check)
//	GET    /v1/shops/{shop}/settings/history        every version, newest first, a page at a time
//	POST   /v1/shops/{shop}/compute                 compute items with the stored settings
//	POST   /v1/shops/{shop}/preview                 compute items under the current and proposed settings
//	PUT    /v1/shops/{shop}/credentials             store Shopify and TikTok Shop credentials, encrypted
//	GET    /v1/shops/{shop}/credentials             which credentials are set (never their values)
//	DELETE /v1/shops/{shop}/credentials             forget the credentials
//	POST   /v1/shops/{shop}/sync/connect            check the credentials, then import and link both catalogs in the background
//	GET    /v1/shops/{shop}/sync                    the shop's connection, settings state and latest run
//	GET    /v1/shops/{shop}/sync/items              the catalog with each item's link (?status=, ?side=, ?sku=), a page at a time
//	GET    /v1/shops/{shop}/sync/items/{variant}    why a variant's TikTok quantity is what it is: levels, computed with the trace, published, history
//	GET    /v1/shops/{shop}/sync/history            every publication and refusal, newest first (?sku=, ?since=, ?cause=), a page at a time
//	POST   /v1/shops/{shop}/sync/history/{id}/replay  recompute an entry from its stored inputs and say whether the result is identical
//	POST   /v1/shops/{shop}/sync/reconcile          read TikTok back and repair its drift from the rule, in the background
//	POST   /v1/shops/{shop}/sync/pause              stop publishing (webhooks are still recorded)
//	POST   /v1/shops/{shop}/sync/resume             publish again, catching up on what was recorded meanwhile
//	POST   /v1/shops/{shop}/sync/resync             read every linked item from Shopify again and publish what differs
//	POST   /v1/tokens                               create a token (shown once)
//	GET    /v1/tokens                               every token (never the secret), a page at a time
//	DELETE /v1/tokens/{id}                          revoke a token
//	POST   /webhooks/shopify                        a Shopify webhook, signed with the shop's webhook secret
//	GET    /healthz                                 200 while the process serves; 503 while it drains before a stop
//	GET    /readyz                                  200 while the store answers and the server is not draining
//	GET    /metrics                                 Prometheus metrics
//	GET    /openapi.json                            the OpenAPI 3 document of this API
package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/semaphore"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/problem"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/web"
)

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document the server serves.
func OpenAPI() []byte { return openAPI }

// DefaultRule describes the loaded default rule module for /healthz.
type DefaultRule struct {
	SHA256     string `json:"sha256"`
	ABIVersion uint32 `json:"abi_version"`
}

// Options configure a Handler.
type Options struct {
	// Shops is the application layer every handler calls; with plugins,
	// it serves the plugin endpoints too.
	Shops *shop.Service
	// DefaultRule is reported by /healthz.
	DefaultRule DefaultRule
	Logger      *slog.Logger
	Version     string
	// MaxModuleBytes bounds an upload. Zero means 16 MiB.
	MaxModuleBytes int
	// Metrics serves /metrics and observes requests; nil serves none.
	Metrics Metrics
	// ReadTimeout bounds reading a request's body, from when its headers
	// are read; zero: no bound. The server's ReadHeaderTimeout bounds the
	// headers.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer, from its first byte; zero: no
	// bound.
	WriteTimeout time.Duration
	// InflightBodyBytes bounds the body bytes that all requests in flight
	// have read and hold; zero: no bound. A read that finds no room within
	// InflightWait (zero: 1 s) fails its request with 503.
	InflightBodyBytes int64
	InflightWait      time.Duration
	// ComputeRate is how many computes (POST /v1/compute, a shop's compute
	// and preview) a token may ask for a second, in bursts of ComputeBurst;
	// zero: no limit.
	ComputeRate  float64
	ComputeBurst int
}

// Metrics is what the API needs of package metrics.
type Metrics interface {
	Handler() http.Handler
	ObserveHTTP(route, method string, status int, d time.Duration)
}

// Handler is the API's http.Handler.
type Handler struct {
	opt      Options
	svc      *shop.Service
	engine   *gin.Engine
	draining atomic.Bool
	// inflight meters Options.InflightBodyBytes; nil without a bound.
	inflight     *semaphore.Weighted
	inflightWait time.Duration
	// computeRate limits computes per token; nil without a limit.
	computeRate *limiters
}

func init() { gin.SetMode(gin.ReleaseMode) }

// New returns the API handler.
func New(opt Options) *Handler {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.MaxModuleBytes <= 0 {
		opt.MaxModuleBytes = 16 << 20
	}
	h := &Handler{opt: opt, svc: opt.Shops, engine: gin.New(), inflightWait: opt.InflightWait}
	if opt.InflightBodyBytes > 0 {
		h.inflight = semaphore.NewWeighted(opt.InflightBodyBytes)
	}
	if h.inflightWait <= 0 {
		h.inflightWait = defaultInflightWait
	}
	if opt.ComputeRate > 0 {
		h.computeRate = newLimiters(opt.ComputeRate, max(1, opt.ComputeBurst), maxLimiters)
	}
	r := h.engine
	r.HandleMethodNotAllowed = true
	// A path with a trailing slash is unknown, not redirected: Gin's
	// redirect is a text/html 301 (307 for a POST), not a problem document.
	r.RedirectTrailingSlash = false
	r.Use(securityHeaders, h.logRequests, h.recover, h.bound)
	if opt.Metrics != nil {
		r.GET("/metrics", gin.WrapH(opt.Metrics.Handler()))
	}
	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)
	r.GET("/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPI) })
	r.POST("/webhooks/shopify", h.shopifyWebhook)
	page := gin.WrapH(web.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Not reached through Gin's routes; a plain 404 problem.
		b, _ := json.Marshal(problem.New(http.StatusNotFound, fmt.Sprintf("No resource at %s; see /openapi.json.", r.URL.Path)))
		w.Header().Set("Content-Type", problem.ContentType)
		w.WriteHeader(http.StatusNotFound)
		w.Write(b)
	})))
	r.GET("/", page)
	r.HEAD("/", page)
	r.GET("/assets/:name", page)
	r.HEAD("/assets/:name", page)
	// Signing in needs no token: it is how the page gets its session.
	r.POST("/v1/session", h.signIn)

	v1 := r.Group("/v1", h.authenticate)
	v1.GET("/session", h.getSession)
	v1.DELETE("/session", h.signOut)
	v1.POST("/compute", h.limitCompute, h.compute)
	if h.svc.HasPlugins() {
		v1.GET("/plugins", h.listPlugins)
		v1.GET("/plugins/:name", h.getPlugin)
		v1.PUT("/plugins/:name/versions/:version", h.putPlugin)
		v1.GET("/plugins/:name/versions/:version", h.getPluginVersion)
		v1.DELETE("/plugins/:name/versions/:version", h.deletePlugin)
	}
	v1.GET("/shops", requireAdmin, h.listShops)
	v1.PUT("/shops/:shop", requireAdmin, h.putShop)
	v1.DELETE("/shops/:shop", requireAdmin, h.deleteShop)
	sh := v1.Group("/shops/:shop", requireShop)
	sh.GET("", h.getShop)
	sh.GET("/settings", h.getSettings)
	sh.PUT("/settings", h.putSettings)
	sh.GET("/settings/history", h.settingsHistory)
	sh.POST("/compute", h.limitCompute, h.shopCompute)
	sh.POST("/preview", h.limitCompute, h.preview)
	sh.PUT("/credentials", h.putCredentials)
	sh.GET("/credentials", h.getCredentials)
	sh.DELETE("/credentials", h.deleteCredentials)
	sh.POST("/sync/connect", h.connect)
	sh.GET("/sync", h.syncStatus)
	sh.GET("/sync/items", h.syncItems)
	sh.GET("/sync/items/:variant", h.syncItem)
	sh.GET("/sync/history", h.syncHistory)
	sh.POST("/sync/history/:id/replay", h.replayHistory)
	sh.POST("/sync/reconcile", h.reconcile)
	sh.POST("/sync/pause", h.pauseSync)
	sh.POST("/sync/resume", h.resumeSync)
	sh.POST("/sync/resync", h.resync)
	tokens := v1.Group("/tokens", requireAdmin)
	tokens.POST("", h.createToken)
	tokens.GET("", h.listTokens)
	tokens.DELETE("/:id", h.deleteToken)
	r.NoRoute(func(c *gin.Context) {
		writeProblem(c, problem.New(http.StatusNotFound, fmt.Sprintf("No resource at %s; see /openapi.json.", c.Request.URL.Path)))
	})
	r.NoMethod(func(c *gin.Context) {
		writeProblem(c, problem.New(http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s; see /openapi.json.", c.Request.Method, c.Request.URL.Path)))
	})
	return h
}

// ServeHTTP serves the API.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.engine.ServeHTTP(w, r) }

// Drain makes /healthz and /readyz answer 503, so a load balancer stops
// sending traffic while the server shuts down; other requests are still
// served.
func (h *Handler) Drain() { h.draining.Store(true) }

func (h *Handler) compute(c *gin.Context) {
	opt, ok := explainOption(c)
	if !ok {
		return
	}
	req, err := compute.ReadRequest(c.Request.Body, c.Request.ContentLength, h.svc.Limits())
	if err != nil {
		h.fail(c, err)
		return
	}
	resp, err := h.svc.Compute(c.Request.Context(), principal(c), req, opt)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.writeResponse(c, resp)
}

// explainOption reads ?explain=, answering 400 when it is not a boolean.
func explainOption(c *gin.Context) (compute.Options, bool) {
	opt := compute.Options{}
	if v, ok := c.GetQuery("explain"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeProblem(c, problem.New(http.StatusBadRequest, "The query is malformed.",
				compute.FieldError{Field: "explain", Detail: fmt.Sprintf("query parameter must be true or false, got %q", v)}))
			return opt, false
		}
		opt.Explain = b
	}
	return opt, true
}

// readJSON decodes the body into v as strictly as a compute request,
// within the same size limit, answering the problem if it cannot.
func (h *Handler) readJSON(c *gin.Context, v any, want string) bool {
	if err := compute.ReadJSON(c.Request.Body, c.Request.ContentLength, h.svc.Limits(), v, want); err != nil {
		h.fail(c, err)
		return false
	}
	return true
}

// writeResponse writes a compute response.
func (h *Handler) writeResponse(c *gin.Context, resp *compute.Response) {
	// Encoded whole, then sent with its length: one write instead of a
	// chunked stream of small ones, and an encoding error is still a 500.
	buf, _ := responses.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer responses.Put(buf)
	buf.Reset()
	if err := compute.WriteResponse(buf, resp); err != nil {
		h.fail(c, fmt.Errorf("encoding the response: %w", err))
		return
	}
	c.Data(http.StatusOK, "application/json", buf.Bytes())
}

var responses sync.Pool // *bytes.Buffer, encoded responses

func (h *Handler) healthz(c *gin.Context) {
	if h.draining.Load() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "draining"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "version": h.opt.Version, "default_rule": h.opt.DefaultRule})
}

// readyz answers whether this replica should get traffic: not draining,
// and its store answers.
func (h *Handler) readyz(c *gin.Context) {
	if h.draining.Load() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := h.svc.Ping(ctx); err != nil {
		h.opt.Logger.Warn("not ready: the store does not answer", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "store unavailable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// fail writes the problem for err, logging errors that are the server's.
func (h *Handler) fail(c *gin.Context, err error) {
	p, ok := limitProblem(c, err)
	if !ok {
		p = problem.From(err)
	}
	if p.Status >= 500 && !errors.Is(err, errInflight) {
		h.opt.Logger.Error("request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "status", p.Status, "err", err)
	}
	writeProblem(c, p)
}

func writeProblem(c *gin.Context, p problem.Problem) {
	if p.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="syncrules"`)
	}
	b, err := json.Marshal(p)
	if err != nil {
		b = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	c.Data(p.Status, problem.ContentType, b)
	c.Abort()
}

func (h *Handler) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(r)
			}
			h.opt.Logger.Error("panic serving request", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", r)
			writeProblem(c, problem.New(http.StatusInternalServerError, "An internal error occurred; it has been logged."))
		}
	}()
	c.Next()
}

func (h *Handler) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	if h.opt.Metrics != nil {
		route := c.FullPath() // the template, so labels stay few
		if route == "" {
			route = "unmatched"
		}
		h.opt.Metrics.ObserveHTTP(route, c.Request.Method, c.Writer.Status(), time.Since(start))
	}
	level := slog.LevelInfo
	if c.Writer.Status() >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", c.Writer.Status()),
		slog.Int("bytes", c.Writer.Size()),
		slog.Duration("duration", time.Since(start)),
	}
	if id := principal(c).TokenID; id != "" {
		attrs = append(attrs, slog.String("token", id)) // the public id, never the secret
	}
	h.opt.Logger.LogAttrs(c.Request.Context(), level, "request", attrs...)
}
