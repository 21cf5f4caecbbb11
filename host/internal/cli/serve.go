package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/config"
	"github.com/syncrules/syncrules/host/internal/httpapi"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/secret"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/sync"
	"github.com/syncrules/syncrules/host/internal/tiktok"
	"golang.org/x/time/rate"
)

// adminTokenEnv names the environment variable holding an admin token, for
// bootstrap and automation.
const adminTokenEnv = "SYNCRULES_ADMIN_TOKEN"

func serve(ctx context.Context, e *env, args []string) error {
	started := time.Now()
	fs := flags(e, "serve", "[--config FILE] [--listen ADDR] [--data-dir DIR]",
		"Run the HTTP API until SIGINT or SIGTERM, then drain requests in flight and stop.")
	configPath := fs.String("config", "config.toml", "configuration `file`; the default may be absent")
	listen := fs.String("listen", "", "address to listen on (default from config: 127.0.0.1:8080)")
	dataDir := fs.String("data-dir", "", "data `directory`: the SQLite database, the credentials key, the compilation cache and uploaded plugins (default from config: ./data)")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	cfg, src, err := loadConfig(fs, *configPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	if *dataDir != "" {
		cfg.Server.DataDir = *dataDir
	}
	if err := config.CheckListen(cfg.Server.Listen, cfg.Server.BehindProxy); err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.Server)
	if src.File != "" {
		log.Info("config read", "file", src.File)
	} else {
		log.Info("no config file: defaults apply", "looked_for", *configPath)
	}
	if len(src.Env) > 0 {
		log.Info("config set by the environment", "variables", strings.Join(src.Env, ","))
	}
	for _, w := range src.Warnings {
		log.Warn(w)
	}
	if err := os.MkdirAll(cfg.Server.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}

	db, err := openStore(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer db.Close()
	log.Info("store opened", "dialect", db.Dialect())
	sealer, keySource, err := openSealer(ctx, cfg, db)
	if err != nil {
		return err
	}
	log.Info("credentials key loaded", "source", keySource)
	adminToken := os.Getenv(adminTokenEnv)
	if adminToken != "" {
		if _, ok := auth.ParseBearer("Bearer " + adminToken); !ok || len(adminToken) < 32 {
			return fmt.Errorf("%s must be at least 32 printable characters without spaces (try: openssl rand -hex 32)", adminTokenEnv)
		}
	}

	// Listen before loading anything: the port answers at once, /readyz
	// turns 200 once the default rule is loaded.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return err
	}
	var handler httpapi.Switch
	// The body's read deadline and the answer's write deadline are set per
	// request by the API (they must not run while a compute does); the
	// server bounds the headers and idle connections.
	srv := &http.Server{
		Handler:           &handler,
		ReadHeaderTimeout: min(10*time.Second, cfg.Server.ReadTimeout.Duration),
		IdleTimeout:       cfg.Server.IdleTimeout.Duration,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer srv.Close()
	log.Info("listening", "addr", "http://"+ln.Addr().String(), "data_dir", cfg.Server.DataDir, "version", version)

	h, err := openHost(ctx, cfg, filepath.Dir(*configPath), serverCacheDir(cfg), db, log)
	if err != nil {
		return err
	}
	defer h.close(context.WithoutCancel(ctx))
	go checkPlugins(ctx, h.registry, log)
	shopOpt := shopOptions(cfg, db, h, sealer, log)
	shopOpt.AdminToken = adminToken
	shopOpt.RaiseGrace = cfg.Sync.RaiseGrace.Duration
	// The queue runs the shops' sync jobs, and the shop service enqueues
	// them: the queue calls the service through shops, set before the
	// queue starts.
	var shops *shop.Service
	queue, err := sync.Open(ctx, sync.Options{
		Store:      db,
		Logger:     log,
		Workers:    cfg.Sync.Workers,
		JobTimeout: cfg.Sync.JobTimeout.Duration,
		SyncShop:   func(ctx context.Context, id string) (bool, error) { return shops.SyncShop(ctx, id) },
		Pending:    db.HasPendingTx,
		Metrics:    h.metrics,
		// A burst of webhooks gathers before its items are read.
		Coalesce:     cfg.Sync.Coalesce.Duration,
		PendingSince: db.PendingSince,
		// One cleanup per cluster: every replica configures it, River's
		// leader runs it.
		HistoryDays: cfg.Sync.HistoryDays,
		Reconcile: func(ctx context.Context, id, after string) (string, int, error) {
			return shops.ReconcilePage(ctx, id, after)
		},
		ReconcileInterval: cfg.Sync.ReconcileInterval.Duration,
	})
	if err != nil {
		return err
	}
	h.metrics.WatchQueue(queueDepth(queue))
	shopOpt.Queue, shopOpt.SyncMetrics = queue, h.metrics
	shops = shop.New(shopOpt)
	// Runs this process started (connects) are recorded interrupted, not
	// left running, when it stops.
	defer shops.Close()
	// Deferred after shops.Close, so it runs before: the jobs finish while
	// the service and the store are still open. The normal shutdown stops
	// the queue after the HTTP server; this one is for the early returns
	// (Stop again does nothing).
	defer stopQueue(context.WithoutCancel(ctx), queue, cfg.Server.ShutdownTimeout.Duration, log)
	if err := queue.Start(ctx); err != nil {
		return err
	}
	log.Info("sync queue started", "workers", cfg.Sync.Workers, "job_timeout", cfg.Sync.JobTimeout.Duration,
		"reconcile_interval", cfg.Sync.ReconcileInterval.Duration, "raise_grace", cfg.Sync.RaiseGrace.Duration, "coalesce", cfg.Sync.Coalesce.Duration)
	api := httpapi.New(httpapi.Options{
		Shops:             shops,
		DefaultRule:       httpapi.DefaultRule{SHA256: h.defaultRule.SHA256(), ABIVersion: h.defaultRule.ABIVersion()},
		Logger:            log,
		Version:           version,
		MaxModuleBytes:    cfg.Sandbox.MaxModuleMiB << 20,
		Metrics:           h.metrics,
		ReadTimeout:       cfg.Server.ReadTimeout.Duration,
		WriteTimeout:      cfg.Server.WriteTimeout.Duration,
		InflightBodyBytes: int64(cfg.Limits.InflightBodyMiB) << 20,
		ComputeRate:       cfg.Limits.ComputeRate,
		ComputeBurst:      cfg.Limits.ComputeBurst,
	})
	handler.Ready(api)
	log.Info("ready", "took", durationSince(started))
	if adminToken == "" {
		if tokens, err := shops.Tokens(ctx, shop.Operator); err == nil && len(tokens) == 0 {
			log.Info("no API tokens yet: create an admin token with \"" + tokenCreateCommand(src.File, cfg) + "\" " +
				"(or set " + adminTokenEnv + "), then send it as Authorization: Bearer <token>")
		}
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "drain_period", cfg.Server.DrainPeriod.Duration, "timeout", cfg.Server.ShutdownTimeout.Duration)
	if err := drain(&handler, srv, served, cfg.Server.DrainPeriod.Duration, log); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout.Duration)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// No request can enqueue a job now: let the running ones finish.
	stopQueue(sctx, queue, 0, log)
	log.Info("stopped")
	return nil
}

