package httpapi_test

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/shop"
)

// endpoint is one operation of the API, with a request that would succeed
// for a token allowed to make it.
type endpoint struct {
	method, path, contentType, body string
	// who may call it: "any" valid token, "admin" only, "shop" (admin or
	// the shop's token; another shop's gets 404), "plugin" (admin or the
	// owning partner).
	access string
}

// isolationEndpoints is every secured operation, on shop A's resources and
// partner P's plugin.
func isolationEndpoints(tokenID string) []endpoint {
	const computeBody = `{"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true}],"items":[{"id":"v","available":{"A":1}}]}`
	const items = `{"items":[{"id":"v","available":{"A":5}}]}`
	wasm := "application/wasm"
	return []endpoint{
		{"GET", "/v1/session", "", "", "any"},
		{"DELETE", "/v1/session", "", "", "any"},
		{"POST", "/v1/compute", "application/json", computeBody, "any"},
		{"GET", "/v1/plugins", "", "", "any"},
		{"GET", "/v1/plugins/pcap", "", "", "any"},
		{"GET", "/v1/plugins/pcap/versions/1.0.0", "", "", "any"},
		{"PUT", "/v1/plugins/pcap/versions/1.0.0", wasm, "(cap module)", "plugin"},
		{"DELETE", "/v1/plugins/pcap/versions/1.0.0", "", "", "plugin"},
		{"GET", "/v1/shops", "", "", "admin"},
		{"PUT", "/v1/shops/shop-a", "application/json", seedShopBody, "admin"},
		{"GET", "/v1/shops/shop-a", "", "", "shop"},
		{"DELETE", "/v1/shops/shop-a", "", "", "admin"},
		{"GET", "/v1/shops/shop-a/settings", "", "", "shop"},
		{"PUT", "/v1/shops/shop-a/settings", "application/json", `{"percentage":1}`, "shop"},
		{"GET", "/v1/shops/shop-a/settings/history", "", "", "shop"},
		{"POST", "/v1/shops/shop-a/compute", "application/json", items, "shop"},
		{"POST", "/v1/shops/shop-a/preview", "application/json", `{"settings":{"percentage":1},` + items[1:], "shop"},
		{"PUT", "/v1/shops/shop-a/credentials", "application/json", `{"shopify":{"access_token":"stolen"}}`, "shop"},
		{"GET", "/v1/shops/shop-a/credentials", "", "", "shop"},
		{"DELETE", "/v1/shops/shop-a/credentials", "", "", "shop"},
		{"POST", "/v1/shops/shop-a/sync/connect", "", "", "shop"},
		{"GET", "/v1/shops/shop-a/sync", "", "", "shop"},
		{"GET", "/v1/shops/shop-a/sync/items", "", "", "shop"},
		{"GET", "/v1/shops/shop-a/sync/items/var-a", "", "", "shop"},
		{"GET", "/v1/shops/shop-a/sync/history", "", "", "shop"},
		{"POST", "/v1/shops/shop-a/sync/history/7/replay", "", "", "shop"},
		{"POST", "/v1/shops/shop-a/sync/reconcile", "", "", "shop"},
		{"POST", "/v1/shops/shop-a/sync/pause", "", "", "shop"},
		{"POST", "/v1/shops/shop-a/sync/resume", "", "", "shop"},
		{"POST", "/v1/shops/shop-a/sync/resync", "", "", "shop"},
		{"POST", "/v1/tokens", "application/json", `{"scopes":["admin"]}`, "admin"},
		{"GET", "/v1/tokens", "", "", "admin"},
		{"DELETE", "/v1/tokens/" + tokenID, "", "", "admin"},
	}
}

