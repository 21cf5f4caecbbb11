package httpapi_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/syncrules/syncrules/host/internal/browsertest"
)

// The page's quality bar in a real browser: a shop's session reaches no
// other shop, the form is usable with the keyboard alone, and nothing
// overflows at desktop width. The accessibility checks run in the tests
// of each state of the page (browsertest.CheckAccessible).

// pageFetch is a script that makes requests from the page, as app.js
// does: with the session's cookie, and with its CSRF token (of GET
// /v1/session) on a change. It returns "METHOD path status" for each.
func pageFetch(requests [][3]string) string {
	var list []string
	for _, r := range requests {
		list = append(list, "["+strconv.Quote(r[0])+","+strconv.Quote(r[1])+","+strconv.Quote(r[2])+"]")
	}
	return `(async () => {
		const session = await fetch("/v1/session", {credentials: "same-origin", headers: {Accept: "application/json"}});
		const csrf = session.status === 200 ? (await session.json()).csrf_token : "";
		const out = [];
		for (const [method, path, body] of [` + strings.Join(list, ",") + `]) {
			const headers = {Accept: "application/json"};
			if (method !== "GET") headers["X-CSRF-Token"] = csrf;
			if (body) headers["Content-Type"] = "application/json";
			const r = await fetch(path, {method, headers, body: body || undefined, credentials: "same-origin", cache: "no-store"});
			out.push(method + " " + path + " " + r.status);
		}
		return out;
	})()`
}

// TestBrowserSessionIsolation: signed in as shop B, the page offers only
// B, and requests made from the page itself, with B's cookie and CSRF
// token, reach none of shop A's settings, preview, history, sync status,
// items or resync (404, as for a shop that does not exist), and change
// nothing of A's; after signing out, the old cookie reaches nothing.
func TestBrowserSessionIsolation(t *testing.T) {
	browserCtx, errs := browser(t)
	ctx := stuck(browserCtx, t)
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "shop-a", seedShopBody)
	s.putShop(t, "shop-b", seedShopBody)
	tokenA, tokenB := s.createToken(t, "shop:shop-a"), s.createToken(t, "shop:shop-b")
	s.as(tokenA).putSettings(t, "shop-a", `{"percentage":80}`)
	snapshot := func() string {
		var b strings.Builder
		for _, path := range []string{"/v1/shops/shop-a", "/v1/shops/shop-a/settings", "/v1/shops/shop-a/settings/history",
			"/v1/shops/shop-a/sync", "/v1/shops/shop-a/sync/items", "/v1/shops/shop-a/sync/history"} {
			ex := s.as(testAdminToken).do(t, "GET", path, "", "")
			b.WriteString(path + " " + http.StatusText(ex.status) + " " + string(ex.body) + "\n")
		}
		return b.String()
	}
	before := snapshot()

	pageSignIn(t, browserCtx, ctx, s.url, tokenB, 1000)
	offered, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#shop-select option")].map((o) => o.value)`))
	if err != nil || !slices.Equal(offered, []string{"shop-b"}) {
		t.Errorf("the shop selector offers %q (%v), want shop-b alone", offered, err)
	}
	screenshot(t, ctx, "session-shop-b")

	const preview = `{"settings":{"percentage":1}}`
	// B's own requests go through, so the 404s below are not a CSRF
	// token or a session the server refuses.
	own := [][3]string{
		{"GET", "/v1/shops/shop-b/settings", ""},
		{"POST", "/v1/shops/shop-b/preview", preview},
	}
	others := [][3]string{
		{"GET", "/v1/shops/shop-a/settings", ""},
		{"POST", "/v1/shops/shop-a/preview", preview},
		{"GET", "/v1/shops/shop-a/sync", ""},
		{"GET", "/v1/shops/shop-a/sync/items", ""},
		{"GET", "/v1/shops/shop-a/settings/history", ""},
		{"GET", "/v1/shops/shop-a/sync/history", ""},
		{"PUT", "/v1/shops/shop-a/settings", `{"percentage":1}`},
		{"POST", "/v1/shops/shop-a/sync/resync", ""},
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](pageFetch(append(own, others...)), chromedp.EvalAwaitPromise))
	if err != nil {
		fatalPage(t, browserCtx, "requesting from the page", err)
	}
	var want []string
	for _, r := range own {
		want = append(want, r[0]+" "+r[1]+" 200")
	}
	for _, r := range others {
		want = append(want, r[0]+" "+r[1]+" 404")
	}
	if !slices.Equal(got, want) {
		t.Errorf("from shop B's page:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if after := snapshot(); after != before {
		t.Errorf("shop A changed:\nbefore\n%s\nafter\n%s", before, after)
	}

	// Signing out ends the session on the server: the cookie, put back
	// into the browser, reaches nothing.
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.url}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == "syncrules_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("no session cookie among %d cookies", len(cookies.Cookies))
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("sign-out")),
		chromedp.WaitVisible(chromedp.ID("token")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "signing out", err)
	}
	httpOnly := true
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: session.Name, Value: session.Value, URL: s.url, Path: session.Path, HTTPOnly: &httpOnly, SameSite: session.SameSite,
	}); err != nil {
		t.Fatal(err)
	}
	got, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](pageFetch([][3]string{{"GET", "/v1/shops/shop-b/settings", ""}}), chromedp.EvalAwaitPromise))
	if want := []string{"GET /v1/shops/shop-b/settings 401"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("with the cookie of a session signed out: %q (%v), want %q", got, err, want)
	}
	errs.check(t)
}

