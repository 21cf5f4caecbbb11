package browsertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// badPage has one of each problem CheckAccessible finds, beside markup
// that has none of them.
const badPage = `<!doctype html><html lang="en"><head><title>t</title><style>
.pale { color: #999; }
.large { color: #888; font-size: 24px; }
.dark { background: #333; color: #fff; }
.see-through { background: rgba(0, 0, 0, .5); color: #fff; }
.inactive td { color: #555; background: #f3f4f6; }
.error { color: #a50e0e; }
.said::before { content: "Error: "; }
input:focus-visible { outline: 3px solid #1a1a1a; }
#faint:focus-visible { outline-color: #ddd; }
#ringless:focus-visible { outline: none; }
</style></head><body>
<h1>Title</h1>
<h3 id="skipped">A level down too far</h3>
<h4>One level down</h4>
<h2>Back up</h2>
<input id="nameless" value="">
<label for="named">Named</label><input id="named" value="text">
<label>Wrapped <input type="checkbox" id="wrapped"></label>
<input aria-label="Labelled" id="labelled">
<input aria-label="Faint ring" id="faint">
<input aria-label="No ring" id="ringless">
<span id="by">Labelled by</span><select aria-labelledby="by"><option>x</option></select>
<button id="empty-button"></button>
<button>Go</button>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" id="no-alt">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">
<p id="twice">one</p><p id="twice">two</p>
<p class="pale">pale text</p>
<p class="large">large grey text</p>
<div class="dark"><p>white on dark</p></div>
<div class="see-through"><p>white on half black over white</p></div>
<table><tbody>
<tr class="inactive" id="mute"><td>C</td></tr>
<tr class="inactive"><td>D</td><td>Inactive in Shopify</td></tr>
</tbody></table>
<p class="error" id="only-red">Wrong</p>
<p class="error said">Wrong, said</p>
<div hidden><input id="hidden-nameless"><h6>hidden</h6></div>
</body></html>`

// TestCheckAccessibleFinds: the check finds each problem of a page made
// of them, and nothing in the markup beside them that is right.
func TestCheckAccessibleFinds(t *testing.T) {
	ctx, errs := Start(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(badPage))
	}))
	t.Cleanup(srv.Close)
	if err := chromedp.Do(Stuck(ctx, t), chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	got, err := accessibilityProblems(Stuck(ctx, t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`h3#skipped ("A level down too far") is an h3 after an h1`,
		`input#nameless has no accessible name`,
		`button#empty-button has no accessible name`,
		`img#no-alt has no alt`,
		`the id "twice" is on 2 elements`,
		`p.pale ("pale text") has a contrast of 2.85:1 (#999999 on #ffffff), under 4.5:1`,
		// Half black over the white canvas is grey, neither black nor white.
		`p ("white on half black over white") has a contrast of 3.98:1 (#ffffff on #808080), under 4.5:1`,
		`tr#mute ("C") is greyed as inactive without saying so`,
		`p#only-red ("Wrong") is an error said only by its colour`,
	}
	for _, w := range want {
		n := 0
		for _, g := range got {
			if strings.HasPrefix(g, w) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the check says %d times %q, want once", n, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("the check finds:\n%s\nwant %d problems", strings.Join(got, "\n"), len(want))
	}

	// FocusRing: the focus that Tab moves is seen with an outline of 3:1
	// or more.
	for _, tt := range []struct{ before, id, problem string }{
		{"nameless", "named", ""},
		{"labelled", "faint", `its outline #dddddd has a contrast of 1.36:1 with #ffffff, under 3:1`},
		{"faint", "ringless", "it draws no outline"},
	} {
		if err := chromedp.Do(Stuck(ctx, t), chromedp.Focus(chromedp.ID(tt.before)), chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		id, err := FocusRing(Stuck(ctx, t))
		if id != tt.id || (tt.problem == "") != (err == nil) || (err != nil && !strings.HasSuffix(err.Error(), tt.problem)) {
			t.Errorf("the focus on %s: FocusRing says %q, %v; want %q", tt.id, id, err, tt.problem)
		}
	}
	errs.Check(t)
}
