// Command demo shows the connector end to end on one machine: it starts
// "syncrules fakes" (a fake Shopify and a fake TikTok Shop) and "syncrules
// serve" on free loopback ports with a temporary data directory, connects a
// demo shop with the seed's settings (80% of location A to warehouse β),
// changes a variant's stock in the fake Shopify, which sends the server a
// signed webhook, and prints the update arriving at the fake TikTok Shop
// with the computation's trace. Then it stops both processes.
//
//	make demo            # builds, then: go run ./scripts/demo
//	go run ./scripts/demo -bin bin/syncrules -keep
//
// It talks to the processes over HTTP only (the API and the fakes' control
// APIs), as a user would with curl.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

const shopID = "demo"

// timeout bounds each wait: a start, the connect, a push.
var timeout = 2 * time.Minute

func main() {
	bin := flag.String("bin", "bin/syncrules", "the syncrules `binary` (make build)")
	keep := flag.Bool("keep", false, "keep the temporary data directory and the processes' logs")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin string, keep bool) (err error) {
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (run \"make build\" first)", bin, err)
	}
	dir, err := os.MkdirTemp("", "syncrules-demo-")
	if err != nil {
		return err
	}
	defer func() {
		if keep || err != nil {
			fmt.Printf("\nLogs and data kept in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	step("Starting the fakes and the server")
	fakes, err := start(ctx, bin, filepath.Join(dir, "fakes.log"), nil,
		"fakes", "--shopify-listen", "127.0.0.1:0", "--tiktok-listen", "127.0.0.1:0", "--catalog", "6,2,3", "--seed", "1")
	if err != nil {
		return err
	}
	defer fakes.stop("fakes")
	out, err := fakes.waitStdout(`(?s)The shop's credentials.*\n\s*(\{.*\})\s*\n`)
	if err != nil {
		return fmt.Errorf("the fakes did not start: %w\n%s", err, fakes.logs())
	}
	shopifyURL := find(out, `fake Shopify\s+(http://\S+)`)
	tiktokURL := find(out, `fake TikTok Shop\s+(http://\S+)`)
	domain := find(out, `fake Shopify\s+\S+\s+shop (\S+),`)
	credentials := find(out, `(?s)The shop's credentials.*?\n\s*(\{.*\})`)
	fmt.Printf("  fake Shopify      %s (shop %s)\n  fake TikTok Shop  %s\n", shopifyURL, domain, tiktokURL)

	// No drain before the stop: no load balancer watches this server.
	config := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(config, []byte("[server]\ndrain_period = \"0s\"\n"), 0o600); err != nil {
		return err
	}
	token := randomHex(32)
	server, err := start(ctx, bin, filepath.Join(dir, "server.log"), []string{
		"SYNCRULES_ADMIN_TOKEN=" + token,
		"SYNCRULES_SHOPIFY_BASE_URL=" + shopifyURL,
		"SYNCRULES_TIKTOK_BASE_URL=" + tiktokURL,
		"SYNCRULES_TIKTOK_AUTH_BASE_URL=" + tiktokURL,
	}, "serve", "--config", config, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"))
	if err != nil {
		return err
	}
	defer server.stop("server")
	logs, err := server.waitStderr(`msg=ready`)
	if err != nil {
		return fmt.Errorf("the server did not start: %w\n%s", err, server.logs())
	}
	api := &client{base: find(logs, `msg=listening addr=(\S+)`), token: token}
	fmt.Printf("  syncrules         %s (data in %s)\n", api.base, filepath.Join(dir, "data"))
	shopify, tiktok := &client{base: shopifyURL + "/_control"}, &client{base: tiktokURL + "/_control"}
	if err := shopify.call("PUT", "/webhooks", map[string]string{"url": api.base + "/webhooks/shopify"}, nil); err != nil {
		return err
	}

	step("Connecting shop " + shopID)
	if err := api.call("PUT", "/v1/shops/"+shopID, map[string]string{"name": "Demo shop", "shopify_domain": domain}, nil); err != nil {
		return err
	}
	if err := api.call("PUT", "/v1/shops/"+shopID+"/credentials", json.RawMessage(credentials), nil); err != nil {
		return err
	}
	if err := api.call("POST", "/v1/shops/"+shopID+"/sync/connect", nil, nil); err != nil {
		return err
	}
	var status struct {
		Run struct {
			State, Error string
			Counts       map[string]int
		}
	}
	if err := poll(ctx, "the connect", func() (bool, error) {
		if err := api.call("GET", "/v1/shops/"+shopID+"/sync", nil, &status); err != nil {
			return false, err
		}
		if status.Run.State == "failed" {
			return false, fmt.Errorf("the connect failed: %s", status.Run.Error)
		}
		return status.Run.State == "succeeded", nil
	}); err != nil {
		return err
	}
	fmt.Printf("  connected: linked %d, unmatched variants %d, unmatched TikTok SKUs %d, conflicts %d\n",
		status.Run.Counts["linked"], status.Run.Counts["unmatched_variants"], status.Run.Counts["unmatched_skus"], status.Run.Counts["conflicts"])

	// The seed's settings: 80% of location A's stock to warehouse β. A is
	// the fake's "Location 1", β its "Second warehouse".
	var state struct {
		Locations []struct{ ID, Name string }
		Variants  []struct {
			ID, SKU         string
			InventoryItemID string `json:"inventory_item_id"`
			Tracked         bool
			InventoryPolicy string `json:"inventory_policy"`
			Available       map[string]int
		}
	}
	if err := shopify.call("GET", "/state", nil, &state); err != nil {
		return err
	}
	var warehouses []struct{ ID, Name string }
	if err := tiktok.call("GET", "/warehouses", nil, &warehouses); err != nil {
		return err
	}
	var sh struct {
		Locations  []struct{ ID string }
		Warehouses []struct{ ID string }
	}
	if err := api.call("GET", "/v1/shops/"+shopID, nil, &sh); err != nil {
		return err
	}
	locA, beta := "", ""
	for _, l := range sh.Locations {
		if strings.TrimPrefix(l.ID, "gid://shopify/Location/") == state.Locations[0].ID {
			locA = l.ID
		}
	}
	for _, w := range warehouses {
		if w.Name == "Second warehouse" {
			beta = w.ID
		}
	}
	for _, w := range warehouses {
		names[w.ID] = w.Name
	}
	if locA == "" || beta == "" {
		return fmt.Errorf("the shop has no location %s or no warehouse named Second warehouse: %+v", state.Locations[0].ID, sh)
	}
	settings := map[string]any{"percentage": 80, "mappings": []map[string]string{{"location": locA, "warehouse": beta}}}
	if err := api.call("PUT", "/v1/shops/"+shopID+"/settings", settings, nil); err != nil {
		return err
	}
	fmt.Printf("  settings: 80%% of %s (A, %s) to %s (β, Second warehouse)\n", state.Locations[0].Name, locA, beta)

	// The first variant: its TikTok SKU is stocked in both warehouses.
	v := state.Variants[0]
	if !v.Tracked {
		if err := shopify.call("POST", "/inventory_item", map[string]any{"inventory_item_id": v.InventoryItemID, "tracked": true}, nil); err != nil {
			return err
		}
	}
	if v.InventoryPolicy != "DENY" {
		if err := shopify.call("POST", "/variant", map[string]any{"variant_id": v.ID, "inventory_policy": "DENY"}, nil); err != nil {
			return err
		}
	}
	sku, err := tiktokSKU(tiktok, v.SKU)
	if err != nil {
		return err
	}
	item := func(available map[string]int) map[string]any {
		levels := map[string]int{}
		for _, l := range sh.Locations {
			if q, ok := available[strings.TrimPrefix(l.ID, "gid://shopify/Location/")]; ok {
				levels[l.ID] = q
			}
		}
		return map[string]any{"id": v.SKU, "tracked": true, "continue_selling": false, "available": levels}
	}
	want, _, err := compute(api, item(v.Available))
	if err != nil {
		return err
	}
	step(fmt.Sprintf("Waiting for the settings to reach TikTok (%s: %s)", v.SKU, format(want)))
	if err := poll(ctx, "the settings' publication", func() (bool, error) {
		got, err := tiktokQuantities(tiktok, sku)
		return equal(got, want), err
	}); err != nil {
		return err
	}

	// The change: A's stock of the variant goes up by 25.
	if err := tiktok.call("DELETE", "/requests", nil, nil); err != nil {
		return err
	}
	before := v.Available[state.Locations[0].ID]
	after := max(before, 0) + 25
	step(fmt.Sprintf("Shopify: %s at %s goes from %d to %d", v.SKU, state.Locations[0].Name, before, after))
	changed := time.Now()
	if err := shopify.call("POST", "/inventory", map[string]any{"inventory_item_id": v.InventoryItemID,
		"location_id": state.Locations[0].ID, "available": after}, nil); err != nil {
		return err
	}
	levels := maps(v.Available)
	levels[state.Locations[0].ID] = after
	want, trace, err := compute(api, item(levels))
	if err != nil {
		return err
	}
	var push *request
	if err := poll(ctx, "the push to TikTok", func() (bool, error) {
		var reqs []request
		if err := tiktok.call("GET", "/requests", nil, &reqs); err != nil {
			return false, err
		}
		for _, r := range reqs {
			if strings.HasSuffix(r.Path, "/inventory/update") && strings.Contains(r.Body, sku) {
				push = &r
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		return err
	}
	var deliveries struct {
		Deliveries []struct {
			WebhookID string `json:"webhook_id"`
			Topic     string
			Status    int
			Time      time.Time
		}
	}
	_ = shopify.call("GET", "/webhooks", nil, &deliveries)
	for _, d := range deliveries.Deliveries {
		if !d.Time.Before(changed) {
			fmt.Printf("  webhook %s %s → syncrules answered %d\n", d.Topic, d.WebhookID, d.Status)
		}
	}

	step(fmt.Sprintf("TikTok Shop received, %v after the change:", push.Time.Sub(changed).Round(time.Millisecond)))
	fmt.Printf("  %s %s\n%s\n", push.Method, push.Path, indent(push.Body, "  "))
	got, err := tiktokQuantities(tiktok, sku)
	if err != nil {
		return err
	}
	fmt.Printf("  TikTok's stock of %s now: %s\n", v.SKU, format(got))
	if !equal(got, want) {
		return fmt.Errorf("TikTok has %s, but the rule says %s", format(got), format(want))
	}

	step("Why: the computation's trace (POST /v1/shops/" + shopID + "/compute?explain=true)")
	fmt.Println(indent(string(trace), "  "))
	// The sync's own record of the push, where the server keeps one.
	var history json.RawMessage
	if err := api.call("GET", "/v1/shops/"+shopID+"/sync/history?sku="+sku, nil, &history); err == nil {
		step("The sync's history of " + v.SKU + " (GET /v1/shops/" + shopID + "/sync/history?sku=" + sku + ")")
		fmt.Println(indent(string(history), "  "))
	}
	var metrics string
	if b, err := api.get("/metrics"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "syncrules_sync_lag_seconds_count") || strings.HasPrefix(line, "syncrules_sync_lag_seconds_sum") ||
				strings.HasPrefix(line, "syncrules_sync_publications_total") || strings.HasPrefix(line, "syncrules_sync_webhooks_total") {
				metrics += "  " + line + "\n"
			}
		}
	}
	if metrics != "" {
		step("/metrics")
		fmt.Print(metrics)
	}

	step("Stopping")
	if err := server.stop("server"); err != nil {
		return err
	}
	return fakes.stop("fakes")
}

// request is a request the fake TikTok Shop received.
type request struct {
	Time         time.Time
	Method, Path string
	Body         string
}

// compute asks the server for an item's quantities under the shop's
// settings, and the trace of how they came about.
func compute(api *client, item map[string]any) (map[string]int, json.RawMessage, error) {
	var resp struct {
		Items []struct {
			Quantities map[string]int
			Trace      json.RawMessage
		}
	}
	if err := api.call("POST", "/v1/shops/"+shopID+"/compute?explain=true", map[string]any{"items": []any{item}}, &resp); err != nil {
		return nil, nil, err
	}
	if len(resp.Items) != 1 {
		return nil, nil, fmt.Errorf("compute answered %d items", len(resp.Items))
	}
	return resp.Items[0].Quantities, resp.Items[0].Trace, nil
}

// tiktokSKU is the id of the TikTok SKU of a seller SKU.
func tiktokSKU(tiktok *client, sellerSKU string) (string, error) {
	var stock []struct {
		SKUID     string `json:"sku_id"`
		SellerSKU string `json:"seller_sku"`
	}
	if err := tiktok.call("GET", "/stock", nil, &stock); err != nil {
		return "", err
	}
	for _, s := range stock {
		if s.SellerSKU == sellerSKU {
			return s.SKUID, nil
		}
	}
	return "", fmt.Errorf("the fake TikTok Shop has no SKU %s", sellerSKU)
}

// tiktokQuantities are a TikTok SKU's available quantities by warehouse.
func tiktokQuantities(tiktok *client, skuID string) (map[string]int, error) {
	var stock []struct {
		SKUID      string `json:"sku_id"`
		Warehouses []struct {
			WarehouseID string `json:"warehouse_id"`
			Available   int
		}
	}
	if err := tiktok.call("GET", "/stock", nil, &stock); err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, s := range stock {
		if s.SKUID == skuID {
			for _, w := range s.Warehouses {
				out[w.WarehouseID] = w.Available
			}
		}
	}
	return out, nil
}

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func maps(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// names are the TikTok warehouses' names by id, for format.
var names = map[string]string{}

// format shows quantities by warehouse name, sorted.
func format(q map[string]int) string {
	var parts []string
	for id, n := range q {
		parts = append(parts, fmt.Sprintf("%s (%s) %d", cmpOr(names[id], "warehouse"), id, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// client calls an HTTP JSON API.
type client struct {
	base, token string
}

func (c *client) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

func (c *client) get(path string) ([]byte, error) {
	resp, err := http.Get(c.base + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// process is a started syncrules command; its stdout and stderr are kept
// and copied to a log file.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	more   chan struct{} // closed and replaced when output arrives
	exited chan struct{}
	err    error
	once   sync.Once
}

func start(ctx context.Context, bin, logFile string, env []string, args ...string) (*process, error) {
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	p := &process{cmd: exec.Command(bin, args...), more: make(chan struct{}), exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	var copying sync.WaitGroup
	for _, s := range []struct {
		r   io.Reader
		buf *bytes.Buffer
	}{{stdout, &p.stdout}, {stderr, &p.stderr}} {
		copying.Add(1)
		go func() {
			defer copying.Done()
			sc := bufio.NewScanner(s.r)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				p.mu.Lock()
				s.buf.Write(sc.Bytes())
				s.buf.WriteByte('\n')
				fmt.Fprintln(log, sc.Text())
				close(p.more)
				p.more = make(chan struct{})
				p.mu.Unlock()
			}
		}()
	}
	go func() {
		copying.Wait()
		p.err = p.cmd.Wait()
		log.Close()
		close(p.exited)
	}()
	go func() {
		select {
		case <-ctx.Done(): // interrupted: stop the process too
			p.stop("")
		case <-p.exited:
		}
	}()
	return p, nil
}

func (p *process) waitStdout(pattern string) (string, error) { return p.wait(&p.stdout, pattern) }
func (p *process) waitStderr(pattern string) (string, error) { return p.wait(&p.stderr, pattern) }

// wait waits until the output matches pattern, and returns it.
func (p *process) wait(buf *bytes.Buffer, pattern string) (string, error) {
	re := regexp.MustCompile(pattern)
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		out, more := buf.String(), p.more
		p.mu.Unlock()
		if re.MatchString(out) {
			return out, nil
		}
		select {
		case <-more:
		case <-p.exited:
			return "", fmt.Errorf("it exited: %v", p.err)
		case <-deadline:
			return "", fmt.Errorf("not within %v", timeout)
		}
	}
}

func (p *process) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String() + p.stderr.String()
}

// stop sends SIGINT, as Ctrl-C would, and waits for the process to exit.
func (p *process) stop(name string) error {
	var err error
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(timeout):
			_ = p.cmd.Process.Kill()
			<-p.exited
			err = fmt.Errorf("%s did not stop within %v of SIGINT", name, timeout)
			return
		}
		var exit *exec.ExitError
		if errors.As(p.err, &exit) {
			err = fmt.Errorf("%s exited with %v:\n%s", name, p.err, p.logs())
		}
		if name != "" && err == nil {
			fmt.Printf("  %s stopped\n", name)
		}
	})
	return err
}

// poll calls done every 50 ms until it reports true, fails, or the wait
// times out.
func poll(ctx context.Context, what string, done func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := done()
		if ok || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func find(s, pattern string) string {
	if m := regexp.MustCompile(pattern).FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// indent indents JSON, every line after prefix.
func indent(s, prefix string) string {
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(s), prefix, "  ") == nil {
		s = pretty.String()
	}
	return prefix + strings.TrimRight(s, "\n")
}

func step(s string) { fmt.Printf("\n== %s\n", s) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
