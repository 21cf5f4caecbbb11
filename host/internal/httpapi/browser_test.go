package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/syncrules/syncrules/host/internal/browsertest"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// The browser helpers are browsertest's, shared with the end-to-end
// browser tests.

func stuck(ctx context.Context, t *testing.T) context.Context { return browsertest.Stuck(ctx, t) }

func browser(t *testing.T) (context.Context, *pageErrors) {
	t.Helper()
	ctx, errs := browsertest.Start(t)
	return ctx, &pageErrors{errs}
}

// pageErrors collects the script's uncaught exceptions.
type pageErrors struct{ *browsertest.Errors }

func (p *pageErrors) check(t *testing.T) {
	t.Helper()
	p.Check(t)
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	browsertest.Screenshot(t, ctx, name)
}

// TestBrowserSignInAndSave: a merchant pastes a shop token, changes the
// percentage, saves, and the API then has the new settings; at 375 px
// wide nothing scrolls sideways; reloading keeps the session (the
// cookie), not the token.
func TestBrowserSignInAndSave(t *testing.T) {
	browserCtx, errs := browser(t)
	ctx := stuck(browserCtx, t)
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "acme", seedShopBody)
	token := s.createToken(t, "shop:acme")

	pageSignIn(t, browserCtx, ctx, s.url, token, 375)
	if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("token"))); err != nil || v != "" {
		t.Errorf("the sign-in field holds %q (%v), want the token gone", v, err)
	}
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || wide > 375 {
		t.Errorf("the page is %d px wide at 375 px (%v): it scrolls sideways", wide, err)
	}

	// The preview of a shop not connected yet: a sample item with 100
	// units at A and at B, all to alpha: 200 now, 33.33% of it proposed.
	err := chromedp.Do(ctx,
		chromedp.Clear(chromedp.ID("percentage")),
		chromedp.SendKeys(chromedp.ID("percentage"), "33.33"),
		chromedp.Click(chromedp.ID("preview-button")),
		chromedp.WaitVisible(chromedp.ID("preview-items")),
	)
	if err != nil {
		t.Fatalf("previewing: %v", err)
	}
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#preview-items tbody tr")))
	if want := "sample item\talpha\t200\t66"; err != nil || row != want {
		t.Errorf("the preview's row %q (%v), want %q", row, err, want)
	}
	browsertest.CheckAccessible(t, ctx, "sync rules with the preview")
	screenshot(t, ctx, "sync-rules")

	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("save-button")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="status" and contains(., "Saved")]`)),
	)
	if err != nil {
		t.Fatalf("saving: %v", err)
	}
	if status, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("status"))); err != nil || !strings.Contains(status, "version 1") {
		t.Errorf("status %q (%v), want the saved version 1", status, err)
	}
	var v settingsDoc
	decodeStrict(t, s.do(t, "GET", "/v1/shops/acme/settings", "", "").body, &v)
	var got struct {
		Percentage json.Number `json:"percentage"`
	}
	if err := json.Unmarshal(v.Settings, &got); err != nil || v.Version != 1 || got.Percentage != "33.33" {
		t.Errorf("stored settings %s (version %d), want percentage 33.33 in version 1", v.Settings, v.Version)
	}

	// A reload finds the session again, and nothing the page stores holds
	// the token.
	err = chromedp.Do(ctx,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("percentage")),
	)
	if err != nil {
		t.Fatalf("reloading: %v", err)
	}
	pct, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("percentage")))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie + location.href`))
	if err != nil {
		t.Fatal(err)
	}
	if pct != "33.33" {
		t.Errorf("after a reload the percentage reads %q, want 33.33", pct)
	}
	if strings.Contains(stored, token) || strings.Contains(stored, "syncrules_session") {
		t.Errorf("the page's storage, script-visible cookies or URL hold a secret: %s", stored)
	}
	errs.check(t)
}

// greyedShopBody is a shop with an inactive location (C) and an inactive
// warehouse (gamma), which the page shows greyed, with why.
const greyedShopBody = `{"name":"Acme","locations":[{"id":"A"},{"id":"B"},{"id":"C","active":false}],` +
	`"warehouses":[{"id":"alpha","default":true},{"id":"beta"},{"id":"gamma","active":false}]}`

