package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A typo answers with its line and the key likely meant.
func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // the whole error
	}{
		{"a misspelt key", "[server]\nlisten = \"127.0.0.1:1\"\n\nlog_levl = \"debug\"",
			`t.toml:4: unknown key "log_levl" in [server]; did you mean "log_level"?`},
		{"a swap of two letters", "[store]\ndns = \"\"",
			`t.toml:2: unknown key "dns" in [store]; did you mean "dsn"?`},
		{"nothing near", "[server]\nfoo = 1",
			`t.toml:2: unknown key "foo" in [server]`},
		{"a key of another section", "[server]\ncall_timeout = \"1s\"",
			`t.toml:2: unknown key "call_timeout" in [server]; it belongs in [sandbox]`},
		{"a key of two other sections", "[limits]\npool_size = 1",
			`t.toml:2: unknown key "pool_size" in [limits]; it is a key of [engine] and [sandbox]`},
		{"a key outside any section", "# syncrules\nlisten = \"127.0.0.1:1\"",
			`t.toml:2: key "listen" is outside any section; it belongs in [server]`},
		{"a misspelt section", "[rules]\nmax_quantity = 5\n[sandbx]\nmax_rules = 3",
			"t.toml:3: unknown section [sandbx]; did you mean [sandbox]?"},
		{"a misspelt array of tables", "[[plugin]]\nname = \"a\"",
			"t.toml:1: unknown section [[plugin]]; did you mean [[plugins]]?"},
		{"a section only implied", "[servr.tls]\ncert = \"x\"",
			"t.toml:1: unknown section [servr]; did you mean [server]?"},
		{"a table inside a section", "[server]\nlisten = \"127.0.0.1:1\"\n[server.tls]\ncert = \"x\"",
			`t.toml:3: unknown key "tls" in [server]`},
		{"a key of the second plugin", "[[plugins]]\nname = \"a\"\nversion = \"1\"\npath = \"p\"\n\n[[plugins]]\nnme = \"b\"\nversion = \"1\"\npath = \"q\"",
			`t.toml:7: unknown key "nme" in [[plugins]]; did you mean "name"?`},
		{"a dotted key", "rules.max_quantiy = 5",
			`t.toml:1: unknown key "max_quantiy" in [rules]; did you mean "max_quantity"?`},
		{"an inline table", "server = { listen = \"127.0.0.1:1\", lisen = \"x\" }",
			`t.toml:1: unknown key "lisen" in [server]; did you mean "listen"?`},
		// A scanner of lines would take the string's text for keys.
		{"after a multi-line string", "[rules]\ndefault_module = \"\"\"\n[server]\nlisen = 1\n\"\"\"\nmax_quantiy = 5",
			`t.toml:6: unknown key "max_quantiy" in [rules]; did you mean "max_quantity"?`},
		{"a quoted key", "[server]\n\"log level\" = \"debug\"",
			`t.toml:2: unknown key "log level" in [server]; did you mean "log_level"?`},
		{"each of several", "[server]\nlisen = \"x\"\n[sandbox]\ncall_timout = \"1s\"",
			"t.toml:2: unknown key \"lisen\" in [server]; did you mean \"listen\"?\n" +
				"t.toml:4: unknown key \"call_timout\" in [sandbox]; did you mean \"call_timeout\"?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.toml", tt.text)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse() error =\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestNearest(t *testing.T) {
	keys := []string{"listen", "log_level", "log_format", "data_dir", "idle_timeout"}
	for _, tt := range []struct {
		word, want string
	}{
		{"lisen", "listen"},
		{"LISTEN", "listen"},
		{"log_levle", "log_level"}, // a swap is one edit
		{"log_lvl", "log_level"},   // two edits of nine letters
		{"log", ""},
		{"datadir", "data_dir"},
		{"timeout", ""},
		{"", ""},
	} {
		got, ok := nearest(tt.word, keys)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("nearest(%q) = %q, %t; want %q", tt.word, got, ok, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"listen", "listen", 0},
		{"lisen", "listen", 1},
		{"lsiten", "listen", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // optimal string alignment: no edit of a swapped pair
		{"µs", "us", 1},
	} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance(tt.b, tt.a); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
		}
	}
}

// The loader answers any text, and any value of a variable, with a
// configuration or an error naming where the problem is; it never panics.
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "config.toml")); err == nil {
		f.Add(string(b))
	}
	for _, seed := range []string{
		"", "[server]\nlisen = 1", "[[plugins]]\nnme = 1", "a.b.c = 1", "[a.b]\n[a]\nc = 1",
		"server = { lisen = 1 }", "\"\" = 1", "[\"\"]\nx = 1", "[\"a,b\"]\n\"c\\\"d\" = 1", "[[plugins.x]]\ny = 1",
		"x = \"\"\"\n[y]\n\"\"\"", "15s", "true", "1_000", "0x10", "[1, 2]", "{a = 1}", "1e400",
	} {
		f.Add(seed)
	}
	vars := envVars()
	f.Fuzz(func(t *testing.T, text string) {
		if _, err := Parse("f.toml", text); err != nil && !strings.Contains(err.Error(), "f.toml") {
			t.Errorf("Parse() error %q does not name the file", err)
		}
		for _, v := range vars {
			cfg := Default()
			if _, err := applyEnv(&cfg, map[string]string{v.Name: text}); err != nil && !strings.Contains(err.Error(), v.Name) {
				t.Errorf("applyEnv() error %q does not name %s", err, v.Name)
			}
		}
	})
}

func TestManyUnknownKeys(t *testing.T) {
	var text strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&text, "key%d = %d\n", i, i)
	}
	_, err := Parse("t.toml", text.String())
	if err == nil {
		t.Fatal("Parse() = nil error, want the unknown keys")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxUnknownKeys+1 || lines[0] != `t.toml:1: key "key0" is outside any section` || lines[maxUnknownKeys] != "t.toml: and more unknown keys" {
		t.Errorf("Parse() error =\n%v\nwant the first %d keys, then that there are more", err, maxUnknownKeys)
	}
}
