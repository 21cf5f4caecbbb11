package shop_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
	"github.com/syncrules/syncrules/host/internal/secret"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// fakesEnv makes the test binary serve both fakes on a generated catalog
// of that many variants (4 per product, 3 locations) instead of running
// tests: a benchmark measures the connector's memory, not the fakes'.
const fakesEnv = "SYNCRULES_BENCH_FAKES"

// fakesEndlessEnv, set, gives the fake Shopify an endless cost bucket: a
// benchmark of the sync's memory need not wait for Shopify's pace.
const fakesEndlessEnv = "SYNCRULES_BENCH_FAKES_ENDLESS"

func TestMain(m *testing.M) {
	if n := os.Getenv(fakesEnv); n != "" {
		serveFakes(n)
		return
	}
	os.Exit(m.Run())
}

// fakesAddress is what serveFakes prints, one JSON line, once serving.
type fakesAddress struct {
	Shopify, TikTok, Domain, ShopifyToken, AppKey, AppSecret string
}

// serveFakes serves until its standard input closes.
func serveFakes(variants string) {
	n, err := strconv.Atoi(variants)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cat, err := catalog.Generate(catalog.Options{Products: n / 4, Variants: 4, Locations: 3, Seed: 11})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	sopt := shopifyfake.Options{Catalog: cat} // Shopify's standard bucket
	if os.Getenv(fakesEndlessEnv) != "" {
		sopt.MaximumAvailable, sopt.RestoreRate = 1e12, 1e12
	}
	sf := shopifyfake.New(sopt)
	tf := tiktokfake.New(tiktokfake.Options{Catalog: cat})
	for _, start := range []func(string) error{sf.Start, tf.Start} {
		if err := start("127.0.0.1:0"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	json.NewEncoder(os.Stdout).Encode(fakesAddress{Shopify: sf.URL(), TikTok: tf.URL(), Domain: sf.ShopDomain(),
		ShopifyToken: sf.AccessToken(), AppKey: tf.AppKey(), AppSecret: tf.AppSecret()})
	io.Copy(io.Discard, os.Stdin)
}

// startFakes runs the fakes in a child process of this test binary, with
// more environment (fakesEndlessEnv) if given.
func startFakes(b *testing.B, variants int, env ...string) fakesAddress {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), fakesEnv+"="+strconv.Itoa(variants)), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	var addr fakesAddress
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&addr); err != nil {
		b.Fatalf("the fakes did not start: %v", err)
	}
	return addr
}

// BenchmarkConnect connects a shop of N variants from scratch against the
// fakes with the clients' default settings (so above 250 variants the
// Shopify catalog comes through a bulk operation, polled every 2 s) and a
// fresh SQLite store each time. It reports the Shopify cost points spent
// and the peak of the live heap above what it was before the run: flat in
// N if the import streams.
//
//	go test -run '^$' -bench Connect -benchtime 3x ./host/internal/shop/
func BenchmarkConnect(b *testing.B) {
	for _, n := range []int{2_500, 10_000, 40_000} {
		b.Run(fmt.Sprintf("variants=%d", n), func(b *testing.B) {
			addr := startFakes(b, n)
			sealer, err := secret.NewSealer(bytes.Repeat([]byte{9}, secret.KeySize))
			if err != nil {
				b.Fatal(err)
			}
			platforms := shop.Platforms{
				Shopify: shopify.Options{BaseURL: addr.Shopify},
				TikTok:  tiktok.Options{BaseURL: addr.TikTok, AuthBaseURL: addr.TikTok},
			}
			pointsBefore := usage(b, addr.Shopify).Points
			var peak uint64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				h := &harness{t: b, store: storetest.SQLite(b, b.TempDir()), sealer: sealer, logs: &lockedBuffer{}}
				h.svc = h.newService(platforms)
				if _, _, err := h.svc.PutShop(context.Background(), shop.Operator, shopID, shop.ShopInput{Name: "Acme", ShopifyDomain: &addr.Domain}); err != nil {
					b.Fatal(err)
				}
				h.putCredentials(shop.Credentials{
					Shopify: &shop.ShopifyCredentials{AccessToken: &addr.ShopifyToken},
					TikTok: &shop.TikTokCredentials{AppKey: &addr.AppKey, AppSecret: &addr.AppSecret,
						AccessToken: ptr(tiktokfake.DefaultAccessToken), RefreshToken: ptr(tiktokfake.DefaultRefreshToken)},
				})
				stop := watchHeap()
				b.StartTimer()
				st := h.connect()
				b.StopTimer()
				peak = max(peak, stop())
				if got := st.Catalog.Linked + st.Catalog.UnmatchedVariants; got < n {
					b.Fatalf("%d variants linked or unmatched, want at least %d", got, n)
				}
				b.StartTimer()
			}
			b.StopTimer()
			points := usage(b, addr.Shopify).Points - pointsBefore
			b.ReportMetric(float64(points)/float64(b.N), "points/op")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "variants/s")
		})
	}
}

// usage reads what the fake Shopify's clients have spent.
func usage(b *testing.B, shopifyURL string) shopifyfake.Usage {
	b.Helper()
	resp, err := http.Get(shopifyURL + "/_control/usage")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var u shopifyfake.Usage
	if err := json.NewDecoder(resp.Body).Decode(&u); err != nil {
		b.Fatal(err)
	}
	return u
}

// watchHeap samples the live heap every 5 ms from now; stop returns its
// peak above the heap at the start (after a collection).
func watchHeap() (stop func() uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-tick.C:
			case <-done:
				return
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		if peak < base {
			return 0
		}
		return peak - base
	}
}