// TestBrowserErrorsAndConflict: inactive locations and warehouses are
// shown greyed with why (in words, not by colour alone); a wrong
// percentage is refused next to its field; a save over a change made
// meanwhile is refused and said, not overwritten.
func TestBrowserErrorsAndConflict(t *testing.T) {
	browserCtx, errs := browser(t)
	ctx := stuck(browserCtx, t)
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "acme", greyedShopBody)
	token := s.createToken(t, "shop:acme")
	pageSignIn(t, browserCtx, ctx, s.url, token, 375)
	inactive, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#mapping-rows tr.inactive")))
	if err != nil || !strings.Contains(inactive, "C") || !strings.Contains(inactive, "Inactive in Shopify") {
		t.Errorf("the inactive location's row reads %q (%v), want C and why", inactive, err)
	}
	gamma, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`(o => o.disabled + " " + o.textContent)(document.querySelector('#map-all option[value="gamma"]'))`))
	if err != nil || !strings.HasPrefix(gamma, "true ") || !strings.Contains(gamma, "inactive in TikTok Shop") {
		t.Errorf("the inactive warehouse's choice is %q (%v), want disabled with why", gamma, err)
	}

	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("percentage"), "101"),
		chromedp.Click(chromedp.ID("save-button")),
		chromedp.WaitVisible(chromedp.ID("percentage-error")),
	)
	if err != nil {
		t.Fatalf("saving 101: %v", err)
	}
	msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("percentage-error")))
	invalid, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("percentage"), "aria-invalid"))
	if !strings.Contains(msg, "from 0 to 100") || invalid.Value != "true" {
		t.Errorf("the percentage's error %q, aria-invalid %q; want the range next to the field", msg, invalid.Value)
	}
	browsertest.CheckAccessible(t, ctx, "a field error beside inactive locations")

	// Another change lands while the page shows version 0.
	s.as(token).putSettings(t, "acme", `{"percentage":90}`)
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("percentage"), "50"),
		chromedp.Click(chromedp.ID("save-button")),
		chromedp.WaitVisible(chromedp.ID("form-error")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "saving over a change", err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("form-error"))); !strings.Contains(msg, "Someone else saved") {
		t.Errorf("the form says %q, want the concurrent change reported", msg)
	}
	var v settingsDoc
	decodeStrict(t, s.do(t, "GET", "/v1/shops/acme/settings", "", "").body, &v)
	if v.Version != 1 || !strings.Contains(string(v.Settings), "90") {
		t.Errorf("stored %s (version %d), want the other change kept", v.Settings, v.Version)
	}
	browsertest.CheckAccessible(t, ctx, "a concurrent save refused")
	screenshot(t, ctx, "sync-rules-conflict")
	errs.check(t)
}

// fatalPage fails the test with what the page shows.
func fatalPage(t *testing.T, browserCtx context.Context, what string, err error) {
	t.Helper()
	browsertest.FatalPage(t, browserCtx, what, err)
}

// pageSignIn opens the page at width px (a phone's below 600) and signs in
// with token.
func pageSignIn(t *testing.T, browserCtx, ctx context.Context, url, token string, width int64) {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if width < 600 {
		opts = append(opts, chromedp.EmulateMobile)
	}
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(width, 900, opts...),
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("sign-in-button")),
		chromedp.WaitVisible(chromedp.ID("percentage")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "signing in", err)
	}
}

// settingsNow is the shop's current settings through the API.
func (s *server) settingsNow(t *testing.T, shop string) settingsDoc {
	t.Helper()
	var v settingsDoc
	decodeStrict(t, s.do(t, "GET", "/v1/shops/"+shop+"/settings", "", "").body, &v)
	return v
}

// jsonEqual reports whether two JSON documents hold the same value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(va, vb)
}

