// Package shopify is the client of Shopify's Admin GraphQL API, and the only
// package that knows its wire format. It reads a shop, its locations, its
// catalog (every variant with its stock per location) and the levels of a
// set of inventory items, the sync's hot read; it verifies webhooks.
//
//	c, err := shopify.New(shopify.Options{
//		Domain:      "acme.myshopify.com",
//		AccessToken: token,     // sent in X-Shopify-Access-Token, never logged
//		BulkAbove:   2000,      // larger catalogs are read in a bulk operation
//	})
//	for v, err := range c.Catalog(ctx) {
//		if err != nil { return err }
//		// v.SKU, v.Tracked, v.Available["gid://shopify/Location/123"], …
//	}
//	items, err := c.InventoryLevels(ctx, []string{"gid://shopify/InventoryItem/456"})
//
// The catalog is streamed: pages of variants for a small shop, and above
// Options.BulkAbove variants the JSONL file of a bulk operation, read line by
// line as it downloads. Memory stays flat whatever the catalog's size.
//
// Shopify limits each app and shop by query cost, with a leaky bucket every
// answer reports (extensions.cost.throttleStatus). The client keeps a mirror
// of that bucket and waits, before sending a query, until it holds the
// query's cost, so that a steady stream of requests is not throttled; a
// THROTTLED answer still waits for the refill and is retried. Clients given
// one Pacer share the mirror (NewPacer, in one process); NewSharedPacer
// keeps the bucket in a SharedBucket that several processes reserve from. 5xx answers
// and dropped connections are retried with jittered backoff; the errors
// Shopify returns come back typed (*QueryError, *UserErrors, *StatusError,
// *BulkError).
//
// IDs are global ids, "gid://shopify/Location/123", kept as strings: the
// numbers in them exceed 2^53 and would be rounded as float64.
package shopify
