// Package tiktok is the client of the TikTok Shop Open API, version
// 202309, and the only package that knows its wire format.
//
// A Client belongs to one app (app key and secret); Client.Shop gives the
// calls of one shop, identified by its cipher, with its tokens:
//
//	c, err := tiktok.New(tiktok.Options{
//		AppKey: appKey, AppSecret: appSecret,
//		BaseURL: cfg.TikTok.BaseURL, AuthBaseURL: cfg.TikTok.AuthBaseURL,
//		RequestTimeout: cfg.TikTok.RequestTimeout.Duration,
//	})
//	shop := c.Shop(cipher, tokenStore) // tokenStore: a TokenStore
//	for p, err := range shop.Products(ctx, tiktok.ProductQuery{}) {
//		// p.SKUs: id, seller SKU and the warehouses each is stocked in
//	}
//	err = shop.UpdateInventory(ctx, tiktok.InventoryUpdate{
//		ProductID: p.ID,
//		SKUs: []tiktok.SKUQuantities{{SKUID: sku.ID, Quantities: map[string]int{whA: 12, whB: 0}}},
//	}, &p)
//	var partial *tiktok.UpdateFailures
//	if errors.As(err, &partial) { /* partial.SKUs: the SKUs not updated, with TikTok's codes */ }
//
// Every request is signed (Sign) with a fresh timestamp, has a timeout
// (Options.RequestTimeout), and waits for the shop's rate limiter, which
// climbs while the shop has more to send and halves when TikTok answers 429
// or 36009002; with Options.Paces, every process of the app shares it
// (SharedPaces).
// Transient failures — rate limits, TikTok's internal errors (36009003), 5xx
// statuses, failed connections and timed-out attempts — are retried with
// random ("full jitter") exponential backoff, each attempt signed again;
// permanent ones (a bad sign, a refused timestamp, per-SKU errors, …) never
// are. IsTransient tells them apart for the caller; errors.Is matches an
// *APIError against ErrExpiredToken, ErrRateLimited, ErrBadTimestamp,
// ErrBadSign and ErrInternal.
//
// Access tokens expire (about a week). The client renews a token that
// expires within Options.RefreshBefore before using it, and one TikTok
// answers 105002 to (then sends the request once more); it stores every
// renewed pair through the TokenStore. A refresh token TikTok refuses gives
// ErrReauthorize: the seller must authorise the app again, and no retry will
// help. The token endpoints' *_expire_in fields are read as Unix times when
// above 10^9 and as seconds from now below it, as public clients disagree.
//
// Nothing the client logs or returns holds a token, the app secret or a
// sign: errors name the path, never the URL, and Tokens prints redacted.
package tiktok
