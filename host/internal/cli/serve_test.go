package cli_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/store"
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
// listed by id without its secret, and revoked by id; flags go anywhere.
func TestTokenCommands(t *testing.T) {
	cfg := testConfig(t)
	// No store yet: every token command refuses to make an empty one,
	// whose tokens no server would know.
	for _, args := range [][]string{
		{"token", "create", "--scope", "admin", "--config", cfg},
		{"token", "list", "--config", cfg},
		{"token", "revoke", "--config", cfg, "tok_000000000000"},
	} {
		r := run(t, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "no store at "+filepath.Join(filepath.Dir(cfg), "data", "syncrules.db")) || !strings.Contains(r.stderr, "--data-dir") {
			t.Errorf("%v without a store = %d %q", args, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "data", "syncrules.db")); err == nil {
		t.Fatal("a token command created a store")
	}
	createStore(t, filepath.Join(filepath.Dir(cfg), "data"))

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
	if r = run(t, "", "token", "revoke", "--config", cfg, id); r.code != 0 {
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
		{[]string{"token", "create", "--scope", "root", "--config", cfg}, 2, `--scope "root": unknown scope "root"`},
		{[]string{"token", "create", "--scope", "shop:Acme", "--config", cfg}, 2, "shop id"},
		{[]string{"token", "create", "--scope", "admin", "--name", "a\x1b[2Jb", "--config", cfg}, 2, "--name: must not contain control characters"},
		{[]string{"token", "revoke", "tok_000000000000", "--config", cfg}, 1, "no token"},
		{[]string{"token", "revoke", "--config", cfg, "tok_000000000000"}, 1, "no token"},
		{[]string{"token", "revoke", "--config", cfg, "--", "tok_000000000000"}, 1, "no token"},
		{[]string{"token", "revoke", "--config", cfg, "tok_1", "tok_2"}, 2, `unexpected argument "tok_2"`},
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

// createStore makes the store a server would make in dataDir.
func createStore(t *testing.T, dataDir string) {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

// TestStartHintCreatesAWorkingToken: a server started with --config and
// --data-dir elsewhere, and no token yet, prints the command that creates
// an admin token in its own store; run as printed, that token works.
func TestStartHintCreatesAWorkingToken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	cfg := testConfig(t)
	dataDir := filepath.Join(t.TempDir(), "elsewhere")
	s := startServerArgs(t, bin, []string{"--config", cfg, "--data-dir", dataDir})
	line := s.waitLog(t, "no API tokens yet")
	m := regexp.MustCompile(`msg="((?:[^"\\]|\\.)*)"`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no message in %q", line)
	}
	msg, err := strconv.Unquote(`"` + m[1] + `"`)
	if err != nil {
		t.Fatal(err)
	}
	cmdLine, _, ok := strings.Cut(strings.TrimPrefix(msg, `no API tokens yet: create an admin token with "`), `"`)
	if !ok || !strings.Contains(cmdLine, "--data-dir "+dataDir) || !strings.Contains(cmdLine, "--config "+cfg) {
		t.Fatalf("the hint %q does not name this server's config and data folder", msg)
	}
	out, err := exec.Command("sh", "-c", cmdLine).Output()
	if err != nil {
		t.Fatalf("%s: %v", cmdLine, err)
	}
	req, _ := http.NewRequest("GET", s.addr+"/v1/shops", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(out)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the token the hint's command made: GET /v1/shops = %d, want 200", resp.StatusCode)
	}
}
