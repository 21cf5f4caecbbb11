// Package shop is the application layer: every operation on shops, their
// settings, credentials and computations, on API tokens and on the plugins
// partners own, written once. The HTTP API, and every adapter after it
// (webhooks, background jobs, the web page), decodes its input, calls one
// of these operations and encodes the result; none touches the store.
//
// Each operation takes the principal it acts for and decides first whether
// it may: an admin may do everything, a shop token its own shop, a partner
// its own plugins. Errors a caller can act on are *Error, whose Code package
// problem maps to an HTTP status, or *compute.InputError with the fields to
// fix; anything else is internal, logged and never shown.
//
//	svc := shop.New(shop.Options{Store: db, Compute: computeService, Sealer: sealer})
//	sh, created, err := svc.PutShop(ctx, principal, "acme.myshopify.com", shop.ShopInput{...})
package shop

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/secret"
	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// Options configure a Service.
type Options struct {
	Store Store
	// Compute validates settings and computes quantities.
	Compute *compute.Service
	// Sealer encrypts shop credentials.
	Sealer *secret.Sealer
	// Plugins is the plugin registry; nil refuses plugin operations.
	Plugins *registry.Registry
	// PluginQuota bounds what each partner stores.
	PluginQuota registry.Quota
	// ComputeTimeout bounds a compute's wait for a rule instance. Zero
	// means 30 s.
	ComputeTimeout time.Duration
	// AdminToken, when not empty, is a token with the admin scope that
	// has no row in the store (SYNCRULES_ADMIN_TOKEN).
	AdminToken string
	// Platforms configure the clients connect uses; per-shop domain,
	// tokens and app keys come from the shop and its credentials.
	Platforms Platforms
	// Queue makes sure a shop's sync job runs; nil refuses webhooks with
	// Unavailable (the sync is not running).
	Queue  Queue
	Logger *slog.Logger
	// SyncMetrics receives the sync's measurements; nil records none.
	SyncMetrics SyncMetrics
	// RaiseGrace is how long a reconciliation lets a TikTok quantity stay
	// below the rule's before raising it ([sync] raise_grace, whose
	// default is DefaultRaiseGrace); 0 raises it at once.
	RaiseGrace time.Duration
	// Clock tells reconciliations the time; time.Now if nil. Set by tests.
	Clock func() time.Time
	// ShopifyBuckets, if set, keep each shop's Shopify cost bucket for
	// every replica (serve sets the store on PostgreSQL); nil keeps it in
	// this process's memory.
	ShopifyBuckets ShopifyBuckets
	// TikTokPaces, if set, keep each shop's TikTok Shop pace for every
	// replica (serve sets the store on PostgreSQL); nil keeps it in this
	// process's memory.
	TikTokPaces tiktok.SharedPaces
}

// Platforms configure the clients of Shopify and TikTok Shop: where they
// send requests, with what timeouts and HTTP client. Domain, AccessToken,
// AppKey and AppSecret are ignored: they are each shop's.
type Platforms struct {
	Shopify shopify.Options
	TikTok  tiktok.Options
}

// Service is the application layer. It is safe for concurrent use.
type Service struct {
	store   Store
	compute *compute.Service
	sealer  *secret.Sealer
	plugins *registry.Registry
	quota   registry.Quota
	timeout time.Duration
	admin   string
	queue   Queue
	log     *slog.Logger
	metrics SyncMetrics
	// raiseGrace and clock: see Options.
	raiseGrace time.Duration
	clock      func() time.Time

	platforms Platforms
	// mu guards tiktokApps, shopifyPacers and closed.
	mu             sync.Mutex
	tiktokApps     map[string]tiktokApp     // by app key
	shopifyPacers  map[string]shopify.Pacer // by myshopify domain
	shopifyBuckets ShopifyBuckets
	tiktokPaces    tiktok.SharedPaces
	closed         bool
	// runCtx lives as long as the Service: the runs started in this
	// process run under it, not under the request that started them.
	runCtx    context.Context
	cancelRun context.CancelFunc
	runs      sync.WaitGroup
}

