package shopify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/fakes/shopifyfake"
)

// sign is an HMAC written apart from VerifyWebhook's, from the definition:
// base64 of HMAC-SHA256 of the raw body keyed with the secret.
func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestVerifyWebhook(t *testing.T) {
	const secret = "hush"
	body := []byte(`{"inventory_item_id":271878346596884015,"location_id":24826418,"available":5}`)
	good := sign(secret, body)
	// A published vector: HMAC-SHA256 of "" keyed "" is
	// b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad.
	emptyMAC := base64.StdEncoding.EncodeToString([]byte{
		0xb6, 0x13, 0x67, 0x9a, 0x08, 0x14, 0xd9, 0xec, 0x77, 0x2f, 0x95, 0xd7, 0x78, 0xc3, 0x5f, 0xc5,
		0xff, 0x16, 0x97, 0xc4, 0x93, 0x71, 0x56, 0x53, 0xc6, 0xc7, 0x12, 0x14, 0x42, 0x92, 0xc5, 0xad})
	if sign("", nil) != emptyMAC {
		t.Fatal("the test's own HMAC is wrong")
	}
	flipped := []byte(good)
	flipped[3] ^= 1
	for _, tc := range []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"right MAC", secret, body, good, true},
		{"surrounding space", secret, body, " " + good + "\n", true},
		{"other secret", "hush!", body, good, false},
		{"body changed", secret, append([]byte(" "), body...), good, false},
		{"MAC changed", secret, body, string(flipped), false},
		{"hex, not base64", secret, body, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", false},
		{"not base64", secret, body, "%%%", false},
		{"line break inside", secret, body, good[:10] + "\n" + good[10:], false},
		{"stray low bits", secret, body, strayBits(good), false},
		{"truncated MAC", secret, body, good[:20], false},
		{"empty header", secret, body, "", false},
		{"empty secret", "", nil, emptyMAC, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := VerifyWebhook(tc.secret, tc.body, tc.header); got != tc.want {
				t.Errorf("VerifyWebhook = %v, want %v", got, tc.want)
			}
		})
	}
}

// strayBits is mac with the two unused low bits of its last character
// set: the same bytes, encoded as no encoder writes them.
func strayBits(mac string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.IndexByte(alphabet, mac[42])
	return mac[:42] + string(alphabet[i|3]) + "="
}

// TestVerifiesTheFakesWebhooks: the fake signs as Shopify does, with code
// of its own; what it sends verifies and parses.
func TestVerifiesTheFakesWebhooks(t *testing.T) {
	type delivery struct {
		body   []byte
		header http.Header
	}
	got := make(chan delivery, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{b, r.Header}
	}))
	t.Cleanup(recv.Close)
	cat := generate(t, 1, 1, 2)
	f := startFake(t, cat, shopifyfake.Options{WebhookURL: recv.URL})
	v, loc := cat.Products[0].Variants[0], cat.Locations[0]
	if err := f.TriggerWebhook("inventory_levels/update", "gid://shopify/InventoryItem/"+v.InventoryItemID, "gid://shopify/Location/"+loc.ID); err != nil {
		t.Fatal(err)
	}
	d := <-got
	if !VerifyWebhook(f.WebhookSecret(), d.body, d.header.Get("X-Shopify-Hmac-Sha256")) {
		t.Fatalf("the fake's webhook does not verify: %s %v", d.body, d.header)
	}
	if VerifyWebhook("other-secret", d.body, d.header.Get("X-Shopify-Hmac-Sha256")) {
		t.Fatal("the fake's webhook verifies with another secret")
	}
	u, err := ParseLevelUpdate(d.body)
	if err != nil {
		t.Fatal(err)
	}
	if u.InventoryItemID != "gid://shopify/InventoryItem/"+v.InventoryItemID || u.LocationID != "gid://shopify/Location/"+loc.ID ||
		u.Available == nil || *u.Available != v.Available[loc.ID] {
		t.Errorf("parsed %+v from %s", u, d.body)
	}
}

func FuzzVerifyWebhook(f *testing.F) {
	f.Add("secret", []byte(`{"id":1}`), "")
	f.Add("secret", []byte(`{"id":1}`), sign("secret", []byte(`{"id":1}`)))
	f.Add("", []byte{}, "====")
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string) {
		right := sign(secret, body)
		if VerifyWebhook(secret, body, header) {
			// Only the right MAC passes, in its one canonical base64
			// form, give or take the space around it.
			if secret == "" || strings.TrimSpace(header) != right {
				t.Fatalf("accepted %q for secret %q", header, secret)
			}
		}
		if secret != "" && !VerifyWebhook(secret, body, right) {
			t.Fatalf("refused the right MAC for secret %q", secret)
		}
	})
}

func TestParseLevelUpdate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		want    LevelUpdate
		wantErr string
	}{
		{"ids above 2^53", `{"inventory_item_id":9007199254740993,"location_id":9007199254740995,"available":-3,"updated_at":"2026-12-06T10:00:00-05:00"}`,
			LevelUpdate{InventoryItemID: "gid://shopify/InventoryItem/9007199254740993", LocationID: "gid://shopify/Location/9007199254740995",
				Available: new(-3), UpdatedAt: time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)}, ""},
		{"untracked", `{"inventory_item_id":1,"location_id":2,"available":null,"updated_at":"2026-12-06T10:00:00Z"}`,
			LevelUpdate{InventoryItemID: "gid://shopify/InventoryItem/1", LocationID: "gid://shopify/Location/2",
				UpdatedAt: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)}, ""},
		{"float id", `{"inventory_item_id":1.5e3,"location_id":2}`, LevelUpdate{}, "inventory_item_id"},
		{"no location", `{"inventory_item_id":1}`, LevelUpdate{}, "location_id"},
		{"not JSON", `{`, LevelUpdate{}, "payload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLevelUpdate([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%v, want an error naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sameAvail := (got.Available == nil) == (tc.want.Available == nil) && (got.Available == nil || *got.Available == *tc.want.Available)
			if got.InventoryItemID != tc.want.InventoryItemID || got.LocationID != tc.want.LocationID || !sameAvail || !got.UpdatedAt.Equal(tc.want.UpdatedAt) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