// TestBrowserKeyboard: a merchant signs in, types the percentage and
// saves it with Enter, and reaches the preview and save buttons with Tab
// alone, each showing where the focus is (a :focus-visible outline of
// 3:1 or more against the page).
func TestBrowserKeyboard(t *testing.T) {
	browserCtx, errs := browser(t)
	ctx := stuck(browserCtx, t)
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "acme", seedShopBody)
	token := s.createToken(t, "shop:acme")

	// The page puts the focus in the token's field.
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1000, 900),
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.Poll[chromedp.Void](`document.activeElement.id === "token"`),
	)
	if err != nil {
		fatalPage(t, browserCtx, "opening the page", err)
	}
	browsertest.CheckAccessible(t, ctx, "signed out")
	err = chromedp.Do(ctx,
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("token-error")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "signing in without a token", err)
	}
	browsertest.CheckAccessible(t, ctx, "a sign-in refused")
	err = chromedp.Do(ctx,
		chromedp.KeyEvent(token+kb.Enter),
		chromedp.WaitVisible(chromedp.ID("percentage")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "signing in with the keyboard", err)
	}
	// tabTo presses Tab until id has the focus, and says what the focus
	// went through.
	tabTo := func(id string) {
		t.Helper()
		var path []string
		for range 40 {
			if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
				t.Fatal(err)
			}
			focused, ring := browsertest.FocusRing(ctx)
			path = append(path, focused)
			if focused == id {
				if ring != nil {
					t.Errorf("Tab reaches %s, but %v", id, ring)
				}
				return
			}
		}
		t.Fatalf("Tab never reaches %s; it goes through %q", id, path)
	}
	tabTo("percentage")
	if v, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("percentage"))); v != "" {
		t.Fatalf("the percentage of a shop without settings reads %q, want it empty", v)
	}
	err = chromedp.Do(ctx,
		chromedp.KeyEvent("75"+kb.Enter),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="status" and contains(., "Saved: version 1")]`)),
	)
	if err != nil {
		fatalPage(t, browserCtx, "saving with Enter", err)
	}
	if v := s.settingsNow(t, "acme"); v.Version != 1 || !strings.Contains(string(v.Settings), `"percentage":75`) {
		t.Errorf("after Enter the stored settings are version %d %s, want percentage 75 in version 1", v.Version, v.Settings)
	}
	tabTo("preview-button")
	err = chromedp.Do(ctx,
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("preview-summary")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "previewing with Enter", err)
	}
	tabTo("save-button")
	screenshot(t, ctx, "page-keyboard")
	errs.check(t)
}

// TestBrowserDesktop: at 1280 px wide, with the preview and the history
// shown, nothing is wider than the window, and no table needs its own
// scroll bar.
func TestBrowserDesktop(t *testing.T) {
	browserCtx, errs := browser(t)
	ctx := stuck(browserCtx, t)
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "acme", greyedShopBody)
	token := s.createToken(t, "shop:acme")
	s.as(token).putSettings(t, "acme", `{"percentage":90}`)
	pageSignIn(t, browserCtx, ctx, s.url, token, 1280)
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("percentage"), "80"),
		chromedp.SetValue(chromedp.CSS(`select[data-location="B"]`), "beta"),
		chromedp.Click(chromedp.ID("preview-button")),
		chromedp.WaitVisible(chromedp.ID("preview-items")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "previewing", err)
	}
	overflow, err := browsertest.Overflowing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range overflow {
		t.Errorf("at 1280 px: %s", o)
	}
	browsertest.CheckAccessible(t, ctx, "at 1280 px")
	screenshot(t, ctx, "page-desktop")
	errs.check(t)
}
