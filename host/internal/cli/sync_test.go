package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/cli"
	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// inProcessServer is "syncrules serve" run by cli.Main in this process.
type inProcessServer struct {
	addr string
}

// serveInProcess runs "syncrules serve --config cfg" until the test ends,
// with testAdminToken as its admin token, and returns once it is ready.
func serveInProcess(t *testing.T, cfg string) *inProcessServer {
	t.Helper()
	t.Setenv("SYNCRULES_ADMIN_TOKEN", testAdminToken)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	exited := make(chan int, 1)
	go func() {
		exited <- cli.Main(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody waits for it any more: keep the server's logging unblocked
			}
		}
		close(lines)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-exited; code != 0 {
			t.Errorf("serve exited %d", code)
		}
	})
	s := &inProcessServer{}
	timeout := time.After(5 * time.Minute)
	var seen []string
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("serve exited before it was ready:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			if m := regexp.MustCompile(`msg=listening addr=(\S+)`).FindStringSubmatch(line); m != nil {
				s.addr = m[1]
			}
			if strings.Contains(line, "msg=ready") {
				return s
			}
		case <-timeout:
			t.Fatalf("serve not ready within 5 minutes:\n%s", strings.Join(seen, "\n"))
		}
	}
}

// do sends a request with the admin token and returns the status and body.
func (s *inProcessServer) do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// fakePlatforms serves a fake Shopify and a fake TikTok Shop with cat
// until the test ends, and points the config at them.
func fakePlatforms(t *testing.T, cfg string, cat *catalog.Catalog) (*shopifyfake.Server, *tiktokfake.Server) {
	t.Helper()
	sf := shopifyfake.New(shopifyfake.Options{Catalog: cat, MaximumAvailable: 1e9, RestoreRate: 1e9})
	if err := sf.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sf.Close() })
	tf := tiktokfake.New(tiktokfake.Options{Catalog: cat})
	if err := tf.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tf.Close() })
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "[shopify]\nbase_url = %q\nbulk_above = 10000\n[tiktok]\nbase_url = %q\nauth_base_url = %q\n", sf.URL(), tf.URL(), tf.URL())
	return sf, tf
}