// TestTenantIsolation: a token of shop B can neither read nor change
// anything of shop A, and cannot tell shop A exists; a partner cannot
// touch another partner's plugins; no token, or a wrong one, reaches
// nothing. Shop A and partner P are checked unchanged at the end.
func TestTenantIsolation(t *testing.T) {
	h := newPluginHost(t, pluginHostConfig{})
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	capWasm := pluginModule(t, "cap")

	s.putShop(t, "shop-a", seedShopBody)
	s.putShop(t, "shop-b", seedShopBody)
	shopA, shopB := s.createToken(t, "shop:shop-a"), s.createToken(t, "shop:shop-b")
	partnerP, partnerQ := s.createToken(t, "partner:p"), s.createToken(t, "partner:q")
	s.as(shopA).putSettings(t, "shop-a", `{"percentage":80}`)
	if ex := s.as(shopA).do(t, "PUT", "/v1/shops/shop-a/credentials", "application/json", `{"tiktok":{"app_key":"k","app_secret":"s"}}`); ex.status != 200 {
		t.Fatalf("credentials: %d %s", ex.status, ex.body)
	}
	if ex := s.as(partnerP).send(t, "PUT", "/v1/plugins/pcap/versions/1.0.0", "application/wasm", strings.NewReader(string(capWasm))); ex.status != 201 {
		t.Fatalf("partner upload: %d %s", ex.status, ex.body)
	}
	victimToken := s.tokenIDs(t)[0]
	// A variant of shop A, for GET .../sync/items/{variant}.
	if err := s.store.PutVariants(t.Context(), "shop-a", 1, []shop.Variant{{ID: "var-a", ProductID: "p1", InventoryItemID: "i1", InventoryPolicy: "DENY", Tracked: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.store.SetLinks(t.Context(), "shop-a", map[string]shop.Link{"var-a": {Status: shop.LinkUnmatched, Reason: "no TikTok Shop SKU"}}, nil); err != nil {
		t.Fatal(err)
	}

	// What shop A and partner P have; nothing below may change it.
	snapshot := func() string {
		var b strings.Builder
		for _, path := range []string{"/v1/shops/shop-a", "/v1/shops/shop-a/settings/history", "/v1/shops/shop-a/credentials", "/v1/shops/shop-a/sync", "/v1/plugins/pcap", "/v1/tokens"} {
			ex := s.as(testAdminToken).do(t, "GET", path, "", "")
			b.WriteString(path + " " + http.StatusText(ex.status) + " " + string(ex.body) + "\n")
		}
		return b.String()
	}
	before := snapshot()

	// The page's sessions act as their tokens do; without the CSRF token
	// they change nothing, and once ended they reach nothing.
	sessionA, _, _ := s.signIn(t, shopA)
	sessionB, _, _ := s.signIn(t, shopB)
	endedB, _, _ := s.signIn(t, shopB)
	if ex := s.withSession(endedB).do(t, "DELETE", "/v1/session", "", ""); ex.status != http.StatusNoContent {
		t.Fatalf("signing out: %d %s", ex.status, ex.body)
	}

	type caller struct {
		name, token string
		session     pageSession
		// want is the status for an endpoint of the given access.
		want func(access string) int
	}
	callers := []caller{
		{"no token", "", pageSession{}, func(string) int { return 401 }},
		{"a wrong token", "srt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pageSession{}, func(string) int { return 401 }},
		{"a revoked-looking token", testAdminToken + "x", pageSession{}, func(string) int { return 401 }},
		{"shop B", shopB, pageSession{}, func(access string) int {
			switch access {
			case "shop":
				return 404
			case "admin", "plugin":
				return 403
			}
			return 0 // allowed: not run, it would change state
		}},
		{"partner Q", partnerQ, pageSession{}, func(access string) int {
			if access == "any" {
				return 0
			}
			return 403
		}},
		{"shop A on admin routes", shopA, pageSession{}, func(access string) int {
			if access == "admin" || access == "plugin" {
				return 403
			}
			return 0
		}},
		{"partner P on shop routes", partnerP, pageSession{}, func(access string) int {
			if access == "shop" || access == "admin" {
				return 403
			}
			return 0
		}},
	}
	callers = append(callers,
		caller{"shop B's session", "", sessionB, func(access string) int {
			switch access {
			case "shop":
				return 404
			case "admin", "plugin":
				return 403
			}
			return 0
		}},
		caller{"shop A's session with another's CSRF token", "", pageSession{cookie: sessionA.cookie, csrf: sessionB.csrf}, func(access string) int {
			return 403 // every change; its reads are shop A's own
		}},
		caller{"an ended session", "", endedB, func(string) int { return 401 }},
	)
	for _, c := range callers {
		for _, e := range isolationEndpoints(victimToken) {
			want := c.want(e.access)
			if want == 0 || (c.session.cookie == sessionA.cookie && e.method == "GET") { // a read needs no CSRF token
				continue
			}
			t.Run(c.name+"/"+e.method+" "+e.path, func(t *testing.T) {
				body := e.body
				if body == "(cap module)" {
					body = string(capWasm)
				}
				as := s.as(c.token)
				if c.session.cookie != "" {
					as = s.withSession(c.session)
				}
				ex := as.send(t, e.method, e.path, e.contentType, strings.NewReader(body))
				p := problemOf(t, ex, want)
				if want == 401 && !strings.HasPrefix(ex.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without a Bearer challenge: %q", ex.header.Get("WWW-Authenticate"))
				}
				if want == 404 {
					// Exactly what a shop that does not exist gets.
					ghost := as.send(t, e.method, strings.Replace(e.path, "shop-a", "no-such-shop", 1), e.contentType, strings.NewReader(body))
					gp := problemOf(t, ghost, 404)
					if strings.ReplaceAll(gp.Detail, "no-such-shop", "shop-a") != p.Detail {
						t.Errorf("another shop's 404 %q differs from a missing shop's %q", p.Detail, gp.Detail)
					}
				}
			})
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("shop A or partner P changed:\nbefore\n%s\nafter\n%s", before, after)
	}

	// The allowed callers do get through, so the table above is not
	// passing because everything is refused.
	for _, e := range isolationEndpoints(victimToken) {
		if e.method != "GET" {
			continue
		}
		tok := map[string]string{"any": shopB, "admin": testAdminToken, "shop": shopA, "plugin": partnerP}[e.access]
		if ex := s.as(tok).do(t, e.method, e.path, "", ""); ex.status != 200 {
			t.Errorf("%s %s as an allowed caller: %d %s", e.method, e.path, ex.status, ex.body)
		}
	}
}

// tokenIDs lists the ids of the stored tokens.
func (s *server) tokenIDs(tb testing.TB) []string {
	tb.Helper()
	ex := s.as(testAdminToken).do(tb, "GET", "/v1/tokens", "", "")
	var list struct {
		Tokens []struct {
			ID, Name, Created string
			Scopes            []string
		}
	}
	decodeStrict(tb, ex.body, &list)
	var ids []string
	for _, t := range list.Tokens {
		ids = append(ids, t.ID)
	}
	if len(ids) == 0 {
		tb.Fatal("no tokens")
	}
	return ids
}

// TestIsolationCoversEveryEndpoint: the table of TestTenantIsolation has
// every secured operation of the OpenAPI document, so an endpoint added
// later is not left out.
func TestIsolationCoversEveryEndpoint(t *testing.T) {
	doc := loadContract(t).doc
	param := regexp.MustCompile(`\{[^}]+\}`)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				continue // public
			}
			documented = append(documented, method+" "+param.ReplaceAllString(path, "*"))
		}
	}
	var tested []string
	for _, e := range isolationEndpoints("tok_000000000000") {
		path := e.path
		for _, lit := range []string{"shop-a", "pcap", "1.0.0", "tok_000000000000", "var-a", "7"} {
			path = strings.ReplaceAll(path, "/"+lit, "/*")
		}
		tested = append(tested, e.method+" "+path)
	}
	slices.Sort(documented)
	slices.Sort(tested)
	if !slices.Equal(documented, tested) {
		t.Errorf("secured operations documented:\n%v\nin the isolation table:\n%v", documented, tested)
	}
}

// TestPaginationIsolation: a cursor is a place in one list, never a way
// into another tenant's rows. Shop B cannot page shop A's history with A's
// cursor (the 404 of a missing shop, as without one), and A's cursor on B's
// own history is refused without naming A; a partner paging its own
// plugins with another partner's cursor sees only its own; an ETag of A's
// does not make B's 404 a 304.
func TestPaginationIsolation(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{plugins: newPluginHost(t, pluginHostConfig{})})
	s.putShop(t, "shop-a", seedShopBody)
	s.putShop(t, "shop-b", seedShopBody)
	for i := range 4 {
		s.putSettings(t, "shop-a", `{"percentage":`+strconv.Itoa(10+i)+`}`)
		s.putSettings(t, "shop-b", `{"percentage":`+strconv.Itoa(50+i)+`}`)
	}
	shopA, shopB := s.createToken(t, "shop:shop-a"), s.createToken(t, "shop:shop-b")
	partnerP, partnerQ := s.createToken(t, "partner:p"), s.createToken(t, "partner:q")
	capWasm := pluginModule(t, "cap")
	for _, up := range []struct{ token, name string }{{partnerP, "p1"}, {partnerP, "p3"}, {partnerQ, "q2"}, {partnerQ, "q4"}} {
		if ex := s.as(up.token).upload(t, up.name, "1.0.0", capWasm); ex.status != http.StatusCreated {
			t.Fatalf("upload %s: %d %s", up.name, ex.status, ex.body)
		}
	}
	aHistory := s.as(shopA).page(t, historyList("shop-a"), "limit=1")
	aSettings := s.as(shopA).do(t, "GET", "/v1/shops/shop-a/settings", "", "")
	pPlugins := s.as(partnerP).page(t, pluginsList, "limit=1&owner=me")
	if aHistory.next == "" || pPlugins.next == "" {
		t.Fatal("no next on a first page of 1")
	}

	t.Run("shop B with A's cursor on A's history", func(t *testing.T) {
		ex := s.as(shopB).rawGet(t, "/v1/shops/shop-a/settings/history?cursor="+aHistory.next)
		ghost := s.as(shopB).rawGet(t, "/v1/shops/no-such-shop/settings/history?cursor="+aHistory.next)
		p, gp := problemOf(t, ex, http.StatusNotFound), problemOf(t, ghost, http.StatusNotFound)
		if strings.ReplaceAll(gp.Detail, "no-such-shop", "shop-a") != p.Detail {
			t.Errorf("another shop's 404 %q differs from a missing shop's %q", p.Detail, gp.Detail)
		}
	})
	t.Run("shop B with A's cursor on its own history", func(t *testing.T) {
		ex := s.as(shopB).rawGet(t, "/v1/shops/shop-b/settings/history?cursor="+aHistory.next)
		if p := problemOf(t, ex, http.StatusBadRequest); !strings.Contains(string(ex.body), "another list") || strings.Contains(string(ex.body), "shop-a") {
			t.Errorf("A's cursor on B's history: %s, want a 400 that names no other shop (%v)", ex.body, p.fields())
		}
	})
	t.Run("shop B with A's ETag", func(t *testing.T) {
		ex := s.as(shopB).rawGet(t, "/v1/shops/shop-a/settings", "If-None-Match", aSettings.header.Get("ETag"))
		problemOf(t, ex, http.StatusNotFound)
		ex = s.as(shopB).rawGet(t, "/v1/shops/shop-a", "If-None-Match", "*")
		problemOf(t, ex, http.StatusNotFound)
	})
	t.Run("a shop token cannot page the shops", func(t *testing.T) {
		problemOf(t, s.as(shopA).do(t, "GET", "/v1/shops?limit=1", "", ""), http.StatusForbidden)
	})
	t.Run("partner Q with P's cursor", func(t *testing.T) {
		got := s.as(partnerQ).walk(t, pluginsList, 1, "&owner=me&cursor="+pPlugins.next)
		if !slices.Equal(got, []string{"q2", "q4"}) {
			t.Errorf("Q's own plugins after P's cursor: %v, want q2 and q4 alone", got)
		}
		all := s.as(partnerQ).walk(t, pluginsList, 1, "")
		if !slices.Equal(all, []string{"p1", "p3", "q2", "q4"}) {
			t.Errorf("every plugin, as Q: %v", all)
		}
		ex := s.as(partnerQ).do(t, "GET", "/v1/plugins", "", "")
		if strings.Contains(string(ex.body), `"owner":"p"`) {
			t.Errorf("Q sees P named as an owner: %s", ex.body)
		}
	})
}