// stopQueue stops the sync queue within ctx, or within timeout if it is
// not 0, and logs a failure: jobs cut short are retried by the next start.
func stopQueue(ctx context.Context, q *sync.Queue, timeout time.Duration, log *slog.Logger) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := q.Stop(ctx); err != nil {
		log.Warn("stopping the sync queue", "err", err)
	}
}

// drain keeps serving for period after the stop signal, /healthz and
// /readyz answering 503, so that a load balancer's health checks see the
// replica leave and stop sending it requests before its port closes: a
// request sent meanwhile is still answered, not refused. Keep-alives end,
// so clients reconnect, through the balancer, elsewhere. A second signal
// ends the drain at once, for an operator who will not wait.
func drain(sw *httpapi.Switch, srv *http.Server, served <-chan error, period time.Duration, log *slog.Logger) error {
	sw.Drain()
	if period <= 0 {
		return nil
	}
	srv.SetKeepAlivesEnabled(false)
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	log.Info("draining: /healthz and /readyz answer 503, requests are still served; a second signal stops at once", "period", period)
	timer := time.NewTimer(period)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-again:
		log.Info("second signal: drain cut short")
	case err := <-served:
		return err
	}
	return nil
}

// shopOptions are the options of the application layer the server runs:
// the commands that act on the server's store as it would (sync) use them
// too.
func shopOptions(cfg config.Config, db *store.Store, h *host, sealer *secret.Sealer, log *slog.Logger) shop.Options {
	// Replicas share a PostgreSQL database, and must share each shop's
	// Shopify cost bucket and TikTok Shop pace; on SQLite one process
	// serves a data folder, and keeps them in memory.
	var (
		buckets shop.ShopifyBuckets
		paces   tiktok.SharedPaces
	)
	if db.Dialect() == store.Postgres {
		buckets, paces = db, db
	}
	return shop.Options{
		ShopifyBuckets: buckets,
		TikTokPaces:    paces,
		Store:          db,
		Compute:        h.svc,
		Sealer:         sealer,
		Plugins:        h.registry,
		PluginQuota:    registry.Quota{Versions: cfg.Sandbox.PartnerVersions, Bytes: int64(cfg.Sandbox.PartnerMiB) << 20},
		ComputeTimeout: cfg.Server.ComputeTimeout.Duration,
		Platforms:      platformsOf(cfg, log),
		Logger:         log,
	}
}

