package cli_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Beyond loopback the server listens only behind a TLS-terminating proxy,
// stated in the config.
func TestServeRefusesClearTextBeyondLoopback(t *testing.T) {
	cfg := testConfig(t)
	r := run(t, "", "serve", "--config", cfg, "--listen", "0.0.0.0:0")
	if r.code != 1 || !strings.Contains(r.stderr, "refusing to listen on 0.0.0.0:0") || !strings.Contains(r.stderr, "behind_proxy = true") {
		t.Errorf("serve --listen 0.0.0.0:0 = %d\n%s", r.code, r.stderr)
	}
}

// TestTokenCommands: a token made on the command line is shown once,
// listed by id without its secret, and revoked by id.
func TestTokenCommands(t *testing.T) {
	cfg := testConfig(t)
	r := run(t, "", "token", "create", "--scope", "shop:acme", "--scope", "partner:p", "--name", "ci", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("token create = %d %s", r.code, r.stderr)
	}
	token := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(token, "srt_") || len(token) != 47 || !strings.Contains(r.stderr, "shown only once") {
		t.Fatalf("token create printed %q, %q", r.stdout, r.stderr)
	}
	id := strings.Fields(r.stderr)[2]
	r = run(t, "", "token", "list", "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "shop:acme partner:p") || strings.Contains(r.stdout, token) {
		t.Fatalf("token list = %d %q", r.code, r.stdout)
	}
	if r = run(t, "", "token", "revoke", id, "--config", cfg); r.code != 0 {
		t.Fatalf("token revoke = %d %s", r.code, r.stderr)
	}
	if r = run(t, "", "token", "list", "--config", cfg); strings.Contains(r.stdout, id) {
		t.Errorf("a revoked token is still listed: %s", r.stdout)
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token", "create", "--config", cfg}, 2, "is required"},
		{[]string{"token", "create", "--scope", "root", "--config", cfg}, 2, `unknown scope "root"`},
		{[]string{"token", "create", "--scope", "shop:Acme", "--config", cfg}, 2, "shop id"},
		{[]string{"token", "create", "--scope", "admin", "--name", "a\x1b[2Jb", "--config", cfg}, 2, "--name: must not contain control characters"},
		{[]string{"token", "revoke", "tok_000000000000", "--config", cfg}, 1, "no token"},
		{[]string{"token", "revoke", "--config", cfg}, 2, "which token"},
		{[]string{"token", "rotate"}, 2, "unknown command"},
	}
	for _, tt := range tests {
		r := run(t, "", tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v = %d %q, want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.want)
		}
	}
}

// TestServeRefusesAnotherKey: two data folders sharing one database each
// make their own key file; the second start refuses, rather than seal
// credentials the first cannot open.
func TestServeRefusesAnotherKey(t *testing.T) {
	shared := "sqlite:" + filepath.Join(t.TempDir(), "shared.db")
	t.Setenv("SYNCRULES_DB", shared)
	first := testConfig(t)
	// The first start seals the check value, then fails to listen (the
	// port is taken), which is enough.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := run(t, "", "serve", "--config", first, "--listen", ln.Addr().String())
	if strings.Contains(r.stderr, "credentials key") && strings.Contains(r.stderr, "not the key") {
		t.Fatalf("the first start refused its own key: %s", r.stderr)
	}
	r = run(t, "", "serve", "--config", testConfig(t), "--listen", ln.Addr().String())
	if r.code != 1 || !strings.Contains(r.stderr, "is not the key this store's credentials are sealed with") || !strings.Contains(r.stderr, "SYNCRULES_SECRET_KEY") {
		t.Fatalf("a second key on the same store = %d\n%s", r.code, r.stderr)
	}
	// The same key from the environment is accepted.
	key, err := os.ReadFile(filepath.Join(filepath.Dir(first), "data", "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SYNCRULES_SECRET_KEY", strings.TrimSpace(string(key)))
	r = run(t, "", "serve", "--config", testConfig(t), "--listen", ln.Addr().String())
	if strings.Contains(r.stderr, "not the key") || !strings.Contains(r.stderr, "address already in use") {
		t.Fatalf("the shared key from the environment = %d\n%s", r.code, r.stderr)
	}
}
