package e2e_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, to watch the queue on PostgreSQL
	_ "modernc.org/sqlite"             // the "sqlite" driver, to watch the queue on SQLite

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
	"github.com/syncrules/syncrules/host/internal/slowtest"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
	"github.com/syncrules/syncrules/host/wasmbuild"
	"pgregory.net/rapid"
)

// adminToken is every server's SYNCRULES_ADMIN_TOKEN.
const adminToken = "e2e-admin-token-0123456789abcdef0123456789abcdef"

// secretKey is every server's SYNCRULES_SECRET_KEY: replicas share it.
const secretKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

var (
	binary     string // bin/syncrules built from this source
	ruleModule string // the default rule module built from this source
)

// maxChecks bounds -rapid.checks: each check starts fakes and connects a
// shop (about a second), so a soak's 2000 would take an hour.
const maxChecks = 50

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("rapid.checks"); f != nil {
		set := false
		flag.Visit(func(g *flag.Flag) { set = set || g.Name == "rapid.checks" })
		var n int
		fmt.Sscan(f.Value.String(), &n)
		switch {
		case !set:
			f.Value.Set("4")
		case n > maxChecks:
			f.Value.Set(fmt.Sprint(maxChecks))
		}
	}
	dir, err := os.MkdirTemp("", "syncrules-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if err := buildServer(dir); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// buildServer builds the binary and the default rule module into dir.
func buildServer(dir string) error {
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	binary, ruleModule = filepath.Join(dir, "syncrules"), filepath.Join(dir, "default.wasm")
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "./host")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./host: %v\n%s", err, out)
	}
	return wasmbuild.Build(ctx, root, "./rules/defaultrule/module", ruleModule)
}

// tester is what the helpers need of a test: a *testing.T or a
// *rapid.T.
type tester interface {
	rapid.TB
	Cleanup(func())
}

// deadline is how long a condition may take to become true: generous, as
// the machine may be busy; a test waits only as long as it needs.
var deadline = 60 * time.Second * slowtest.Factor

// waitFor polls cond until it is true or the deadline passes.
func waitFor(tb tester, what string, cond func() (bool, error)) {
	tb.Helper()
	waitWithin(tb, deadline, what, cond)
}

// waitWithin polls cond until it is true or within has passed.
func waitWithin(tb tester, within time.Duration, what string, cond func() (bool, error)) {
	tb.Helper()
	end := time.Now().Add(within)
	var err error
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		var ok bool
		if ok, err = cond(); ok {
			return
		}
		if time.Now().After(end) {
			tb.Fatalf("%s: not within %v (last error: %v)", what, within, err)
		}
		time.Sleep(delay) // polling an outside process: nothing to wait on instead
	}
}

// platforms are a fake Shopify and a fake TikTok Shop serving one catalog.
type platforms struct {
	catalog *catalog.Catalog
	shopify *shopifyfake.Server
	tiktok  *tiktokfake.Server
	// tiktokURL is where the server reaches TikTok: the fake, or a proxy
	// in front of it.
	tiktokURL string
	// shopifyURL is where the server reaches Shopify: the fake, or a
	// front of several shops' fakes (many_shops_test.go).
	shopifyURL string
}

// platformOptions tune the fakes; zero values take the test defaults.
type platformOptions struct {
	catalog catalog.Options
	domain  string
	// shopifyBucket: a cost bucket that throttles when drained (10,000
	// points, 500 a second: ten times Shopify's, so that a connect's
	// catalog reads do not take the test's time) rather than one that
	// never does.
	shopifyBucket bool
	// shopifyStandard gives the fake Shopify the standard plan's cost
	// bucket (1,000 points restoring 50 a second) instead.
	shopifyStandard bool
	// tiktokRateLimit is the fake's limit (0: none).
	tiktokRateLimit float64
	// shopifyAddr and tiktokAddr are where the fakes listen
	// ("": a free port).
	shopifyAddr, tiktokAddr string
	// tiktokFront wraps the handler the server reaches TikTok through.
	tiktokFront func(http.Handler) http.Handler
	// shopifyToken and tiktokAppKey are the credentials the fakes accept
	// ("": their defaults): distinct ones tell shops apart behind one
	// front (many_shops_test.go).
	shopifyToken, tiktokAppKey string
}

