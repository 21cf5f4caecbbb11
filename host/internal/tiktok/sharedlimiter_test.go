package tiktok

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/fakes/tiktokfake"
)

// memPaces are SharedPaces in memory, counting the updates of each app's
// shop; err, when set, fails every update, as a store that is down.
type memPaces struct {
	mu      sync.Mutex
	paces   map[[2]string]PaceState
	updates map[[2]string]int
	err     error
}

func (m *memPaces) UpdateTikTokPace(_ context.Context, appKey, cipher string, apply func(*PaceState, time.Time)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if m.paces == nil {
		m.paces, m.updates = map[[2]string]PaceState{}, map[[2]string]int{}
	}
	k := [2]string{appKey, cipher}
	p := m.paces[k]
	apply(&p, time.Now())
	m.paces[k], m.updates[k] = p, m.updates[k]+1
	return nil
}

func (m *memPaces) pace(appKey, cipher string) (PaceState, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{appKey, cipher}
	return m.paces[k], m.updates[k]
}

// TestClientsShareTheShopsPace: two Clients of one app with the same
// Options.Paces, as two replicas, pace a shop together: every call of
// either takes its slot in the shop's one pace, and a 429 either gets
// halves the rate of both.
func TestClientsShareTheShopsPace(t *testing.T) {
	f := startFake(t, tiktokfake.Options{})
	paces := &memPaces{}
	shared := func(o *Options) { o.Paces, o.Rate, o.MaxRate, o.Burst = paces, 20, 20, 5 }
	a := fakeClient(t, f, shared).Shop(f.ShopCipher(), fakeTokens(f))
	b := fakeClient(t, f, shared).Shop(f.ShopCipher(), fakeTokens(f))
	ctx := context.Background()
	for range 3 {
		for _, s := range []*Shop{a, b} {
			if _, err := s.Warehouses(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, n := paces.pace(f.AppKey(), f.ShopCipher()); n != 6 {
		t.Fatalf("%d updates of the shop's shared pace after 6 calls, want 6", n)
	}
	if err := f.InjectFault(fakes.Fault{Path: "/logistics/202309/warehouses", Count: 1, Status: 429}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Warehouses(ctx); err != nil { // retried after the 429
		t.Fatal(err)
	}
	if p, _ := paces.pace(f.AppKey(), f.ShopCipher()); p.Rate != 10 {
		t.Fatalf("after a 429 the shared rate is %v, want 10, half of 20", p.Rate)
	}
	if _, err := b.Warehouses(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.lim.limit(); got != 10 {
		t.Fatalf("the other client's rate after the first's 429 is %v, want 10", got)
	}
}

// TestSharedPaceThatCannotBeReservedFailsTheCall: when the store cannot
// reserve the shop's pace, the call fails with its cause and is not sent:
// sent on a pace of its own, each replica could send the shop's whole
// limit.
func TestSharedPaceThatCannotBeReservedFailsTheCall(t *testing.T) {
	f := startFake(t, tiktokfake.Options{})
	down := errors.New("connect: connection refused")
	s := fakeClient(t, f, func(o *Options) { o.Paces = &memPaces{err: down} }).Shop(f.ShopCipher(), fakeTokens(f))
	_, err := s.Warehouses(context.Background())
	if !errors.Is(err, down) || !strings.Contains(err.Error(), "could not be reserved") {
		t.Fatalf("error %v, want one saying the pace could not be reserved, wrapping %v", err, down)
	}
	if n := len(fakeRequests(f, "/logistics/202309/warehouses")); n != 0 {
		t.Fatalf("%d requests reached TikTok, want none", n)
	}
}
