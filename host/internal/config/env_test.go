package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func TestEnv(t *testing.T) {
	tests := []struct {
		name    string
		file    string // config.toml's text; "" for no file
		env     map[string]string
		check   func(Config) bool
		wantSet []string
		wantErr string
	}{
		{name: "a string", env: map[string]string{"SYNCRULES_SERVER_LISTEN": "127.0.0.1:9999"},
			check: func(c Config) bool { return c.Server.Listen == "127.0.0.1:9999" }, wantSet: []string{"SYNCRULES_SERVER_LISTEN"}},
		{name: "a bool", env: map[string]string{"SYNCRULES_SERVER_BEHIND_PROXY": "true"},
			check: func(c Config) bool { return c.Server.BehindProxy }, wantSet: []string{"SYNCRULES_SERVER_BEHIND_PROXY"}},
		{name: "a bool as TOML writes it, not 1", env: map[string]string{"SYNCRULES_SERVER_BEHIND_PROXY": "1"},
			wantErr: `SYNCRULES_SERVER_BEHIND_PROXY: "1" is not true or false (server.behind_proxy)`},
		{name: "a duration", env: map[string]string{"SYNCRULES_SANDBOX_CALL_TIMEOUT": "250ms"},
			check: func(c Config) bool { return c.Sandbox.CallTimeout.Duration == 250*time.Millisecond }},
		{name: "a bad duration", env: map[string]string{"SYNCRULES_SANDBOX_CALL_TIMEOUT": "soon"},
			wantErr: `SYNCRULES_SANDBOX_CALL_TIMEOUT: "soon" is not a duration such as "15s" or "100ms" (sandbox.call_timeout)`},
		{name: "an integer", env: map[string]string{"SYNCRULES_LIMITS_MAX_ITEMS": "5"},
			check: func(c Config) bool { return c.Limits.MaxItems == 5 }},
		{name: "an integer with TOML's separators", env: map[string]string{"SYNCRULES_LIMITS_MAX_ITEMS": "1_000"},
			check: func(c Config) bool { return c.Limits.MaxItems == 1000 }},
		{name: "a fraction for an integer", env: map[string]string{"SYNCRULES_LIMITS_MAX_ITEMS": "5.5"},
			wantErr: `SYNCRULES_LIMITS_MAX_ITEMS: "5.5" is not an integer in range (limits.max_items)`},
		{name: "a comment after the value", env: map[string]string{"SYNCRULES_LIMITS_MAX_ITEMS": "5 # five"},
			wantErr: "SYNCRULES_LIMITS_MAX_ITEMS"},
		{name: "a second key after the value", env: map[string]string{"SYNCRULES_LIMITS_MAX_ITEMS": "5\nmax_cells = 1"},
			wantErr: "SYNCRULES_LIMITS_MAX_ITEMS"},
		{name: "an int64 out of range", env: map[string]string{"SYNCRULES_LIMITS_MAX_BODY_BYTES": "99999999999999999999"},
			wantErr: "SYNCRULES_LIMITS_MAX_BODY_BYTES"},
		{name: "a float", env: map[string]string{"SYNCRULES_LIMITS_COMPUTE_RATE": "0.5"},
			check: func(c Config) bool { return c.Limits.ComputeRate == 0.5 }},
		{name: "an empty variable sets nothing", env: map[string]string{"SYNCRULES_SERVER_LISTEN": ""},
			check: func(c Config) bool { return c.Server.Listen == Default().Server.Listen }, wantSet: []string{}},
		{name: "the environment wins over the file", file: "[server]\nlisten = \"127.0.0.1:1\"\nlog_level = \"warn\"",
			env:   map[string]string{"SYNCRULES_SERVER_LISTEN": "127.0.0.1:2"},
			check: func(c Config) bool { return c.Server.Listen == "127.0.0.1:2" && c.Server.LogLevel == "warn" }},
		{name: "variables are reported in the order of the keys",
			env:     map[string]string{"SYNCRULES_STORE_DSN": "postgres://x", "SYNCRULES_SERVER_LOG_LEVEL": "debug", "SYNCRULES_SERVER_LISTEN": "127.0.0.1:3"},
			wantSet: []string{"SYNCRULES_SERVER_LISTEN", "SYNCRULES_SERVER_LOG_LEVEL", "SYNCRULES_STORE_DSN"}},
		{name: "SYNCRULES_DB sets store.dsn", env: map[string]string{"SYNCRULES_DB": "postgres://db"},
			check: func(c Config) bool { return c.Store.DSN == "postgres://db" }, wantSet: []string{"SYNCRULES_DB"}},
		{name: "SYNCRULES_DB and SYNCRULES_STORE_DSN agreeing", env: map[string]string{"SYNCRULES_DB": "postgres://db", "SYNCRULES_STORE_DSN": "postgres://db"},
			check: func(c Config) bool { return c.Store.DSN == "postgres://db" }},
		{name: "SYNCRULES_DB and SYNCRULES_STORE_DSN disagreeing", env: map[string]string{"SYNCRULES_DB": "postgres://a", "SYNCRULES_STORE_DSN": "postgres://b"},
			wantErr: "SYNCRULES_STORE_DSN and SYNCRULES_DB both set store.dsn, differently: unset one"},
		{name: "a value the checks refuse names its variable", env: map[string]string{"SYNCRULES_SANDBOX_MAX_MEMORY_MIB": "0"},
			wantErr: "config: sandbox.max_memory_mib, set in the environment: must be between 1 and 4096"},
		{name: "a value of the file the checks refuse names the file", file: "[sandbox]\nmax_memory_mib = 0",
			env: map[string]string{"SYNCRULES_SERVER_LISTEN": "127.0.0.1:4"}, wantErr: "config.toml: sandbox.max_memory_mib: must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			if tt.file != "" {
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, src, err := load(path, false, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("load() error = %v, want it to contain %q", err, tt.wantErr)
				}
				for name, value := range tt.env {
					if strings.HasPrefix(value, "postgres://") && strings.Contains(err.Error(), value) {
						t.Errorf("the error %q shows %s's value", err, name)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil && !tt.check(cfg) {
				t.Errorf("load() = %+v", cfg)
			}
			if tt.wantSet != nil && !slices.Equal(src.Env, tt.wantSet) {
				t.Errorf("Source.Env = %q, want %q", src.Env, tt.wantSet)
			}
			for _, value := range tt.env {
				if value != "" && strings.Contains(strings.Join(slices.Concat([]string{src.File}, src.Env, src.Warnings), " "), value) {
					t.Errorf("Source %+v holds the value %q: it may be a secret", src, value)
				}
			}
		})
	}
}

// Every key of every section must have a variable that sets it: a new key
// must not need more code to be settable from the environment. The keys
// come from encoding the defaults, the TOML library's view of the struct.
func TestEveryKeyHasAVariable(t *testing.T) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(Default()); err != nil {
		t.Fatal(err)
	}
	var tables map[string]any
	if _, err := toml.Decode(buf.String(), &tables); err != nil {
		t.Fatal(err)
	}
	vars := map[string]envVar{}
	for _, v := range envVars() {
		vars[v.Key] = v
	}
	keys := 0
	for section, table := range tables {
		for key := range table.(map[string]any) {
			keys++
			v, ok := vars[section+"."+key]
			if !ok {
				t.Errorf("%s.%s has no environment variable", section, key)
				continue
			}
			if want := "SYNCRULES_" + strings.ToUpper(section+"_"+key); v.Name != want {
				t.Errorf("%s.%s is set by %s, want %s", section, key, v.Name, want)
			}
			// The variable changes the key from its default.
			cfg := Default()
			field := reflect.ValueOf(&cfg).Elem().FieldByIndex(v.index)
			if _, err := applyEnv(&cfg, map[string]string{v.Name: otherValue(field)}); err != nil {
				t.Errorf("%s: %v", v.Name, err)
			} else if reflect.DeepEqual(cfg, Default()) {
				t.Errorf("%s=%s left %s at its default", v.Name, otherValue(field), v.Key)
			}
		}
	}
	if keys != len(vars) {
		t.Errorf("%d keys, %d variables", keys, len(vars))
	}
}

