package tiktok

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// Sign returns the sign of a request to the Open API: the lowercase hex
// HMAC-SHA256, keyed with the app secret, of
//
//	app_secret + path + key1 + value1 + key2 + value2 + … + body + app_secret
//
// where the keys are the query parameters other than sign and access_token,
// in byte order, path is the request path without host or query, and body is
// the request body exactly as sent (nil for a GET). The body is signed as
// bytes: re-encoding the JSON after signing it breaks the sign.
func Sign(path string, query map[string]string, body []byte, appSecret string) string {
	keys := make([]string, 0, len(query))
	for k := range query {
		if k != "sign" && k != "access_token" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)

	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(appSecret))
	mac.Write([]byte(path))
	for _, k := range keys {
		mac.Write([]byte(k))
		mac.Write([]byte(query[k]))
	}
	mac.Write(body)
	mac.Write([]byte(appSecret))
	return hex.EncodeToString(mac.Sum(nil))
}
