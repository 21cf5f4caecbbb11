package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
)

// syncBuffer is a bytes.Buffer for a logger that requests write to at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// TestSecretsNeverInClear: once a shop's credentials are stored, no
// response body or header, no log line (at debug level) and no stored
// byte holds any of them in clear.
func TestSecretsNeverInClear(t *testing.T) {
	for _, db := range testDatabases(t) {
		t.Run(db.name, func(t *testing.T) {
			logs := &syncBuffer{}
			s := newServer(t, loadRule(t), serverConfig{
				store:  db.open(t),
				logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			s.putShop(t, "shop-a", seedShopBody)
			shopA := s.createToken(t, "shop:shop-a")

			secret := func(name string) string {
				b := make([]byte, 12)
				rand.Read(b)
				return name + "-" + hex.EncodeToString(b)
			}
			secrets := map[string]string{}
			for _, f := range []string{"shopify.access_token", "shopify.webhook_secret", "tiktok.app_key", "tiktok.app_secret", "tiktok.access_token", "tiktok.refresh_token", "tiktok.shop_cipher"} {
				secrets[f] = secret(strings.ReplaceAll(f, ".", "_"))
			}
			body := fmt.Sprintf(`{"shopify":{"access_token":%q,"webhook_secret":%q},"tiktok":{"app_key":%q,"app_secret":%q,"access_token":%q,"refresh_token":%q,"shop_cipher":%q}}`,
				secrets["shopify.access_token"], secrets["shopify.webhook_secret"], secrets["tiktok.app_key"],
				secrets["tiktok.app_secret"], secrets["tiktok.access_token"], secrets["tiktok.refresh_token"], secrets["tiktok.shop_cipher"])

			var seen bytes.Buffer // every response, headers and body
			record := func(ex exchange) exchange {
				for k, vs := range ex.header {
					fmt.Fprintf(&seen, "%s: %s\n", k, strings.Join(vs, ", "))
				}
				seen.Write(ex.body)
				return ex
			}
			if ex := record(s.as(shopA).do(t, "PUT", "/v1/shops/shop-a/credentials", "application/json", body)); ex.status != 200 {
				t.Fatalf("PUT credentials: %d %s", ex.status, ex.body)
			}
			// Requests that fail carry secrets too: their errors must not echo them.
			for _, bad := range []string{
				fmt.Sprintf(`{"shopify":{"acces_token":%q}}`, secrets["shopify.access_token"]),
				fmt.Sprintf(`{"shopify":{"access_token":%q,"webhook_secret":""}}`, secrets["shopify.access_token"]),
				fmt.Sprintf(`{"tiktok":{"app_secret":[%q]}}`, secrets["tiktok.app_secret"]),
				fmt.Sprintf(`{"tiktok":{"app_secret":%q}`, secrets["tiktok.app_secret"]),
				fmt.Sprintf(`{"tiktok":{"app_secret":%q}}`, strings.Repeat(secrets["tiktok.app_secret"], 200)),
			} {
				if ex := record(s.as(shopA).do(t, "PUT", "/v1/shops/shop-a/credentials", "application/json", bad)); ex.status/100 != 4 {
					t.Errorf("bad credentials %s: %d", bad, ex.status)
				}
				record(s.as(shopA).do(t, "PUT", "/v1/shops/no-such-shop/credentials", "application/json", bad))
			}
			// Everything a caller can read, as the shop and as admin.
			for _, tok := range []string{shopA, testAdminToken} {
				for _, path := range []string{"/v1/shops", "/v1/shops/shop-a", "/v1/shops/shop-a/settings", "/v1/shops/shop-a/settings/history",
					"/v1/shops/shop-a/credentials", "/v1/shops/shop-a/sync", "/v1/shops/shop-a/sync/items", "/v1/tokens", "/healthz", "/readyz", "/openapi.json"} {
					record(s.as(tok).do(t, "GET", path, "", ""))
				}
				// The shop has no domain: refused before any platform is asked.
				record(s.as(tok).do(t, "POST", "/v1/shops/shop-a/sync/connect", "", ""))
				record(s.as(tok).post(t, "/v1/shops/shop-a/compute?explain=true", `{"items":[{"id":"v","available":{"A":1}}]}`))
				record(s.as(tok).post(t, "/v1/shops/shop-a/preview", `{"settings":{},"items":[{"id":"v","available":{"A":1}}]}`))
			}
			var status struct {
				Shopify map[string]struct {
					Set     bool   `json:"set"`
					Updated string `json:"updated"`
				} `json:"shopify"`
				TikTok map[string]struct {
					Set     bool   `json:"set"`
					Updated string `json:"updated"`
				} `json:"tiktok"`
			}
			decodeStrict(t, s.do(t, "GET", "/v1/shops/shop-a/credentials", "", "").body, &status)
			if len(status.Shopify) != 2 || len(status.TikTok) != 5 || !status.Shopify["access_token"].Set || !status.TikTok["shop_cipher"].Set {
				t.Errorf("credentials status %+v: want every field set", status)
			}

			stored := db.dump(t, s.store)
			for name, v := range secrets {
				for what, b := range map[string][]byte{"a response": seen.Bytes(), "the logs": logs.Bytes(), "the database": stored} {
					if bytes.Contains(b, []byte(v)) {
						t.Errorf("%s holds %s in clear", what, name)
					}
				}
			}
			if len(stored) == 0 || len(logs.Bytes()) == 0 {
				t.Fatal("nothing stored or logged: the check above means nothing")
			}
			// The sealed values are there, so the check looked where they are.
			creds, err := s.store.Credentials(context.Background(), "shop-a")
			if err != nil || len(creds) != 7 {
				t.Fatalf("stored credentials: %d, %v", len(creds), err)
			}
		})
	}
}

// testDatabase is a store engine for tests that run on each.
type testDatabase struct {
	name string
	open func(tb testing.TB) *store.Store
	// dump returns every stored byte: the files of SQLite, every row of
	// every table of PostgreSQL.
	dump func(tb testing.TB, s *store.Store) []byte
}

// testDatabases are SQLite, and PostgreSQL when SYNCRULES_TEST_POSTGRES
// names a server (the PostgreSQL test is skipped, visibly, otherwise).
func testDatabases(t *testing.T) []testDatabase {
	var sqliteDir string
	return []testDatabase{
		{
			name: "sqlite",
			open: func(tb testing.TB) *store.Store {
				sqliteDir = tb.TempDir()
				s, err := store.Open(context.Background(), store.Options{DataDir: sqliteDir, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					tb.Fatal(err)
				}
				tb.Cleanup(func() { s.Close() })
				return s
			},
			dump: func(tb testing.TB, s *store.Store) []byte {
				var all []byte
				for _, suffix := range []string{"", "-wal", "-shm"} {
					b, err := os.ReadFile(filepath.Join(sqliteDir, "syncrules.db"+suffix))
					if err != nil && !os.IsNotExist(err) {
						tb.Fatal(err)
					}
					all = append(all, b...)
				}
				return append(all, dumpRows(tb, s)...)
			},
		},
		{
			name: "postgres",
			open: func(tb testing.TB) *store.Store { return openTestPostgres(tb) },
			dump: dumpRows,
		},
	}
}

// dumpRows reads every column of every row of every table as text.
func dumpRows(tb testing.TB, s *store.Store) []byte {
	tb.Helper()
	ctx := context.Background()
	var tables []string
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if s.Dialect() == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := s.DB().QueryContext(ctx, q)
	if err != nil {
		tb.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			tb.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	var out bytes.Buffer
	for _, table := range tables {
		rows, err := s.DB().QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			tb.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			for _, v := range vals {
				switch v := v.(type) {
				case []byte:
					out.Write(v)
				default:
					fmt.Fprint(&out, v)
				}
				out.WriteByte('\t')
			}
			out.WriteByte('\n')
		}
		rows.Close()
	}
	return out.Bytes()
}

func openTestPostgres(tb testing.TB) *store.Store { return storetest.Postgres(tb) }
