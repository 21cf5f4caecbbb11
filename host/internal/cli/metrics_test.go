package cli_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// scrape reads the server's /metrics: each sample's value by the series
// as the exposition format prints it, name{label="value",…}.
func (s *inProcessServer) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(s.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor scrapes until ok holds, and returns that scrape.
func (s *inProcessServer) waitFor(t *testing.T, what string, ok func(m map[string]float64) bool) map[string]float64 {
	t.Helper()
	timeout := 2 * time.Minute * slowtest.Factor
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		m := s.scrape(t)
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still not %s; /metrics has %v", timeout, what, syncSeries(m))
		}
		<-tick.C
	}
}

// syncSeries are the sync's samples of a scrape, for a failure's message.
func syncSeries(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, "syncrules_sync_") && !strings.Contains(k, "_bucket{") {
			out[k] = v
		}
	}
	return out
}

// idle: no sync job waits or runs.
func idle(m map[string]float64) bool {
	for _, state := range []string{"available", "running", "retryable", "scheduled"} {
		if m[`syncrules_sync_jobs{state="`+state+`"}`] != 0 {
			return false
		}
	}
	_, read := m[`syncrules_sync_jobs{state="completed"}`]
	return read
}

// TestMetricsFollowAWebhookToTikTok: /metrics counts the webhooks a
// served shop receives by outcome, the sync jobs they cause, the
// quantities TikTok accepts and the lag from the webhook to TikTok.
func TestMetricsFollowAWebhookToTikTok(t *testing.T) {
	cfg := testConfig(t)
	cat, err := catalog.Generate(catalog.Options{Products: 4, Variants: 2, Locations: 2, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	sf, tf := fakePlatforms(t, cfg, cat)
	srv := serveInProcess(t, cfg)
	if err := sf.SetWebhooks(shopifyfake.WebhookSettings{URL: srv.addr + "/webhooks/shopify"}); err != nil {
		t.Fatal(err)
	}
	tokens := tf.Tokens()
	creds := fmt.Sprintf(`{"shopify":{"access_token":%q,"webhook_secret":%q},"tiktok":{"app_key":%q,"app_secret":%q,"access_token":%q,"refresh_token":%q,"shop_cipher":%q}}`,
		sf.AccessToken(), sf.WebhookSecret(), tf.AppKey(), tf.AppSecret(), tokens.AccessToken, tokens.RefreshToken, tf.ShopCipher())
	main := cat.Warehouses[0].ID
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/v1/shops/acme", `{"name":"Acme","shopify_domain":"` + sf.ShopDomain() + `"}`},
		{"PUT", "/v1/shops/acme/credentials", creds},
		{"POST", "/v1/shops/acme/sync/connect", ""},
	} {
		if status, body := srv.do(t, req.method, req.path, req.body); status/100 != 2 {
			t.Fatalf("%s %s: %d %s", req.method, req.path, status, body)
		}
	}
	waitConnected(t, srv)
	if status, body := srv.do(t, "PUT", "/v1/shops/acme/settings", `{"percentage":80,"mappings":[{"location":"*","warehouse":"`+main+`"}]}`); status != 200 {
		t.Fatalf("PUT settings: %d %s", status, body)
	}
	// The settings' resync publishes every linked SKU, then the queue is
	// idle: what follows is the webhook's alone.
	before := srv.waitFor(t, "idle after the settings' resync", func(m map[string]float64) bool {
		return idle(m) && m["syncrules_sync_publications_total"] > 0
	})

	link := cat.Links[0]
	if err := sf.SetAvailable(link.InventoryItemID, cat.Locations[0].ID, 1000); err != nil {
		t.Fatal(err)
	}
	// A forged webhook of an unknown topic: refused, counted as "other".
	req, _ := http.NewRequest("POST", srv.addr+"/webhooks/shopify", strings.NewReader(`{}`))
	req.Header = http.Header{"X-Shopify-Shop-Domain": {sf.ShopDomain()}, "X-Shopify-Topic": {"made/up"},
		"X-Shopify-Webhook-Id": {"forged"}, "X-Shopify-Hmac-Sha256": {"AAAA"}, "Content-Type": {"application/json"}}
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != 401 {
		t.Fatalf("a forged webhook: %d, want 401", resp.StatusCode)
	}

	// The job observes the lag before it ends, and the queue's depth may
	// be a second old: wait for the job's end too.
	const jobsDone = `syncrules_sync_job_duration_seconds_count{kind="shop_sync",outcome="ok",queue="webhooks"}`
	after := srv.waitFor(t, "the webhook's lag observed and its job done", func(m map[string]float64) bool {
		return m["syncrules_sync_lag_seconds_count"] > before["syncrules_sync_lag_seconds_count"] && m[jobsDone] > before[jobsDone] && idle(m)
	})
	if q, _ := tf.Quantity(link.TikTokID, main); q < 795 {
		t.Errorf("TikTok has %d of %s in the main warehouse, want 80%% of at least 994", q, link.TikTokID)
	}
	moved := func(series string) float64 { return after[series] - before[series] }
	for _, tt := range []struct {
		series string
		min    float64
	}{
		{`syncrules_sync_webhooks_total{outcome="recorded",topic="inventory_levels/update"}`, 1},
		{`syncrules_sync_webhooks_total{outcome="refused",topic="other"}`, 1},
		{`syncrules_sync_publications_total`, 1},
		{`syncrules_sync_lag_seconds_count`, 1},
		{`syncrules_sync_job_wait_seconds_count{kind="shop_sync",queue="webhooks"}`, 1},
	} {
		if got := moved(tt.series); got < tt.min {
			t.Errorf("%s moved by %v, want at least %v", tt.series, got, tt.min)
		}
	}
	// The lag is the webhook's, not the whole test's: under the bound of
	// a busy machine, and above none.
	if lag := moved("syncrules_sync_lag_seconds_sum"); lag <= 0 || lag > (time.Minute*slowtest.Factor).Seconds() {
		t.Errorf("the webhook's lag summed to %vs", lag)
	}
	for _, series := range []string{`syncrules_sync_queue_jobs{queue="webhooks",state="available"}`, `syncrules_sync_queue_jobs{queue="bulk",state="running"}`} {
		if v, ok := after[series]; !ok || v != 0 {
			t.Errorf("%s = %v (reported %v), want 0 once idle", series, v, ok)
		}
	}
}

// waitConnected waits for the shop's connect to succeed.
func waitConnected(t *testing.T, srv *inProcessServer) {
	t.Helper()
	timeout := 2 * time.Minute * slowtest.Factor
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_, body := srv.do(t, "GET", "/v1/shops/acme/sync", "")
		switch {
		case strings.Contains(body, `"state":"succeeded"`):
			return
		case strings.Contains(body, `"state":"failed"`):
			t.Fatalf("connect failed: %s", body)
		case time.Now().After(deadline):
			t.Fatalf("connect not done after %v: %s", timeout, body)
		}
		<-tick.C
	}
}