// platformsOf configures the Shopify and TikTok Shop clients from [shopify]
// and [tiktok]; each shop's domain, tokens and app keys are its own.
func platformsOf(cfg config.Config, log *slog.Logger) shop.Platforms {
	return shop.Platforms{
		Shopify: shopify.Options{
			BaseURL:        cfg.Shopify.BaseURL,
			APIVersion:     cfg.Shopify.APIVersion,
			BulkAbove:      cfg.Shopify.BulkAbove,
			RequestTimeout: cfg.Shopify.RequestTimeout.Duration,
			Logger:         log,
		},
		TikTok: tiktok.Options{
			BaseURL:        cfg.TikTok.BaseURL,
			AuthBaseURL:    cfg.TikTok.AuthBaseURL,
			RequestTimeout: cfg.TikTok.RequestTimeout.Duration,
			Rate:           rate.Limit(cfg.TikTok.Rate),
			MaxRate:        rate.Limit(cfg.TikTok.MaxRate),
			Burst:          cfg.TikTok.Burst,
			Logger:         log,
		},
	}
}

// openSealer loads the credentials key (SYNCRULES_SECRET_KEY, else the
// data folder's key file) and checks that it is the key of the store's
// credentials; source says where it came from, for the log.
func openSealer(ctx context.Context, cfg config.Config, db *store.Store) (_ *secret.Sealer, source string, _ error) {
	key, source, err := secret.LoadKey(os.Getenv(secret.KeyEnv), cfg.Server.DataDir)
	if err != nil {
		return nil, "", err
	}
	sealer, err := secret.NewSealer(key)
	if err != nil {
		return nil, "", err
	}
	if err := checkKey(ctx, db, sealer, source); err != nil {
		return nil, "", err
	}
	return sealer, source, nil
}

// checkKey refuses a credentials key other than the one the store's
// credentials are sealed with: a replica with its own key file, or a lost
// or changed key, would otherwise seal new credentials that no other
// replica opens, and fail to open the old ones only when the sync needs
// them. The first start seals a known value; later starts must open it.
func checkKey(ctx context.Context, db *store.Store, sealer *secret.Sealer, source string) error {
	const name, plain = "credentials_key_check", "syncrules credentials key check"
	sealed, err := sealer.Seal([]byte(plain), []byte(name))
	if err != nil {
		return err
	}
	stored, err := db.Remember(ctx, name, sealed)
	if err != nil {
		return err
	}
	if got, err := sealer.Open(stored, []byte(name)); err != nil || string(got) != plain {
		return fmt.Errorf("the credentials key (from %s) is not the key this store's credentials are sealed with. "+
			"Every replica must use the same key: set %s to it (see README, Credentials)", source, secret.KeyEnv)
	}
	return nil
}

// checkPlugins compiles every plugin version, config-listed and uploaded,
// in the background, so that one that no longer loads is logged at start
// and the others are in the compilation cache when a request needs them.
// Requests do not wait for it: one that needs a plugin loads it.
func checkPlugins(ctx context.Context, reg *registry.Registry, log *slog.Logger) {
	start := time.Now()
	if err := reg.CheckConfigured(ctx); err != nil && ctx.Err() == nil {
		log.Error("config.toml lists plugins that do not load; requests naming them fail", "err", err)
	}
	if err := reg.CompileStored(ctx); err != nil {
		if ctx.Err() == nil {
			log.Error("stored plugins not checked", "err", err)
		}
		return
	}
	// Checking loaded and ran modules that none keeps: hand the garbage
	// back now rather than over the minutes the scavenger takes, and
	// before saying so (the footprint test measures at the log line).
	debug.FreeOSMemory()
	log.Info("plugins checked", "took", durationSince(start))
}

// tokenCreateCommand is the command that creates an admin token in this
// server's store, as the operator can paste it from the same folder.
func tokenCreateCommand(configFile string, cfg config.Config) string {
	cmd := []string{os.Args[0], "token", "create", "--scope", "admin"}
	if configFile != "" {
		cmd = append(cmd, "--config", configFile)
	}
	if cfg.Store.DSN == "" || strings.HasPrefix(cfg.Store.DSN, "sqlite:") {
		cmd = append(cmd, "--data-dir", cfg.Server.DataDir)
	}
	for i, arg := range cmd {
		cmd[i] = shellQuote(arg)
	}
	return strings.Join(cmd, " ")
}

// shellQuote quotes s for a POSIX shell unless it needs none.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
