package httpapi

import (
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestCursorRoundTrip: a cursor gives back the key it was made with, to
// its own list only, and any change to one character, or cutting it short,
// makes it refused.
func TestCursorRoundTrip(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	rapid.Check(t, func(rt *rapid.T) {
		list := rapid.SampledFrom([]string{"shops", "tokens", "plugins", "plugins?owner=me", "history:a", "history:b"}).Draw(rt, "list")
		key := rapid.SliceOfN(rapid.StringMatching(`[^\x00]{0,40}`), 1, 2).Draw(rt, "key")
		c := encodeCursor(list, key...)
		if strings.Trim(c, alphabet) != "" {
			rt.Fatalf("cursor %q is not base64url", c)
		}
		got, bad := decodeCursor(c, list, len(key))
		if bad != "" || !slices.Equal(got, key) {
			rt.Fatalf("decode(encode(%q)) = %q, %q", key, got, bad)
		}
		if _, bad := decodeCursor(c, list+"x", len(key)); !strings.Contains(bad, "another list") {
			rt.Fatalf("the cursor of %s taken by another list: %q", list, bad)
		}
		i := rapid.IntRange(0, len(c)-1).Draw(rt, "at")
		other := rapid.SampledFrom([]byte(alphabet)).Filter(func(b byte) bool { return b != c[i] }).Draw(rt, "to")
		changed := c[:i] + string(other) + c[i+1:]
		if _, bad := decodeCursor(changed, list, len(key)); bad == "" {
			rt.Fatalf("%q changed at %d to %q was taken", c, i, changed)
		}
		if _, bad := decodeCursor(c[:i], list, len(key)); bad == "" {
			rt.Fatalf("%q cut to %q was taken", c, c[:i])
		}
	})
}