// TestSyncCommands: sync connect and sync status against the server's
// store and the fakes, in plain-line mode (stderr is not a terminal): the
// progress by phase, the counts, and the exit codes of a refused
// credential and a failed run.
func TestSyncCommands(t *testing.T) {
	cfg := testConfig(t)
	cat, err := catalog.Generate(catalog.Options{Products: 8, Variants: 3, Locations: 2, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	sf, tf := fakePlatforms(t, cfg, cat)

	// No store yet: refused as the token commands refuse it.
	for _, args := range [][]string{{"sync", "status", "--shop", "acme", "--config", cfg}, {"sync", "connect", "--shop", "acme", "--config", cfg}} {
		if r := run(t, "", args...); r.code != 1 || !strings.Contains(r.stderr, "no store at") || !strings.Contains(r.stderr, "--data-dir") {
			t.Errorf("%v without a store = %d %q", args, r.code, r.stderr)
		}
	}

	srv := serveInProcess(t, cfg)
	tokens := tf.Tokens()
	credentials := func(shopifyToken string) string {
		b, _ := json.Marshal(map[string]map[string]string{
			"shopify": {"access_token": shopifyToken},
			"tiktok": {"app_key": tf.AppKey(), "app_secret": tf.AppSecret(), "access_token": tokens.AccessToken,
				"refresh_token": tokens.RefreshToken, "shop_cipher": tf.ShopCipher()},
		})
		return string(b)
	}
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/v1/shops/acme", `{"name":"Acme","shopify_domain":"` + sf.ShopDomain() + `"}`},
		{"PUT", "/v1/shops/acme/credentials", credentials(sf.AccessToken())},
		{"PUT", "/v1/shops/refused", `{"name":"Refused"}`},
		{"PUT", "/v1/shops/refused/credentials", credentials("shpat_wrong")},
	} {
		if status, body := srv.do(t, req.method, req.path, req.body); status/100 != 2 {
			t.Fatalf("%s %s: %d %s", req.method, req.path, status, body)
		}
	}

	// Each platform answers slowly, so that every phase that reads one
	// lasts longer than the command's look at the progress (every 250
	// ms). Stretched on a busy machine only: the race detector slows the
	// look too little to matter.
	slow := fakes.Fault{Latency: fakes.Duration(400 * time.Millisecond * slowtest.Busy), For: fakes.Duration(10 * time.Minute * slowtest.Factor)}
	if err := sf.InjectFault(slow); err != nil {
		t.Fatal(err)
	}
	if err := tf.InjectFault(slow); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "sync", "connect", "--shop", "acme", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("sync connect = %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"phase locations: ", "phase shopify: ", "phase tiktok: "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("sync connect's progress has no %q:\n%s", want, r.stderr)
		}
	}
	// On a terminal, a bar per phase, redrawn in place, instead.
	restore := cli.ForceNotices(time.Hour)
	onTerminal := run(t, "", "sync", "connect", "--shop", "acme", "--config", cfg)
	restore()
	sf.ClearFaults()
	tf.ClearFaults()
	for _, phase := range []string{"locations", "shopify", "tiktok"} {
		// A bar, or a spinner while the total is unknown, drawn over
		// itself with \r.
		bar := regexp.MustCompile(`\r(\S )?` + phase + ` `)
		if onTerminal.code != 0 || !bar.MatchString(onTerminal.stderr) || strings.Contains(onTerminal.stderr, "phase ") {
			t.Errorf("sync connect on a terminal = %d, stderr has no bar for %s, or has plain lines:\n%q", onTerminal.code, phase, onTerminal.stderr)
		}
	}
	// The generated catalog has one of each kind of trouble (and the
	// counts say "1 conflict", not "1 conflicts").
	if len(cat.ShopifyOnly) != 2 || len(cat.TikTokOnly) != 1 || len(cat.DuplicateSKUs) != 1 {
		t.Fatalf("the catalog changed: %d Shopify-only, %d TikTok-only, %d duplicate SKUs", len(cat.ShopifyOnly), len(cat.TikTokOnly), len(cat.DuplicateSKUs))
	}
	counts := fmt.Sprintf("%d linked, 2 unmatched variants, 1 unmatched TikTok SKU, 1 conflict", len(cat.Links))
	if !strings.Contains(r.stdout, counts) || !regexp.MustCompile(`(?m)^connected +yes$`).MatchString(r.stdout) {
		t.Errorf("sync connect printed\n%s\nwant %q and connected yes", r.stdout, counts)
	}

	// The server reads the run the command made in its store.
	status, body := srv.do(t, "GET", "/v1/shops/acme/sync", "")
	if status != 200 || !strings.Contains(body, `"state":"succeeded"`) || !strings.Contains(body, fmt.Sprintf(`"linked":%d`, len(cat.Links))) {
		t.Errorf("GET /v1/shops/acme/sync after sync connect: %d %s", status, body)
	}

	for _, args := range [][]string{
		{"sync", "status", "--shop", "acme", "--config", cfg},
		{"sync", "status", "--config", cfg, "--wait", "--shop", "acme"}, // nothing runs: prints at once
	} {
		r = run(t, "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, counts) || !regexp.MustCompile(`(?m)^run +\d+ connect succeeded`).MatchString(r.stdout) {
			t.Errorf("%v = %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}

	// A refused credential: exit 1, naming the field and why.
	r = run(t, "", "sync", "connect", "--shop", "refused", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "/shopify_domain") {
		t.Errorf("sync connect of a shop without a domain = %d %q", r.code, r.stderr)
	}
	if status, body := srv.do(t, "PUT", "/v1/shops/refused", `{"shopify_domain":"refused.myshopify.com"}`); status != 200 {
		t.Fatalf("PUT refused: %d %s", status, body)
	}
	r = run(t, "", "sync", "connect", "--shop", "refused", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "/shopify/access_token: Shopify answered 401") {
		t.Errorf("sync connect with a refused token = %d %q", r.code, r.stderr)
	}

	// A run that fails after the credentials were accepted: TikTok's
	// product search answers 500 until the client gives up.
	if err := tf.InjectFault(fakes.Fault{Path: "/products/search", Status: 500, For: fakes.Duration(10 * time.Minute * slowtest.Factor)}); err != nil {
		t.Fatal(err)
	}
	r = run(t, "", "sync", "connect", "--shop", "acme", "--config", cfg)
	if r.code != 1 || !regexp.MustCompile(`connect run \d+ failed: .+`).MatchString(r.stderr) {
		t.Errorf("sync connect of a run that fails = %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "", "sync", "status", "--shop", "acme", "--config", cfg)
	if r.code != 1 || !regexp.MustCompile(`(?m)^run +\d+ connect failed`).MatchString(r.stdout) {
		t.Errorf("sync status after a failed run = %d\n%s", r.code, r.stdout)
	}
	tf.ClearFaults()

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sync", "connect", "--config", cfg}, 2, "--shop is required"},
		{[]string{"sync", "status", "--config", cfg}, 2, "--shop is required"},
		{[]string{"sync", "status", "--shop", "nope", "--config", cfg}, 1, `No shop "nope"`},
		{[]string{"sync", "resync", "--config", cfg}, 2, "--shop is required"},
		{[]string{"sync", "pause", "--shop", "nope", "--config", cfg}, 1, `No shop "nope"`},
		{[]string{"sync", "reconnect"}, 2, "unknown command"},
	} {
		r := run(t, "", tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v = %d %q, want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.want)
		}
	}
}

// TestSyncHelp: each sync command explains itself.
func TestSyncHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"sync", "--help"}, []string{"sync connect --shop ID", "sync status --shop ID [--wait]", "sync resync --shop ID", "sync pause --shop ID", "sync resume --shop ID"}},
		{[]string{"sync", "resync", "--help"}, []string{"Usage: syncrules sync resync --shop ID", "progress bar", "differ", "exits 1", "-shop id"}},
		{[]string{"sync", "pause", "--help"}, []string{"Usage: syncrules sync pause --shop ID", "still", "recorded", "-shop id"}},
		{[]string{"sync", "resume", "--help"}, []string{"Usage: syncrules sync resume --shop ID", "paused", "-shop id"}},
		{[]string{"sync", "connect", "--help"}, []string{"Usage: syncrules sync connect --shop ID", "progress bar", "exits 1", "-shop id"}},
		{[]string{"sync", "status", "--help"}, []string{"Usage: syncrules sync status --shop ID [--wait]", "-wait", "exits 1"}},
		{[]string{"--help"}, []string{"sync "}},
	} {
		r := run(t, "", tt.args...)
		for _, want := range tt.want {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("%v = %d, stdout has no %q:\n%s", tt.args, r.code, want, r.stdout)
			}
		}
	}
}