// New returns a Service.
func New(opt Options) *Service {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.ComputeTimeout <= 0 {
		opt.ComputeTimeout = 30 * time.Second
	}
	if opt.SyncMetrics == nil {
		opt.SyncMetrics = noSyncMetrics{}
	}
	opt.RaiseGrace = max(opt.RaiseGrace, 0)
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	runCtx, cancel := context.WithCancel(context.Background())
	return &Service{metrics: opt.SyncMetrics, raiseGrace: opt.RaiseGrace, clock: opt.Clock, store: opt.Store, compute: opt.Compute, sealer: opt.Sealer, plugins: opt.Plugins, quota: opt.PluginQuota,
		timeout: opt.ComputeTimeout, admin: opt.AdminToken, queue: opt.Queue, log: opt.Logger,
		platforms: opt.Platforms, tiktokApps: map[string]tiktokApp{}, runCtx: runCtx, cancelRun: cancel,
		shopifyPacers: map[string]shopify.Pacer{}, shopifyBuckets: opt.ShopifyBuckets, tiktokPaces: opt.TikTokPaces}
}

// Close cancels the runs this process is running, records them
// interrupted, and waits for them. Operations that start runs refuse to
// after it; the others still work. Serve calls it at shutdown, the command
// line after its run.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancelRun()
	s.runs.Wait()
}

// Operator is the principal of the command line run by whoever runs the
// server: it may do everything.
var Operator = auth.Principal{TokenID: "cli", Scopes: []auth.Scope{{Kind: auth.KindAdmin}}}

// Ping checks that the store answers.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// ComputeTimeout is how long a compute waits for a rule instance.
func (s *Service) ComputeTimeout() time.Duration { return s.timeout }

// Limits are the compute service's limits, defaults filled in.
func (s *Service) Limits() compute.Limits { return s.compute.Limits() }

// CheckAdmin lets only admins through.
func CheckAdmin(p auth.Principal) error {
	if !p.Admin() {
		return Errorf(Forbidden, "This needs a token with the admin scope.")
	}
	return nil
}

// CheckShop lets admins and the shop's own tokens through. A token of
// another shop gets the error a missing shop gets, so that a shop cannot
// learn which other shops exist.
func CheckShop(p auth.Principal, id string) error {
	switch p.ShopAccess(id) {
	case auth.Allowed:
		return nil
	case auth.Hidden:
		return shopNotFound(id)
	default:
		return Errorf(Forbidden, "This needs a token with the admin or shop:%s scope.", id)
	}
}

// shopNotFound is what a missing shop, and another shop's, answers.
func shopNotFound(id string) error { return Errorf(NotFound, "No shop %q.", id) }

// storeError turns the store's not-found for a shop into shopNotFound and
// its busy into an Error that says to retry; other errors are internal.
func storeError(id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return shopNotFound(id)
	case errors.Is(err, ErrBusy):
		return &Error{Code: Unavailable, Message: "Others kept changing the shop while this change was checked. Retry.", Err: err}
	}
	return err
}

// Compute computes an inline request: locations, warehouses, settings and
// items all in req. Any principal may.
func (s *Service) Compute(ctx context.Context, p auth.Principal, req *compute.Request, opt compute.Options) (*compute.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	opt.Tenant = inlineTenant(p)
	return s.compute.Compute(ctx, req, opt)
}

// shopTenant and inlineTenant name whom a compute is for, in the sharing of
// plugin calls between tenants: a shop, or the token of an inline compute.
func shopTenant(id string) string { return "shop:" + id }

func inlineTenant(p auth.Principal) string {
	if p.TokenID == "" {
		return "inline"
	}
	return "token:" + p.TokenID
}

// logChange logs a change made by p.
func (s *Service) logChange(msg string, p auth.Principal, args ...any) {
	s.log.Info(msg, append(args, "token", p.TokenID)...)
}