// pageTexts are the texts of the elements a CSS selector finds, in order.
func pageTexts(t *testing.T, ctx context.Context, css string) []string {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll(`+strconv.Quote(css)+`)].map((e) => e.innerText)`))
	if err != nil {
		t.Fatalf("reading %s: %v", css, err)
	}
	return got
}

// TestBrowserHistoryAndRestore: a merchant changes the percentage and a
// mapping, reads the preview over the shop's whole imported catalog,
// saves, and sees the new version in the history with what changed;
// restoring the old version previews the way back, and saving it makes a
// newer version equal to the old one.
func TestBrowserHistoryAndRestore(t *testing.T) {
	browserCtx, errs := browser(t)
	ctx := stuck(browserCtx, t)
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "acme", seedShopBody)
	token := s.createToken(t, "shop:acme")
	v1 := s.as(token).putSettings(t, "acme", `{"percentage":100,"mappings":[{"location":"A","warehouse":"alpha"},{"location":"B","warehouse":"alpha"}]}`)
	// The imported catalog: more variants than the page lists, all
	// previewed by the server.
	var variants []shop.Variant
	for i := range 30 {
		variants = append(variants, shop.Variant{ID: strconv.Itoa(5000 + i), SKU: fmt.Sprintf("SKU-%02d", i), Tracked: true, InventoryPolicy: "DENY",
			Available: map[string]int{"A": i, "B": 2 * i}})
	}
	if err := s.store.PutVariants(context.Background(), "acme", 1, variants); err != nil {
		t.Fatal(err)
	}
	pageSignIn(t, browserCtx, ctx, s.url, token, 1000)

	// 80%, and B to beta: alpha keeps 80% of A, beta gets 80% of B.
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("percentage"), "80"),
		chromedp.SetValue(chromedp.CSS(`select[data-location="B"]`), "beta"),
		chromedp.Click(chromedp.ID("preview-button")),
		chromedp.WaitVisible(chromedp.ID("preview-items")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "previewing", err)
	}
	// Item i: alpha 3i -> floor(0.8i), beta 0 -> floor(1.6i).
	var removed, added int
	for i := range 30 {
		removed += 3*i - 8*i/10
		added += 16 * i / 10
	}
	summary, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("preview-summary")))
	if want := "Over all 30 items of the shop's catalog: 29 would change."; summary != want {
		t.Errorf("the preview says %q, want %q", summary, want)
	}
	wantWarehouses := []string{fmt.Sprintf("alpha\t0\t−%d", removed), fmt.Sprintf("beta\t+%d\t0", added)}
	if got := pageTexts(t, ctx, "#preview-warehouses tbody tr"); !slices.Equal(got, wantWarehouses) {
		t.Errorf("the preview per warehouse %q, want %q", got, wantWarehouses)
	}
	// The item that changes most is the last: alpha 87 -> 23.
	if got := pageTexts(t, ctx, "#preview-items tbody tr"); len(got) == 0 || got[0] != "SKU-29\talpha\t87\t23" {
		t.Errorf("the items that change most %q, want SKU-29 first, alpha 87 -> 23", got)
	}

	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("save-button")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="status" and contains(., "Saved: version 2")]`)),
		chromedp.WaitVisible(chromedp.ID("restore-1")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "saving", err)
	}
	history := pageTexts(t, ctx, "#history-list li")
	wantHistory := []string{
		"What changed: percentage 100 → 80; mapping B → alpha changed to beta.",
		"What changed: mapping A → alpha added; mapping B → alpha added.",
	}
	if len(history) != 2 || !strings.HasPrefix(history[0], "Version 2, saved ") || !strings.Contains(history[0], "(current)") ||
		!strings.Contains(history[0], wantHistory[0]) || !strings.Contains(history[1], wantHistory[1]) {
		t.Errorf("the history shows %q, want version 2 (current) then 1, saying %q", history, wantHistory)
	}

	// Restoring version 1 previews the way back before anything is saved.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("restore-1")),
		chromedp.Poll[chromedp.Void](`document.getElementById("preview-summary").textContent.includes("29 would change") && `+
			`document.querySelector("#preview-warehouses tbody tr").innerText.includes("+")`),
	)
	if err != nil {
		fatalPage(t, browserCtx, "restoring version 1", err)
	}
	pct, _ := chromedp.Run(ctx, chromedp.Value(chromedp.ID("percentage")))
	mapB, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`select[data-location="B"]`)))
	if pct != "100" || mapB != "alpha" {
		t.Errorf("after restoring version 1 the form holds %q%% and B -> %q, want 100%% and alpha", pct, mapB)
	}
	wantWarehouses = []string{fmt.Sprintf("alpha\t+%d\t0", removed), fmt.Sprintf("beta\t0\t−%d", added)}
	if got := pageTexts(t, ctx, "#preview-warehouses tbody tr"); !slices.Equal(got, wantWarehouses) {
		t.Errorf("the way back per warehouse %q, want %q", got, wantWarehouses)
	}
	if v := s.settingsNow(t, "acme"); v.Version != 2 {
		t.Errorf("restoring saved version %d: restoring must only fill the form", v.Version)
	}
	browsertest.CheckAccessible(t, ctx, "the history with a version restored")
	screenshot(t, ctx, "rules-history")

	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("save-button")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="status" and contains(., "Saved: version 3")]`)),
		chromedp.WaitVisible(chromedp.ID("restore-2")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "saving the restored version", err)
	}
	if v := s.settingsNow(t, "acme"); v.Version != 3 || !jsonEqual(t, v.Settings, v1.Settings) {
		t.Errorf("after saving the restored version: version %d %s, want version 3 equal to version 1's %s", v.Version, v.Settings, v1.Settings)
	}
	if h := pageTexts(t, ctx, "#history-list li"); len(h) != 3 || !strings.Contains(h[0], "percentage 80 → 100; mapping B → beta changed to alpha") {
		t.Errorf("the history shows %q, want version 3 first, the way back", h)
	}
	if hidden, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("preview").hidden`)); !hidden {
		t.Error("after saving, the preview of the change saved is still shown")
	}
	errs.check(t)
}

