package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// walk reads a list page after page, each from the key of the last entry
// of the one before, until a page is short; it fails on a page over limit
// or a walk that does not end.
func walk[T any](t interface{ Fatalf(string, ...any) }, limit, rows int, page func(last *T) ([]T, error)) []T {
	var all []T
	var last *T
	for pages := 0; ; pages++ {
		if pages > rows+1 {
			t.Fatalf("%d pages of %d for %d rows: the walk does not end", pages, limit, rows)
		}
		got, err := page(last)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(got) > limit {
			t.Fatalf("page %d has %d entries, over the limit of %d", pages, len(got), limit)
		}
		all = append(all, got...)
		if len(got) < limit {
			return all
		}
		last = &got[len(got)-1]
	}
}

// TestPagesWalkEveryRow: whatever the rows and the page size, reading a
// list a page at a time, each page after the key of the last row of the
// one before, returns every row exactly once and in the list's order, on
// both engines. Shop ids and plugin names mix the punctuation a locale
// collation orders apart from bytes; tokens share creation times.
func TestPagesWalkEveryRow(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		t.Run("shops", func(t *testing.T) {
			stored := map[string]bool{}
			rapid.Check(t, func(rt *rapid.T) {
				want := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z0-9][a-z0-9._-]{0,4}`), 0, 12, rapid.ID).Draw(rt, "shops")
				syncShops(rt, ctx, s, stored, want)
				limit := rapid.IntRange(1, 13).Draw(rt, "limit")
				got := walk(rt, limit, len(want), func(last *shop.Shop) ([]shop.Shop, error) {
					after := ""
					if last != nil {
						after = last.ID
					}
					return s.ShopsAfter(ctx, after, limit)
				})
				all, err := s.Shops(ctx)
				if err != nil {
					rt.Fatal(err)
				}
				if ids(got) == nil && len(all) == 0 {
					return
				}
				if !slices.Equal(ids(got), ids(all)) {
					rt.Fatalf("pages of %d: %v, want the list %v", limit, ids(got), ids(all))
				}
			})
		})
		t.Run("tokens", func(t *testing.T) {
			t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
			rapid.Check(t, func(rt *rapid.T) {
				all, err := s.Tokens(ctx)
				if err != nil {
					rt.Fatal(err)
				}
				for _, tok := range all {
					if err := s.DeleteToken(ctx, tok.ID); err != nil {
						rt.Fatal(err)
					}
				}
				want := rapid.SliceOfNDistinct(rapid.StringMatching(`tok_[a-z0-9]{1,3}`), 0, 12, rapid.ID).Draw(rt, "tokens")
				for _, id := range want {
					// Few distinct times, so that ties are common.
					created := t0.Add(time.Duration(rapid.IntRange(0, 2).Draw(rt, "second")) * time.Second)
					if err := s.CreateToken(ctx, shop.Token{ID: id, Hash: sha256.Sum256([]byte(id)), Created: created}); err != nil {
						rt.Fatal(err)
					}
				}
				limit := rapid.IntRange(1, 13).Draw(rt, "limit")
				got := walk(rt, limit, len(want), func(last *shop.Token) ([]shop.Token, error) {
					var after shop.TokenKey
					if last != nil {
						after = last.Key()
					}
					return s.TokensAfter(ctx, after, limit)
				})
				if all, err = s.Tokens(ctx); err != nil {
					rt.Fatal(err)
				}
				if len(got) != len(all) {
					rt.Fatalf("pages of %d: %d tokens, want %d", limit, len(got), len(all))
				}
				for i := range got {
					if got[i].ID != all[i].ID || !got[i].Created.Equal(all[i].Created) {
						rt.Fatalf("pages of %d: token %d is %s, want %s (of %v)", limit, i, got[i].ID, all[i].ID, all)
					}
				}
			})
		})
		t.Run("plugins", func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				stored, err := s.Plugins(ctx)
				if err != nil {
					rt.Fatal(err)
				}
				for _, in := range stored {
					if err := s.DeletePlugin(ctx, in.Name, in.Version); err != nil {
						rt.Fatal(err)
					}
				}
				names := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z0-9][a-z0-9-]{0,3}`), 0, 10, rapid.ID).Draw(rt, "names")
				versions := map[string][]string{}
				for _, name := range names {
					for v := range rapid.IntRange(1, 3).Draw(rt, "versions") {
						version := fmt.Sprintf("1.%d.0", v)
						putPlugin(rt, ctx, s, name, version)
						versions[name] = append(versions[name], version)
					}
				}
				var owners []string // nil: every plugin
				if rapid.Bool().Draw(rt, "mine") {
					owners = rapid.SliceOfDistinct(rapid.SampledFrom([]string{"p", "q"}), rapid.ID).Draw(rt, "owners")
				}
				limit := rapid.IntRange(1, 11).Draw(rt, "limit")
				var got []registry.Info
				walk(rt, limit, len(names), func(last *string) ([]string, error) {
					after := ""
					if last != nil {
						after = *last
					}
					page, err := s.PluginsAfter(ctx, after, owners, limit)
					got = append(got, page...)
					return pluginNames(page), err
				})
				// Byte order, as Go sorts, on both engines; each name with
				// all its versions, and only the owners' names.
				var wantNames []string
				for _, name := range slices.Sorted(maps.Keys(versions)) {
					if owners == nil || slices.Contains(owners, ownerOf(name)) {
						wantNames = append(wantNames, name)
					}
				}
				if !slices.Equal(pluginNames(got), wantNames) {
					rt.Fatalf("pages of %d plugins of %v: %v, want %v", limit, owners, pluginNames(got), wantNames)
				}
				seen := map[string][]string{}
				for _, in := range got {
					seen[in.Name] = append(seen[in.Name], in.Version)
					if in.Owner != ownerOf(in.Name) {
						rt.Fatalf("%s owned by %q, want %q", in.Name, in.Owner, ownerOf(in.Name))
					}
				}
				for _, name := range wantNames {
					if !slices.Equal(seen[name], versions[name]) {
						rt.Fatalf("%s: versions %v, want %v", name, seen[name], versions[name])
					}
				}
			})
		})
	})
}

