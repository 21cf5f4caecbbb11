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
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/config"
	"github.com/syncrules/syncrules/host/internal/metrics"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/store"
)

// shopsUsing lists the shops whose settings name a plugin version, so that
// the registry does not delete it from under them. When the store cannot
// say, the version counts as in use.
func shopsUsing(db *store.Store, log *slog.Logger) func(name, version string) []string {
	if db == nil {
		return nil // no shops: a command that computes one request file
	}
	return func(name, version string) []string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shops, err := db.PluginUsers(ctx, name, version)
		if err != nil {
			log.Error("cannot tell which shops use a plugin version", "plugin", name, "version", version, "err", err)
			return []string{"shops the store cannot list right now (" + err.Error() + ")"}
		}
		for i, s := range shops {
			shops[i] = "shop " + s
		}
		return shops
	}
}

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
// paths of config-listed plugins; db, if not nil, holds the shops whose
// settings keep plugin versions in use.
func openHost(ctx context.Context, cfg config.Config, configDir string, db *store.Store, log *slog.Logger) (_ *host, err error) {
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
	if h.trusted, h.defaultRule, h.source, err = loadDefaultRule(ctx, cfg, h.metrics); err != nil {
		return nil, err
	}
	log.Info("default rule loaded", "source", h.source, "sha256", h.defaultRule.SHA256(),
		"abi_version", h.defaultRule.ABIVersion(), "took", durationSince(start))

	sb := cfg.Sandbox
	h.sandbox, err = engine.New(ctx, engine.Config{
		CacheDir:           filepath.Join(cfg.Server.DataDir, "cache"),
		MaxMemoryBytes:     uint64(sb.MaxMemoryMiB) << 20,
		RecycleMemoryBytes: uint64(sb.MaxMemoryMiB) << 20,
		RecycleCalls:       sb.RecycleCalls,
		PoolSize:           sb.PoolSize,
		LogBytes:           sb.LogBytes,
		MaxOutputBytes:     sb.MaxOutputMiB << 20,
		Sandboxed:          true,
		CallTimeout:        sb.CallTimeout.Duration,
		ItemTimeout:        sb.ItemTimeout.Duration,
		InitTimeout:        sb.InitTimeout.Duration,
		Worker:             engine.WorkerConfig{MinItems: sb.WorkerMinItems},
		Observer:           h.metrics,
	})
	if err != nil {
		return nil, err
	}
	start = time.Now()
	h.registry, err = registry.Open(ctx, h.sandbox, registry.Options{
		Dir:            filepath.Join(cfg.Server.DataDir, "plugins"),
		MaxModuleBytes: sb.MaxModuleMiB << 20,
		Forget:         h.metrics.Forget,
		Logger:         log,
		InUse:          shopsUsing(db, log),
	})
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
	log.Info("plugins loaded", "versions", len(h.registry.List()), "took", durationSince(start))

	h.svc, err = compute.NewService(h.defaultRule, limitsOf(cfg), cfg.Rules.MaxQuantity)
	if err != nil {
		return nil, err
	}
	h.svc.WithPlugins(h.registry, sb.LogBytes, log)
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
