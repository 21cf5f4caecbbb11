package e2e_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
	"github.com/syncrules/syncrules/host/internal/slowtest"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
)

// TestReplicas: two servers on one PostgreSQL database, as two replicas
// behind a load balancer that spreads Shopify's webhooks over both: every
// job runs (none is left waiting, none discarded) and the end-to-end
// property holds as it does on one server.
func TestReplicas(t *testing.T) {
	for _, s := range checkProperty(t, storetest.FreshPostgres(t), "replica-a", "replica-b") {
		if s.webhooks.Load() == 0 {
			t.Errorf("%s received no webhook: the replicas did not share the work", s.name)
		}
	}
}

// TestReplicasRateLimits: two replicas on one PostgreSQL database share
// one shop whose TikTok Shop answers 429 beyond 10 calls a second (bursts
// of 10) and whose Shopify has the standard plan's cost bucket. A
// whole-shop republish (a settings change, the shop's unique sync job)
// runs while a reconciliation (another job kind, free to run beside it on
// either replica) reads the shop back: every job runs, the shop converges
// on the rule's output, and the replicas' calls together, after their
// first backoff, stay within TikTok's limit with no sustained 429s, though
// the TikTok pace may climb to four times the limit: they climb and cut
// one pace, kept in the database. Shopify never answers THROTTLED: the
// replicas reserve each query's cost from the shop's cost bucket kept in
// the database.
func TestReplicasRateLimits(t *testing.T) {
	const limit, burst = 10, 10
	p := startPlatforms(t, platformOptions{
		catalog:         catalog.Options{Products: 60, Variants: 2, Locations: 2, Seed: 11, WithoutConflicts: true},
		domain:          "limits.myshopify.com",
		shopifyStandard: true,
		tiktokRateLimit: limit,
	})
	// From the default rate 10, the pace may climb past the fake's limit.
	d := deploy(t, p, storetest.FreshPostgres(t), extraConfig{tiktok: "max_rate = 40.0\n"})
	d.start("replica-a")
	d.start("replica-b")
	d.addShop(t, "limits", p, `{"percentage":80}`)

	start := time.Now()
	d.must(t, "PUT", "/v1/shops/limits/settings", `{"percentage":50}`, nil)
	if status, b := d.api(t, "POST", "/v1/shops/limits/sync/reconcile", ""); status != http.StatusAccepted {
		t.Fatalf("POST /v1/shops/limits/sync/reconcile: %d %s, want 202", status, b)
	}
	// At 10 calls a second and 50 Shopify points a second, for both
	// replicas together, this takes minutes, not the usual deadline.
	waitWithin(t, 10*time.Minute*slowtest.Factor, "the sync to be idle", func() (bool, error) { return idle(d.store) })
	d.reconcile(t, "limits")
	t.Logf("republished and reconciled in %v", time.Since(start))
	d.checkPublished(t, "limits", p)
	d.checkNothingToPublish(t, "limits", p)
	var discarded int
	if err := d.store.QueryRow(`SELECT COUNT(*) FROM river_job WHERE state = 'discarded'`).Scan(&discarded); err != nil {
		t.Fatal(err)
	}
	if discarded > 0 {
		t.Errorf("%d jobs were discarded: every job must run to its end", discarded)
	}

	tt := measureTikTok(p.tiktok.Requests(), time.Second)
	t.Logf("TikTok: %d calls, %d answered 429; busiest second after the first 429: %d calls (limit %d + burst %d); longest run of 429s: %d",
		tt.calls, tt.throttled, tt.busiestAfterBackoff, limit, burst, tt.longestThrottledRun)
	usage := p.shopify.Usage()
	t.Logf("Shopify: %d queries, %d points, %d THROTTLED", usage.Queries, usage.Points, usage.Throttled)
	logBesides(t, d)
	if usage.Throttled > 0 {
		t.Errorf("Shopify answered %d of %d queries THROTTLED: the replicas overspent the shop's cost bucket together", usage.Throttled, usage.Queries)
	}
	if tt.busiestAfterBackoff > limit+burst {
		t.Errorf("after their first backoff the replicas sent %d TikTok calls within one second, above the limit %d + burst %d", tt.busiestAfterBackoff, limit, burst)
	}
	if tt.throttled*10 > tt.calls {
		t.Errorf("%d of %d TikTok calls were answered 429: more than a tenth, the replicas do not keep within the shop's limit together", tt.throttled, tt.calls)
	}
}

// logBesides logs how long the shop's reconciliation ran beside its sync
// job on the other replica: River records which client ran each job.
func logBesides(t *testing.T, d *deployment) {
	type run struct {
		kind, by   string
		start, end time.Time
	}
	rows, err := d.store.Query(`SELECT kind, array_to_string(attempted_by, ','), attempted_at, finalized_at FROM river_job
		WHERE kind IN ('shop_sync', 'shop_reconcile') AND attempted_at IS NOT NULL AND finalized_at IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var runs []run
	for rows.Next() {
		var r run
		if err := rows.Scan(&r.kind, &r.by, &r.start, &r.end); err != nil {
			t.Fatal(err)
		}
		r.by = r.by[strings.LastIndex(r.by, ",")+1:]
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var beside, sameReplica time.Duration
	for _, a := range runs {
		for _, b := range runs {
			if a.kind != "shop_reconcile" || b.kind != "shop_sync" {
				continue
			}
			o := minTime(a.end, b.end).Sub(maxTime(a.start, b.start))
			if o <= 0 {
				continue
			}
			if a.by != b.by {
				beside += o
			} else {
				sameReplica += o
			}
		}
	}
	t.Logf("the reconciliation ran beside the shop's sync job for %v on the other replica, %v on the same one", beside.Round(time.Millisecond), sameReplica.Round(time.Millisecond))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// tiktokLoad is what a request log says of the load on TikTok.
type tiktokLoad struct {
	calls, throttled int
	// busiestAfterBackoff is the most calls within one window that starts
	// after the first 429 (the clients learn the limit from it).
	busiestAfterBackoff int
	// longestThrottledRun is the most 429s answered in a row.
	longestThrottledRun int
}

// measureTikTok measures the API calls of a TikTok request log in
// sliding windows of the given width.
func measureTikTok(reqs []fakes.Request, window time.Duration) tiktokLoad {
	var l tiktokLoad
	var times []time.Time
	var firstThrottled time.Time
	run := 0
	for _, r := range reqs {
		if strings.HasPrefix(r.Path, "/api/v2/token/") {
			continue // the auth host: not rate limited
		}
		l.calls++
		times = append(times, r.Time)
		if r.Status == http.StatusTooManyRequests {
			l.throttled++
			run++
			l.longestThrottledRun = max(l.longestThrottledRun, run)
			if firstThrottled.IsZero() {
				firstThrottled = r.Time
			}
		} else {
			run = 0
		}
	}
	if firstThrottled.IsZero() {
		return l
	}
	slices.SortFunc(times, time.Time.Compare)
	for i, j := 0, 0; j < len(times); j++ {
		for times[j].Sub(times[i]) >= window {
			i++
		}
		if !times[i].Before(firstThrottled) {
			l.busiestAfterBackoff = max(l.busiestAfterBackoff, j-i+1)
		}
	}
	return l
}
