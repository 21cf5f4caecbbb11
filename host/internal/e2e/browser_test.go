package e2e_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/syncrules/syncrules/host/internal/browsertest"
	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

// The page's sync status and "why this number" in a real browser, against
// the real server running the sync with the fake platforms: the numbers
// the page shows are those the sync publishes.

// fastTikTok raises the TikTok client's rate, so that publishing
// thousands of products does not take the test's time.
var fastTikTok = extraConfig{tiktok: "rate = 500\nmax_rate = 500\nburst = 100\n"}

// shopToken creates a token of scope shop:id and returns its secret.
func (d *deployment) shopToken(tb tester, id string) string {
	tb.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	d.must(tb, "POST", "/v1/tokens", `{"name":"page","scopes":["shop:`+id+`"]}`, &tok)
	return tok.Token
}

// signIn opens the page at 375 px wide and signs in with token, and
// waits for the shop's sync status.
func signIn(t *testing.T, browserCtx context.Context, d *deployment, token string) {
	t.Helper()
	err := chromedp.Do(browsertest.Stuck(browserCtx, t),
		chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile),
		chromedp.Navigate(d.front.URL()+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("sign-in-button")),
		chromedp.WaitVisible(chromedp.Search(`//dd[@id="sync-connected" and contains(., "Connected")]`)),
	)
	if err != nil {
		browsertest.FatalPage(t, browserCtx, "signing in", err)
	}
}

