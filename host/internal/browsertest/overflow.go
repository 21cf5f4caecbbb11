package browsertest

import (
	"context"

	"github.com/chromedp/chromedp"
)

// Overflowing lists what sticks out of the window sideways, a sentence
// each: the page wider than the window, a visible element ending past
// its right edge (and not clipped by a box that scrolls), or its text
// doing so, a table's box that needs
// its own scroll bar.
func Overflowing(ctx context.Context) ([]string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const out = [];
		const root = document.documentElement;
		if (root.scrollWidth > root.clientWidth) out.push("the page is " + root.scrollWidth + " px wide in " + root.clientWidth);
		const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
		for (const el of document.body.querySelectorAll("*")) {
			if (el.getClientRects().length === 0) continue;
			// A box that scrolls clips what it holds, except what is
			// positioned out of it (absolute, with no positioned box in it).
			const position = getComputedStyle(el).position;
			const scroller = el.parentElement && el.parentElement.closest(".table-wrap") && position !== "absolute" && position !== "fixed";
			const r = el.getBoundingClientRect();
			if (!scroller && r.right > root.clientWidth + 0.5) out.push(name(el) + " ends at " + Math.round(r.right) + " px");
			if (el.classList.contains("table-wrap") && el.scrollWidth > el.clientWidth) out.push(name(el.firstElementChild || el) + " scrolls sideways in its box");
		}
		// Text can stick out of the box that holds it.
		const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode()) {
			if (n.textContent.trim() === "" || n.parentElement.closest(".table-wrap")) continue;
			const range = document.createRange();
			range.selectNodeContents(n);
			const r = range.getBoundingClientRect();
			if (r.width > 0 && r.right > root.clientWidth + 0.5) out.push("the text " + JSON.stringify(n.textContent.trim().slice(0, 40)) + " in " + name(n.parentElement) + " ends at " + Math.round(r.right) + " px");
		}
		return out;
	})()`))
}
