// Package config loads the service's TOML configuration. It is the only
// package that imports the TOML library. Every key is optional; an unknown
// key is an error, so a typo never silently leaves a default in place.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration.
type Config struct {
	Server  Server   `toml:"server"`
	Limits  Limits   `toml:"limits"`
	Rules   Rules    `toml:"rules"`
	Engine  Engine   `toml:"engine"`
	Sandbox Sandbox  `toml:"sandbox"`
	Store   Store    `toml:"store"`
	Shopify Shopify  `toml:"shopify"`
	TikTok  TikTok   `toml:"tiktok"`
	Sync    Sync     `toml:"sync"`
	Plugins []Plugin `toml:"plugins"`
}

// Shopify configures the Shopify Admin API client.
type Shopify struct {
	// APIVersion is the Admin API version the client speaks.
	APIVersion string `toml:"api_version"`
	// BaseURL is the Admin API's origin; "" is https://{shopify_domain}.
	// Tests and the demo point it at the fake.
	BaseURL string `toml:"base_url"`
	// BulkAbove: a catalog with more variants than this is read with a
	// bulk operation rather than page by page.
	BulkAbove      int      `toml:"bulk_above"`
	RequestTimeout Duration `toml:"request_timeout"`
}

// TikTok configures the TikTok Shop Open API client.
type TikTok struct {
	BaseURL        string   `toml:"base_url"`
	AuthBaseURL    string   `toml:"auth_base_url"`
	RequestTimeout Duration `toml:"request_timeout"`
	// Rate is the requests a second each shop starts at; while the shop
	// has more to send the rate climbs, up to MaxRate, until TikTok
	// answers 429 (the client halves it then). Burst is how many may go
	// at once. TikTok does not publish its per-shop limits.
	Rate    float64 `toml:"rate"`
	MaxRate float64 `toml:"max_rate"`
	Burst   int     `toml:"burst"`
}

// Sync configures the connector's background work: the job queue that
// publishes each shop's changes to TikTok Shop.
type Sync struct {
	// Workers is how many shops' jobs each queue runs at once in this
	// process.
	Workers int `toml:"workers"`
	// JobTimeout cancels a shop's job that runs longer; the job is
	// retried.
	JobTimeout Duration `toml:"job_timeout"`
	// HistoryDays is how long the sync history is kept: a cleanup job
	// deletes older entries (and webhook receipts older than a week).
	HistoryDays int `toml:"history_days"`
	// ReconcileInterval is how often each connected shop's TikTok
	// quantities are read back and repaired, each shop at its own time
	// within the interval.
	ReconcileInterval Duration `toml:"reconcile_interval"`
	// RaiseGrace is how long a TikTok quantity read back below the rule's
	// must stay below before a reconciliation raises it: TikTok lowers its
	// stock for an order before Shopify hears of it.
	RaiseGrace Duration `toml:"raise_grace"`
	// Coalesce is how long a shop's job lets a burst of webhooks gather
	// before it reads their items from Shopify: it takes them once the
	// oldest was received this long ago. 0 takes them at once.
	Coalesce Duration `toml:"coalesce"`
}

// Store chooses the database of shops, settings, tokens and credentials.
type Store struct {
	// DSN is empty for SQLite in the data directory, or a PostgreSQL URL
	// (postgres://…). SYNCRULES_DB overrides it, so that a password need
	// not be written in the file.
	DSN string `toml:"dsn"`
}

// DSNEnv names the environment variable that overrides store.dsn.
const DSNEnv = "SYNCRULES_DB"

