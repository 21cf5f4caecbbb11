package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The repository's config.toml documents every key with its default; if it
// drifted from Default, the documentation would lie.
func TestRepositoryConfigIsTheDefault(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "..", "config.toml"), true)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != Default() {
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
		{"empty is the default", "", func(c Config) bool { return c == Default() }, ""},
		{"overrides keep other defaults", "[server]\nlisten = \"0.0.0.0:9000\"\n[rules]\nmax_quantity = 99999",
			func(c Config) bool {
				return c.Server.Listen == "0.0.0.0:9000" && c.Rules.MaxQuantity == 99999 && c.Server.DataDir == "./data"
			}, ""},
		{"durations", "[server]\nshutdown_timeout = \"1m30s\"", func(c Config) bool { return c.Server.ShutdownTimeout.Duration == 90*time.Second }, ""},
		{"unknown key", "[server]\nlisten = \"x:1\"\nlisen = \"y\"", nil, "unknown key server.lisen"},
		{"unknown table", "[sever]\nlisten = \"x:1\"", nil, "unknown key sever"},
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
	cfg, err := Load(missing, false)
	if err != nil || cfg != Default() {
		t.Fatalf("Load(absent, optional) = %+v, %v; want the defaults", cfg, err)
	}
	if _, err := Load(missing, true); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(absent, required) = %v, want a not-exist error", err)
	}
}
