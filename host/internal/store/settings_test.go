package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

func doc(i int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)) }

// TestConcurrentPutSettings hammers one shop's settings: no write is lost,
// every version appears once, and the current one is the newest.
func TestConcurrentPutSettings(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "hot")
		const writers, writes = 16, 5
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range writes {
					if _, err := s.PutSettings(ctx, "hot", shop.SettingsWrite{Doc: doc(w*writes + i), Token: fmt.Sprint("tok_", w)}); err != nil {
						errs[w] = err
						return
					}
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		history, err := s.SettingsHistory(ctx, "hot", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var versions []int64
		docs := map[string]bool{}
		for _, v := range history {
			versions = append(versions, v.Version)
			docs[string(v.Doc)] = true
		}
		slices.Reverse(versions)
		for i, v := range versions {
			if v != int64(i+1) {
				t.Fatalf("history versions %v, want 1..%d once each", versions, writers*writes)
			}
		}
		if len(versions) != writers*writes || len(docs) != writers*writes {
			t.Fatalf("%d versions with %d distinct documents, want %d", len(versions), len(docs), writers*writes)
		}
		cur, err := s.Settings(ctx, "hot")
		if err != nil || cur.Version != writers*writes || string(cur.Doc) != string(history[0].Doc) {
			t.Errorf("current = %+v, %v; want version %d", cur, err, writers*writes)
		}
	})
}

func TestPutSettings(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "x")
		if cur, err := s.Settings(ctx, "x"); err != nil || cur.Version != 0 || cur.Doc != nil || !cur.Created.IsZero() || cur.Shop != "x" {
			t.Errorf("Settings before any = %+v, %v", cur, err)
		}
		before := time.Now().Add(-time.Millisecond)
		v1, err := s.PutSettings(ctx, "x", shop.SettingsWrite{Doc: json.RawMessage(`{"b": 1,  "a":[]}`), Token: "tok_1",
			Refs: []shop.PluginRef{{Name: "p", Version: "1.0.0"}}})
		if err != nil {
			t.Fatal(err)
		}
		if v1.Version != 1 || v1.Shop != "x" || v1.Token != "tok_1" || v1.Created.Before(before) {
			t.Errorf("PutSettings = %+v", v1)
		}
		cur, err := s.Settings(ctx, "x")
		if err != nil || cur.Version != 1 || string(cur.Doc) != `{"b": 1,  "a":[]}` || !cur.Created.Equal(v1.Created) || cur.Token != "tok_1" {
			t.Errorf("Settings = %+v, %v; want %+v byte for byte", cur, err, v1)
		}

		// IfVersion
		if _, err := s.PutSettings(ctx, "x", shop.SettingsWrite{Doc: doc(2), IfMatch: true, IfVersion: 1}); err != nil {
			t.Fatalf("IfVersion of the current version: %v", err)
		}
		for _, stale := range []int64{0, 1, 3} {
			if _, err := s.PutSettings(ctx, "x", shop.SettingsWrite{Doc: doc(9), IfMatch: true, IfVersion: stale}); !errors.Is(err, store.ErrVersionMismatch) {
				t.Errorf("IfVersion %d at version 2: %v, want ErrVersionMismatch", stale, err)
			}
		}

		// Check sees the locked shop; its error aborts as is.
		abort := errors.New("settings name a missing location")
		var seen shop.Shop
		_, err = s.PutSettings(ctx, "x", shop.SettingsWrite{Doc: doc(9), Refs: []shop.PluginRef{{Name: "q", Version: "1.0.0"}},
			Check: func(sh shop.Shop) error { seen = sh; return abort }})
		if err != abort {
			t.Fatalf("PutSettings = %v, want the check's error as is", err)
		}
		if seen.ID != "x" || seen.Name != "Shop x" || !reflect.DeepEqual(seen.Locations, []shop.Location{{ID: "l1", Active: true}}) {
			t.Errorf("Check saw %+v", seen)
		}
		if cur, _ := s.Settings(ctx, "x"); cur.Version != 2 {
			t.Errorf("after an aborted write the version is %d, want 2", cur.Version)
		}
		if u, _ := s.PluginUsers(ctx, "q", "1.0.0"); len(u) != 0 {
			t.Errorf("an aborted write changed the references: %v", u)
		}
		if _, err := s.PutSettings(ctx, "x", shop.SettingsWrite{}); err == nil {
			t.Error("an empty document was stored")
		}
	})
}

