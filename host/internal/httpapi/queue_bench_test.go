package httpapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	syncq "github.com/syncrules/syncrules/host/internal/sync"
)

// BenchmarkAuthQueueLoad is BenchmarkAuth on a SQLite store whose sync
// queue (River, in the same database file) is first idle, then holds
// 10,000 shops' jobs, recorded as webhooks are (receipt, pending item and
// job in one transaction), running ten at a time as a server's workers
// do: each reads the shop's pending items, waits 50 ms (its Shopify and
// TikTok calls) and takes them. Each loaded case reports its time as a
// multiple of the idle one's (x-idle), and the jobs still queued when it
// ended.
//
// Each request alternates with the same request to a twin server with no
// queue (its own store file, in the same process), timed apart (x-twin:
// this server's time as a multiple of the twin's). The twin shares the CPU
// the queue takes but not its database, so x-twin is what the database
// adds, and x-idle what the database and the CPU add; x-twin also holds
// when other processes load the machine, which moves x-idle.
//
//	go test -run '^$' -bench AuthQueueLoad -count 6 ./host/internal/httpapi/
func BenchmarkAuthQueueLoad(b *testing.B) {
	const jobs = 10_000
	const jobWork = 50 * time.Millisecond
	ctx := context.Background()
	st := newStore(b)
	s := newServer(b, loadRule(b), serverConfig{store: st})
	s.putShop(b, "bench", seedShopBody)
	s.putSettings(b, "bench", `{"percentage":80,"mappings":[{"location":"A","warehouse":"alpha"}]}`)
	stored := s.createToken(b, "shop:bench")
	twin := newServer(b, loadRule(b), serverConfig{})
	twin.putShop(b, "bench", seedShopBody)
	twin.putSettings(b, "bench", `{"percentage":80,"mappings":[{"location":"A","warehouse":"alpha"}]}`)
	twinStored := twin.createToken(b, "shop:bench")
	for i := range jobs {
		if _, err := st.PutShop(ctx, shop.Shop{ID: loadShop(i), Name: "Load"}, nil); err != nil {
			b.Fatal(err)
		}
	}

	// The jobs wait for the gate until the loaded cases start, so that
	// all 10,000 are queued then.
	gate := make(chan struct{})
	q, err := syncq.Open(ctx, syncq.Options{Store: st, Logger: slog.New(slog.DiscardHandler), JobTimeout: 10 * time.Minute,
		SyncShop: func(ctx context.Context, id string) (bool, error) {
			select {
			case <-gate:
			case <-ctx.Done():
				return false, ctx.Err()
			}
			items, err := st.PendingItems(ctx, id, shop.SyncBatch)
			if err != nil {
				return false, err
			}
			time.Sleep(jobWork)
			return false, st.TakePending(ctx, id, items)
		},
		Pending: st.HasPendingTx,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stop, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		q.Stop(stop)
	})

	inline := []byte(`{"settings":{"percentage":80,"mappings":[{"location":"A","warehouse":"alpha"}]},` +
		`"locations":[{"id":"A"},{"id":"B"}],"warehouses":[{"id":"alpha","default":true},{"id":"beta"}],` +
		`"items":[{"id":"v","available":{"A":985}}]}`)
	items := []byte(`{"items":[{"id":"v","available":{"A":985}}]}`)
	client := &http.Client{Transport: s.transport}
	twinClient := &http.Client{Transport: twin.transport}
	cases := []struct {
		name, token, twinToken, path string
		body                         []byte
	}{
		{"env-token", testAdminToken, testAdminToken, "/v1/compute", inline},
		{"stored-token", stored, twinStored, "/v1/compute", inline},
		{"stored-shop", stored, twinStored, "/v1/shops/bench/compute", items},
	}
	// post times a request to s and, untimed, the same to the twin, and
	// reports x-twin when b ends.
	post := func(b *testing.B, path, token, twinToken string, body []byte) {
		var twinTime time.Duration
		for b.Loop() {
			s.postRaw(b, client, path, token, body)
			b.StopTimer()
			start := time.Now()
			twin.postRaw(b, twinClient, path, twinToken, body)
			twinTime += time.Since(start)
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed())/float64(twinTime), "x-twin")
	}
	idle := map[string]float64{}
	for _, bc := range cases {
		b.Run("idle/"+bc.name, func(b *testing.B) {
			post(b, bc.path, bc.token, bc.twinToken, bc.body)
			idle[bc.name] = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
	}

	for i := range jobs {
		r := shop.WebhookReceipt{Shop: loadShop(i), WebhookID: fmt.Sprint("load-", i), Topic: shop.TopicInventoryLevelsUpdate, Body: []byte("{}")}
		enqueue := func(ctx context.Context, tx any) error { return q.EnqueueTx(ctx, tx, r.Shop) }
		if _, err := st.RecordWebhook(ctx, r, []string{"gid://shopify/InventoryItem/1"}, false, enqueue); err != nil {
			b.Fatal(err)
		}
	}
	close(gate)
	queued := func(b *testing.B) int {
		stats, err := q.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return stats.ByState["available"] + stats.ByState["running"]
	}
	for _, bc := range cases {
		b.Run(fmt.Sprintf("queue-%d/%s", jobs, bc.name), func(b *testing.B) {
			post(b, bc.path, bc.token, bc.twinToken, bc.body)
			if base := idle[bc.name]; base > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/base, "x-idle")
			}
			b.ReportMetric(float64(queued(b)), "jobs-left")
		})
	}
}

func loadShop(i int) string { return fmt.Sprintf("load-%05d", i) }
