package browsertest

import (
	"context"
	_ "embed"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// accessibleJS defines the functions that find, in the page, what a
// merchant using a screen reader, a keyboard or weak eyes would miss.
//
//go:embed accessible.js
var accessibleJS string

// CheckAccessible fails the test with each accessibility problem of the
// page as it is shown now (state names it in the messages): a visible
// control without an accessible name, an image without alt, a repeated
// id, a heading that skips a level, text whose contrast with its
// background is under 4.5:1 (3:1 for large text), and a state said by
// colour alone (an inactive row or an error without words saying so).
func CheckAccessible(t testing.TB, ctx context.Context, state string) {
	t.Helper()
	problems, err := accessibilityProblems(Stuck(ctx, t))
	if err != nil {
		t.Errorf("%s: checking accessibility: %v", state, err)
		return
	}
	for _, p := range problems {
		t.Errorf("%s: not accessible: %s", state, p)
	}
}

// accessibilityProblems lists the page's accessibility problems, a
// sentence each.
func accessibilityProblems(ctx context.Context) ([]string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]string](inPage("accessibilityProblems")))
}

// inPage is an expression that calls the function fn of accessibleJS.
func inPage(fn string) string { return "(() => {\n" + accessibleJS + "\nreturn " + fn + "();\n})()" }

// FocusRing says which element has the focus (its id) and, when a
// merchant could not see where the focus is, why: it does not match
// :focus-visible, draws no outline, or one under 3:1 against the
// background around it (WCAG 1.4.11). Nothing focused is an error.
func FocusRing(ctx context.Context) (id string, err error) {
	type focus struct {
		ID      string `json:"id"`
		Problem string `json:"problem"`
	}
	ring, err := chromedp.Run(ctx, chromedp.Evaluate[focus](inPage("focusRing")))
	if err != nil {
		return "", err
	}
	if ring.Problem != "" {
		return ring.ID, fmt.Errorf("the focus on %q cannot be seen: %s", ring.ID, ring.Problem)
	}
	return ring.ID, nil
}