// syncShops makes the store hold exactly the shops want.
func syncShops(t *rapid.T, ctx context.Context, s *store.Store, stored map[string]bool, want []string) {
	keep := map[string]bool{}
	for _, id := range want {
		keep[id] = true
		if !stored[id] {
			if _, err := s.PutShop(ctx, shop.Shop{ID: id, Locations: []shop.Location{}, Warehouses: []shop.Warehouse{}}, nil); err != nil {
				t.Fatal(err)
			}
			stored[id] = true
		}
	}
	for id := range stored {
		if !keep[id] {
			if err := s.DeleteShop(ctx, id); err != nil {
				t.Fatal(err)
			}
			delete(stored, id)
		}
	}
}

func ids(shops []shop.Shop) []string {
	var out []string
	for _, sh := range shops {
		out = append(out, sh.ID)
	}
	return out
}

// pluginNames is each name of a list by name, once.
func pluginNames(list []registry.Info) []string {
	var out []string
	for _, in := range list {
		if len(out) == 0 || out[len(out)-1] != in.Name {
			out = append(out, in.Name)
		}
	}
	return out
}

// ownerOf is the partner that owns a plugin name in TestPagesWalkEveryRow,
// always the same: a name, once claimed, stays its partner's.
func ownerOf(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return []string{"p", "q", ""}[h.Sum32()%3]
}

func putPlugin(t *rapid.T, ctx context.Context, s *store.Store, name, version string) {
	module := []byte(name + "@" + version)
	sum := sha256.Sum256(module)
	u := registry.Upload{Info: registry.Info{Name: name, Version: version, SHA256: hex.EncodeToString(sum[:]), Size: len(module),
		ABIVersion: 1, Created: time.Now()}, Module: module, Partner: ownerOf(name)}
	if _, err := s.PutPlugin(ctx, u); err != nil {
		t.Fatal(err)
	}
}
