package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/syncrules/syncrules/host/internal/config"
	"github.com/syncrules/syncrules/host/internal/httpapi"
)

func serve(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "serve", "[--config FILE] [--listen ADDR] [--data-dir DIR]",
		"Run the HTTP API until SIGINT or SIGTERM, then drain requests in flight and stop.")
	configPath := fs.String("config", "config.toml", "configuration `file`; the default may be absent")
	listen := fs.String("listen", "", "address to listen on (default from config: 127.0.0.1:8080)")
	dataDir := fs.String("data-dir", "", "data `directory` for the compilation cache (default from config: ./data)")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, *configPath)
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
	if err := os.MkdirAll(cfg.Server.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}

	h, err := openHost(ctx, cfg, filepath.Dir(*configPath), log)
	if err != nil {
		return err
	}
	defer h.close(context.WithoutCancel(ctx))
	api := httpapi.New(httpapi.Options{
		Compute:        h.svc,
		DefaultRule:    httpapi.DefaultRule{SHA256: h.defaultRule.SHA256(), ABIVersion: h.defaultRule.ABIVersion()},
		ComputeTimeout: cfg.Server.ComputeTimeout.Duration,
		Logger:         log,
		Version:        version,
		Plugins:        h.registry,
		MaxModuleBytes: cfg.Sandbox.MaxModuleMiB << 20,
		Metrics:        h.metrics,
	})
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", "http://"+ln.Addr().String(), "data_dir", cfg.Server.DataDir, "version", version)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout.Duration)
	api.Drain()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout.Duration)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