// Server configures the HTTP server and the process.
type Server struct {
	Listen          string   `toml:"listen"`
	DataDir         string   `toml:"data_dir"`
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// DrainPeriod is how long SIGINT/SIGTERM keeps serving, /healthz and
	// /readyz answering 503, before the listener closes: a load balancer
	// sees the replica leave and stops sending it requests. 0: none.
	DrainPeriod    Duration `toml:"drain_period"`
	ComputeTimeout Duration `toml:"compute_timeout"`
	// ReadTimeout bounds reading a request's body (and its headers, at
	// most 10 s of it); WriteTimeout bounds writing an answer, from its
	// first byte; IdleTimeout bounds a kept-alive connection between
	// requests.
	ReadTimeout  Duration `toml:"read_timeout"`
	WriteTimeout Duration `toml:"write_timeout"`
	IdleTimeout  Duration `toml:"idle_timeout"`
	LogLevel     string   `toml:"log_level"`
	LogFormat    string   `toml:"log_format"`
	// BehindProxy states that a proxy terminates TLS in front of the
	// server, which lets it listen beyond loopback.
	BehindProxy bool `toml:"behind_proxy"`
}

// Limits bound a compute request, and what clients together may cost.
type Limits struct {
	MaxBodyBytes  int64 `toml:"max_body_bytes"`
	MaxItems      int   `toml:"max_items"`
	MaxLocations  int   `toml:"max_locations"`
	MaxWarehouses int   `toml:"max_warehouses"`
	MaxCells      int   `toml:"max_cells"`
	// InflightBodyMiB bounds the body bytes all requests in flight hold.
	InflightBodyMiB int `toml:"inflight_body_mib"`
	// ComputeRate is computes a second per token, in bursts of
	// ComputeBurst; 0 is no limit.
	ComputeRate  float64 `toml:"compute_rate"`
	ComputeBurst int     `toml:"compute_burst"`
}

// Rules configures the rules.
type Rules struct {
	// MaxQuantity is max_quantity for requests that do not set it.
	MaxQuantity int `toml:"max_quantity"`
	// DefaultModule is a path to a default rule module to run instead of
	// the one built into the binary.
	DefaultModule string `toml:"default_module"`
}

// Engine configures the WebAssembly engine.
type Engine struct {
	PoolSize         int `toml:"pool_size"`
	MaxMemoryMiB     int `toml:"max_memory_mib"`
	RecycleMemoryMiB int `toml:"recycle_memory_mib"`
}

// Sandbox bounds the plugins partners upload, which run as untrusted code.
type Sandbox struct {
	MaxModuleMiB int      `toml:"max_module_mib"`
	MaxMemoryMiB int      `toml:"max_memory_mib"`
	CallTimeout  Duration `toml:"call_timeout"`
	ItemTimeout  Duration `toml:"item_timeout"`
	InitTimeout  Duration `toml:"init_timeout"`
	// CompileTimeout and CompileMemoryMiB bound a module's compilation.
	CompileTimeout   Duration `toml:"compile_timeout"`
	CompileMemoryMiB int      `toml:"compile_memory_mib"`
	MaxOutputMiB     int      `toml:"max_output_mib"`
	// RecycleMemoryMiB replaces an instance whose memory grew past it.
	RecycleMemoryMiB int `toml:"recycle_memory_mib"`
	LogBytes         int `toml:"log_bytes"`
	MaxRules         int `toml:"max_rules"`
	PoolSize         int `toml:"pool_size"`
	RecycleCalls     int `toml:"recycle_calls"`
	// WorkerMinItems sends batches of at least this many items to worker
	// processes; 0 keeps every call in process.
	WorkerMinItems int `toml:"worker_min_items"`
	// WorkerMaxProcesses bounds the worker processes of all plugins; 0 is
	// twice GOMAXPROCS.
	WorkerMaxProcesses int `toml:"worker_max_processes"`
	// PartnerVersions and PartnerMiB bound what one partner stores; 0 is
	// no bound.
	PartnerVersions int `toml:"partner_versions"`
	PartnerMiB      int `toml:"partner_mib"`
	// IdleTimeout unloads a plugin version, its instances and worker
	// processes when no request used it for this long.
	IdleTimeout Duration `toml:"idle_timeout"`
	// InteractiveCalls and SyncCalls bound the plugin calls running at
	// once for API calls and for syncs, each budget shared fairly between
	// shops; 0 is GOMAXPROCS - 1 (at least 1).
	InteractiveCalls int `toml:"interactive_calls"`
	SyncCalls        int `toml:"sync_calls"`
}

