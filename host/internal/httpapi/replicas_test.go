package httpapi_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
)

// TestReplicasSharePlugins runs two servers on one PostgreSQL database, as
// two replicas behind a load balancer: a plugin uploaded through one is
// usable through the other at once, and a delete through one racing a
// settings write naming the version through the other ends with exactly
// one of them done, never a shop whose settings name a deleted version.
func TestReplicasSharePlugins(t *testing.T) {
	dsn := storetest.FreshPostgres(t)
	rule := loadRule(t)
	replica := func() (*server, *pluginHost) {
		db := openStore(t, dsn)
		h := newPluginHost(t, pluginHostConfig{store: db})
		return newServer(t, rule, serverConfig{plugins: h}), h
	}
	a, _ := replica()
	b, hb := replica()
	buffer := pluginModule(t, "buffer")
	upload := func(s *server, version string) exchange {
		return s.send(t, http.MethodPut, versionPath("buffer", version), "application/wasm", bytes.NewReader(buffer))
	}

	if ex := upload(a, "1.0.0"); ex.status != http.StatusCreated {
		t.Fatalf("upload through A: %d %s", ex.status, ex.body)
	}
	resp := b.compute(t, "", chainBody([]chainRule{bufferRule("1.0.0", 5)}, []shopItem{{id: "v", a: 100}}))
	if len(resp.Items) != 1 || resp.Items[0].Error != nil {
		t.Fatalf("compute through B with the plugin uploaded through A: %+v", resp)
	}
	if ex := b.do(t, http.MethodGet, versionPath("buffer", "1.0.0"), "", ""); ex.status != http.StatusOK {
		t.Errorf("B does not list the version A stored: %d %s", ex.status, ex.body)
	}
	if ex := upload(b, "1.0.0"); ex.status != http.StatusOK {
		t.Errorf("the same bytes again through B: %d %s, want 200", ex.status, ex.body)
	}

	a.putShop(t, "race", seedShopBody)
	rounds, until := soakRounds(t, 4, 12)
	deletes, writes := 0, 0
	for i := 0; i < rounds || time.Now().Before(until); i++ {
		version := fmt.Sprintf("2.0.%d", i)
		if ex := upload(a, version); ex.status != http.StatusCreated {
			t.Fatalf("upload %s: %d %s", version, ex.status, ex.body)
		}
		// B loads the version first, so that its settings check is as
		// quick as A's delete and either may win.
		b.compute(t, "", chainBody([]chainRule{bufferRule(version, 1)}, []shopItem{{id: "v", a: 10}}))
		start := make(chan struct{})
		var del, put exchange
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			del = a.send(t, http.MethodDelete, versionPath("buffer", version), "", nil)
		})
		wg.Go(func() {
			<-start
			put = b.do(t, http.MethodPut, "/v1/shops/race/settings", "application/json",
				`{"rules":[{"plugin":"buffer","version":"`+version+`","params":{"units":1}}]}`)
		})
		close(start)
		wg.Wait()
		deleted, written := del.status == http.StatusNoContent, put.status == http.StatusOK
		if deleted == written {
			t.Fatalf("round %d: delete %d %s, settings write %d %s: want exactly one to succeed", i, del.status, del.body, put.status, put.body)
		}
		users, err := hb.store.PluginUsers(t.Context(), "buffer", version)
		if err != nil {
			t.Fatal(err)
		}
		if deleted {
			deletes++
			if put.status != http.StatusUnprocessableEntity || len(users) != 0 {
				t.Errorf("round %d: the delete won, yet the write answered %d %s and shops %v use the version", i, put.status, put.body, users)
			}
		} else {
			writes++
			if del.status != http.StatusConflict || !strings.Contains(string(del.body), "race") || len(users) != 1 {
				t.Errorf("round %d: the write won, yet the delete answered %d %s and shops %v use the version", i, del.status, del.body, users)
			}
		}
		b.putSettings(t, "race", `{}`)
	}
	t.Logf("%d rounds: the delete won %d, the settings write %d", deletes+writes, deletes, writes)
}

// openStore opens another store on the database dsn names, as a replica
// does; the test closes it.
func openStore(tb testing.TB, dsn string) *store.Store {
	tb.Helper()
	s, err := store.Open(tb.Context(), store.Options{DSN: dsn, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}