// TestBrowserCustomRules: a merchant adds installed plugins as custom
// rules, fills their parameters, chooses what a failure does and orders
// them with the keyboard; a parameter the plugin refuses, or that is not
// JSON, is shown next to that rule's parameters; the saved settings hold
// the rules in the order chosen.
func TestBrowserCustomRules(t *testing.T) {
	browserCtx, errs := browser(t)
	ctx := stuck(browserCtx, t)
	h := newPluginHost(t, pluginHostConfig{})
	h.install(t, "buffer", "1.0.0", "buffer")
	h.install(t, "cap", "1.0.0", "cap")
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	s.putShop(t, "acme", seedShopBody)
	token := s.createToken(t, "shop:acme")
	pageSignIn(t, browserCtx, ctx, s.url, token, 375)

	// buffer with params it refuses: the server's error, to a preview
	// (/settings/rules/0/params) or a save (/rules/0/params), goes next to
	// them.
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("add-plugin"), "buffer"),
		chromedp.Click(chromedp.ID("add-rule")),
		chromedp.WaitVisible(chromedp.ID("rule-0-params")),
		chromedp.SetValue(chromedp.ID("rule-0-params"), `{"units": -2}`),
	)
	if err != nil {
		fatalPage(t, browserCtx, "adding buffer", err)
	}
	for _, button := range []string{"preview-button", "save-button"} {
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.ID(button)),
			chromedp.WaitVisible(chromedp.ID("rule-0-params-error")),
		)
		if err != nil {
			fatalPage(t, browserCtx, button+" with params buffer refuses", err)
		}
		msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("rule-0-params-error")))
		invalid, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("rule-0-params"), "aria-invalid"))
		if !strings.Contains(msg, "buffer") || !strings.Contains(msg, "units") || invalid.Value != "true" {
			t.Errorf("%s: the params' error %q, aria-invalid %q; want buffer's refusal of units next to the field", button, msg, invalid.Value)
		}
	}
	if v := s.settingsNow(t, "acme"); v.Version != 0 {
		t.Errorf("refused params were saved as version %d", v.Version)
	}
	browsertest.CheckAccessible(t, ctx, "a custom rule's error")
	screenshot(t, ctx, "rules-custom-error")

	// Not JSON: said before anything is sent.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("rule-0-params"), `{units: 2}`),
		chromedp.Click(chromedp.ID("preview-button")),
		chromedp.Poll[chromedp.Void](`document.getElementById("rule-0-params-error").textContent.includes("not valid JSON")`),
	)
	if err != nil {
		fatalPage(t, browserCtx, "previewing params that are not JSON", err)
	}

	// Good params, skip on failure; then cap, moved first with the
	// keyboard.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("rule-0-params"), `{"units": 2}`),
		chromedp.Click(chromedp.ID("rule-0-skip")),
		chromedp.SetValue(chromedp.ID("add-plugin"), "cap"),
		chromedp.Click(chromedp.ID("add-rule")),
		chromedp.WaitVisible(chromedp.ID("rule-1-params")),
		chromedp.SetValue(chromedp.ID("rule-1-params"), `{"max": 50}`),
		chromedp.Focus(chromedp.ID("rule-1-up")),
		chromedp.KeyEvent("\r"),
		chromedp.Poll[chromedp.Void](`document.querySelector("#rule-0-title").textContent === "Rule 1: cap"`),
	)
	if err != nil {
		fatalPage(t, browserCtx, "adding and ordering rules", err)
	}
	if focused, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "rule-0-down" {
		t.Errorf("after moving cap to the top the focus is on %q, want its Move down button", focused)
	}
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || wide > 375 {
		t.Errorf("with two rules the page is %d px wide at 375 px (%v): it scrolls sideways", wide, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("preview-button")),
		chromedp.WaitVisible(chromedp.ID("preview-items")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "previewing the rules", err)
	}
	// The sample item: 200 units at A and B to alpha, capped at 50, less 2.
	if row, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#preview-items tbody tr"))); row != "sample item\talpha\t200\t48" {
		t.Errorf("the preview's row %q, want the sample item capped at 50 then buffered to 48", row)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("save-button")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="status" and contains(., "Saved: version 1")]`)),
	)
	if err != nil {
		fatalPage(t, browserCtx, "saving the rules", err)
	}
	v := s.settingsNow(t, "acme")
	var got struct {
		Rules json.RawMessage `json:"rules"`
	}
	if err := json.Unmarshal(v.Settings, &got); err != nil {
		t.Fatal(err)
	}
	want := `[{"plugin":"cap","version":"1.0.0","params":{"max":50},"on_error":"fail"},` +
		`{"plugin":"buffer","version":"1.0.0","params":{"units":2},"on_error":"skip"}]`
	if len(got.Rules) == 0 || !jsonEqual(t, got.Rules, []byte(want)) {
		t.Errorf("saved rules %s, want %s", got.Rules, want)
	}
	if h := pageTexts(t, ctx, "#history-list li"); len(h) != 1 || !strings.Contains(h[0], "rule cap 1.0.0 added; rule buffer 1.0.0 added") {
		t.Errorf("the history shows %q, want version 1 adding both rules", h)
	}
	browsertest.CheckAccessible(t, ctx, "custom rules")
	screenshot(t, ctx, "rules-custom")
	errs.check(t)
}

// TestBrowserAdminSwitchesShops: an administrator switching between two
// shops sees each shop's own settings and history, and saves to the shop
// shown.
func TestBrowserAdminSwitchesShops(t *testing.T) {
	browserCtx, errs := browser(t)
	ctx := stuck(browserCtx, t)
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "acme", seedShopBody)
	s.putShop(t, "bolt", `{"name":"Bolt","locations":[{"id":"X"}],"warehouses":[{"id":"omega","default":true}]}`)
	s.putSettings(t, "acme", `{"percentage":80}`)
	s.putSettings(t, "bolt", `{"percentage":60}`)
	s.putSettings(t, "bolt", `{"percentage":65}`)
	pageSignIn(t, browserCtx, ctx, s.url, testAdminToken, 1000)

	choose := func(shopID string) {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`(s => { s.value = `+strconv.Quote(shopID)+`; s.dispatchEvent(new Event("change")); return true; })(document.getElementById("shop-select"))`))
		if err != nil {
			fatalPage(t, browserCtx, "choosing "+shopID, err)
		}
	}
	for _, tt := range []struct {
		shop, percentage string
		versions         int
		location         string
	}{
		{"bolt", "65", 2, "X"},
		{"acme", "80", 1, "A"},
		{"bolt", "65", 2, "X"},
	} {
		choose(tt.shop)
		err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](
			`document.getElementById("percentage").value === `+strconv.Quote(tt.percentage)+
				` && document.querySelectorAll("#history-list li").length === `+strconv.Itoa(tt.versions)))
		if err != nil {
			fatalPage(t, browserCtx, "showing "+tt.shop, err)
		}
		if rows := pageTexts(t, ctx, "#mapping-rows th"); len(rows) < 2 || rows[1] != tt.location {
			t.Errorf("%s shows the locations %q, want its own, %s", tt.shop, rows, tt.location)
		}
	}
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("percentage"), "70"),
		chromedp.Click(chromedp.ID("save-button")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="status" and contains(., "Saved: version 3")]`)),
	)
	if err != nil {
		fatalPage(t, browserCtx, "saving bolt", err)
	}
	if a, b := s.settingsNow(t, "acme"), s.settingsNow(t, "bolt"); a.Version != 1 || b.Version != 3 || !strings.Contains(string(b.Settings), "70") {
		t.Errorf("after saving bolt: acme version %d, bolt version %d %s; want acme untouched and bolt at 70", a.Version, b.Version, b.Settings)
	}
	browsertest.CheckAccessible(t, ctx, "an administrator's shop")
	screenshot(t, ctx, "rules-admin")
	errs.check(t)
}
