package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
	"github.com/syncrules/syncrules/host/internal/tiktok"
)

// TestTikTokPaceKeepsWhatApplyLeaves: a shop's pace starts empty, at the
// database's time, and every field apply leaves is read back exactly, to
// the nanosecond, by the shop's next update and no other shop's.
func TestTikTokPaceKeepsWhatApplyLeaves(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		var seen tiktok.PaceState
		var at time.Time
		look := func(appKey, cipher string) {
			t.Helper()
			if err := s.UpdateTikTokPace(ctx, appKey, cipher, func(p *tiktok.PaceState, now time.Time) { seen, at = *p, now }); err != nil {
				t.Fatal(err)
			}
		}
		look("app", "shop")
		if seen != (tiktok.PaceState{}) {
			t.Fatalf("a new shop's pace is %+v, want the zero pace", seen)
		}
		if d := time.Since(at); d < -time.Minute || d > time.Minute {
			t.Fatalf("the database's time %v is %v from this machine's", at, d)
		}
		base := time.Unix(1_800_000_000, 123_456_789).UTC()
		kept := tiktok.PaceState{Rate: 12.345678901234567, Next: base.Add(1), WindowStart: base.Add(-999_999_999),
			Waited: true, LastCut: base.Add(-3 * time.Second), CutFrom: 1.0 / 3}
		if err := s.UpdateTikTokPace(ctx, "app", "shop", func(p *tiktok.PaceState, _ time.Time) { *p = kept }); err != nil {
			t.Fatal(err)
		}
		look("app", "shop")
		if seen != kept {
			t.Fatalf("the pace read back is %+v, want what was left in it, %+v", seen, kept)
		}
		for _, other := range [][2]string{{"app", "other shop"}, {"other app", "shop"}} {
			look(other[0], other[1])
			if seen != (tiktok.PaceState{}) {
				t.Fatalf("the pace of %v is %+v, want the zero pace: each app's shop has its own", other, seen)
			}
		}
	})
}

// TestTikTokPaceConcurrent: goroutines on two handles of one database, as
// two replicas, update one shop's pace at once: none loses another's
// update, as the row is locked from read to write.
func TestTikTokPaceConcurrent(t *testing.T) {
	const workers, updates = 8, 25
	for _, engine := range storetest.Engines {
		t.Run(engine, func(t *testing.T) {
			h := storetest.Replicas(t, engine)
			ctx := t.Context()
			start := make(chan struct{})
			errs := make(chan error, workers)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					<-start
					for range updates {
						// Each update counts itself in the pace.
						if err := h[w%2].UpdateTikTokPace(ctx, "app", "busy", func(p *tiktok.PaceState, _ time.Time) { p.CutFrom++ }); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			var counted float64
			if err := h[0].UpdateTikTokPace(ctx, "app", "busy", func(p *tiktok.PaceState, _ time.Time) { counted = p.CutFrom }); err != nil {
				t.Fatal(err)
			}
			if counted != workers*updates {
				t.Errorf("%d updates on two handles left %v counted, want all %d", workers*updates, counted, workers*updates)
			}
		})
	}
}

// BenchmarkUpdateTikTokPace is the cost a shared pace adds to each TikTok
// call: one transaction on the shop's row, alone ("one shop") and with
// every goroutine of the benchmark on the same shop ("contended").
func BenchmarkUpdateTikTokPace(b *testing.B) {
	engines := map[string]func(b *testing.B) *store.Store{
		"sqlite":   func(b *testing.B) *store.Store { return storetest.SQLite(b, b.TempDir()) },
		"postgres": func(b *testing.B) *store.Store { return storetest.Postgres(b) },
	}
	touch := func(p *tiktok.PaceState, now time.Time) { p.Next = now }
	for name, open := range engines {
		b.Run(name, func(b *testing.B) {
			s := open(b)
			b.Run("one shop", func(b *testing.B) {
				for b.Loop() {
					if err := s.UpdateTikTokPace(b.Context(), "app", "bench", touch); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("contended", func(b *testing.B) {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.UpdateTikTokPace(b.Context(), "app", "bench", touch); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
