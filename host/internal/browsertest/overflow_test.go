package browsertest

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// widePage, at 400 px, has a box and a word wider than the window, and a
// table that scrolls in its own box; the rest fits.
const widePage = `<!doctype html><html lang="en"><head><title>t</title><style>
body { margin: 0; } .table-wrap { overflow-x: auto; } #fits { width: 100%; }
#wide { width: 500px; } #word { width: 300px; }
</style></head><body>
<div id="fits">fits</div>
<div id="wide">a box</div>
<p id="word">gid://shopify/Location/1234567890123456789012345678901234567890</p>
<div class="table-wrap"><table id="t"><tr><td><div style="width: 700px">wide cell</div></td></tr></table></div>
</body></html>`

// TestOverflowing: what sticks out of a 400 px window is named, a table
// that scrolls in its box too, and nothing clipped by that box.
func TestOverflowing(t *testing.T) {
	ctx, errs := Start(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(widePage))
	}))
	t.Cleanup(srv.Close)
	if err := chromedp.Do(Stuck(ctx, t), chromedp.EmulateViewport(400, 600), chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	got, err := Overflowing(Stuck(ctx, t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"the page is 500 px wide in 400",
		"div#wide ends at 500 px",
		"table#t scrolls sideways in its box",
	}
	// The word's width depends on the font: only its start is known.
	if len(got) != 4 || !slices.Equal(got[:3], want) || !regexpWord.MatchString(got[3]) {
		t.Errorf("Overflowing says %q, want %q and the word of p#word", got, want)
	}
	errs.Check(t)
}

var regexpWord = regexp.MustCompile(`^the text "gid://shopify/Location/12345678901234567" in p#word ends at \d+ px$`)