// otherValue is a value for field, as the environment writes it, that is
// not its default.
func otherValue(field reflect.Value) string {
	switch x := field.Interface().(type) {
	case Duration:
		return (x.Duration + 7*time.Second).String()
	case string:
		return x + "-other"
	case bool:
		return map[bool]string{true: "false", false: "true"}[x]
	case float64:
		return "7.5"
	}
	return "7"
}

// Every SYNCRULES_ variable the service reads is known to the
// configuration: a key's, or listed in otherEnv (documented) or internalEnv.
// Otherwise it would be missing from the documentation and warned about as
// a typo.
func TestEveryVariableIsKnown(t *testing.T) {
	known := slices.Concat(otherEnv, internalEnv)
	for _, v := range envVars() {
		known = append(known, v.Name)
		if v.Alias != "" {
			known = append(known, v.Alias)
		}
	}
	literal := regexp.MustCompile(`"(SYNCRULES_[A-Z0-9_]+)"`)
	found := map[string]bool{}
	root := filepath.Join("..", "..", "..")
	for _, dir := range []string{"host", "sdk"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range literal.FindAllSubmatch(src, -1) {
				name := string(m[1])
				found[name] = true
				if !slices.Contains(known, name) {
					t.Errorf("%s reads %s, which the configuration does not know: add it to otherEnv (for users; document it) or internalEnv (config/env.go)", path, name)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range slices.Concat(otherEnv, internalEnv) {
		if !found[name] {
			t.Errorf("%s is listed in config/env.go but nothing reads it any more: remove it", name)
		}
	}
	// No key's variable may take the name of another.
	for _, v := range envVars() {
		if slices.Contains(known[:len(otherEnv)+len(internalEnv)], v.Name) {
			t.Errorf("%s is the variable of %s and also of something else: rename one", v.Name, v.Key)
		}
	}
}

func TestUnknownEnv(t *testing.T) {
	env := map[string]string{
		"SYNCRULES_SERVER_LISTN":  "127.0.0.1:5",
		"SYNCRULES_SECRT_KEY":     "a secret value",
		"SYNCRULES_WHATEVER":      "x",
		"SYNCRULES_SECRET_KEY":    "k",
		"SYNCRULES_ADMIN_TOKEN":   "t",
		"SYNCRULES_DB":            "postgres://x",
		"SYNCRULES_TEST_POSTGRES": "postgres://y",
		"SYNCRULES_ENGINE_WORKER": "1",
		"PATH":                    "/bin",
		"SERVER_LISTEN":           "x",
	}
	_, src, err := load(filepath.Join(t.TempDir(), "absent.toml"), false, env)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"SYNCRULES_SECRT_KEY is set but is no setting of syncrules; did you mean SYNCRULES_SECRET_KEY?",
		"SYNCRULES_SERVER_LISTN is set but is no setting of syncrules; did you mean SYNCRULES_SERVER_LISTEN?",
		"SYNCRULES_WHATEVER is set but is no setting of syncrules",
	}
	if !slices.Equal(src.Warnings, want) {
		t.Errorf("Warnings =\n%s\nwant\n%s", strings.Join(src.Warnings, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte("[server]\nlog_level = \"debug\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	t.Setenv("SYNCRULES_SERVER_LOG_FORMAT", "json")
	cfg, src, err := Load("config.toml", true)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.LogLevel != "debug" || cfg.Server.LogFormat != "json" {
		t.Errorf("Load() = %+v, want the file's log_level and the environment's log_format", cfg.Server)
	}
	if !filepath.IsAbs(src.File) || filepath.Base(src.File) != "config.toml" {
		t.Errorf("Source.File = %q, want the absolute path of the file read", src.File)
	}
	if !slices.Equal(src.Env, []string{"SYNCRULES_SERVER_LOG_FORMAT"}) {
		t.Errorf("Source.Env = %q", src.Env)
	}
}