// Plugin is a plugin module installed from a file at start-up.
type Plugin struct {
	Name    string `toml:"name"`
	Version string `toml:"version"`
	Path    string `toml:"path"`
}

// CheckListen refuses an address beyond loopback unless a TLS-terminating
// proxy is stated: merchants' secrets must not cross a network in clear
// text by accident.
func CheckListen(addr string, behindProxy bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("server.listen: %q is not host:port: %v", addr, err)
	}
	if behindProxy || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	where := host
	if host == "" {
		where = "every interface"
	}
	return fmt.Errorf("server.listen: refusing to listen on %s (%s) without TLS: requests would cross the network in clear text. "+
		"Put a TLS-terminating proxy in front and set [server] behind_proxy = true, or listen on 127.0.0.1", addr, where)
}

// Duration is a time.Duration written as a string such as "15s".
type Duration struct{ time.Duration }

// UnmarshalText parses a duration such as "15s" or "1m30s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"15s\"", b)
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the configuration used when a key is not set.
func Default() Config {
	return Config{
		Server: Server{
			Listen:          "127.0.0.1:8080",
			DataDir:         "./data",
			ShutdownTimeout: Duration{15 * time.Second},
			DrainPeriod:     Duration{5 * time.Second},
			ComputeTimeout:  Duration{30 * time.Second},
			ReadTimeout:     Duration{30 * time.Second},
			WriteTimeout:    Duration{30 * time.Second},
			IdleTimeout:     Duration{2 * time.Minute},
			LogLevel:        "info",
			LogFormat:       "text",
		},
		Limits: Limits{
			MaxBodyBytes:  64 << 20,
			MaxItems:      100_000,
			MaxLocations:  10_000,
			MaxWarehouses: 10_000,
			MaxCells:      20_000_000,
			// Four bodies of the largest size.
			InflightBodyMiB: 256,
			ComputeRate:     50,
			ComputeBurst:    100,
		},
		Rules: Rules{MaxQuantity: 999_999},
		Shopify: Shopify{
			APIVersion:     "2026-10",
			BulkAbove:      250,
			RequestTimeout: Duration{30 * time.Second},
		},
		TikTok: TikTok{
			BaseURL:        "https://open-api.tiktokglobalshop.com",
			AuthBaseURL:    "https://auth.tiktok-shops.com",
			RequestTimeout: Duration{30 * time.Second},
			Rate:           10,
			MaxRate:        50,
			Burst:          5,
		},
		Sync: Sync{Workers: 10, JobTimeout: Duration{time.Minute}, HistoryDays: 90,
			ReconcileInterval: Duration{time.Hour}, RaiseGrace: Duration{15 * time.Minute}, Coalesce: Duration{100 * time.Millisecond}},
		Engine: Engine{MaxMemoryMiB: 1024, RecycleMemoryMiB: 64},
		// The limits on each plugin are the engine's defaults, which
		// sdktest.Check applies too (sandbox.go); these are the server's.
		Sandbox: withEngineDefaults(Sandbox{
			MaxRules: 8,
			// 50 versions of a typical 3-4 MB Go module are 200 MB.
			PartnerVersions: 50,
			PartnerMiB:      256,
		}),
	}
}

// Source says where a configuration came from, for the log. It holds no
// value: some are secrets.
type Source struct {
	// File is the file that was read, as an absolute path; "" when there
	// was none and the defaults apply.
	File string
	// Env names the environment variables that set keys, in the order of
	// the keys.
	Env []string
	// Warnings are about SYNCRULES_ variables that set nothing, such as a
	// misspelt name; the caller logs them.
	Warnings []string
}