func startPlatforms(tb tester, o platformOptions) *platforms {
	tb.Helper()
	cat, err := catalog.Generate(o.catalog)
	if err != nil {
		tb.Fatal(err)
	}
	sopt := shopifyfake.Options{Catalog: cat, ShopDomain: o.domain, AccessToken: o.shopifyToken, MaxLoggedRequests: 1_000_000}
	sopt.MaximumAvailable, sopt.RestoreRate = 1e9, 1e9
	switch {
	case o.shopifyBucket:
		sopt.MaximumAvailable, sopt.RestoreRate = 10_000, 500
	case o.shopifyStandard:
		sopt.MaximumAvailable, sopt.RestoreRate = shopifyfake.DefaultMaximum, shopifyfake.DefaultRestoreRate
	}
	sf := shopifyfake.New(sopt)
	if err := sf.Start(cmp.Or(o.shopifyAddr, "127.0.0.1:0")); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sf.Close() })
	tf := tiktokfake.New(tiktokfake.Options{Catalog: cat, AppKey: o.tiktokAppKey, RateLimit: o.tiktokRateLimit, RateBurst: 10, MaxLoggedRequests: 1_000_000})
	if err := tf.Start(cmp.Or(o.tiktokAddr, "127.0.0.1:0")); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tf.Close() })
	p := &platforms{catalog: cat, shopify: sf, tiktok: tf, tiktokURL: tf.URL(), shopifyURL: sf.URL()}
	if o.tiktokFront != nil {
		target, _ := url.Parse(tf.URL())
		l, err := fakes.Listen("127.0.0.1:0", o.tiktokFront(httputil.NewSingleHostReverseProxy(target)))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { l.Close() })
		p.tiktokURL = l.URL()
	}
	return p
}

// deployment is the servers' shared configuration: one store (a SQLite
// data folder, or a PostgreSQL database shared by replicas), and a front
// that spreads webhooks over the servers running, as a load balancer does.
type deployment struct {
	tb      tester
	dir     string
	dsn     string // "" for SQLite in dir/data
	config  string // the config file
	front   *fakes.Listener
	mu      sync.Mutex
	servers []*server
	next    atomic.Uint64
	store   *sql.DB // the test's own handle, to watch the queue
}

// deploy writes the servers' config, pointing at p's fakes (the config
// names one Shopify and one TikTok base URL for every shop: a test with
// several shops starts their fakes on the same addresses in turn), with
// extra TOML appended inside its [sync] table (more keys of it, then any
// other table), and serves the front.
//
// raise_grace is 0: a reconciliation raises a TikTok quantity read back
// below the rule's at once, so that one reconciliation converges (the
// grace itself is tested in the shop package).
// extraConfig are keys a test adds to its servers' [tiktok] and [sync]
// tables.
type extraConfig struct{ tiktok, sync string }

func deploy(tb testing.TB, p *platforms, dsn string, extra extraConfig) *deployment {
	tb.Helper()
	d := &deployment{tb: tb, dir: tb.TempDir(), dsn: dsn}
	d.config = filepath.Join(d.dir, "config.toml")
	text := fmt.Sprintf(`[server]
data_dir = %q
shutdown_timeout = "5s"
drain_period = "0s"
[rules]
default_module = %q
[store]
dsn = %q
[shopify]
base_url = %q
bulk_above = 100000
[tiktok]
base_url = %q
auth_base_url = %q
%s
[sync]
raise_grace = "0s"
%s`, filepath.Join(d.dir, "data"), ruleModule, dsn, p.shopifyURL, p.tiktokURL, p.tiktokURL, extra.tiktok, extra.sync)
	if err := os.WriteFile(d.config, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	front, err := fakes.Listen("127.0.0.1:0", http.HandlerFunc(d.spread))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { front.Close() })
	d.front = front
	d.store = d.openDB(tb)
	return d
}