// TestBrowserSyncStatus: a merchant sees the shop connected and its SKUs
// linked, unmatched and conflicting; starts a resync of a few thousand
// SKUs and follows its progress bar to 100%; pauses and resumes
// publishing, the state said in words, the second by keyboard.
func TestBrowserSyncStatus(t *testing.T) {
	browserCtx, errs := browsertest.Start(t)
	p := startPlatforms(t, platformOptions{catalog: catalog.Options{Products: 1000, Variants: 3, Locations: 3, Seed: 19}})
	d := deploy(t, p, "", fastTikTok)
	d.start("server")
	d.addShop(t, "acme", p, `{"percentage":80}`)
	signIn(t, browserCtx, d, d.shopToken(t, "acme"))
	ctx := browsertest.Stuck(browserCtx, t)

	facts, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#sync .facts")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"On: Shopify's changes are published", "SKUs linked\n" + thousands(len(p.catalog.Links)), "Conflicting\n1 seller SKU on several"} {
		if !strings.Contains(facts, want) {
			t.Errorf("the status reads %q, want %q in it", facts, want)
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("sync-unlinked"))); err != nil {
		browsertest.FatalPage(t, browserCtx, "waiting for the variants not linked", err)
	}
	unlinked := rows(t, ctx, "sync-unlinked")
	for _, want := range []string{catalog.DuplicateSKU + "\t", "\tConflict\tSKU \"" + catalog.DuplicateSKU + "\" is on 2 variants", catalog.ShopifyOnlySKU + "\t"} {
		if !strings.Contains(unlinked, want) {
			t.Errorf("the variants not linked read %q, want %q in them", unlinked, want)
		}
	}

	// Every value the bar takes is recorded, to see it move.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const bar = document.getElementById("run-progress");
		window.seen = [];
		new MutationObserver(() => window.seen.push(bar.value + "/" + bar.max)).observe(bar, {attributes: true});
		return true;
	})()`)); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("resync-button")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="run-text" and @data-state="succeeded" and starts-with(., "Resync finished")]`)),
	)
	if err != nil {
		browsertest.FatalPage(t, browserCtx, "following the resync", err)
	}
	bar, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(b => [b.value, b.max])(document.getElementById("run-progress"))`))
	text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("run-text")))
	total := thousands(len(p.catalog.Links))
	if err != nil || len(bar) != 2 || bar[0] != bar[1] || bar[1] != float64(len(p.catalog.Links)) || !strings.Contains(text, total+" of "+total+" (100%)") {
		t.Errorf("after the resync the bar is %v (%v) and reads %q; want it full, %s of %s (100%%)", bar, err, text, total, total)
	}
	seen, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.seen`))
	t.Logf("the progress bar showed %v", seen)
	browsertest.CheckAccessible(t, ctx, "sync status after a resync")
	browsertest.ScreenshotOf(t, ctx, "#sync", "status-resync")

	// Pause by pointer, resume by keyboard: focus moves to the button
	// that undoes what was done.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("pause-button")),
		chromedp.WaitVisible(chromedp.Search(`//dd[@id="sync-paused" and starts-with(., "Paused")]`)),
		chromedp.WaitVisible(chromedp.ID("resume-button")),
	)
	if err != nil {
		browsertest.FatalPage(t, browserCtx, "pausing", err)
	}
	var st struct {
		Sync struct {
			Paused bool `json:"paused"`
		} `json:"sync"`
	}
	d.must(t, "GET", "/v1/shops/acme/sync", "", &st)
	if !st.Sync.Paused {
		t.Error("the page says paused, the API does not")
	}
	if focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); err != nil || focused != "resume-button" {
		t.Errorf("after pausing the focus is on %q (%v), want the resume button", focused, err)
	}
	// A change Shopify sends while paused waits: the page shows the lag.
	if err := p.shopify.SetAvailable(p.catalog.Links[0].InventoryItemID, p.catalog.Locations[0].ID, 7); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the change to wait", func() (bool, error) {
		var st struct {
			Sync struct {
				OldestPending string `json:"oldest_pending"`
			} `json:"sync"`
		}
		d.must(t, "GET", "/v1/shops/acme/sync", "", &st)
		return st.Sync.OldestPending != "", nil
	})
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("refresh-button")),
		chromedp.WaitVisible(chromedp.Search(`//dd[@id="sync-lag" and contains(., "behind Shopify: the oldest change waiting arrived at")]`)),
		chromedp.WaitVisible(chromedp.Search(`//dd[@id="sync-waiting" and starts-with(., "1 changed item.")]`)),
		chromedp.Focus(chromedp.ID("resume-button")),
	)
	if err != nil {
		browsertest.FatalPage(t, browserCtx, "showing the lag", err)
	}
	browsertest.CheckAccessible(t, ctx, "sync status paused")
	browsertest.ScreenshotOf(t, ctx, "#sync", "status-paused")
	err = chromedp.Do(ctx,
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.Search(`//dd[@id="sync-paused" and starts-with(., "On:")]`)),
	)
	if err != nil {
		browsertest.FatalPage(t, browserCtx, "resuming by keyboard", err)
	}
	d.must(t, "GET", "/v1/shops/acme/sync", "", &st)
	if st.Sync.Paused {
		t.Error("the page says publishing is on, the API says paused")
	}
	// A seller SKU on two variants: the page offers both, and explains
	// the one chosen as not linked, saying why.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("why-query"), catalog.DuplicateSKU),
		chromedp.Click(chromedp.ID("why-button")),
		chromedp.WaitVisible(chromedp.CSS("#why-choices button")),
	)
	if err != nil {
		browsertest.FatalPage(t, browserCtx, "searching a SKU in conflict", err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#why-choices button").length`)); err != nil || n != 2 {
		t.Errorf("%d choices for %s (%v), want its 2 variants", n, catalog.DuplicateSKU, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#why-choices button")),
		chromedp.WaitVisible(chromedp.ID("why-result")),
	)
	if err != nil {
		browsertest.FatalPage(t, browserCtx, "explaining a variant in conflict", err)
	}
	if link, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("why-link"))); !strings.Contains(link, `Not linked to TikTok Shop: SKU "`+catalog.DuplicateSKU+`" is on 2 variants`) {
		t.Errorf("the variant in conflict reads %q, want why it is not linked", link)
	}
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || wide > 375 {
		t.Errorf("the page is %d px wide at 375 px (%v): it scrolls sideways", wide, err)
	}
	errs.Check(t)
}

