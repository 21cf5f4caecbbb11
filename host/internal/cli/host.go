package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

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
// paths of config-listed plugins; cacheDir keeps compiled modules; db, if not nil, holds the shops whose
// settings keep plugin versions in use.
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
	start := time.Now()
	if h.trusted, h.defaultRule, h.source, err = loadDefaultRule(ctx, cfg, cacheDir, h.metrics); err != nil {
		return nil, err
	}
	log.Info("default rule loaded", "source", h.source, "sha256", h.defaultRule.SHA256(),
		"abi_version", h.defaultRule.ABIVersion(), "took", durationSince(start), "cached", h.defaultRule.CompileInfo().Cached)

	sb := cfg.Sandbox
	sandboxCfg := sb.EngineConfig()
	sandboxCfg.CacheDir, sandboxCfg.Observer = cacheDir, h.metrics
	h.sandbox, err = engine.New(ctx, sandboxCfg)
	if err != nil {
		return nil, err
	}
	start = time.Now()
	ropt := registry.Options{
		MaxModuleBytes: sb.MaxModuleMiB << 20,
		IdleTimeout:    sb.IdleTimeout.Duration,
		Forget:         h.metrics.Forget,
		Logger:         log,
	}
	if db != nil {
		ropt.Store, ropt.LegacyDir = db, filepath.Join(cfg.Server.DataDir, "plugins")
	}
	h.registry, err = registry.Open(ctx, h.sandbox, ropt)
	if err != nil {
		return nil, err
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
			return nil, fmt.Errorf("plugins[%d] %s %s: %w%s", i, p.Name, p.Version, err, hint)
		}
	}
	log.Debug("plugins listed", "versions", len(cfg.Plugins), "took", durationSince(start))

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
