package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
)

var quiet = slog.New(slog.DiscardHandler)

// forEachDB runs fn on a fresh SQLite store and on a fresh PostgreSQL
// database, the same suite on both engines.
func forEachDB(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.SQLite(t, t.TempDir())) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.Postgres(t)) })
}

func TestOpenDSN(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		opt     store.Options
		wantErr string // substring; "" means Open succeeds
	}{
		{"default in the data folder", store.Options{DataDir: filepath.Join(dir, "a", "b")}, ""},
		{"sqlite path", store.Options{DSN: "sqlite:" + filepath.Join(dir, "c", "x.db")}, ""},
		{"no data folder", store.Options{}, "no data folder"},
		{"sqlite without path", store.Options{DSN: "sqlite:"}, "needs a file path"},
		{"sqlite path with query", store.Options{DSN: "sqlite:x.db?mode=ro"}, "must not contain"},
		{"other engine", store.Options{DSN: "mysql://root:hunter2@db/x"}, `"sqlite:PATH"`},
		{"bare word", store.Options{DSN: "hunter2"}, "postgres://"},
		{"postgres DSN that does not parse", store.Options{DSN: "postgres://root:hunter2@db:port/x"}, "does not parse"},
		{"data folder under a file", store.Options{DataDir: filepath.Join(dir, "file", "data")}, "create the database folder"},
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opt.Logger = quiet
			s, err := store.Open(t.Context(), tt.opt)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if s.Dialect() != store.SQLite || s.Pool() != nil {
					t.Errorf("Dialect() = %q, Pool() = %v; want sqlite and nil", s.Dialect(), s.Pool())
				}
				if err := s.Ping(t.Context()); err != nil {
					t.Error(err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error with %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not say %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "store: ") || strings.Count(err.Error(), "store:") != 1 {
				t.Errorf("error %q: want it to start with store: once", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
	if fi, err := os.Stat(filepath.Join(dir, "a", "b")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("data folder: %v, %v; want mode 0750", fi.Mode(), err)
	}
}

func TestSQLiteReopenKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := store.Open(ctx, store.Options{DataDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mustPutShop(t, s, "acme")
	if _, err := s.PutSettings(ctx, "acme", shop.SettingsWrite{Doc: json.RawMessage(`{"a":1}`), Token: "tok_1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = storetest.SQLite(t, dir)
	got, err := s.Settings(ctx, "acme")
	if err != nil || got.Version != 1 || string(got.Doc) != `{"a":1}` {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
}

// fataler is what mustPutShop needs of testing.T and rapid.T.
type fataler interface {
	Helper()
	Fatal(args ...any)
}

func mustPutShop(t fataler, s *store.Store, id string) shop.Shop {
	t.Helper()
	sh := shop.Shop{ID: id, Name: "Shop " + id,
		Locations: []shop.Location{{ID: "l1", Active: true}}, Warehouses: []shop.Warehouse{{ID: "w1", Active: true, Default: true}}}
	if _, err := s.PutShop(context.Background(), sh, nil); err != nil {
		t.Fatal(err)
	}
	return sh
}

func TestShopRoundTrip(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		before := time.Now().Add(-time.Millisecond)
		in := shop.Shop{ID: "b.myshopify.com", Name: "B", Locations: []shop.Location{{ID: "x"}}, Warehouses: nil}
		created, err := s.PutShop(ctx, in, nil)
		if err != nil || !created {
			t.Fatalf("PutShop = %v, %v; want created", created, err)
		}
		got, err := s.Shop(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != in.ID || got.Name != in.Name || !reflect.DeepEqual(got.Locations, in.Locations) || got.Warehouses == nil || len(got.Warehouses) != 0 {
			t.Errorf("Shop = %+v, want %+v", got, in)
		}
		if got.Created.Before(before) || got.Created.After(time.Now()) || !got.Updated.Equal(got.Created) || got.Created.Location() != time.UTC {
			t.Errorf("times %v, %v: want now, equal, UTC", got.Created, got.Updated)
		}

		in.Name, in.Locations = "B2", nil
		created, err = s.PutShop(ctx, in, nil)
		if err != nil || created {
			t.Fatalf("replacing PutShop = %v, %v; want not created", created, err)
		}
		again, err := s.Shop(ctx, in.ID)
		if err != nil || again.Name != "B2" || again.Locations == nil || len(again.Locations) != 0 || !again.Created.Equal(got.Created) || again.Updated.Before(got.Updated) {
			t.Errorf("after replacing: %+v, %v", again, err)
		}

		mustPutShop(t, s, "a")
		shops, err := s.Shops(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, sh := range shops {
			ids = append(ids, sh.ID)
		}
		if !slices.Equal(ids, []string{"a", "b.myshopify.com"}) {
			t.Errorf("Shops = %v", ids)
		}

		if err := s.DeleteShop(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"Shop":       second(s.Shop(ctx, "a")),
			"DeleteShop": s.DeleteShop(ctx, "a"),
			"Settings":   second(s.Settings(ctx, "a")),
			"History":    second(s.SettingsHistory(ctx, "a", 0, 10)),
			"PutSettings": second(s.PutSettings(ctx, "a", shop.SettingsWrite{Doc: json.RawMessage(`{}`),
				Check: func(shop.Shop) error { t.Error("Check ran for a missing shop"); return nil }})),
		} {
			if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), `"a"`) {
				t.Errorf("%s of a deleted shop: %v, want ErrNotFound naming it", name, err)
			}
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestPutShopCheck(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		abort := errors.New("would break the settings")
		var seen shop.StoredSettings
		created, err := s.PutShop(ctx, shop.Shop{ID: "new", Name: "N"}, func(cur shop.StoredSettings) error { seen = cur; return abort })
		if err != abort || created {
			t.Fatalf("PutShop = %v, %v; want the check's error as is", created, err)
		}
		if seen.Shop != "new" || seen.Version != 0 || seen.Doc != nil {
			t.Errorf("check of a new shop saw %+v, want no settings", seen)
		}
		if _, err := s.Shop(ctx, "new"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("aborted shop exists: %v", err)
		}

		old := mustPutShop(t, s, "old")
		want, err := s.PutSettings(ctx, "old", shop.SettingsWrite{Doc: json.RawMessage(`{"v":1}`), Token: "tok_a"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.PutShop(ctx, shop.Shop{ID: "old", Name: "changed"}, func(cur shop.StoredSettings) error { seen = cur; return abort })
		if err != abort {
			t.Fatalf("PutShop = %v, want the check's error as is", err)
		}
		if seen.Version != 1 || string(seen.Doc) != `{"v":1}` || seen.Token != "tok_a" || !seen.Created.Equal(want.Created) {
			t.Errorf("check saw %+v, want %+v", seen, want)
		}
		if got, err := s.Shop(ctx, "old"); err != nil || got.Name != old.Name || !reflect.DeepEqual(got.Locations, old.Locations) {
			t.Errorf("after an aborted PutShop: %+v, %v; want unchanged", got, err)
		}
	})
}

// TestPutShopRace creates one shop from many goroutines: exactly one
// creates it, none fails.
func TestPutShopRace(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		const n = 8
		// The first check waits for a second (on PostgreSQL) so that two
		// transactions have looked the shop up before either inserts it.
		var arrived atomic.Int32
		two := make(chan struct{})
		pause := func(shop.StoredSettings) error {
			if arrived.Add(1) == 2 {
				close(two)
			}
			select {
			case <-two:
			case <-time.After(200 * time.Millisecond): // SQLite: one at a time
			}
			return nil
		}
		var wg sync.WaitGroup
		results := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				results[i], errs[i] = s.PutShop(t.Context(), shop.Shop{ID: "race", Name: fmt.Sprint(i)}, pause)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if c := count(results, true); c != 1 {
			t.Errorf("%d goroutines created the shop, want 1", c)
		}
	})
}

func count[T comparable](s []T, v T) (n int) {
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func TestDeleteShopCascades(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		for _, id := range []string{"gone", "kept"} {
			mustPutShop(t, s, id)
			for range 3 {
				if _, err := s.PutSettings(ctx, id, shop.SettingsWrite{Doc: json.RawMessage(`{}`), Refs: []shop.PluginRef{{Name: "p", Version: "1.0.0"}}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.ReplaceCredentials(ctx, id, map[string][]shop.SealedCredential{"shopify": {{Name: "access_token", Sealed: []byte{1}}}}); err != nil {
				t.Fatal(err)
			}
			run := mustStartRun(t, ctx, s, id)
			if err := s.PutVariants(ctx, id, run.ID, []shop.Variant{{ID: "1", SKU: "A"}}); err != nil {
				t.Fatal(err)
			}
			if err := s.PutTikTokSKUs(ctx, id, run.ID, []shop.TikTokSKU{{ID: "1", SellerSKU: "A"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RecordWebhook(ctx, shop.WebhookReceipt{Shop: id, WebhookID: "w", Topic: "t"}, []string{"i"}, true, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.DeleteShop(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"settings_history", "shop_plugin_refs", "shop_credentials", "runs", "catalog_variants", "catalog_tiktok_skus", "webhook_receipts", "sync_pending"} {
			var gone, kept int
			q := `SELECT count(*) FILTER (WHERE shop = 'gone'), count(*) FILTER (WHERE shop = 'kept') FROM ` + table
			if err := s.DB().QueryRowContext(ctx, q).Scan(&gone, &kept); err != nil {
				t.Fatal(err)
			}
			if gone != 0 || kept == 0 {
				t.Errorf("%s: %d rows of the deleted shop, %d of the other; want 0 and some", table, gone, kept)
			}
		}
		// A new shop of the same id starts empty.
		mustPutShop(t, s, "gone")
		if cur, err := s.Settings(ctx, "gone"); err != nil || cur.Version != 0 || cur.Doc != nil {
			t.Errorf("Settings = %+v, %v; want none", cur, err)
		}
		if h, err := s.SettingsHistory(ctx, "gone", 0, 0); err != nil || len(h) != 0 {
			t.Errorf("SettingsHistory = %v, %v; want empty", h, err)
		}
		if c, err := s.Credentials(ctx, "gone"); err != nil || len(c) != 0 {
			t.Errorf("Credentials = %v, %v; want none", c, err)
		}
		if _, err := s.LatestRun(ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("LatestRun = %v; want ErrNotFound", err)
		}
		if v, k, err := catalogKeys(ctx, s, "gone"); err != nil || len(v)+len(k) != 0 {
			t.Errorf("catalog keys = %v, %v, %v; want an empty catalog", v, k, err)
		}
		if users, err := s.PluginUsers(ctx, "p", "1.0.0"); err != nil || !slices.Equal(users, []string{"kept"}) {
			t.Errorf("PluginUsers = %v, %v; want [kept]", users, err)
		}
	})
}

func TestPluginUsers(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		put := func(id string, refs ...shop.PluginRef) {
			t.Helper()
			if _, err := s.PutSettings(ctx, id, shop.SettingsWrite{Doc: json.RawMessage(`{}`), Refs: refs}); err != nil {
				t.Fatal(err)
			}
		}
		users := func(name, version string) []string {
			t.Helper()
			u, err := s.PluginUsers(ctx, name, version)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
		for _, id := range []string{"c", "a", "b"} {
			mustPutShop(t, s, id)
		}
		put("a", shop.PluginRef{Name: "p", Version: "1.0.0"}, shop.PluginRef{Name: "q", Version: "1.0.0"}, shop.PluginRef{Name: "p", Version: "1.0.0"}) // a duplicate is harmless
		put("b", shop.PluginRef{Name: "p", Version: "1.0.0"})
		put("c", shop.PluginRef{Name: "p", Version: "2.0.0"})
		if u := users("p", "1.0.0"); !slices.Equal(u, []string{"a", "b"}) {
			t.Errorf("users of p@1.0.0 = %v, want [a b]", u)
		}
		put("a", shop.PluginRef{Name: "p", Version: "2.0.0"}) // replaces a's references
		if u := users("p", "1.0.0"); !slices.Equal(u, []string{"b"}) {
			t.Errorf("users of p@1.0.0 = %v, want [b]", u)
		}
		if u := users("p", "2.0.0"); !slices.Equal(u, []string{"a", "c"}) {
			t.Errorf("users of p@2.0.0 = %v, want [a c]", u)
		}
		if u := users("q", "1.0.0"); len(u) != 0 {
			t.Errorf("users of q@1.0.0 = %v, want none", u)
		}
		put("b") // no references
		if u := users("p", "1.0.0"); len(u) != 0 {
			t.Errorf("users of p@1.0.0 = %v, want none", u)
		}
	})
}

func TestTokens(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
		a := shop.Token{ID: "tok_a", Name: "admin", Scopes: []string{"admin"}, Hash: [32]byte{1}, Created: t0.Add(time.Second)}
		b := shop.Token{ID: "tok_b", Name: "shop", Scopes: []string{"shop:x", "partner:y"}, Hash: [32]byte{2}, Created: t0}
		for _, tok := range []shop.Token{a, b} {
			if err := s.CreateToken(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}
		for name, dup := range map[string]shop.Token{
			"same id":   {ID: "tok_a", Hash: [32]byte{3}},
			"same hash": {ID: "tok_c", Hash: [32]byte{2}},
		} {
			if err := s.CreateToken(ctx, dup); !errors.Is(err, store.ErrExists) {
				t.Errorf("CreateToken with the %s: %v, want ErrExists", name, err)
			}
		}
		got, err := s.TokenByHash(ctx, [32]byte{2})
		if err != nil || !equalToken(got, b) {
			t.Errorf("TokenByHash = %+v, %v; want %+v", got, err, b)
		}
		if _, err := s.TokenByHash(ctx, [32]byte{9}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TokenByHash of an unknown hash: %v, want ErrNotFound", err)
		}
		list, err := s.Tokens(ctx)
		if err != nil || len(list) != 2 || !equalToken(list[0], b) || !equalToken(list[1], a) {
			t.Errorf("Tokens = %+v, %v; want b, a (by created)", list, err)
		}
		if err := s.DeleteToken(ctx, "tok_b"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteToken(ctx, "tok_b"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleting twice: %v, want ErrNotFound", err)
		}
		if _, err := s.TokenByHash(ctx, [32]byte{2}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted token: %v, want ErrNotFound", err)
		}
		before := time.Now().Add(-time.Millisecond)
		if err := s.CreateToken(ctx, shop.Token{ID: "tok_d", Hash: [32]byte{4}}); err != nil {
			t.Fatal(err)
		}
		if d, err := s.TokenByHash(ctx, [32]byte{4}); err != nil || d.Created.Before(before) || d.Scopes != nil {
			t.Errorf("token without time or scopes: %+v, %v; want created now", d, err)
		}
	})
}

func equalToken(a, b shop.Token) bool {
	return a.ID == b.ID && a.Name == b.Name && slices.Equal(a.Scopes, b.Scopes) && a.Hash == b.Hash && a.Created.Equal(b.Created)
}

func TestCredentials(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		mustPutShop(t, s, "x")
		names := func() (out []string) {
			t.Helper()
			creds, err := s.Credentials(ctx, "x")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range creds {
				out = append(out, fmt.Sprintf("%s/%s=%x", c.Group, c.Name, c.Sealed))
			}
			return out
		}
		shopify := []shop.SealedCredential{{Name: "webhook_secret", Sealed: []byte{2}}, {Group: "shopify", Name: "access_token", Sealed: []byte{1, 0}}}
		tiktok := []shop.SealedCredential{{Name: "app_key", Sealed: []byte{3}}, {Name: "app_secret", Sealed: []byte{4}}}
		if err := s.ReplaceCredentials(ctx, "x", map[string][]shop.SealedCredential{"shopify": shopify}); err != nil {
			t.Fatal(err)
		}
		if err := s.ReplaceCredentials(ctx, "x", map[string][]shop.SealedCredential{"tiktok": tiktok}); err != nil {
			t.Fatal(err)
		}
		want := []string{"shopify/access_token=0100", "shopify/webhook_secret=02", "tiktok/app_key=03", "tiktok/app_secret=04"}
		if got := names(); !slices.Equal(got, want) {
			t.Errorf("Credentials = %v, want %v", got, want)
		}
		before := time.Now().Add(-time.Millisecond)
		if err := s.ReplaceCredentials(ctx, "x", map[string][]shop.SealedCredential{"shopify": {{Name: "access_token", Sealed: []byte{5}}}}); err != nil {
			t.Fatal(err)
		}
		want = []string{"shopify/access_token=05", "tiktok/app_key=03", "tiktok/app_secret=04"}
		if got := names(); !slices.Equal(got, want) {
			t.Errorf("after replacing shopify: %v, want %v", got, want)
		}
		if creds, _ := s.Credentials(ctx, "x"); creds[0].Updated.Before(before) {
			t.Errorf("replaced credential updated %v, want now", creds[0].Updated)
		}
		if err := s.ReplaceCredentials(ctx, "x", map[string][]shop.SealedCredential{"tiktok": {{Group: "shopify", Name: "n"}}}); err == nil {
			t.Error("a credential of another group was accepted")
		}
		if err := s.DeleteCredentials(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if got := names(); len(got) != 0 {
			t.Fatalf("after DeleteCredentials: %v", got)
		}
		// Two groups in one call: both replaced, in one transaction.
		if err := s.ReplaceCredentials(ctx, "x", map[string][]shop.SealedCredential{"shopify": shopify, "tiktok": tiktok}); err != nil {
			t.Fatal(err)
		}
		if got, want := names(), []string{"shopify/access_token=0100", "shopify/webhook_secret=02", "tiktok/app_key=03", "tiktok/app_secret=04"}; !slices.Equal(got, want) {
			t.Errorf("both groups at once: %v, want %v", got, want)
		}
		// A refused group leaves the other untouched.
		if err := s.ReplaceCredentials(ctx, "x", map[string][]shop.SealedCredential{"shopify": nil, "tiktok": {{Group: "shopify", Name: "n"}}}); err == nil {
			t.Error("a credential of another group was accepted")
		}
		if err := s.DeleteCredentials(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if got := names(); len(got) != 0 {
			t.Errorf("after DeleteCredentials: %v", got)
		}
		if err := s.DeleteCredentials(ctx, "x"); err != nil {
			t.Errorf("DeleteCredentials without any: %v", err)
		}
		for name, err := range map[string]error{
			"ReplaceCredentials": s.ReplaceCredentials(ctx, "nope", map[string][]shop.SealedCredential{"shopify": shopify}),
			"Credentials":        second(s.Credentials(ctx, "nope")),
			"DeleteCredentials":  s.DeleteCredentials(ctx, "nope"),
		} {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s of a missing shop: %v, want ErrNotFound", name, err)
			}
		}
	})
}

// TestClaimPluginRace has many partners claim one name at once: one wins
// and every claimant is told the same owner.
func TestClaimPluginRace(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		if owner, err := s.PluginOwner(ctx, "p"); err != nil || owner != "" {
			t.Fatalf("PluginOwner of an unclaimed name = %q, %v", owner, err)
		}
		const n = 16
		owners := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { owners[i], errs[i] = s.ClaimPlugin(ctx, "p", fmt.Sprintf("partner-%d", i)) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(owners[0], "partner-") || count(owners, owners[0]) != n {
			t.Fatalf("claims returned %v, want one partner for all", owners)
		}
		if owner, err := s.PluginOwner(ctx, "p"); err != nil || owner != owners[0] {
			t.Errorf("PluginOwner = %q, %v; want %q", owner, err, owners[0])
		}
		if owner, err := s.ClaimPlugin(ctx, "q", "late"); err != nil || owner != "late" {
			t.Errorf("claim of a free name = %q, %v", owner, err)
		}
	})
}

// migrationFiles lists one dialect's migration files.
func migrationFiles(t *testing.T, dialect string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("migrations", dialect))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestMigrationsMatch(t *testing.T) {
	sqlite, postgres := migrationFiles(t, store.SQLite), migrationFiles(t, store.Postgres)
	if len(sqlite) == 0 || !slices.Equal(sqlite, postgres) {
		t.Errorf("migrations differ between dialects:\nsqlite:   %v\npostgres: %v", sqlite, postgres)
	}
}

// TestReplicasMigrate opens one fresh PostgreSQL database from several
// replicas at once: the advisory lock makes them migrate one at a time.
func TestReplicasMigrate(t *testing.T) {
	dsn := storetest.FreshPostgres(t)
	files := migrationFiles(t, store.Postgres)
	var latest int64
	if _, err := fmt.Sscanf(files[len(files)-1], "%d_", &latest); err != nil {
		t.Fatal(err)
	}
	const n = 8
	stores := make([]*store.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = store.Open(t.Context(), store.Options{DSN: dsn, Logger: quiet}) })
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			defer s.Close()
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var version int64
	if err := stores[0].DB().QueryRowContext(t.Context(), `SELECT max(version_id) FROM goose_db_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != latest {
		t.Errorf("schema version %d, want %d", version, latest)
	}
	if stores[0].Dialect() != store.Postgres || stores[0].Pool() == nil {
		t.Errorf("Dialect() = %q, Pool() = %v", stores[0].Dialect(), stores[0].Pool())
	}
	// Each replica sees the others' writes.
	mustPutShop(t, stores[1], "shared")
	if _, err := stores[2].Shop(t.Context(), "shared"); err != nil {
		t.Error(err)
	}
}

// TestSQLiteFilesPrivate: the database holds token hashes and sealed
// credentials, so only the service's user may read its files.
func TestSQLiteFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	s := storetest.SQLite(t, dir)
	if err := s.CreateToken(t.Context(), shop.Token{ID: "tok_000000000001", Scopes: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"syncrules.db", "syncrules.db-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group or others", name, fi.Mode().Perm())
		}
	}
}

// TestRemember: the first value stored under a name stays; racing
// replicas all get it.
func TestRemember(t *testing.T) {
	forEachDB(t, func(t *testing.T, s *store.Store) {
		var wg sync.WaitGroup
		got := make([][]byte, 8)
		for i := range got {
			wg.Go(func() {
				v, err := s.Remember(t.Context(), "key_check", []byte{byte(i)})
				if err != nil {
					t.Error(err)
				}
				got[i] = v
			})
		}
		wg.Wait()
		for i := range got {
			if len(got[i]) != 1 || got[i][0] != got[0][0] {
				t.Fatalf("replicas got %v, want one value", got)
			}
		}
		if v, err := s.Remember(t.Context(), "key_check", []byte("later")); err != nil || !bytes.Equal(v, got[0]) {
			t.Errorf("a later value replaced the first: %q, %v", v, err)
		}
	})
}