// Load returns the configuration: the defaults, then the file at path over
// them, then the environment (SYNCRULES_<SECTION>_<KEY>) over that. If the
// file does not exist and required is false, there is no file. Command-line
// flags are the caller's, over all of these.
func Load(path string, required bool) (Config, Source, error) {
	return load(path, required, environMap(os.Environ()))
}

func load(path string, required bool, env map[string]string) (Config, Source, error) {
	cfg, src := Default(), Source{}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !required:
	case err != nil:
		return cfg, src, fmt.Errorf("config: %w", err)
	default:
		if err := decode(path, string(b), &cfg); err != nil {
			return cfg, src, err
		}
		if src.File, err = filepath.Abs(path); err != nil {
			src.File = path
		}
	}
	if src.Env, err = applyEnv(&cfg, env); err != nil {
		return cfg, src, fmt.Errorf("config: %w", err)
	}
	src.Warnings = unknownEnv(env)
	if err := cfg.Validate(); err != nil {
		// Name where the wrong value came from: a variable or the file.
		var ie *invalidError
		if errors.As(err, &ie) {
			for _, v := range envVars() {
				if v.Key == ie.Key && (slices.Contains(src.Env, v.Name) || slices.Contains(src.Env, v.Alias)) {
					return cfg, src, fmt.Errorf("config: %s, set in the environment: %s", ie.Key, ie.Msg)
				}
			}
		}
		if src.File == "" {
			return cfg, src, fmt.Errorf("config: %w", err)
		}
		return cfg, src, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, src, nil
}

// Parse reads TOML text over the defaults, without the environment; name
// is used in errors.
func Parse(name, text string) (Config, error) {
	cfg := Default()
	if err := decode(name, text, &cfg); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", name, err)
	}
	return cfg, nil
}

// decode reads TOML text over cfg; name is used in errors. A key no field
// reads is an error, with its line and the key likely meant.
func decode(name, text string, cfg *Config) error {
	md, err := toml.Decode(text, cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("config %s: %s", name, strings.TrimSpace(pe.ErrorWithPosition()))
		}
		return fmt.Errorf("config %s: %w", name, err)
	}
	return unknownKeys(name, text, md)
}

// invalidError is a value Validate refuses.
type invalidError struct{ Key, Msg string }

func (e *invalidError) Error() string { return e.Key + ": " + e.Msg }

