package sync

import (
	"fmt"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/store"
)

// TestDueShopsSpread: ticking every minute for three intervals, each shop
// is queued once per interval, at its own slot; a thousand shops spread
// over the interval rather than all at its start; a shop never reconciled
// waits for its slot instead of starting with the others.
func TestDueShopsSpread(t *testing.T) {
	const shops, interval, tick = 1000, time.Hour, time.Minute
	states := make([]store.ReconcileState, shops)
	for i := range states {
		states[i].Shop = fmt.Sprintf("shop-%d.myshopify.com", i)
	}
	start := time.Date(2026, 3, 2, 9, 0, 30, 0, time.UTC)
	queued := map[string][]time.Time{}
	perTick := map[int]int{}
	for n := 0; n < 3*int(interval/tick); n++ {
		now := start.Add(time.Duration(n) * tick)
		byShop := map[string]int{}
		for i := range states {
			byShop[states[i].Shop] = i
		}
		for _, id := range dueShops(states, now, interval, 2*tick) {
			queued[id] = append(queued[id], now)
			perTick[n]++
			states[byShop[id]].Started = now // the job starts at once
		}
	}
	if perTick[0] > 3*shops/int(interval/tick) {
		t.Errorf("%d of %d shops queued at the first tick: the shops never reconciled must wait for their slots", perTick[0], shops)
	}
	busiest := 0
	for _, n := range perTick {
		busiest = max(busiest, n)
	}
	// 1000 shops over 60 minutes: about 17 a minute.
	if busiest > 40 {
		t.Errorf("up to %d shops queued in one minute; want them spread over the hour (about %d a minute)", busiest, shops/60)
	}
	for _, st := range states {
		times := queued[st.Shop]
		// The first may be a slot up to two ticks before the first tick.
		if len(times) < 2 || len(times) > 4 {
			t.Errorf("shop %s queued %d times in three hours, want once an hour", st.Shop, len(times))
			continue
		}
		for i := 2; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap != interval {
				t.Errorf("shop %s queued %s apart, want %s", st.Shop, gap, interval)
				break
			}
		}
		for _, at := range times {
			if slot := lastSlot(st.Shop, at, interval); at.Sub(slot) >= 2*tick {
				t.Errorf("shop %s queued at %s, %s after its slot, want within two ticks", st.Shop, at, at.Sub(slot))
			}
		}
		if gap := times[1].Sub(times[0]); gap > interval || gap < interval-2*tick {
			t.Errorf("shop %s queued first %s apart, want about %s", st.Shop, gap, interval)
		}
	}
}

// TestDueShopsResumes: a shop whose reconciliation stopped half-way is due
// at once; one that started after its last slot is not.
func TestDueShopsResumes(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	slot := lastSlot("a", now, time.Hour)
	states := []store.ReconcileState{
		{Shop: "a", Started: slot.Add(time.Second), ResumeAfter: "v7"},
		{Shop: "a", Started: slot.Add(time.Second)},
		{Shop: "a", Started: slot.Add(-time.Second)},
	}
	for i, want := range []bool{true, false, true} {
		if got := len(dueShops(states[i:i+1], now, time.Hour, 2*time.Minute)) == 1; got != want {
			t.Errorf("%+v due = %t, want %t", states[i], got, want)
		}
	}
}