// spread passes a request to the running servers in turn; 502 when none
// runs (a webhook then is lost, as Shopify's would be until its retry).
func (d *deployment) spread(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	var live []*server
	for _, s := range d.servers {
		if s.running() {
			live = append(live, s)
		}
	}
	d.mu.Unlock()
	if len(live) == 0 {
		http.Error(w, "no server running", http.StatusBadGateway)
		return
	}
	s := live[int(d.next.Add(1))%len(live)]
	if r.URL.Path == "/webhooks/shopify" {
		s.webhooks.Add(1)
	}
	s.proxy.ServeHTTP(w, r)
}

// webhookURL is where the fake Shopify sends webhooks.
func (d *deployment) webhookURL() string { return d.front.URL() + "/webhooks/shopify" }

// logsEnv names a folder to keep the servers' logs in after the test,
// to read what a server did.
const logsEnv = "SYNCRULES_E2E_LOGS"

// server is one "syncrules serve" child process.
type server struct {
	name  string
	cmd   *exec.Cmd
	url   string
	proxy *httputil.ReverseProxy
	log   *os.File
	done  chan struct{} // closed when the process has exited
	// webhooks counts the webhooks the front passed to it.
	webhooks atomic.Int64
}

func (s *server) running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// start runs a server until the test ends and returns once it is ready.
func (d *deployment) start(name string) *server {
	tb := d.tb
	tb.Helper()
	logPath := filepath.Join(d.dir, name+".log")
	if dir := os.Getenv(logsEnv); dir != "" {
		logPath = filepath.Join(dir, strings.ReplaceAll(tb.Name(), "/", "_")+"-"+name+".log")
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(binary, "serve", "--config", d.config, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "SYNCRULES_ADMIN_TOKEN="+adminToken, "SYNCRULES_SECRET_KEY="+secretKey, "SYNCRULES_DB=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s := &server{name: name, cmd: cmd, log: logFile, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		addr, sent := "", false
		listening := regexp.MustCompile(`msg=listening addr=(\S+)`)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if m := listening.FindStringSubmatch(line); m != nil {
				addr = m[1]
			}
			if !sent && strings.Contains(line, "msg=ready") {
				ready <- addr
				sent = true
			}
		}
		cmd.Wait()
		close(s.done)
	}()
	tb.Cleanup(func() {
		s.stop()
		logFile.Close()
		if tb.Failed() {
			b, _ := os.ReadFile(logPath)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			tb.Logf("%s's log (last 60 lines):\n%s", name, strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	})
	select {
	case addr := <-ready:
		s.url = addr
	case <-s.done:
		b, _ := os.ReadFile(logPath)
		tb.Fatalf("%s exited before it was ready:\n%s", name, b)
	case <-time.After(deadline):
		tb.Fatalf("%s not ready within %v", name, deadline)
	}
	target, _ := url.Parse(s.url)
	s.proxy = httputil.NewSingleHostReverseProxy(target)
	s.proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
	d.mu.Lock()
	d.servers = append(d.servers, s)
	d.mu.Unlock()
	return s
}

// kill ends the process at once, as a crash or an OOM killer would.
func (s *server) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop asks the process to stop, and kills it if it does not in time.
func (s *server) stop() {
	if !s.running() {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.kill()
	}
}

// api sends an admin request to a running server.
func (d *deployment) api(tb tester, method, path, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, d.front.URL()+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, b
}

// must sends a request that must succeed and decodes its answer into out
// (if not nil).
func (d *deployment) must(tb tester, method, path, body string, out any) {
	tb.Helper()
	status, b := d.api(tb, method, path, body)
	if status/100 != 2 {
		tb.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// addShop creates a shop on p's fakes with settings, connects it and
// points the fake Shopify's webhooks at the deployment; it returns once
// the whole shop is published.
func (d *deployment) addShop(tb tester, id string, p *platforms, settings string) {
	tb.Helper()
	d.must(tb, "PUT", "/v1/shops/"+id, `{"name":"`+id+`","shopify_domain":"`+p.shopify.ShopDomain()+`"}`, nil)
	tokens := p.tiktok.Tokens()
	creds, _ := json.Marshal(map[string]map[string]string{
		"shopify": {"access_token": p.shopify.AccessToken(), "webhook_secret": p.shopify.WebhookSecret()},
		"tiktok": {"app_key": p.tiktok.AppKey(), "app_secret": p.tiktok.AppSecret(), "access_token": tokens.AccessToken,
			"refresh_token": tokens.RefreshToken, "shop_cipher": p.tiktok.ShopCipher()},
	})
	d.must(tb, "PUT", "/v1/shops/"+id+"/credentials", string(creds), nil)
	if err := p.shopify.SetWebhooks(shopifyfake.WebhookSettings{URL: d.webhookURL()}); err != nil {
		tb.Fatal(err)
	}
	// Settings name warehouses, which the connect reads: connect first;
	// saving the settings then publishes the whole shop.
	d.republish(tb, id, false)
	d.must(tb, "PUT", "/v1/shops/"+id+"/settings", settings, nil)
	d.waitIdle(tb)
}

// republish connects the shop again, which links new SKUs and reads
// and publishes every linked SKU again, and waits until it has (and the
// sync is idle, if wait).
func (d *deployment) republish(tb tester, id string, wait bool) {
	tb.Helper()
	var run struct {
		ID int64 `json:"id"`
	}
	d.must(tb, "POST", "/v1/shops/"+id+"/sync/connect", "", &run)
	waitFor(tb, "the connect run of shop "+id, func() (bool, error) {
		var st struct {
			Run *struct {
				ID    int64  `json:"id"`
				State string `json:"state"`
				Error string `json:"error"`
			} `json:"run"`
		}
		d.must(tb, "GET", "/v1/shops/"+id+"/sync", "", &st)
		switch {
		case st.Run == nil || st.Run.ID < run.ID || st.Run.State == "running":
			return false, nil
		case st.Run.State != "succeeded":
			tb.Fatalf("connect run %d of shop %s: %s %s", st.Run.ID, id, st.Run.State, st.Run.Error)
		}
		return true, nil
	})
	if wait {
		d.waitIdle(tb)
	}
}

// reconcile runs the shop's reconciliation now and waits until it and
// everything it queued have run. The sync must be idle before: a
// reconciliation already running is not queued again.
func (d *deployment) reconcile(tb tester, id string) {
	tb.Helper()
	if status, b := d.api(tb, "POST", "/v1/shops/"+id+"/sync/reconcile", ""); status != http.StatusAccepted {
		tb.Fatalf("POST /v1/shops/%s/sync/reconcile: %d %s, want 202", id, status, b)
	}
	// The job is in the queue once the request is answered: idle waits
	// for it too.
	d.waitIdle(tb)
}

// openDB opens the deployment's store for the test to watch the queue.
func (d *deployment) openDB(tb testing.TB) *sql.DB {
	tb.Helper()
	driver, dsn := "pgx", d.dsn
	if dsn == "" {
		driver, dsn = "sqlite", "file:"+filepath.Join(d.dir, "data", "syncrules.db")+"?_pragma=busy_timeout(5000)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	return db
}

// idle reports whether nothing is pending and no sync job waits or runs.
func idle(db *sql.DB) (bool, error) {
	var pending, jobs int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sync_pending`).Scan(&pending); err != nil {
		return false, err
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&jobs); err != nil {
		return false, err
	}
	return pending == 0 && jobs == 0, nil
}

// waitIdle waits until the sync has nothing left to do.
func (d *deployment) waitIdle(tb tester) {
	tb.Helper()
	waitFor(tb, "the sync to be idle", func() (bool, error) { return idle(d.store) })
}

// update is one quantity TikTok accepted: a SKU in a warehouse.
type update struct {
	time           time.Time
	sku, warehouse string
	quantity       int
}

// acceptedUpdates returns the quantities TikTok accepted, in the order it
// accepted them, and how many update calls it answered.
func acceptedUpdates(tb tester, tf *tiktokfake.Server) (ups []update, calls int) {
	tb.Helper()
	for _, r := range tf.Requests() {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/inventory/update") {
			continue
		}
		calls++
		if r.Status != http.StatusOK || r.Code != "0" {
			continue
		}
		var body struct {
			SKUs []struct {
				ID        string `json:"id"`
				Inventory []struct {
					WarehouseID string `json:"warehouse_id"`
					Quantity    int    `json:"quantity"`
				} `json:"inventory"`
			} `json:"skus"`
		}
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			tb.Fatalf("an update TikTok accepted: %v in %s", err, r.Body)
		}
		for _, k := range body.SKUs {
			for _, in := range k.Inventory {
				ups = append(ups, update{r.Time, k.ID, in.WarehouseID, in.Quantity})
			}
		}
	}
	slices.SortStableFunc(ups, func(a, b update) int { return a.time.Compare(b.time) })
	return ups, calls
}

// updateCalls counts the inventory update calls TikTok answered.
func updateCalls(tb tester, tf *tiktokfake.Server) int {
	_, n := acceptedUpdates(tb, tf)
	return n
}

// levelReads returns when the sync read the levels of each inventory item
// (its numeric id) from Shopify, oldest first. A query Shopify refused
// (THROTTLED, a 5xx, a dropped connection) read nothing and is left out.
func levelReads(sf *shopifyfake.Server) map[string][]time.Time {
	item := regexp.MustCompile(`gid://shopify/InventoryItem/(\d+)`)
	out := map[string][]time.Time{}
	for _, r := range sf.Requests() {
		if !strings.Contains(r.Body, "ItemLevels") || r.Status != http.StatusOK || r.Code != "" {
			continue
		}
		for _, m := range item.FindAllStringSubmatch(r.Body, -1) {
			out[m[1]] = append(out[m[1]], r.Time)
		}
	}
	for _, ts := range out {
		slices.SortFunc(ts, time.Time.Compare)
	}
	return out
}

// expected computes every linked SKU's quantities with the shop's stored
// settings (POST /v1/shops/{shop}/compute) from the fake Shopify's state
// now: TikTok SKU id → warehouse → quantity.
func (d *deployment) expected(tb tester, id string, p *platforms) map[string]map[string]int {
	tb.Helper()
	st := p.shopify.State()
	active := map[string]bool{}
	for _, l := range st.Locations {
		active[l.ID] = l.Active
	}
	variants := map[string]shopifyfake.VariantState{}
	for _, v := range st.Variants {
		variants[v.ID] = v
	}
	type item struct {
		ID              string         `json:"id"`
		Tracked         bool           `json:"tracked"`
		ContinueSelling bool           `json:"continue_selling"`
		Available       map[string]int `json:"available"`
	}
	var items []item
	sku := map[string]string{}
	for _, l := range p.catalog.Links {
		v := variants[l.VariantID]
		it := item{ID: v.ID, Tracked: v.Tracked, ContinueSelling: v.InventoryPolicy == "CONTINUE", Available: map[string]int{}}
		for loc, q := range v.Available {
			if active[loc] {
				it.Available["gid://shopify/Location/"+loc] = q
			}
		}
		items = append(items, it)
		sku[v.ID] = l.TikTokID
	}
	body, _ := json.Marshal(map[string]any{"items": items})
	var resp struct {
		Items []struct {
			ID         string         `json:"id"`
			Quantities map[string]int `json:"quantities"`
			Error      any            `json:"error"`
		} `json:"items"`
	}
	d.must(tb, "POST", "/v1/shops/"+id+"/compute", string(body), &resp)
	out := map[string]map[string]int{}
	for _, r := range resp.Items {
		if r.Error != nil {
			tb.Fatalf("the rule failed item %s: %v", r.ID, r.Error)
		}
		out[sku[r.ID]] = r.Quantities
	}
	return out
}

// checkPublished asserts that TikTok has the rule's output for every
// linked SKU, in every warehouse the rule gives it and the SKU is stocked
// in.
func (d *deployment) checkPublished(tb tester, id string, p *platforms) {
	tb.Helper()
	want := d.expected(tb, id, p)
	var wrong []string
	for _, k := range p.tiktok.Stock() {
		w, linked := want[k.SKUID]
		if !linked {
			continue
		}
		for _, wh := range k.Warehouses {
			if q, ok := w[wh.WarehouseID]; ok && q != wh.Available {
				wrong = append(wrong, fmt.Sprintf("SKU %s (%s) in %s: TikTok has %d, the rule says %d", k.SKUID, k.SellerSKU, wh.WarehouseID, wh.Available, q))
			}
		}
	}
	if len(wrong) > 0 {
		tb.Fatalf("after the sync went idle and reconciled, %d quantities differ from the rule's:\n%s", len(wrong), strings.Join(wrong, "\n"))
	}
}

// checkNothingToPublish asserts that publishing the shop again, and
// reconciling it again, with nothing changed, calls TikTok's update zero
// times.
func (d *deployment) checkNothingToPublish(tb tester, id string, p *platforms) {
	tb.Helper()
	before := updateCalls(tb, p.tiktok)
	d.republish(tb, id, true)
	if n := updateCalls(tb, p.tiktok) - before; n != 0 {
		tb.Fatalf("republishing an unchanged shop made %d TikTok update calls, want 0:\n%s", n, strings.Join(updateBodies(p.tiktok, before), "\n"))
	}
	d.reconcile(tb, id)
	if n := updateCalls(tb, p.tiktok) - before; n != 0 {
		tb.Fatalf("reconciling an unchanged shop made %d TikTok update calls, want 0:\n%s", n, strings.Join(updateBodies(p.tiktok, before), "\n"))
	}
}

// updateBodies returns the update calls TikTok answered after the first
// skip ones: path, status and body each.
func updateBodies(tf *tiktokfake.Server, skip int) []string {
	var out []string
	for _, r := range tf.Requests() {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/inventory/update") {
			continue
		}
		if skip--; skip < 0 {
			out = append(out, fmt.Sprintf("%s %s %d %s", r.Time.Format(time.StampMicro), r.Path, r.Status, r.Body))
		}
	}
	return out
}

// event is a change the test made that could raise a quantity: of one
// inventory item (its numeric id), or of every item (item "").
type event struct {
	item          string
	issued, ended time.Time
}

// checkNoUnjustifiedRaise asserts that no quantity TikTok accepted went
// up unless something that could raise it happened after Shopify was read
// for the lower one: a change of its item's stock or flags that ended
// after that read and began before the raising call, or a change of every
// item (settings, locations, deliveries of held webhooks) begun before
// the raising call. A stale read published after a newer, lower one would
// fail it.
func checkNoUnjustifiedRaise(tb tester, p *platforms, events []event) {
	tb.Helper()
	ups, _ := acceptedUpdates(tb, p.tiktok)
	reads := levelReads(p.shopify)
	itemOf := map[string]string{}
	for _, l := range p.catalog.Links {
		itemOf[l.TikTokID] = l.InventoryItemID
	}
	type key struct{ sku, wh string }
	last := map[key]update{}
	for _, u := range ups {
		k := key{u.sku, u.warehouse}
		prev, seen := last[k]
		last[k] = u
		if !seen || u.quantity <= prev.quantity {
			continue
		}
		item := itemOf[u.sku]
		// The read the lower quantity came from: the last read of the
		// item before it was sent (a shop's batches run one at a time).
		var read time.Time
		for _, r := range reads[item] {
			if r.Before(prev.time) {
				read = r
			}
		}
		justified := slices.ContainsFunc(events, func(e event) bool {
			if e.item == "" {
				return e.issued.Before(u.time)
			}
			return e.item == item && e.ended.After(read) && e.issued.Before(u.time)
		})
		if !justified {
			tb.Errorf("SKU %s in %s went from %d (sent %s, read %s) up to %d (sent %s) with no change that could raise it in between",
				u.sku, u.warehouse, prev.quantity, prev.time.Format(time.StampMicro), read.Format(time.StampMicro), u.quantity, u.time.Format(time.StampMicro))
		}
	}
}

// postWebhook sends a webhook as the fake would, with the headers given.
func (d *deployment) postWebhook(tb tester, headers map[string]string, body []byte) int {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, d.webhookURL(), bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkWebhooksProcessed asserts that the item of every inventory level
// webhook the server accepted was read from Shopify after it arrived:
// none was recorded and then forgotten.
func checkWebhooksProcessed(tb tester, p *platforms) {
	tb.Helper()
	reads := levelReads(p.shopify)
	accepted := 0
	for _, d := range p.shopify.Deliveries() {
		if d.Status != http.StatusOK || d.Topic != "inventory_levels/update" {
			continue
		}
		accepted++
		var body struct {
			Item json.Number `json:"inventory_item_id"`
		}
		if err := json.Unmarshal([]byte(d.Body), &body); err != nil {
			tb.Fatalf("webhook %s: %v", d.WebhookID, err)
		}
		if !slices.ContainsFunc(reads[body.Item.String()], func(r time.Time) bool { return r.After(d.Time) }) {
			tb.Errorf("webhook %s (item %s), accepted at %s, was never followed by a read of its item", d.WebhookID, body.Item, d.Time.Format(time.StampMicro))
		}
	}
	if accepted == 0 {
		tb.Fatal("no inventory level webhook was accepted: nothing was tested")
	}
}

// runStatus is the latest run as GET /v1/shops/{shop}/sync shows it.
type runStatus struct {
	ID    int64  `json:"id"`
	Kind  string `json:"kind"`
	State string `json:"state"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	Error string `json:"error"`
}

// latestRun reads the shop's latest run from a running server (zero if
// none).
func (d *deployment) latestRun(tb tester, shop string) runStatus {
	tb.Helper()
	var st struct {
		Run *runStatus `json:"run"`
	}
	d.must(tb, "GET", "/v1/shops/"+shop+"/sync", "", &st)
	if st.Run == nil {
		return runStatus{}
	}
	return *st.Run
}

// refusedDeliveries counts the webhooks the fake Shopify delivered that
// were not answered 200 (the server was down, or refused them): Shopify
// would deliver them again later.
func refusedDeliveries(p *platforms) int {
	n := 0
	for _, dl := range p.shopify.Deliveries() {
		if dl.Status != http.StatusOK {
			n++
		}
	}
	return n
}

// onEachEngine runs test as a subtest on SQLite (dsn "": the server's
// default store) and on a fresh PostgreSQL database, which is skipped
// without SYNCRULES_TEST_POSTGRES.
func onEachEngine(t *testing.T, test func(t *testing.T, engine, dsn string)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dsn := ""
			if engine == "postgres" {
				dsn = storetest.FreshPostgres(t)
			}
			test(t, engine, dsn)
		})
	}
}
