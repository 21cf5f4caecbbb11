package cli_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/cli"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// TestSyncControlCommands: sync pause, resume and resync against the
// server's store while it runs: the commands queue the work, which the
// server's workers do; resync follows its run to the end. A connect from
// the command line also queues the publication of the whole shop.
func TestSyncControlCommands(t *testing.T) {
	cfg := testConfig(t)
	cat, err := catalog.Generate(catalog.Options{Products: 8, Variants: 3, Locations: 2, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	sf, tf := fakePlatforms(t, cfg, cat)
	srv := serveInProcess(t, cfg)
	tokens := tf.Tokens()
	creds, _ := json.Marshal(map[string]map[string]string{
		"shopify": {"access_token": sf.AccessToken()},
		"tiktok": {"app_key": tf.AppKey(), "app_secret": tf.AppSecret(), "access_token": tokens.AccessToken,
			"refresh_token": tokens.RefreshToken, "shop_cipher": tf.ShopCipher()},
	})
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/v1/shops/acme", `{"name":"Acme","shopify_domain":"` + sf.ShopDomain() + `"}`},
		{"PUT", "/v1/shops/acme/credentials", string(creds)},
	} {
		if status, body := srv.do(t, req.method, req.path, req.body); status/100 != 2 {
			t.Fatalf("%s %s: %d %s", req.method, req.path, status, body)
		}
	}
	if r := run(t, "", "sync", "resync", "--shop", "acme", "--config", cfg); r.code != 1 || !strings.Contains(r.stderr, "connect it first") {
		t.Errorf("sync resync of a shop not connected = %d %q", r.code, r.stderr)
	}
	if r := run(t, "", "sync", "connect", "--shop", "acme", "--config", cfg); r.code != 0 {
		t.Fatalf("sync connect = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	settings := fmt.Sprintf(`{"percentage":80,"mappings":[{"location":"*","warehouse":%q}]}`, cat.Warehouses[0].ID)
	if status, body := srv.do(t, "PUT", "/v1/shops/acme/settings", settings); status != 200 {
		t.Fatalf("PUT settings: %d %s", status, body)
	}
	idle := func() {
		t.Helper()
		deadline := time.Now().Add(time.Minute * slowtest.Factor)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			status, body := srv.do(t, "GET", "/v1/shops/acme/sync", "")
			var st struct {
				Sync struct {
					PendingItems int  `json:"pending_items"`
					AllPending   bool `json:"all_pending"`
				} `json:"sync"`
			}
			if err := json.Unmarshal([]byte(body), &st); status != 200 || err != nil {
				t.Fatalf("GET .../sync: %d %s", status, body)
			}
			if st.Sync.PendingItems == 0 && !st.Sync.AllPending {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the server did not publish what the command queued: %s", body)
			}
			<-tick.C
		}
	}
	idle()
	// A connect from the command line marks every item pending and queues
	// the shop's job: the server publishes them.
	if r := run(t, "", "sync", "connect", "--shop", "acme", "--config", cfg); r.code != 0 {
		t.Fatalf("sync connect again = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	idle()

	r := run(t, "", "sync", "pause", "--shop", "acme", "--config", cfg)
	if r.code != 0 || !regexp.MustCompile(`(?m)^sync +paused`).MatchString(r.stdout) {
		t.Errorf("sync pause = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, body := srv.do(t, "GET", "/v1/shops/acme/sync", ""); !strings.Contains(body, `"paused":true`) {
		t.Errorf("the server does not show the pause: %s", body)
	}
	if r := run(t, "", "sync", "resync", "--shop", "acme", "--config", cfg); r.code != 1 || !strings.Contains(r.stderr, "resume it first") {
		t.Errorf("sync resync of a paused shop = %d %q", r.code, r.stderr)
	}
	r = run(t, "", "sync", "resume", "--shop", "acme", "--config", cfg)
	if r.code != 0 || !regexp.MustCompile(`(?m)^sync +running`).MatchString(r.stdout) {
		t.Errorf("sync resume = %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	linked := len(cat.Links)
	r = run(t, "", "sync", "resync", "--shop", "acme", "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stderr, fmt.Sprintf("phase publishing: %d/%d", linked, linked)) ||
		!regexp.MustCompile(`(?m)^run +\d+ resync succeeded, phase done `).MatchString(r.stdout) {
		t.Errorf("sync resync = %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`(?m)^pending +0 items$`).MatchString(r.stdout) || !regexp.MustCompile(`(?m)^published +\d{4}-`).MatchString(r.stdout) {
		t.Errorf("sync resync's status has no pending or published line:\n%s", r.stdout)
	}
	// On a terminal, a bar drawn over itself instead.
	restore := cli.ForceNotices(time.Hour)
	r = run(t, "", "sync", "resync", "--shop", "acme", "--config", cfg)
	restore()
	if r.code != 0 || !regexp.MustCompile(`\r(\S )?publishing `).MatchString(r.stderr) || strings.Contains(r.stderr, "phase ") {
		t.Errorf("sync resync on a terminal = %d, stderr has no bar or has plain lines:\n%q", r.code, r.stderr)
	}
}
