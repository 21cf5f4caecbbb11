package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
)

// TestEnginesAgree is a differential test: the same random sequence of
// operations on SQLite and on PostgreSQL gives the same answers, times
// aside. The suite checks each engine against what it should do; this
// checks that the two cannot drift apart in what it does not spell out
// (ordering, empty values, which error). Needs PostgreSQL.
func TestEnginesAgree(t *testing.T) {
	pg := storetest.Postgres(t)
	lite := storetest.SQLite(t, t.TempDir())
	ctx := context.Background()
	round := 0
	rapid.Check(t, func(rt *rapid.T) {
		round++
		// Each round has its own ids, so rounds do not see each other.
		shopIDs := []string{fmt.Sprintf("r%d-a", round), fmt.Sprintf("r%d-b", round)}
		plugins := []string{fmt.Sprintf("p%d-x", round), fmt.Sprintf("p%d-y", round)}
		var tokenIDs []string
		// A key no engine can store is looked up too: both must say not found.
		shopID := rapid.SampledFrom(append(shopIDs, "nul\x00id"))
		plugin := rapid.SampledFrom(plugins)
		// Domains are unique across shops, so each round has its own.
		domain := rapid.SampledFrom([]string{"", fmt.Sprintf("r%d-x.myshopify.com", round), fmt.Sprintf("r%d-y.myshopify.com", round)})
		// Catalog ids that sort apart as text and as numbers.
		catalogID := rapid.SampledFrom([]string{"1", "10", "9", "20"})
		status := rapid.SampledFrom([]shop.LinkStatus{"", shop.LinkLinked, shop.LinkUnmatched, shop.LinkConflict})
		run := rapid.Int64Range(1, 3)
		same := func(op string, a, b any) {
			if !reflect.DeepEqual(a, b) {
				rt.Fatalf("%s: SQLite gave %+v, PostgreSQL %+v", op, a, b)
			}
		}
		on := func(f func(s *store.Store) any) (any, any) { return f(lite), f(pg) }
		rt.Repeat(map[string]func(*rapid.T){
			"PutShop": func(rt *rapid.T) {
				sh := shop.Shop{ID: shopID.Draw(rt, "shop"), Name: rapid.StringN(0, 8, 16).Draw(rt, "name"),
					Locations: []shop.Location{{ID: "A", Active: true}}, Warehouses: []shop.Warehouse{}}
				a, b := on(func(s *store.Store) any {
					created, err := s.PutShop(ctx, sh, nil)
					return []any{created, kind(err)}
				})
				same("PutShop", a, b)
			},
			"PutShopWithDomain": func(rt *rapid.T) {
				sh := shop.Shop{ID: shopID.Draw(rt, "shop"), ShopifyDomain: domain.Draw(rt, "domain")}
				a, b := on(func(s *store.Store) any {
					created, err := s.PutShop(ctx, sh, nil)
					return []any{created, kind(err)}
				})
				same("PutShop with a domain", a, b)
			},
			"ShopByDomain": func(rt *rapid.T) {
				d := domain.Draw(rt, "domain")
				a, b := on(func(s *store.Store) any {
					sh, err := s.ShopByDomain(ctx, d)
					return []any{sh.ID, sh.ShopifyDomain, kind(err)}
				})
				same("ShopByDomain", a, b)
			},
			"Connect": func(rt *rapid.T) {
				id := shopID.Draw(rt, "shop")
				c := shop.Connection{Warehouses: []shop.Warehouse{{ID: "w", Active: rapid.Bool().Draw(rt, "active")}}}
				a, b := on(func(s *store.Store) any { return kind(s.Connect(ctx, id, c)) })
				same("Connect", a, b)
			},
			"PutVariants": func(rt *rapid.T) {
				id, r := shopID.Draw(rt, "shop"), run.Draw(rt, "run")
				var vs []shop.Variant
				for range rapid.IntRange(0, 3).Draw(rt, "variants") { // an id may come twice
					vs = append(vs, shop.Variant{ID: catalogID.Draw(rt, "id"), SKU: rapid.SampledFrom([]string{"A", "B", ""}).Draw(rt, "sku"),
						Tracked: rapid.Bool().Draw(rt, "tracked"), Available: map[string]int{"L": rapid.IntRange(-1, 9).Draw(rt, "available")}})
				}
				a, b := on(func(s *store.Store) any { return kind(s.PutVariants(ctx, id, r, vs)) })
				same("PutVariants", a, b)
			},
			"PutTikTokSKUs": func(rt *rapid.T) {
				id, r := shopID.Draw(rt, "shop"), run.Draw(rt, "run")
				var ks []shop.TikTokSKU
				for range rapid.IntRange(0, 3).Draw(rt, "skus") {
					ks = append(ks, shop.TikTokSKU{ID: catalogID.Draw(rt, "id"), ProductID: "t", SellerSKU: rapid.SampledFrom([]string{"A", "B"}).Draw(rt, "sku")})
				}
				a, b := on(func(s *store.Store) any { return kind(s.PutTikTokSKUs(ctx, id, r, ks)) })
				same("PutTikTokSKUs", a, b)
			},
			"SetLinks": func(rt *rapid.T) {
				id := shopID.Draw(rt, "shop")
				variants, skus := map[string]shop.Link{}, map[string]shop.Link{}
				for range rapid.IntRange(0, 3).Draw(rt, "links") {
					l := shop.Link{Status: status.Draw(rt, "status"), Reason: rapid.SampledFrom([]string{"", "why"}).Draw(rt, "reason")}
					if rapid.Bool().Draw(rt, "variant") {
						variants[catalogID.Draw(rt, "id")] = l
					} else {
						skus[catalogID.Draw(rt, "id")] = l
					}
				}
				a, b := on(func(s *store.Store) any { return kind(s.SetLinks(ctx, id, variants, skus)) })
				same("SetLinks", a, b)
			},
			"PruneCatalog": func(rt *rapid.T) {
				id, r := shopID.Draw(rt, "shop"), run.Draw(rt, "run")
				a, b := on(func(s *store.Store) any { return kind(s.PruneCatalog(ctx, id, r)) })
				same("PruneCatalog", a, b)
			},
			"CatalogPages": func(rt *rapid.T) {
				id, st := shopID.Draw(rt, "shop"), status.Draw(rt, "status")
				after, limit := rapid.SampledFrom([]string{"", "1", "10", "2"}).Draw(rt, "after"), rapid.IntRange(0, 3).Draw(rt, "limit")
				a, b := on(func(s *store.Store) any {
					vs, err := s.VariantsAfter(ctx, id, st, after, limit)
					ks, err2 := s.TikTokSKUsAfter(ctx, id, st, after, limit)
					vkeys, err3 := s.VariantKeys(ctx, id, shop.VariantKey{SKU: after}, limit)
					skeys, err4 := s.SKUKeys(ctx, id, shop.SKUKey{SellerSKU: after}, limit)
					return []any{fmt.Sprintf("%+v", vs), kind(err), fmt.Sprintf("%+v", ks), kind(err2), vkeys, skeys, kind(err3), kind(err4)}
				})
				same("catalog pages", a, b)
			},
			"RecordWebhook": func(rt *rapid.T) {
				r := shop.WebhookReceipt{Shop: shopID.Draw(rt, "shop"), WebhookID: rapid.SampledFrom([]string{"w1", "w2", "w3"}).Draw(rt, "webhook"),
					Topic: "inventory_items/update", Body: []byte(rapid.StringN(0, 8, 16).Draw(rt, "body"))}
				items := rapid.SliceOfN(catalogID, 0, 3).Draw(rt, "items")
				all, fail := rapid.Bool().Draw(rt, "all"), rapid.Bool().Draw(rt, "fail")
				a, b := on(func(s *store.Store) any {
					calls := 0
					dup, err := s.RecordWebhook(ctx, r, items, all, func(context.Context, any) error {
						calls++
						if fail {
							return errors.New("enqueue failed")
						}
						return nil
					})
					return []any{dup, calls, kind(err)}
				})
				same("RecordWebhook", a, b)
			},
			"PendingItems": func(rt *rapid.T) {
				id, limit, take := shopID.Draw(rt, "shop"), rapid.IntRange(0, 3).Draw(rt, "limit"), rapid.Bool().Draw(rt, "take")
				// Seqs are not compared: PostgreSQL's sequence skips the
				// values of rolled back transactions. Their order is.
				a, b := on(func(s *store.Store) any {
					items, err := s.PendingItems(ctx, id, limit)
					var out []string
					for _, p := range items {
						out = append(out, p.InventoryItemID+"@"+p.Cause)
					}
					var errTake error
					if take {
						errTake = s.TakePending(ctx, id, items)
					}
					return []any{out, kind(err), kind(errTake)}
				})
				same("PendingItems", a, b)
			},
			"StartRun": func(rt *rapid.T) {
				id := shopID.Draw(rt, "shop")
				a, b := on(func(s *store.Store) any {
					r, err := s.StartRun(ctx, shop.Run{Shop: id, Kind: "connect", Phase: shop.PhaseLocations})
					return []any{r.ID, r.State, kind(err)}
				})
				same("StartRun", a, b)
			},
			"UpdateRun": func(rt *rapid.T) {
				id := shopID.Draw(rt, "shop")
				state := rapid.SampledFrom([]shop.RunState{shop.RunRunning, shop.RunSucceeded, shop.RunFailed}).Draw(rt, "state")
				done := rapid.Int64Range(0, 9).Draw(rt, "done")
				a, b := on(func(s *store.Store) any {
					r, err := s.LatestRun(ctx, id)
					r.State, r.Done, r.Counts.Linked = state, done, int(done)
					return []any{kind(err), kind(s.UpdateRun(ctx, r))}
				})
				same("UpdateRun", a, b)
			},
			"LatestRun": func(rt *rapid.T) {
				id := shopID.Draw(rt, "shop")
				a, b := on(func(s *store.Store) any {
					r, err := s.LatestRun(ctx, id)
					return []any{r.ID, r.Shop, r.Kind, r.State, r.Phase, r.Done, r.Counts, r.Finished.IsZero(), kind(err)}
				})
				same("LatestRun", a, b)
				state := rapid.SampledFrom([]shop.RunState{shop.RunRunning, shop.RunSucceeded, shop.RunFailed, shop.RunInterrupted}).Draw(rt, "state")
				a, b = on(func(s *store.Store) any {
					r, err := s.LatestRunIn(ctx, id, state)
					return []any{r.ID, r.State, r.Counts, kind(err)}
				})
				same("LatestRunIn", a, b)
			},
			"PutSettings": func(rt *rapid.T) {
				id := shopID.Draw(rt, "shop")
				p := shop.SettingsWrite{
					Doc:       doc(rapid.IntRange(0, 9).Draw(rt, "doc")),
					Token:     rapid.SampledFrom([]string{"env", "tok_000000000001"}).Draw(rt, "token"),
					IfMatch:   rapid.Bool().Draw(rt, "ifMatch"),
					IfVersion: rapid.Int64Range(0, 4).Draw(rt, "ifVersion"),
				}
				for range rapid.IntRange(0, 2).Draw(rt, "refs") {
					p.Refs = append(p.Refs, shop.PluginRef{Name: plugin.Draw(rt, "plugin"), Version: "1.0.0"})
				}
				a, b := on(func(s *store.Store) any {
					v, err := s.PutSettings(ctx, id, p)
					return []any{v.Version, string(v.Doc), v.Token, kind(err)}
				})
				same("PutSettings", a, b)
			},
			"Settings": func(rt *rapid.T) {
				id := shopID.Draw(rt, "shop")
				a, b := on(func(s *store.Store) any {
					v, err := s.Settings(ctx, id)
					return []any{v.Version, string(v.Doc), v.Token, kind(err)}
				})
				same("Settings", a, b)
			},
			"SettingsHistory": func(rt *rapid.T) {
				id := shopID.Draw(rt, "shop")
				before, limit := rapid.Int64Range(0, 5).Draw(rt, "before"), rapid.IntRange(0, 3).Draw(rt, "limit")
				a, b := on(func(s *store.Store) any {
					h, err := s.SettingsHistory(ctx, id, before, limit)
					var out []string
					for _, v := range h {
						out = append(out, fmt.Sprintf("%d %s %s", v.Version, v.Doc, v.Token))
					}
					return []any{out, kind(err)}
				})
				same("SettingsHistory", a, b)
			},
			"DeleteShop": func(rt *rapid.T) {
				id := shopID.Draw(rt, "shop")
				a, b := on(func(s *store.Store) any { return kind(s.DeleteShop(ctx, id)) })
				same("DeleteShop", a, b)
			},
			"Shops": func(rt *rapid.T) {
				a, b := on(func(s *store.Store) any {
					shops, err := s.Shops(ctx)
					var out []string
					for _, sh := range shops {
						if sh.ID == shopIDs[0] || sh.ID == shopIDs[1] {
							out = append(out, fmt.Sprintf("%s %s %q %v %v %v", sh.ID, sh.Name, sh.ShopifyDomain, sh.Connected, sh.Locations, sh.Warehouses))
						}
					}
					return []any{out, kind(err)}
				})
				same("Shops", a, b)
			},
			"PluginUsers": func(rt *rapid.T) {
				name := plugin.Draw(rt, "plugin")
				a, b := on(func(s *store.Store) any {
					users, err := s.PluginUsers(ctx, name, "1.0.0")
					return []any{users, kind(err)}
				})
				same("PluginUsers", a, b)
			},
			"ClaimPlugin": func(rt *rapid.T) {
				name, partner := plugin.Draw(rt, "plugin"), rapid.SampledFrom([]string{"p", "q"}).Draw(rt, "partner")
				a, b := on(func(s *store.Store) any {
					owner, err := s.ClaimPlugin(ctx, name, partner)
					return []any{owner, kind(err)}
				})
				same("ClaimPlugin", a, b)
			},
			"Credentials": func(rt *rapid.T) {
				id := shopID.Draw(rt, "shop")
				groups := map[string][]shop.SealedCredential{}
				if rapid.Bool().Draw(rt, "shopify") {
					groups["shopify"] = []shop.SealedCredential{{Name: "access_token", Sealed: []byte{byte(rapid.IntRange(0, 255).Draw(rt, "sealed"))}}}
				}
				a, b := on(func(s *store.Store) any {
					err := s.ReplaceCredentials(ctx, id, groups)
					creds, err2 := s.Credentials(ctx, id)
					var out []string
					for _, c := range creds {
						out = append(out, fmt.Sprintf("%s/%s=%x", c.Group, c.Name, c.Sealed))
					}
					return []any{kind(err), out, kind(err2)}
				})
				same("Credentials", a, b)
			},
			"Tokens": func(rt *rapid.T) {
				var hash [32]byte
				hash[0], hash[1] = byte(round), byte(len(tokenIDs))
				id := fmt.Sprintf("tok_%06x%06x", round, len(tokenIDs))
				if rapid.Bool().Draw(rt, "again") && len(tokenIDs) > 0 {
					id = rapid.SampledFrom(tokenIDs).Draw(rt, "existing") // a duplicate id
				} else {
					tokenIDs = append(tokenIDs, id)
				}
				tok := shop.Token{ID: id, Scopes: []string{"shop:" + shopID.Draw(rt, "shop")}, Hash: hash}
				a, b := on(func(s *store.Store) any {
					err := s.CreateToken(ctx, tok)
					got, err2 := s.TokenByHash(ctx, hash)
					return []any{kind(err), got.ID, got.Scopes, kind(err2)}
				})
				same("Tokens", a, b)
				if rapid.Bool().Draw(rt, "revoke") {
					a, b := on(func(s *store.Store) any { return kind(s.DeleteToken(ctx, id)) })
					same("DeleteToken", a, b)
				}
			},
		})
	})
}

// kind names an error by the sentinel it wraps, for comparing engines.
func kind(err error) string {
	for _, k := range []error{store.ErrNotFound, store.ErrVersionMismatch, store.ErrExists, store.ErrBusy, store.ErrInvalid} {
		if errors.Is(err, k) {
			return k.Error()
		}
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}