// Validate checks every value and names the first key that is wrong.
func (c Config) Validate() error {
	type check struct {
		bad bool
		key string
		msg string
	}
	for _, ch := range []check{
		{c.Server.Listen == "", "server.listen", "must be an address such as \"127.0.0.1:8080\""},
		{c.Server.DataDir == "", "server.data_dir", "must be a directory"},
		{c.Server.ShutdownTimeout.Duration <= 0, "server.shutdown_timeout", "must be positive"},
		{c.Server.DrainPeriod.Duration < 0, "server.drain_period", "must be 0 (no drain) or more"},
		{c.Server.ComputeTimeout.Duration <= 0, "server.compute_timeout", "must be positive"},
		{c.Server.ReadTimeout.Duration <= 0, "server.read_timeout", "must be positive"},
		{c.Server.WriteTimeout.Duration <= 0, "server.write_timeout", "must be positive"},
		{c.Server.IdleTimeout.Duration <= 0, "server.idle_timeout", "must be positive"},
		{!slices.Contains([]string{"debug", "info", "warn", "error"}, c.Server.LogLevel), "server.log_level", "must be debug, info, warn or error"},
		{!slices.Contains([]string{"text", "json"}, c.Server.LogFormat), "server.log_format", "must be text or json"},
		{c.Limits.MaxBodyBytes < 1024, "limits.max_body_bytes", "must be at least 1024"},
		{c.Limits.MaxItems < 1, "limits.max_items", "must be at least 1"},
		{c.Limits.MaxLocations < 1, "limits.max_locations", "must be at least 1"},
		{c.Limits.MaxWarehouses < 1, "limits.max_warehouses", "must be at least 1"},
		{c.Limits.MaxCells < 1, "limits.max_cells", "must be at least 1"},
		{int64(c.Limits.InflightBodyMiB)<<20 < c.Limits.MaxBodyBytes, "limits.inflight_body_mib", "must hold at least one body of max_body_bytes"},
		{c.Limits.ComputeRate < 0 || math.IsNaN(c.Limits.ComputeRate) || math.IsInf(c.Limits.ComputeRate, 0), "limits.compute_rate", "must be 0 (no limit) or more"},
		{c.Limits.ComputeBurst < 1, "limits.compute_burst", "must be at least 1"},
		{c.Rules.MaxQuantity < 1 || c.Rules.MaxQuantity > 999_999, "rules.max_quantity", "must be between 1 and 999999"},
		{c.Engine.PoolSize < 0, "engine.pool_size", "must be 0 (GOMAXPROCS) or more"},
		{c.Engine.MaxMemoryMiB < 1 || c.Engine.MaxMemoryMiB > 4096, "engine.max_memory_mib", "must be between 1 and 4096"},
		{c.Engine.RecycleMemoryMiB < 1, "engine.recycle_memory_mib", "must be at least 1"},
		{c.Sandbox.MaxModuleMiB < 1 || c.Sandbox.MaxModuleMiB > 256, "sandbox.max_module_mib", "must be between 1 and 256"},
		{c.Sandbox.MaxMemoryMiB < 1 || c.Sandbox.MaxMemoryMiB > 4096, "sandbox.max_memory_mib", "must be between 1 and 4096"},
		{c.Sandbox.CallTimeout.Duration <= 0, "sandbox.call_timeout", "must be positive"},
		{c.Sandbox.ItemTimeout.Duration < 0, "sandbox.item_timeout", "must be 0 or more"},
		{c.Sandbox.InitTimeout.Duration <= 0, "sandbox.init_timeout", "must be positive"},
		{c.Sandbox.CompileTimeout.Duration <= 0, "sandbox.compile_timeout", "must be positive"},
		{c.Sandbox.CompileMemoryMiB < 64, "sandbox.compile_memory_mib", "must be at least 64"},
		{c.Sandbox.MaxOutputMiB < 1 || c.Sandbox.MaxOutputMiB > 1024, "sandbox.max_output_mib", "must be between 1 and 1024"},
		{c.Sandbox.LogBytes < 0 || c.Sandbox.LogBytes > 1<<20, "sandbox.log_bytes", "must be between 0 and 1048576"},
		{c.Sandbox.MaxRules < 0 || c.Sandbox.MaxRules > 64, "sandbox.max_rules", "must be between 0 (no plugins) and 64"},
		{c.Sandbox.PoolSize < 0, "sandbox.pool_size", "must be 0 (GOMAXPROCS) or more"},
		{c.Sandbox.RecycleCalls < 1, "sandbox.recycle_calls", "must be at least 1"},
		{c.Sandbox.RecycleMemoryMiB < 1 || c.Sandbox.RecycleMemoryMiB >= c.Sandbox.MaxMemoryMiB, "sandbox.recycle_memory_mib",
			fmt.Sprintf("must be at least 1 and below max_memory_mib (%d)", c.Sandbox.MaxMemoryMiB)},
		{c.Sandbox.WorkerMinItems < 0, "sandbox.worker_min_items", "must be 0 (no workers) or more"},
		{c.Sandbox.WorkerMaxProcesses < 0, "sandbox.worker_max_processes", "must be 0 (twice GOMAXPROCS) or more"},
		{c.Sandbox.PartnerVersions < 0, "sandbox.partner_versions", "must be 0 (no bound) or more"},
		{c.Sandbox.PartnerMiB < 0, "sandbox.partner_mib", "must be 0 (no bound) or more"},
		{c.Sandbox.IdleTimeout.Duration <= 0, "sandbox.idle_timeout", "must be positive"},
		{c.Sandbox.InteractiveCalls < 0, "sandbox.interactive_calls", "must be 0 (GOMAXPROCS - 1) or more"},
		{c.Sandbox.SyncCalls < 0, "sandbox.sync_calls", "must be 0 (GOMAXPROCS - 1) or more"},
		{!apiVersion.MatchString(c.Shopify.APIVersion), "shopify.api_version", "must be a release such as \"2026-10\""},
		{c.Shopify.BaseURL != "" && !isOrigin(c.Shopify.BaseURL), "shopify.base_url", "must be \"\" (https://{shopify_domain}) or an origin such as \"http://127.0.0.1:9001\""},
		{c.Shopify.BulkAbove < 0, "shopify.bulk_above", "must be 0 (always bulk) or more"},
		{c.Shopify.RequestTimeout.Duration <= 0, "shopify.request_timeout", "must be positive"},
		{!isOrigin(c.TikTok.BaseURL), "tiktok.base_url", "must be an origin such as \"https://open-api.tiktokglobalshop.com\""},
		{!isOrigin(c.TikTok.AuthBaseURL), "tiktok.auth_base_url", "must be an origin such as \"https://auth.tiktok-shops.com\""},
		{c.TikTok.RequestTimeout.Duration <= 0, "tiktok.request_timeout", "must be positive"},
		{!(c.TikTok.Rate > 0), "tiktok.rate", "must be positive (requests a second per shop)"},
		{!(c.TikTok.MaxRate >= c.TikTok.Rate) || math.IsInf(c.TikTok.MaxRate, 0), "tiktok.max_rate",
			fmt.Sprintf("must be at least tiktok.rate (%g): raise it, or set it to %g to keep the rate from climbing", c.TikTok.Rate, c.TikTok.Rate)},
		{c.TikTok.Burst < 1, "tiktok.burst", "must be at least 1"},
		{c.Sync.Workers < 1, "sync.workers", "must be at least 1"},
		{c.Sync.JobTimeout.Duration <= 0, "sync.job_timeout", "must be positive"},
		{c.Sync.HistoryDays < 1, "sync.history_days", "must be at least 1"},
		{c.Sync.ReconcileInterval.Duration < time.Minute, "sync.reconcile_interval", "must be at least 1m: each shop's reconciliation reads its whole catalog back"},
		{c.Sync.RaiseGrace.Duration < 0, "sync.raise_grace", "must be 0 (raise at the next reconciliation) or more"},
		{c.Sync.Coalesce.Duration < 0 || c.Sync.Coalesce.Duration > 5*time.Second, "sync.coalesce",
			"must be 0 (off) up to 5s: every webhook's change waits up to this long before it is read, and the target is TikTok within 1 s"},
		{c.Sync.Coalesce.Duration > c.Sync.JobTimeout.Duration/4, "sync.coalesce", "must be at most a quarter of sync.job_timeout: a shop's job waits it out within its timeout"},
	} {
		if ch.bad {
			return &invalidError{Key: ch.key, Msg: ch.msg}
		}
	}
	seen := map[[2]string]int{}
	for i, p := range c.Plugins {
		key := fmt.Sprintf("plugins[%d]", i)
		switch {
		case p.Name == "" || p.Version == "" || p.Path == "":
			return fmt.Errorf("%s: needs name, version and path", key)
		}
		if j, dup := seen[[2]string{p.Name, p.Version}]; dup {
			return fmt.Errorf("%s: %s %s is already listed as plugins[%d]", key, p.Name, p.Version, j)
		}
		seen[[2]string{p.Name, p.Version}] = i
	}
	return nil
}

var apiVersion = regexp.MustCompile(`^20[0-9]{2}-(01|04|07|10)$`)

// isOrigin reports whether s is an http or https origin with no path,
// query or credentials.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.User == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == ""
}
