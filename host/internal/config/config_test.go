package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The repository's config.toml documents every key with its default; if it
// drifted from Default, the documentation would lie.
func TestRepositoryConfigIsTheDefault(t *testing.T) {
	cfg, _, err := load(filepath.Join("..", "..", "..", "config.toml"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	// It lists the example plugins for make run; the rest is the default.
	var names []string
	for _, p := range cfg.Plugins {
		names = append(names, p.Name+"@"+p.Version)
	}
	if want := "buffer@1.0.0 threshold@1.0.0 cap@1.0.0 packsize@1.0.0 tags@1.0.0"; strings.Join(names, " ") != want {
		t.Errorf("config.toml lists plugins %v, want %s", names, want)
	}
	cfg.Plugins = nil
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("config.toml = %+v\nDefault() = %+v", cfg, Default())
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		check   func(Config) bool
		wantErr string
	}{
		{"empty is the default", "", func(c Config) bool { return reflect.DeepEqual(c, Default()) }, ""},
		{"overrides keep other defaults", "[server]\nlisten = \"0.0.0.0:9000\"\n[rules]\nmax_quantity = 99999",
			func(c Config) bool {
				return c.Server.Listen == "0.0.0.0:9000" && c.Rules.MaxQuantity == 99999 && c.Server.DataDir == "./data"
			}, ""},
		{"durations", "[server]\nshutdown_timeout = \"1m30s\"", func(c Config) bool { return c.Server.ShutdownTimeout.Duration == 90*time.Second }, ""},
		{"sandbox durations", "[sandbox]\ncall_timeout = \"250ms\"\nitem_timeout = \"5us\"",
			func(c Config) bool {
				return c.Sandbox.CallTimeout.Duration == 250*time.Millisecond && c.Sandbox.ItemTimeout.Duration == 5*time.Microsecond
			}, ""},
		{"plugins", "[[plugins]]\nname = \"buffer\"\nversion = \"1.0.0\"\npath = \"b.wasm\"",
			func(c Config) bool { return len(c.Plugins) == 1 && c.Plugins[0].Path == "b.wasm" }, ""},
		{"plugin without a path", "[[plugins]]\nname = \"buffer\"\nversion = \"1.0.0\"", nil, "plugins[0]: needs name, version and path"},
		{"plugin listed twice", "[[plugins]]\nname = \"b\"\nversion = \"1.0.0\"\npath = \"x\"\n[[plugins]]\nname = \"b\"\nversion = \"1.0.0\"\npath = \"y\"", nil, "plugins[1]: b 1.0.0 is already listed as plugins[0]"},
		{"sandbox memory", "[sandbox]\nmax_memory_mib = 0", nil, "sandbox.max_memory_mib: must be between 1 and 4096"},
		{"unknown key", "[server]\nlisten = \"x:1\"\nlisen = \"y\"", nil, `test.toml:3: unknown key "lisen" in [server]; did you mean "listen"?`},
		{"unknown table", "[sever]\nlisten = \"x:1\"", nil, "test.toml:1: unknown section [sever]; did you mean [server]?"},
		{"bad duration", "[server]\nshutdown_timeout = \"soon\"", nil, `"soon" is not a duration`},
		{"wrong type", "[limits]\nmax_items = \"many\"", nil, "max_items"},
		{"syntax error", "[server\nlisten = 1", nil, "At line 2, column 8"},
		{"max quantity over TikTok's", "[rules]\nmax_quantity = 1000000", nil, "rules.max_quantity: must be between 1 and 999999"},
		{"max quantity zero", "[rules]\nmax_quantity = 0", nil, "rules.max_quantity"},
		{"log level", "[server]\nlog_level = \"loud\"", nil, "server.log_level"},
		{"log format", "[server]\nlog_format = \"xml\"", nil, "server.log_format"},
		{"negative pool", "[engine]\npool_size = -1", nil, "engine.pool_size"},
		{"memory over 4 GiB", "[engine]\nmax_memory_mib = 5000", nil, "engine.max_memory_mib"},
		{"tiny body limit", "[limits]\nmax_body_bytes = 10", nil, "limits.max_body_bytes"},
		{"empty listen", "[server]\nlisten = \"\"", nil, "server.listen"},
		{"timeouts", "[server]\nread_timeout = \"5s\"\nwrite_timeout = \"7s\"\nidle_timeout = \"1m\"",
			func(c Config) bool {
				return c.Server.ReadTimeout.Duration == 5*time.Second && c.Server.WriteTimeout.Duration == 7*time.Second && c.Server.IdleTimeout.Duration == time.Minute
			}, ""},
		{"zero read timeout", "[server]\nread_timeout = \"0s\"", nil, "server.read_timeout: must be positive"},
		{"zero write timeout", "[server]\nwrite_timeout = \"0s\"", nil, "server.write_timeout: must be positive"},
		{"zero idle timeout", "[server]\nidle_timeout = \"0s\"", nil, "server.idle_timeout: must be positive"},
		{"no drain period", "[server]\ndrain_period = \"0s\"", func(c Config) bool { return c.Server.DrainPeriod.Duration == 0 }, ""},
		{"negative drain period", "[server]\ndrain_period = \"-1s\"", nil, "server.drain_period: must be 0 (no drain) or more"},
		{"rate as an integer, no limit", "[limits]\ncompute_rate = 0\ncompute_burst = 1",
			func(c Config) bool { return c.Limits.ComputeRate == 0 && c.Limits.ComputeBurst == 1 }, ""},
		{"fractional rate", "[limits]\ncompute_rate = 0.5", func(c Config) bool { return c.Limits.ComputeRate == 0.5 }, ""},
		{"negative rate", "[limits]\ncompute_rate = -1", nil, "limits.compute_rate"},
		{"zero burst", "[limits]\ncompute_burst = 0", nil, "limits.compute_burst: must be at least 1"},
		{"in-flight bytes under one body", "[limits]\ninflight_body_mib = 63", nil, "limits.inflight_body_mib: must hold at least one body"},
		{"recycle threshold at the memory limit", "[sandbox]\nmax_memory_mib = 32\nrecycle_memory_mib = 32", nil, "sandbox.recycle_memory_mib"},
		{"recycle threshold below the limit", "[sandbox]\nmax_memory_mib = 32\nrecycle_memory_mib = 8",
			func(c Config) bool { return c.Sandbox.RecycleMemoryMiB == 8 }, ""},
		{"zero compile timeout", "[sandbox]\ncompile_timeout = \"0s\"", nil, "sandbox.compile_timeout: must be positive"},
		{"tiny compile memory", "[sandbox]\ncompile_memory_mib = 16", nil, "sandbox.compile_memory_mib: must be at least 64"},
		{"zero idle timeout for plugins", "[sandbox]\nidle_timeout = \"0s\"", nil, "sandbox.idle_timeout: must be positive"},
		{"negative call budget", "[sandbox]\ninteractive_calls = -1", nil, "sandbox.interactive_calls"},
		{"negative sync budget", "[sandbox]\nsync_calls = -1", nil, "sandbox.sync_calls"},
		{"platforms pointed at fakes", "[shopify]\nbase_url = \"http://127.0.0.1:9001\"\napi_version = \"2026-07\"\n[tiktok]\nbase_url = \"http://127.0.0.1:9002\"\nauth_base_url = \"http://127.0.0.1:9002/\"",
			func(c Config) bool {
				return c.Shopify.BaseURL == "http://127.0.0.1:9001" && c.Shopify.APIVersion == "2026-07" && c.TikTok.AuthBaseURL == "http://127.0.0.1:9002/"
			}, ""},
		{"shopify api version", "[shopify]\napi_version = \"latest\"", nil, "shopify.api_version: must be a release such as"},
		{"shopify base url with a path", "[shopify]\nbase_url = \"https://x.example/admin\"", nil, "shopify.base_url"},
		{"tiktok base url not http", "[tiktok]\nbase_url = \"ftp://open-api.example\"", nil, "tiktok.base_url"},
		{"tiktok auth url with credentials", "[tiktok]\nauth_base_url = \"https://u:p@auth.example\"", nil, "tiktok.auth_base_url"},
		{"tiktok rate raised", "[tiktok]\nrate = 50.0\nburst = 20",
			func(c Config) bool { return c.TikTok.Rate == 50 && c.TikTok.Burst == 20 }, ""},
		{"tiktok rate below one a second", "[tiktok]\nrate = 0.5", func(c Config) bool { return c.TikTok.Rate == 0.5 && c.TikTok.Burst == 5 }, ""},
		{"tiktok rate zero", "[tiktok]\nrate = 0.0", nil, "tiktok.rate: must be positive"},
		{"tiktok max rate by default", "", func(c Config) bool { return c.TikTok.Rate == 10 && c.TikTok.MaxRate == 50 }, ""},
		{"tiktok max rate equal to the rate", "[tiktok]\nrate = 20.0\nmax_rate = 20.0", func(c Config) bool { return c.TikTok.MaxRate == 20 }, ""},
		{"tiktok max rate below the rate", "[tiktok]\nmax_rate = 5.0", nil, "tiktok.max_rate: must be at least tiktok.rate (10): raise it, or set it to 10"},
		{"tiktok rate above the default max rate", "[tiktok]\nrate = 60.0", nil, "tiktok.max_rate: must be at least tiktok.rate (60)"},
		{"tiktok burst zero", "[tiktok]\nburst = 0", nil, "tiktok.burst: must be at least 1"},
		{"negative bulk threshold", "[shopify]\nbulk_above = -1", nil, "shopify.bulk_above"},
		{"reconciliation", "[sync]\nreconcile_interval = \"10m\"\nraise_grace = \"0s\"",
			func(c Config) bool {
				return c.Sync.ReconcileInterval.Duration == 10*time.Minute && c.Sync.RaiseGrace.Duration == 0
			}, ""},
		{"reconciliation every second", "[sync]\nreconcile_interval = \"1s\"", nil, "sync.reconcile_interval: must be at least 1m"},
		{"negative raise grace", "[sync]\nraise_grace = \"-1m\"", nil, "sync.raise_grace: must be 0"},
		{"coalescing off", "[sync]\ncoalesce = \"0s\"", func(c Config) bool { return c.Sync.Coalesce.Duration == 0 }, ""},
		{"coalescing window", "[sync]\ncoalesce = \"300ms\"", func(c Config) bool { return c.Sync.Coalesce.Duration == 300*time.Millisecond }, ""},
		{"negative coalescing", "[sync]\ncoalesce = \"-1ms\"", nil, "sync.coalesce: must be 0 (off) up to 5s"},
		{"coalescing over the lag", "[sync]\ncoalesce = \"10s\"", nil, "sync.coalesce: must be 0 (off) up to 5s"},
		{"coalescing over the job's timeout", "[sync]\njob_timeout = \"2s\"\ncoalesce = \"1s\"", nil, "sync.coalesce: must be at most a quarter of sync.job_timeout"},
		{"negative quota", "[sandbox]\npartner_versions = -1", nil, "sandbox.partner_versions"},
		{"budgets and quotas", "[sandbox]\ninteractive_calls = 3\nsync_calls = 2\npartner_versions = 5\npartner_mib = 10\nworker_max_processes = 1",
			func(c Config) bool {
				sb := c.Sandbox
				return sb.InteractiveCalls == 3 && sb.SyncCalls == 2 && sb.PartnerVersions == 5 && sb.PartnerMiB == 10 && sb.WorkerMaxProcesses == 1
			}, ""},
		{"in-flight bytes for smaller bodies", "[limits]\nmax_body_bytes = 1048576\ninflight_body_mib = 1",
			func(c Config) bool { return c.Limits.InflightBodyMiB == 1 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("test.toml", tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse() error = %v, want it to contain %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "test.toml") {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("Parse() = %+v", cfg)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.toml")
	cfg, src, err := load(missing, false, nil)
	if err != nil || !reflect.DeepEqual(cfg, Default()) || src.File != "" {
		t.Fatalf("Load(absent, optional) = %+v, %+v, %v; want the defaults and no file", cfg, src, err)
	}
	if _, _, err := load(missing, true, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(absent, required) = %v, want a not-exist error", err)
	}
}

func TestCheckListen(t *testing.T) {
	for _, tt := range []struct {
		addr        string
		behindProxy bool
		ok          bool
	}{
		{"127.0.0.1:8080", false, true},
		{"[::1]:8080", false, true},
		{"localhost:8080", false, true},
		{"127.0.0.2:8080", false, true},
		{"0.0.0.0:8080", false, false},
		{":8080", false, false},
		{"[::]:8080", false, false},
		{"10.0.0.5:8080", false, false},
		{"example.com:8080", false, false},
		{"0.0.0.0:8080", true, true},
		{":8080", true, true},
		{"8080", true, false},
	} {
		err := CheckListen(tt.addr, tt.behindProxy)
		if (err == nil) != tt.ok {
			t.Errorf("CheckListen(%q, %t) = %v, want ok = %t", tt.addr, tt.behindProxy, err, tt.ok)
		}
		if err != nil && tt.addr != "8080" && !strings.Contains(err.Error(), "behind_proxy = true") {
			t.Errorf("CheckListen(%q) says %q; it should say how to allow it", tt.addr, err)
		}
	}
}