// TestBrowserWhyThisNumber: the seed's example. Locations A and B feed
// warehouse β at 80%; Shopify holds 585 at A and 400 at B. A merchant
// searches the SKU and reads why TikTok Shop shows 788: the levels per
// location, "985 available at A and B, 80% is 788, capped at 999,999:
// 788", what was published, and the history.
func TestBrowserWhyThisNumber(t *testing.T) {
	browserCtx, errs := browsertest.Start(t)
	p := startPlatforms(t, platformOptions{catalog: catalog.Options{Products: 3, Variants: 2, Locations: 3, Seed: 20, WithoutConflicts: true}})
	d := deploy(t, p, "", fastTikTok)
	d.start("server")
	d.addShop(t, "acme", p, `{"percentage":80}`)
	var shopDoc struct {
		Locations  []struct{ ID string }
		Warehouses []struct {
			ID              string
			Active, Default bool
		}
	}
	d.must(t, "GET", "/v1/shops/acme", "", &shopDoc)
	a, b := shopDoc.Locations[0].ID, shopDoc.Locations[1].ID
	beta := ""
	for _, w := range shopDoc.Warehouses {
		if w.Active && !w.Default {
			beta = w.ID
		}
	}
	if beta == "" {
		t.Fatalf("the shop has no second active warehouse: %+v", shopDoc.Warehouses)
	}
	d.must(t, "PUT", "/v1/shops/acme/settings", `{"percentage":80,"mappings":[{"location":"`+a+`","warehouse":"`+beta+`"},{"location":"`+b+`","warehouse":"`+beta+`"}]}`, nil)
	d.waitIdle(t)
	// The first SKU is stocked in both active warehouses; its stock is
	// made tracked and not sold beyond it, as the example's.
	link := p.catalog.Links[0]
	if err := p.shopify.SetTracked(link.InventoryItemID, true); err != nil {
		t.Fatal(err)
	}
	if err := p.shopify.SetInventoryPolicy(link.VariantID, "DENY"); err != nil {
		t.Fatal(err)
	}
	for loc, n := range map[string]int{a: 585, b: 400} {
		if err := p.shopify.SetAvailable(link.InventoryItemID, loc, n); err != nil {
			t.Fatal(err)
		}
	}
	variantPath := "/v1/shops/acme/sync/items/" + url.PathEscape(number(link.VariantID))
	waitFor(t, "788 published to β", func() (bool, error) {
		var r struct {
			Published map[string]struct{ Quantity int } `json:"published"`
		}
		d.must(t, "GET", variantPath, "", &r)
		if r.Published[beta].Quantity != 788 {
			_, b := d.api(t, "GET", variantPath, "")
			return false, fmt.Errorf("the variant's report: %s", b)
		}
		return true, nil
	})

	signIn(t, browserCtx, d, d.shopToken(t, "acme"))
	ctx := browsertest.Stuck(browserCtx, t)
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("why-query"), link.SellerSKU),
		chromedp.Click(chromedp.ID("why-button")),
		chromedp.WaitVisible(chromedp.ID("why-result")),
	)
	if err != nil {
		browsertest.FatalPage(t, browserCtx, "explaining "+link.SellerSKU, err)
	}
	steps, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("why-steps")))
	if err != nil {
		t.Fatal(err)
	}
	la, lb := number(a), number(b) // the page names a location by its number, as Shopify's admin does
	want := beta + ": 985 available at " + la + " and " + lb + " (" + la + ": 585, " + lb + ": 400), 80% is 788, capped at 999,999: 788."
	if !strings.Contains(steps, want) || !strings.Contains(steps, "Result: ") {
		t.Errorf("the computation reads:\n%s\nwant the line %q and the result", steps, want)
	}
	levels := rows(t, ctx, "why-levels")
	for _, row := range []string{la + "\t585\tActive", lb + "\t400\tActive", "\tInactive: not counted"} {
		if !strings.Contains(levels, row) {
			t.Errorf("Shopify's levels read %q, want %q", levels, row)
		}
	}
	if published := rows(t, ctx, "why-published"); !strings.Contains(published, beta+"\t788\t788 (") {
		t.Errorf("TikTok Shop's part reads %q, want %s computed 788 and last accepted 788 with when", published, beta)
	}
	if history := rows(t, ctx, "why-history"); !strings.Contains(history, "→ 788\tPublished") {
		t.Errorf("the history reads %q, want 788 published", history)
	}
	browsertest.CheckAccessible(t, ctx, "why this number")
	browsertest.ScreenshotOf(t, ctx, "#why", "why-this-number")
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || wide > 375 {
		out, _ := browsertest.Overflowing(ctx)
		t.Errorf("the page is %d px wide at 375 px (%v): it scrolls sideways: %q", wide, err, out)
	}

	// A SKU no variant has is said next to the field.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("why-query"), "NO-SUCH-SKU"),
		chromedp.Click(chromedp.ID("why-button")),
		chromedp.WaitVisible(chromedp.ID("why-error")),
	)
	if err != nil {
		browsertest.FatalPage(t, browserCtx, "explaining an unknown SKU", err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("why-error"))); !strings.Contains(msg, "No variant of this shop has the SKU or id NO-SUCH-SKU") {
		t.Errorf("an unknown SKU reads %q", msg)
	}
	errs.Check(t)
}

// thousands writes n as the page does: 3,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// number is the number that ends a platform's global id.
func number(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }

// rows reads a table's body, a line per row and a tab between cells,
// whatever its layout (at 375 px its rows are stacked blocks).
func rows(t *testing.T, ctx context.Context, table string) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.getElementById(`+strconv.Quote(table)+`).tBodies[0].rows]
		.map((tr) => [...tr.cells].map((td) => td.textContent).join("\t")).join("\n")`))
	if err != nil {
		t.Fatalf("reading the table %s: %v", table, err)
	}
	return text
}
