package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// listPage is one answer of a list: its entries and next.
type listPage struct {
	entries []string // each entry's key: id, name or version
	next    string
}

// listOf describes a list endpoint: where its entries are and what keys
// them.
type listOf struct {
	path, field string
	key         func(json.RawMessage) string
}

func byMember(member string) func(json.RawMessage) string {
	return func(raw json.RawMessage) string {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return "(" + err.Error() + ")"
		}
		return fmt.Sprint(m[member])
	}
}

var (
	shopsList   = listOf{"/v1/shops", "shops", byMember("id")}
	tokensList  = listOf{"/v1/tokens", "tokens", byMember("id")}
	pluginsList = listOf{"/v1/plugins", "plugins", byMember("name")}
)

func historyList(shop string) listOf {
	return listOf{"/v1/shops/" + shop + "/settings/history", "history", byMember("version")}
}

// page GETs one page of l, which must answer 200.
func (s *server) page(tb testing.TB, l listOf, query string) listPage {
	tb.Helper()
	path := l.path
	if query != "" {
		if strings.Contains(path, "?") {
			path += "&" + query
		} else {
			path += "?" + query
		}
	}
	ex := s.do(tb, http.MethodGet, path, "", "")
	if ex.status != http.StatusOK {
		tb.Fatalf("GET %s: %d %s", path, ex.status, ex.body)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(ex.body, &doc); err != nil {
		tb.Fatal(err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(doc[l.field], &raw); err != nil || raw == nil {
		tb.Fatalf("GET %s: %s is not an array: %s", path, l.field, ex.body)
	}
	var p listPage
	for _, r := range raw {
		p.entries = append(p.entries, l.key(r))
	}
	if n, ok := doc["next"]; ok {
		if err := json.Unmarshal(n, &p.next); err != nil || p.next == "" {
			tb.Fatalf("GET %s: next %s, want a cursor or no next", path, n)
		}
	}
	return p
}

// walk reads l a page of limit at a time, following next, and returns
// every entry in the order the pages gave them. extra is more of the
// query, such as "&owner=me", or "&cursor=…" to start from.
func (s *server) walk(tb testing.TB, l listOf, limit int, extra string) []string {
	tb.Helper()
	var all []string
	params, err := url.ParseQuery(strings.TrimPrefix(extra, "&"))
	if err != nil {
		tb.Fatal(err)
	}
	params.Set("limit", strconv.Itoa(limit))
	query := params.Encode()
	for pages := 0; ; pages++ {
		if pages > 1000 {
			tb.Fatalf("%s: the walk does not end", l.path)
		}
		p := s.page(tb, l, query)
		if len(p.entries) > limit {
			tb.Fatalf("%s: a page of %d entries, over the limit %d", l.path, len(p.entries), limit)
		}
		all = append(all, p.entries...)
		if p.next == "" {
			return all
		}
		// A page that is not the last is full.
		if len(p.entries) != limit {
			tb.Fatalf("%s: a page of %d entries with a next, want %d", l.path, len(p.entries), limit)
		}
		params.Set("cursor", p.next)
		query = params.Encode()
	}
}

// pagedServer has shops, tokens, settings versions and plugins (uploaded
// and config-listed, their names interleaved) to page through.
func pagedServer(t *testing.T) (*server, *pluginHost) {
	t.Helper()
	h := newPluginHost(t, pluginHostConfig{})
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	for _, id := range []string{"b0", "a.b", "a-b", "z", "a", "ab", "a_b"} {
		s.putShop(t, id, seedShopBody)
	}
	for i := range 7 {
		s.putSettings(t, "a", fmt.Sprintf(`{"percentage":%d}`, 10+i))
	}
	for _, scope := range []string{"admin", "shop:a", "partner:p", "partner:q", "shop:z", "partner:p"} {
		s.createToken(t, scope)
	}
	capWasm := pluginModule(t, "cap")
	p, q := s.createToken(t, "partner:p"), s.createToken(t, "partner:q")
	for _, up := range []struct{ token, name, version string }{
		{p, "pcap", "1.0.0"}, {p, "pcap", "1.1.0"}, {q, "qcap", "1.0.0"}, {testAdminToken, "a1", "1.0.0"},
		{testAdminToken, "z9", "2.0.0"}, {p, "m-p", "1.0.0"},
	} {
		if ex := s.as(up.token).upload(t, up.name, up.version, capWasm); ex.status != http.StatusCreated {
			t.Fatalf("upload %s %s: %d %s", up.name, up.version, ex.status, ex.body)
		}
	}
	// Config-listed, as cli registers them: between the stored names.
	for _, name := range []string{"limit", "b-conf"} {
		file := filepath.Join(t.TempDir(), name+".wasm")
		if err := os.WriteFile(file, capWasm, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := h.registry.Register(t.Context(), name, "1.0.0", file); err != nil {
			t.Fatal(err)
		}
	}
	return s, h
}

// TestListPagesWalkEveryEntry: whatever the limit, following next from
// the first page walks every entry of each list exactly once, in the
// list's order, each page but the last full; the last has no next.
func TestListPagesWalkEveryEntry(t *testing.T) {
	s, _ := pagedServer(t)
	p := s.createToken(t, "partner:p")
	tests := []struct {
		name  string
		s     *server
		list  listOf
		extra string
		want  []string
	}{
		{"shops by id", s, shopsList, "", []string{"a", "a-b", "a.b", "a_b", "ab", "b0", "z"}},
		{"settings history newest first", s, historyList("a"), "", []string{"7", "6", "5", "4", "3", "2", "1"}},
		{"plugins by name, stored and config-listed", s, pluginsList, "", []string{"a1", "b-conf", "limit", "m-p", "pcap", "qcap", "z9"}},
		{"a partner's own plugins", s.as(p), pluginsList, "&owner=me", []string{"m-p", "pcap"}},
		{"tokens oldest first", s, tokensList, "", s.tokenIDs(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			most := 1000
			if tt.list.field == "history" {
				most = 100
			}
			if all := tt.s.walk(t, tt.list, most, tt.extra); !slices.Equal(all, tt.want) {
				t.Fatalf("one page: %v, want %v", all, tt.want)
			}
			rapid.Check(t, func(rt *rapid.T) {
				limit := rapid.IntRange(1, len(tt.want)+1).Draw(rt, "limit")
				if got := tt.s.walk(t, tt.list, limit, tt.extra); !slices.Equal(got, tt.want) {
					rt.Fatalf("pages of %d: %v, want %v", limit, got, tt.want)
				}
			})
		})
	}

	t.Run("entries added and deleted between pages", func(t *testing.T) {
		first := s.page(t, shopsList, "limit=3") // a, a-b, a.b
		s.putShop(t, "a-a", seedShopBody)        // before the cursor: not in later pages
		s.putShop(t, "aa", seedShopBody)         // after it: in them
		if ex := s.do(t, http.MethodDelete, "/v1/shops/b0", "", ""); ex.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", ex.status, ex.body)
		}
		rest := s.walk(t, shopsList, 2, "&cursor="+first.next)
		if want := []string{"a_b", "aa", "ab", "z"}; !slices.Equal(rest, want) {
			t.Errorf("after the first page: %v, want %v", rest, want)
		}
	})
	t.Run("the default page", func(t *testing.T) {
		for range 100 {
			s.createToken(t, "shop:a")
		}
		p := s.page(t, tokensList, "")
		if len(p.entries) != 100 || p.next == "" {
			t.Errorf("%d tokens without a limit, next %q; want 100 and a next", len(p.entries), p.next)
		}
		h := s.page(t, historyList("a"), "")
		if len(h.entries) != 7 || h.next != "" {
			t.Errorf("history without a limit: %v, next %q; want all 7 (the default is 20)", h.entries, h.next)
		}
	})
}

// rawGet sends a GET without the document's checks: for queries the
// document cannot tell from good ones, such as a changed cursor.
func (s *server) rawGet(tb testing.TB, path string, header ...string) exchange {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Transport: s.transport}).Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return exchange{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestListQueryErrors: a limit out of range, an owner other than me, and a
// cursor that was changed, cut short or belongs to another list are a 400
// whose errors name the parameter and say what to send.
func TestListQueryErrors(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{plugins: newPluginHost(t, pluginHostConfig{})})
	for _, id := range []string{"a", "b", "c"} {
		s.putShop(t, id, seedShopBody)
		s.putSettings(t, id, `{}`)
		s.putSettings(t, id, `{"percentage":50}`)
	}
	shopsNext := s.page(t, shopsList, "limit=1").next
	historyNext := s.page(t, historyList("a"), "limit=1").next
	if shopsNext == "" || historyNext == "" {
		t.Fatal("no next on a first page of 1")
	}
	flip := func(c string, i int) string {
		b := []byte(c)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name   string
		path   string
		field  string
		detail string
		// checked: the document itself refuses the query, so the checked
		// client sends it; the others only the server can tell.
		checked bool
	}{
		{"limit 0", "/v1/shops?limit=0", "limit", "from 1 to 1000", true},
		{"limit over the most", "/v1/tokens?limit=1001", "limit", "from 1 to 1000", true},
		{"limit not a number", "/v1/plugins?limit=ten", "limit", "from 1 to 1000", true},
		{"history limit over its most", "/v1/shops/a/settings/history?limit=101", "limit", "from 1 to 100", true},
		{"an owner other than me", "/v1/plugins?owner=p", "owner", "must be me", true},
		{"an empty cursor", "/v1/shops?cursor=", "cursor", "is empty", true},
		{"a cursor with a character changed", "/v1/shops?cursor=" + flip(shopsNext, 5), "cursor", "not a cursor this API gave", false},
		{"a cursor with its check sum changed", "/v1/shops?cursor=" + flip(shopsNext, len(shopsNext)-2), "cursor", "not a cursor this API gave", false},
		{"a cursor cut short", "/v1/shops?cursor=" + shopsNext[:len(shopsNext)-3], "cursor", "not a cursor this API gave", false},
		{"a cursor made up", "/v1/shops?cursor=eyJsIjoic2hvcHMiLCJrIjpbImIiXX0", "cursor", "not a cursor this API gave", false},
		{"the shops' cursor for tokens", "/v1/tokens?cursor=" + shopsNext, "cursor", "another list", false},
		{"the shops' cursor for plugins", "/v1/plugins?cursor=" + shopsNext, "cursor", "another list", false},
		{"all plugins' cursor for owner=me", "/v1/plugins?owner=me&cursor=" + pluginCursor(t, s), "cursor", "another list", false},
		{"a shop's history cursor for another shop", "/v1/shops/b/settings/history?cursor=" + historyNext, "cursor", "another list", false},
		{"before with cursor", "/v1/shops/a/settings/history?before=2&cursor=" + historyNext, "before", "one or the other", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ex exchange
			if tt.checked {
				ex = s.do(t, http.MethodGet, tt.path, "", "")
			} else {
				ex = s.rawGet(t, tt.path)
			}
			p := problemOf(t, ex, http.StatusBadRequest)
			if !slices.Contains(p.fields(), tt.field) {
				t.Fatalf("errors name %v, want %s: %s", p.fields(), tt.field, ex.body)
			}
			if !strings.Contains(string(ex.body), tt.detail) {
				t.Errorf("%s, want a detail with %q", ex.body, tt.detail)
			}
		})
	}
	t.Run("the documented cursor", func(t *testing.T) {
		example := loadContract(t).doc.Components.Parameters["Cursor"].Value.Example
		got := s.walk(t, shopsList, 10, "&cursor="+fmt.Sprint(example))
		if !slices.Equal(got, []string{"b", "c"}) {
			t.Errorf("the shops after the example's acme.myshopify.com: %v, want b and c", got)
		}
	})
}

// pluginCursor is a next of GET /v1/plugins, after uploading two plugins.
func pluginCursor(t *testing.T, s *server) string {
	t.Helper()
	wasm := pluginModule(t, "cap")
	for _, name := range []string{"one", "two"} {
		if ex := s.upload(t, name, "1.0.0", wasm); ex.status != http.StatusCreated {
			t.Fatalf("upload: %d %s", ex.status, ex.body)
		}
	}
	next := s.page(t, pluginsList, "limit=1").next
	if next == "" {
		t.Fatal("no next on a first page of 1 plugin of 2")
	}
	return next
}

// TestPluginOwners: every plugin says who owns it. Admins, shop tokens and
// the owning partner see which partner; another partner sees only that a
// partner does. owner=me lists a token's own partners' plugins.
func TestPluginOwners(t *testing.T) {
	s, _ := pagedServer(t)
	p, q := s.createToken(t, "partner:p"), s.createToken(t, "partner:q")
	pq, shop := s.createToken(t, "partner:q", "partner:p"), s.createToken(t, "shop:a")
	// Each plugin's owned_by and owner, as each caller sees it.
	all := map[string]string{"a1": "operator", "b-conf": "operator", "limit": "operator", "m-p": "partner p",
		"pcap": "partner p", "qcap": "partner q", "z9": "operator"}
	seenBy := func(hide string) map[string]string {
		out := map[string]string{}
		for name, owner := range all {
			if owner == "partner "+hide {
				owner = "partner"
			}
			out[name] = owner
		}
		return out
	}
	tests := []struct {
		caller string
		token  string
		sees   map[string]string
		mine   []string
	}{
		{"admin", testAdminToken, all, nil},
		{"shop", shop, all, nil},
		{"partner p", p, seenBy("q"), []string{"m-p", "pcap"}},
		{"partner q", q, seenBy("p"), []string{"qcap"}},
		{"partners p and q", pq, all, []string{"m-p", "pcap", "qcap"}},
	}
	for _, tt := range tests {
		t.Run(tt.caller, func(t *testing.T) {
			c := s.as(tt.token)
			var list struct {
				Plugins []pluginVersionsDoc `json:"plugins"`
			}
			decodeStrict(t, c.do(t, http.MethodGet, "/v1/plugins", "", "").body, &list)
			got := map[string]string{}
			for _, pl := range list.Plugins {
				got[pl.Name] = strings.TrimSpace(pl.OwnedBy + " " + pl.Owner)
				for _, v := range pl.Versions {
					if v.OwnedBy != pl.OwnedBy || v.Owner != pl.Owner {
						t.Errorf("%s %s: owned by %s %q, its plugin by %s %q", v.Name, v.Version, v.OwnedBy, v.Owner, pl.OwnedBy, pl.Owner)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.sees) {
				t.Errorf("owners\n%v\nwant\n%v", got, tt.sees)
			}
			for name, want := range tt.sees {
				var one pluginVersionsDoc
				decodeStrict(t, c.do(t, http.MethodGet, "/v1/plugins/"+name, "", "").body, &one)
				if g := strings.TrimSpace(one.OwnedBy + " " + one.Owner); g != want {
					t.Errorf("GET /v1/plugins/%s: owner %q, want %q", name, g, want)
				}
				v := pluginOf(t, c.do(t, http.MethodGet, versionPath(name, one.Versions[0].Version), "", ""), http.StatusOK)
				if g := strings.TrimSpace(v.OwnedBy + " " + v.Owner); g != want {
					t.Errorf("GET a version of %s: owner %q, want %q", name, g, want)
				}
			}
			mine := c.walk(t, pluginsList, 1, "&owner=me")
			if !slices.Equal(mine, tt.mine) {
				t.Errorf("owner=me: %v, want %v", mine, tt.mine)
			}
		})
	}
}

// conditionalGet GETs path with If-None-Match through the checked client.
func (s *server) conditionalGet(tb testing.TB, path, ifNoneMatch string) exchange {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return exchange{status: resp.StatusCode, header: resp.Header, body: b}
}

// TestNotModified: a GET of a shop or of its settings with the ETag it
// answered in If-None-Match is a 304 without a body while nothing changed,
// and a 200 with a new ETag once it did; the settings' ETag is the version
// If-Match takes.
func TestNotModified(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "acme", seedShopBody)
	const shopPath, settingsPath = "/v1/shops/acme", "/v1/shops/acme/settings"
	etagOf := func(path string) string {
		t.Helper()
		ex := s.conditionalGet(t, path, "")
		if ex.status != http.StatusOK || ex.header.Get("ETag") == "" {
			t.Fatalf("GET %s: %d, ETag %q", path, ex.status, ex.header.Get("ETag"))
		}
		return ex.header.Get("ETag")
	}
	shopTag, settingsTag := etagOf(shopPath), etagOf(settingsPath)
	if settingsTag != `"0"` {
		t.Errorf("settings before any: ETag %s, want \"0\"", settingsTag)
	}
	tests := []struct {
		name, path, ifNoneMatch string
		status                  int
	}{
		{"the shop's ETag", shopPath, shopTag, http.StatusNotModified},
		{"the shop's ETag, weak", shopPath, "W/" + shopTag, http.StatusNotModified},
		{"the shop's ETag among others", shopPath, `"x", ` + shopTag, http.StatusNotModified},
		{"any", shopPath, "*", http.StatusNotModified},
		{"another ETag", shopPath, `"0"`, http.StatusOK},
		{"the settings' version", settingsPath, settingsTag, http.StatusNotModified},
		{"another version", settingsPath, `"1"`, http.StatusOK},
		{"the shop's ETag for the settings", settingsPath, shopTag, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := s.conditionalGet(t, tt.path, tt.ifNoneMatch)
			if ex.status != tt.status {
				t.Fatalf("status %d, want %d: %s", ex.status, tt.status, ex.body)
			}
			want := map[string]string{shopPath: shopTag, settingsPath: settingsTag}[tt.path]
			if ex.header.Get("ETag") != want {
				t.Errorf("ETag %q, want %q", ex.header.Get("ETag"), want)
			}
			if tt.status == http.StatusNotModified && len(ex.body) != 0 {
				t.Errorf("a 304 with a body: %q", ex.body)
			}
		})
	}

	t.Run("after a change", func(t *testing.T) {
		s.putShop(t, "acme", strings.Replace(seedShopBody, "Seed", "Renamed", 1))
		if ex := s.conditionalGet(t, shopPath, shopTag); ex.status != http.StatusOK || ex.header.Get("ETag") == shopTag {
			t.Errorf("a renamed shop: %d, ETag %s; want 200 and a new ETag", ex.status, ex.header.Get("ETag"))
		}
		put := s.do(t, http.MethodPut, settingsPath, "application/json", `{"percentage":50}`)
		if put.status != http.StatusOK || put.header.Get("ETag") != `"1"` {
			t.Fatalf("settings write: %d, ETag %q", put.status, put.header.Get("ETag"))
		}
		if ex := s.conditionalGet(t, settingsPath, settingsTag); ex.status != http.StatusOK {
			t.Errorf("settings changed since %s: %d, want 200", settingsTag, ex.status)
		}
		// The ETag a PUT answers is the one GET matches, and If-Match takes.
		if ex := s.conditionalGet(t, settingsPath, put.header.Get("ETag")); ex.status != http.StatusNotModified {
			t.Errorf("settings unchanged since the PUT: %d, want 304", ex.status)
		}
		req := s.do(t, http.MethodGet, shopPath, "", "")
		if ex := s.conditionalGet(t, shopPath, req.header.Get("ETag")); ex.status != http.StatusNotModified {
			t.Errorf("the shop unchanged since the last GET: %d, want 304", ex.status)
		}
	})
}
