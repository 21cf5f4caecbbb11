package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/fakes/catalog"
)

// TestWholeShopRepublishCallsEachProductOnce: a settings change that
// changes every quantity of a catalog of multi-variant products, larger
// than one sync batch, sends each product in one TikTok call, not once per
// batch its variants are scattered over.
func TestWholeShopRepublishCallsEachProductOnce(t *testing.T) {
	const products = 120 // of 3 variants: 360 items, two batches of 250
	p := startPlatforms(t, platformOptions{
		catalog: catalog.Options{Products: products, Variants: 3, Locations: 2, Seed: 12, WithoutConflicts: true},
		domain:  "republish.myshopify.com",
	})
	// The client's rate raised, so the test does not wait on it.
	d := deploy(t, p, "", extraConfig{tiktok: "rate = 200\nmax_rate = 200\nburst = 50\n"})
	d.start("server")
	d.must(t, "PUT", "/v1/shops/republish", `{"name":"republish","shopify_domain":"`+p.shopify.ShopDomain()+`"}`, nil)
	tokens := p.tiktok.Tokens()
	d.must(t, "PUT", "/v1/shops/republish/credentials", fmt.Sprintf(
		`{"shopify":{"access_token":%q},"tiktok":{"app_key":%q,"app_secret":%q,"access_token":%q,"refresh_token":%q,"shop_cipher":%q}}`,
		p.shopify.AccessToken(), p.tiktok.AppKey(), p.tiktok.AppSecret(), tokens.AccessToken, tokens.RefreshToken, p.tiktok.ShopCipher()), nil)
	d.republish(t, "republish", false)
	before := len(p.tiktok.Requests())
	d.must(t, "PUT", "/v1/shops/republish/settings", `{"percentage":80}`, nil)
	d.waitIdle(t)

	perProduct := map[string]int{}
	for _, r := range p.tiktok.Requests()[before:] {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/inventory/update") {
			perProduct[r.Path]++
		}
	}
	if len(perProduct) < products/2 {
		t.Fatalf("%d products updated of %d: the settings change should have changed most", len(perProduct), products)
	}
	for path, n := range perProduct {
		if n != 1 {
			t.Errorf("%s: %d calls, want 1", path, n)
		}
	}
	d.checkPublished(t, "republish", p)
}