func TestSettingsHistoryPages(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "x")
		for i := range 25 {
			if _, err := s.PutSettings(ctx, "x", shop.SettingsWrite{Doc: doc(i + 1), Token: fmt.Sprint("tok_", i+1)}); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			before int64
			limit  int
			want   []int64 // first and last version, or nil for none
		}{
			{0, 10, []int64{25, 16}},
			{16, 10, []int64{15, 6}},
			{6, 10, []int64{5, 1}},
			{1, 10, nil},
			{0, 0, []int64{25, 1}},
			{3, 0, []int64{2, 1}},
			{100, 1, []int64{25, 25}},
		}
		for _, tt := range tests {
			h, err := s.SettingsHistory(ctx, "x", tt.before, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			if len(h) > 0 {
				got = []int64{h[0].Version, h[len(h)-1].Version}
			}
			if !slices.Equal(got, tt.want) || (len(h) > 0 && int64(len(h)) != got[0]-got[1]+1) {
				t.Errorf("SettingsHistory(before %d, limit %d) spans %v (%d entries), want %v", tt.before, tt.limit, got, len(h), tt.want)
			}
			for _, v := range h {
				if string(v.Doc) != string(doc(int(v.Version))) || v.Token != fmt.Sprint("tok_", v.Version) || v.Shop != "x" {
					t.Errorf("version %d: %+v", v.Version, v)
				}
			}
		}
	})
}

// TestSettingsModel checks settings writes, reads and history pages against
// an in-memory model of what they must return.
func TestSettingsModel(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		shops := 0
		rapid.Check(t, func(rt *rapid.T) {
			shops++
			id := fmt.Sprint("model-", shops)
			mustPutShop(rt, s, id)
			var model []string // model[i] is version i+1's document
			rt.Repeat(map[string]func(*rapid.T){
				"put": func(rt *rapid.T) {
					d := string(doc(rapid.IntRange(0, 1000).Draw(rt, "doc")))
					ifMatch := rapid.Bool().Draw(rt, "ifMatch")
					ifVersion := rapid.Int64Range(0, int64(len(model))+1).Draw(rt, "ifVersion")
					got, err := s.PutSettings(ctx, id, shop.SettingsWrite{Doc: json.RawMessage(d), IfMatch: ifMatch, IfVersion: ifVersion})
					if ifMatch && ifVersion != int64(len(model)) {
						if !errors.Is(err, store.ErrVersionMismatch) {
							rt.Fatalf("IfVersion %d at %d: %v, want ErrVersionMismatch", ifVersion, len(model), err)
						}
						return
					}
					if err != nil {
						rt.Fatal(err)
					}
					model = append(model, d)
					if got.Version != int64(len(model)) {
						rt.Fatalf("wrote version %d, want %d", got.Version, len(model))
					}
				},
				"history": func(rt *rapid.T) {
					before := rapid.Int64Range(0, int64(len(model))+2).Draw(rt, "before")
					limit := rapid.IntRange(0, 5).Draw(rt, "limit")
					h, err := s.SettingsHistory(ctx, id, before, limit)
					if err != nil {
						rt.Fatal(err)
					}
					var want []int64
					for v := int64(len(model)); v >= 1; v-- {
						if (before <= 0 || v < before) && (limit <= 0 || len(want) < limit) {
							want = append(want, v)
						}
					}
					var got []int64
					for _, v := range h {
						got = append(got, v.Version)
						if string(v.Doc) != model[v.Version-1] {
							rt.Fatalf("version %d holds %s, want %s", v.Version, v.Doc, model[v.Version-1])
						}
					}
					if !slices.Equal(got, want) {
						rt.Fatalf("history(before %d, limit %d) = %v, want %v", before, limit, got, want)
					}
				},
				"": func(rt *rapid.T) {
					cur, err := s.Settings(ctx, id)
					if err != nil {
						rt.Fatal(err)
					}
					if cur.Version != int64(len(model)) || (len(model) > 0 && string(cur.Doc) != model[len(model)-1]) {
						rt.Fatalf("current = version %d %s; model has %d versions", cur.Version, cur.Doc, len(model))
					}
				},
			})
		})
	})
}

