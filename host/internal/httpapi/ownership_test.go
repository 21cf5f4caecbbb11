package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/registry"
)

// TestPluginOwnership: a partner claims a new name with its first upload
// and only it (and admins) can change that plugin; names the operator
// installed are no partner's; a version a shop's settings use cannot be
// deleted from under it.
func TestPluginOwnership(t *testing.T) {
	h := newPluginHost(t, pluginHostConfig{})
	h.install(t, "buffer", "1.0.0", "buffer") // the operator's
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	capWasm := pluginModule(t, "cap")
	p, q := s.createToken(t, "partner:p"), s.createToken(t, "partner:q")
	both := s.createToken(t, "partner:q", "partner:p")
	shop := s.createToken(t, "shop:corner-shop")
	upload := func(token, name, version string) exchange {
		t.Helper()
		return s.as(token).send(t, "PUT", versionPath(name, version), "application/wasm", bytes.NewReader(capWasm))
	}
	steps := []struct {
		what   string
		do     func() exchange
		status int
		detail string
	}{
		{"P claims pcap", func() exchange { return upload(p, "pcap", "1.0.0") }, 201, ""},
		{"Q cannot add a version of pcap", func() exchange { return upload(q, "pcap", "1.1.0") }, 403, "another partner"},
		{"Q cannot delete pcap", func() exchange { return s.as(q).do(t, "DELETE", versionPath("pcap", "1.0.0"), "", "") }, 403, "another partner"},
		{"P cannot replace the operator's buffer", func() exchange { return upload(p, "buffer", "2.0.0") }, 403, "operator"},
		{"P cannot delete the operator's buffer", func() exchange { return s.as(p).do(t, "DELETE", versionPath("buffer", "1.0.0"), "", "") }, 403, "operator"},
		{"a shop cannot upload", func() exchange { return upload(shop, "shopcap", "1.0.0") }, 403, "partner"},
		{"a token holding P among others may", func() exchange { return upload(both, "pcap", "1.2.0") }, 201, ""},
		{"P adds a version", func() exchange { return upload(p, "pcap", "2.0.0") }, 201, ""},
		{"an admin may change any", func() exchange { return upload(testAdminToken, "pcap", "3.0.0") }, 201, ""},
		{"P deletes its version", func() exchange { return s.as(p).do(t, "DELETE", versionPath("pcap", "3.0.0"), "", "") }, 204, ""},
		{"everyone can read", func() exchange { return s.as(shop).do(t, "GET", "/v1/plugins/pcap", "", "") }, 200, ""},
	}
	for _, st := range steps {
		ex := st.do()
		if ex.status != st.status {
			t.Fatalf("%s: %d, want %d: %s", st.what, ex.status, st.status, ex.body)
		}
		// A refusal must say why; a success has nothing to say.
		if st.status >= 400 && !hasText(t, string(ex.body), st.detail) {
			t.Errorf("%s: %s, want a detail naming %q", st.what, ex.body, st.detail)
		}
	}

	// A shop's settings keep the versions they name.
	s.putShop(t, "corner-shop", seedShopBody)
	s.as(shop).putSettings(t, "corner-shop", `{"rules":[{"plugin":"pcap","version":"2.0.0","params":{"max":5}}]}`)
	// The partner learns how many shops use it, never which: shops are
	// the operator's customers, not the partner's.
	ex := s.as(p).do(t, "DELETE", versionPath("pcap", "2.0.0"), "", "")
	if pd := problemOf(t, ex, http.StatusConflict); strings.Contains(pd.Detail, "corner-shop") || !strings.Contains(pd.Detail, "1 shop") {
		t.Errorf("a partner deleting a version in use: %s, want a count of shops and no name", ex.body)
	}
	ex = s.do(t, "DELETE", versionPath("pcap", "2.0.0"), "", "")
	if pd := problemOf(t, ex, http.StatusConflict); !strings.Contains(pd.Detail, "corner-shop") {
		t.Errorf("an admin deleting a version in use: %s, want the shop named", ex.body)
	}
	s.as(shop).putSettings(t, "corner-shop", `{}`)
	if ex := s.as(p).do(t, "DELETE", versionPath("pcap", "2.0.0"), "", ""); ex.status != http.StatusNoContent {
		t.Errorf("deleting a version no longer in use: %d %s", ex.status, ex.body)
	}
	// Settings naming a version that is not installed are refused.
	ex = s.as(shop).do(t, "PUT", "/v1/shops/corner-shop/settings", "application/json", `{"rules":[{"plugin":"pcap","version":"2.0.0"}]}`)
	problemOf(t, ex, http.StatusUnprocessableEntity)
}

