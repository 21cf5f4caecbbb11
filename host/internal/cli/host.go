package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/budget"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/config"
	"github.com/syncrules/syncrules/host/internal/metrics"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/store"
)

// host is the assembled service: the default rule in a trusted engine,
// plugins in a sandboxed one, the registry and the compute service.
type host struct {
	trusted, sandbox *engine.Engine
	defaultRule      *engine.Module
	source           string // where the default rule came from
	registry         *registry.Registry
	metrics          *metrics.Metrics
	svc              *compute.Service
}

// openHost builds the service from cfg. configDir resolves the relative
// paths of config-listed plugins; cacheDir keeps compiled modules; db, if
// not nil, holds uploaded plugins and the shops whose settings keep plugin
// versions in use.
func openHost(ctx context.Context, cfg config.Config, configDir, cacheDir string, db *store.Store, log *slog.Logger) (_ *host, err error) {
	h := &host{}
	defer func() {
		if err != nil {
			h.close(context.WithoutCancel(ctx))
		}
	}()
	h.metrics = metrics.New(func() []engine.PoolStats {
		var out []engine.PoolStats
		for _, e := range []*engine.Engine{h.trusted, h.sandbox} {
			if e != nil {
				out = append(out, e.PoolStats()...)
			}
		}
		return out
	})
	// The default rule compiles (or loads from the cache) while the
	// plugins are listed: a start waits for the slower, not for both.
	var g errgroup.Group
	g.Go(func() error {
		start := time.Now()
		var err error
		if h.trusted, h.defaultRule, h.source, err = loadDefaultRule(ctx, cfg, cacheDir, h.metrics); err != nil {
			return err
		}
		log.Info("default rule loaded", "source", h.source, "sha256", h.defaultRule.SHA256(),
			"abi_version", h.defaultRule.ABIVersion(), "took", durationSince(start), "cached", h.defaultRule.CompileInfo().Cached)
		return nil
	})
	g.Go(func() error { return h.openPlugins(ctx, cfg, configDir, cacheDir, db, log) })
	if err := g.Wait(); err != nil {
		return nil, err
	}

	sb := cfg.Sandbox
	h.svc, err = compute.NewService(h.defaultRule, limitsOf(cfg), cfg.Rules.MaxQuantity)
	if err != nil {
		return nil, err
	}
	h.svc.WithPlugins(h.registry, sb.LogBytes, log)
	interactive, sync := sb.InteractiveCalls, sb.SyncCalls
	if interactive == 0 {
		interactive = budget.DefaultInteractive()
	}
	if sync == 0 {
		sync = budget.DefaultSync()
	}
	h.svc.WithBudgets(budget.New(interactive), budget.New(sync))
	return h, nil
}

// openPlugins starts the sandboxed engine and lists the config's plugins,
// and those of the store if db is not nil.
func (h *host) openPlugins(ctx context.Context, cfg config.Config, configDir, cacheDir string, db *store.Store, log *slog.Logger) error {
	sb := cfg.Sandbox
	sandboxCfg := sb.EngineConfig()
	sandboxCfg.CacheDir, sandboxCfg.Observer = cacheDir, h.metrics
	var err error
	if h.sandbox, err = engine.New(ctx, sandboxCfg); err != nil {
		return err
	}
	start := time.Now()
	ropt := registry.Options{
		MaxModuleBytes: sb.MaxModuleMiB << 20,
		IdleTimeout:    sb.IdleTimeout.Duration,
		Forget:         h.metrics.Forget,
		Logger:         log,
	}
	if db != nil {
		ropt.Store, ropt.LegacyDir = db, filepath.Join(cfg.Server.DataDir, "plugins")
	}
	if h.registry, err = registry.Open(ctx, h.sandbox, ropt); err != nil {
		return err
	}
	for i, p := range cfg.Plugins {
		path := p.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(configDir, path)
		}
		if _, err := h.registry.Register(ctx, p.Name, p.Version, path); err != nil {
			hint := ""
			if errors.Is(err, fs.ErrNotExist) {
				hint = " (run \"make build\" to build the example plugins)"
			}
			return fmt.Errorf("plugins[%d] %s %s: %w%s", i, p.Name, p.Version, err, hint)
		}
	}
	log.Debug("plugins listed", "versions", len(cfg.Plugins), "took", durationSince(start))
	return nil
}

func (h *host) close(ctx context.Context) {
	if h.registry != nil {
		h.registry.Close(ctx)
	}
	for _, e := range []*engine.Engine{h.sandbox, h.trusted} {
		if e != nil {
			e.Close(ctx)
		}
	}
}