func TestShopSettings(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		want := mustPutShop(t, s, "x")
		sh, cur, err := s.ShopSettings(ctx, "x")
		if err != nil || sh.Name != want.Name || cur.Version != 0 || cur.Doc != nil || cur.Shop != "x" {
			t.Fatalf("ShopSettings before any settings = %+v, %+v, %v", sh, cur, err)
		}
		put, err := s.PutSettings(ctx, "x", shop.SettingsWrite{Doc: doc(1), Token: "tok_1"})
		if err != nil {
			t.Fatal(err)
		}
		sh, cur, err = s.ShopSettings(ctx, "x")
		if err != nil || !reflect.DeepEqual(sh.Warehouses, want.Warehouses) || cur.Version != 1 || string(cur.Doc) != string(doc(1)) ||
			cur.Token != "tok_1" || !cur.Created.Equal(put.Created) {
			t.Errorf("ShopSettings = %+v, %+v, %v; want %+v", sh, cur, err, put)
		}
		if _, _, err := s.ShopSettings(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ShopSettings of a missing shop: %v, want ErrNotFound", err)
		}
	})
}

// TestSlowCheckHoldsNoLock: a check runs plugins, which can take seconds
// (a worker's first start); meanwhile the store serves everyone else, even
// on SQLite's one connection.
func TestSlowCheckHoldsNoLock(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "slow")
		mustPutShop(t, s, "other")
		inCheck, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, err := s.PutSettings(ctx, "slow", shop.SettingsWrite{Doc: doc(1), Check: func(shop.Shop) error {
				close(inCheck)
				<-release
				return nil
			}})
			done <- err
		}()
		<-inCheck
		// Reads and writes of others go through while the check waits.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := s.PutSettings(wctx, "other", shop.SettingsWrite{Doc: doc(2)}); err != nil {
			t.Errorf("another shop's settings during a slow check: %v", err)
		}
		if _, err := s.Shop(wctx, "slow"); err != nil {
			t.Errorf("reading during a slow check: %v", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestCheckSeesWhatIsWritten: a check that ran against a shop, or settings,
// that changed before the write runs again against the new ones, so what
// is stored was always checked against what it is stored with.
func TestCheckSeesWhatIsWritten(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "moving")
		renamed := shop.Shop{ID: "moving", Name: "renamed", Locations: []shop.Location{}, Warehouses: []shop.Warehouse{}}

		// Settings: the shop changes during the first check.
		var seen []string
		_, err := s.PutSettings(ctx, "moving", shop.SettingsWrite{Doc: doc(1), Check: func(sh shop.Shop) error {
			seen = append(seen, sh.Name)
			if len(seen) == 1 {
				if _, err := s.PutShop(ctx, renamed, nil); err != nil {
					t.Fatal(err)
				}
			}
			return nil
		}})
		if err != nil || len(seen) != 2 || seen[1] != "renamed" {
			t.Fatalf("PutSettings: %v; checks saw %q, want the first shop then the renamed one", err, seen)
		}

		// Shop: the settings change during the first check.
		var versions []int64
		_, err = s.PutShop(ctx, renamed, func(cur shop.StoredSettings) error {
			versions = append(versions, cur.Version)
			if len(versions) == 1 {
				if _, err := s.PutSettings(ctx, "moving", shop.SettingsWrite{Doc: doc(2)}); err != nil {
					t.Fatal(err)
				}
			}
			return nil
		})
		if err != nil || !slices.Equal(versions, []int64{1, 2}) {
			t.Fatalf("PutShop: %v; checks saw versions %v, want [1 2]", err, versions)
		}

		// A subject that never stops changing is given up, retryably.
		_, err = s.PutSettings(ctx, "moving", shop.SettingsWrite{Doc: doc(3), Check: func(shop.Shop) error {
			_, err := s.PutShop(ctx, renamed, nil)
			return err
		}})
		if !errors.Is(err, store.ErrBusy) {
			t.Fatalf("a shop changing under every check: %v, want ErrBusy", err)
		}
	})
}
