package tiktok

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"sort"
	"testing"

	"pgregory.net/rapid"
)

// The worked example of TikTok Shop Partner Center's "Sign your API request"
// page (Get Authorized Shops): app secret e59af819cc, app_key 29a39d,
// timestamp 1623812664, no body; the page gives this sign as the result of
// its steps. (The curl line above the steps on that page carries a different
// sign, bc721f0e…, which its own steps do not produce.)
func TestSignMatchesThePublishedExample(t *testing.T) {
	got := Sign("/authorization/202309/shops",
		map[string]string{"app_key": "29a39d", "timestamp": "1623812664", "sign": "bc721f0e", "access_token": "TTP_x"},
		nil, "e59af819cc")
	const want = "b596b73e0cc6de07ac26f036364178ab16b0a907af13d43f0a0cd2345f582dc8"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

// hmacHex is the reference digest: lowercase hex HMAC-SHA256 of msg.
func hmacHex(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return fmt.Sprintf("%x", m.Sum(nil))
}

// The strings to sign are written out by hand, so that the vectors do not
// depend on the code they check.
func TestSignGoldenVectors(t *testing.T) {
	body := `{"skus":[{"id":"1729592969712207013","inventory":[{"warehouse_id":"7068517275539719942","quantity":999}]}]}`
	cases := []struct {
		name, path string
		query      map[string]string
		body       string
		secret     string
		signed     string // the string wrapped in the secret, by hand
	}{
		{
			name: "get with cipher", path: "/logistics/202309/warehouses", secret: "s3cr3t",
			query:  map[string]string{"timestamp": "1700000000", "shop_cipher": "ROW_abc", "app_key": "key1"},
			signed: "s3cr3t" + "/logistics/202309/warehouses" + "app_keykey1" + "shop_cipherROW_abc" + "timestamp1700000000" + "s3cr3t",
		},
		{
			name: "post with body, sign and access_token left out", path: "/product/202309/products/1729592969712207013/inventory/update",
			secret: "e59af819cc", body: body,
			query: map[string]string{"app_key": "29a39d", "timestamp": "1696909648", "shop_cipher": "ROW_xk",
				"sign": "old", "access_token": "TTP_token"},
			signed: "e59af819cc" + "/product/202309/products/1729592969712207013/inventory/update" +
				"app_key29a39d" + "shop_cipherROW_xk" + "timestamp1696909648" + body + "e59af819cc",
		},
		{
			name: "paging params sorted in byte order", path: "/product/202309/products/search", secret: "k",
			body:   `{}`,
			query:  map[string]string{"page_token": "b2Zmc2V0PTEwMA==", "page_size": "100", "app_key": "a", "timestamp": "1", "shop_cipher": "c"},
			signed: "k" + "/product/202309/products/search" + "app_keya" + "page_size100" + "page_tokenb2Zmc2V0PTEwMA==" + "shop_cipherc" + "timestamp1" + `{}` + "k",
		},
		{
			name: "no query", path: "/p", secret: "x", signed: "x/px",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			if got, want := Sign(c.path, c.query, body, c.secret), hmacHex(c.secret, c.signed); got != want {
				t.Fatalf("Sign = %s, want %s (HMAC of %q)", got, want, c.signed)
			}
		})
	}
}

// referenceSign is a second implementation of the signing rule, written
// in another shape: a slice of pairs, sorted, then one string built and
// digested in one go.
func referenceSign(path string, query map[string]string, body []byte, secret string) string {
	type pair struct{ k, v string }
	var pairs []pair
	for k, v := range query {
		if k != "sign" && k != "access_token" {
			pairs = append(pairs, pair{k, v})
		}
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
	msg := secret + path
	for _, p := range pairs {
		msg += p.k + p.v
	}
	return hmacHex(secret, msg+string(body)+secret)
}

func TestSignAgreesWithAReferenceImplementation(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		key := rapid.StringMatching(`[a-z_]{1,12}`)
		query := rapid.MapOf(key, rapid.String()).Draw(t, "query")
		path := rapid.StringMatching(`(/[a-z0-9_]{1,10}){1,5}`).Draw(t, "path")
		body := rapid.SliceOf(rapid.Byte()).Draw(t, "body")
		secret := rapid.StringN(1, 40, -1).Draw(t, "secret")
		if got, want := Sign(path, query, body, secret), referenceSign(path, query, body, secret); got != want {
			t.Fatalf("Sign = %s, reference = %s", got, want)
		}
	})
}
