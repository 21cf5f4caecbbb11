package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/syncrules/syncrules/host/internal/browsertest"
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

	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile),
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("sign-in-button")),
		chromedp.WaitVisible(chromedp.ID("percentage")),
	)
	if err != nil {
		fatalPage(t, browserCtx, "signing in", err)
	}
	if v, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("token"))); err != nil || v != "" {
		t.Errorf("the sign-in field holds %q (%v), want the token gone", v, err)
	}
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || wide > 375 {
		t.Errorf("the page is %d px wide at 375 px (%v): it scrolls sideways", wide, err)
	}

	// The preview of a shop not connected yet: a sample item with 100
	// units at A and at B, all to alpha: 200 now, 33.33% of it proposed.
	err = chromedp.Do(ctx,
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

// TestBrowserErrorsAndConflict: inactive locations and warehouses are
// shown greyed with why (in words, not by colour alone); a wrong
// percentage is refused next to its field; a save over a change made
// meanwhile is refused and said, not overwritten.
func TestBrowserErrorsAndConflict(t *testing.T) {
	browserCtx, errs := browser(t)
	ctx := stuck(browserCtx, t)
	s := newServer(t, loadRule(t), serverConfig{})
	s.putShop(t, "acme", `{"name":"Acme","locations":[{"id":"A"},{"id":"B"},{"id":"C","active":false}],`+
		`"warehouses":[{"id":"alpha","default":true},{"id":"beta"},{"id":"gamma","active":false}]}`)
	token := s.createToken(t, "shop:acme")
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile),
		chromedp.Navigate(s.url+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("sign-in-button")),
		chromedp.WaitVisible(chromedp.ID("percentage")),
	)
	if err != nil {
		t.Fatalf("signing in: %v", err)
	}
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
	screenshot(t, ctx, "sync-rules-conflict")
	errs.check(t)
}

// fatalPage fails the test with what the page shows.
func fatalPage(t *testing.T, browserCtx context.Context, what string, err error) {
	t.Helper()
	browsertest.FatalPage(t, browserCtx, what, err)
}