// TestDeleteRacingSettings: a delete of a plugin version and a settings
// write naming it, sent together, never both succeed: settings never name
// a version that is gone.
func TestDeleteRacingSettings(t *testing.T) {
	if testing.Short() && soakTime(t) == 0 {
		t.Skip("uploads a plugin version per round")
	}
	rounds, until := soakRounds(t, 5, 20)
	h := newPluginHost(t, pluginHostConfig{})
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	s.putShop(t, "racer", seedShopBody)
	capWasm := pluginModule(t, "cap")
	for round := 0; round < rounds || time.Now().Before(until); round++ {
		if ex := s.send(t, "PUT", versionPath("cap", "1.0.0"), "application/wasm", bytes.NewReader(capWasm)); ex.status != 201 {
			t.Fatalf("round %d: upload: %d %s", round, ex.status, ex.body)
		}
		var put, del exchange
		var wg sync.WaitGroup
		wg.Go(func() {
			put = s.do(t, "PUT", "/v1/shops/racer/settings", "application/json", `{"rules":[{"plugin":"cap","version":"1.0.0","params":{"max":7}}]}`)
		})
		wg.Go(func() { del = s.do(t, "DELETE", versionPath("cap", "1.0.0"), "", "") })
		wg.Wait()
		if put.status == http.StatusOK && del.status == http.StatusNoContent {
			t.Fatalf("round %d: the settings name cap 1.0.0 and it was deleted", round)
		}
		// Put things back for the next round: settings without the plugin,
		// then the version gone.
		s.putSettings(t, "racer", `{}`)
		if del.status != http.StatusNoContent {
			if ex := s.do(t, "DELETE", versionPath("cap", "1.0.0"), "", ""); ex.status != http.StatusNoContent {
				t.Fatalf("round %d: cleanup delete: %d %s", round, ex.status, ex.body)
			}
		}
	}
}

// TestPluginSquattingAndQuota: an upload that is refused claims no name,
// so a partner cannot squat names with junk; a partner's versions and
// bytes are bounded, with a 409 that says which bound and what to do,
// while admins and other partners are unaffected.
func TestPluginSquattingAndQuota(t *testing.T) {
	capWasm := pluginModule(t, "cap")
	h := newPluginHost(t, pluginHostConfig{})
	s := newServer(t, loadRule(t), serverConfig{plugins: h, pluginQuota: registry.Quota{Versions: 2, Bytes: 3 * int64(len(capWasm))}})
	p, q := s.createToken(t, "partner:p"), s.createToken(t, "partner:q")
	upload := func(token, name, version string, body []byte) exchange {
		t.Helper()
		return s.as(token).send(t, "PUT", versionPath(name, version), "application/wasm", bytes.NewReader(body))
	}

	if ex := upload(q, "wanted", "1.0.0", []byte("\x00asm junk")); ex.status != http.StatusUnprocessableEntity {
		t.Fatalf("junk upload: %d %s, want 422", ex.status, ex.body)
	}
	if ex := upload(q, "wanted", "1.0.1", bytes.Repeat([]byte{1}, 17<<20)); ex.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized upload: %d %s, want 413", ex.status, ex.body)
	}
	if owner, err := s.store.PluginOwner(t.Context(), "wanted"); err != nil || owner != "" {
		t.Fatalf("after refused uploads the name is owned by %q (%v), want no one", owner, err)
	}
	ex := upload(p, "wanted", "1.0.0", capWasm)
	if got := pluginOf(t, ex, http.StatusCreated); got.Owner != "p" {
		t.Errorf("P's upload to a name Q only tried: owner %q, want p", got.Owner)
	}

	if ex := upload(p, "wanted", "1.1.0", capWasm); ex.status != http.StatusCreated {
		t.Fatalf("P's second version: %d %s", ex.status, ex.body)
	}
	ex = upload(p, "other", "1.0.0", capWasm)
	if pd := problemOf(t, ex, http.StatusConflict); !strings.Contains(pd.Detail, "Partner p has 2 plugin versions") || !strings.Contains(pd.Detail, "delete versions") {
		t.Errorf("P past its quota of versions: %s", ex.body)
	}
	if owner, _ := s.store.PluginOwner(t.Context(), "other"); owner != "" {
		t.Errorf("an upload refused by the quota claimed its name for %q", owner)
	}
	if ex := upload(q, "qcap", "1.0.0", capWasm); ex.status != http.StatusCreated {
		t.Errorf("another partner's upload: %d %s", ex.status, ex.body)
	}
	if ex := upload(testAdminToken, "opcap", "1.0.0", capWasm); ex.status != http.StatusCreated {
		t.Errorf("an admin's upload while P is full: %d %s", ex.status, ex.body)
	}
	if ex := s.as(p).do(t, "DELETE", versionPath("wanted", "1.0.0"), "", ""); ex.status != http.StatusNoContent {
		t.Fatalf("P deletes a version: %d %s", ex.status, ex.body)
	}
	if ex := upload(p, "other", "1.0.0", capWasm); ex.status != http.StatusCreated {
		t.Errorf("P within its quota again: %d %s", ex.status, ex.body)
	}

	// Bytes: a partner whose modules would pass the bound.
	small := newServer(t, loadRule(t), serverConfig{plugins: newPluginHost(t, pluginHostConfig{}),
		pluginQuota: registry.Quota{Bytes: int64(len(capWasm)) + 1}})
	r := small.createToken(t, "partner:r")
	if ex := small.as(r).send(t, "PUT", versionPath("rcap", "1.0.0"), "application/wasm", bytes.NewReader(capWasm)); ex.status != http.StatusCreated {
		t.Fatalf("R's first version: %d %s", ex.status, ex.body)
	}
	ex = small.as(r).send(t, "PUT", versionPath("rcap", "1.0.1"), "application/wasm", bytes.NewReader(capWasm))
	if pd := problemOf(t, ex, http.StatusConflict); !strings.Contains(pd.Detail, "exceed its quota of") {
		t.Errorf("R past its quota of bytes: %s", ex.body)
	}
}
