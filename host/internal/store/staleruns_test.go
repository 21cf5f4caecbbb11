package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// TestStaleRunSaysWhatToDo: a run whose process died is recorded
// interrupted by the next run with what its owner should do: a connect
// must run again, while a resync's or a settings change's items stay
// pending and publish once the shop's job runs again (connecting again
// would only redo the catalog).
func TestStaleRunSaysWhatToDo(t *testing.T) {
	tests := []struct {
		kind        string
		say, notSay string
	}{
		{"connect", "connect again", "pending"},
		{shop.RunKindResync, "stay pending", "connect again"},
		{shop.RunKindSettings, "stay pending", "connect again"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, s *store.Store) {
				ctx := t.Context()
				mustPutShop(t, s, "x")
				stale, err := s.StartRun(ctx, shop.Run{Shop: "x", Kind: tt.kind, Phase: shop.PhasePublishing, Total: 10})
				if err != nil {
					t.Fatal(err)
				}
				// Its process is killed: Updated stops moving.
				if _, err := s.DB().ExecContext(ctx, `UPDATE runs SET updated = $1 WHERE id = $2`,
					time.Now().Add(-shop.StaleRunAfter-time.Second).UnixMicro(), stale.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := s.StartRun(ctx, shop.Run{Shop: "x", Kind: shop.RunKindResync, Phase: shop.PhasePublishing}); err != nil {
					t.Fatalf("StartRun over a stale %s run: %v", tt.kind, err)
				}
				var state, runError string
				if err := s.DB().QueryRowContext(ctx, `SELECT state, error FROM runs WHERE id = $1`, stale.ID).Scan(&state, &runError); err != nil {
					t.Fatal(err)
				}
				if state != string(shop.RunInterrupted) || !strings.Contains(runError, tt.say) || strings.Contains(runError, tt.notSay) {
					t.Errorf("the stale %s run: %s %q; want interrupted, saying %q and not %q", tt.kind, state, runError, tt.say, tt.notSay)
				}
			})
		})
	}
}
