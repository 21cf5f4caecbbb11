// Package e2e holds the end-to-end tests of the connector sync: the real
// server (bin/syncrules serve, built from source and run as a child
// process) between the fake Shopify and the fake TikTok Shop, over real
// HTTP, with webhooks signed and delivered by the fake.
//
// The tests assert what a merchant depends on, whatever happens on the way:
//
//   - after any sequence of stock, flag, location and settings changes,
//     with webhooks duplicated, reordered and lost, once the sync is idle
//     and a reconciliation has run (POST /v1/shops/{shop}/sync/reconcile,
//     with raise_grace 0), every linked SKU's TikTok quantity is the
//     rule's output (POST /v1/shops/{shop}/compute on the same levels), and
//     publishing or reconciling again calls TikTok's update zero times;
//   - a quantity TikTok saw go down is never raised afterwards unless
//     something that could raise it changed (TikTok's and Shopify's request
//     logs, from the fakes, are the evidence);
//   - TikTok failing (5xx, 429, connections dropped after the update was
//     applied), Shopify throttling, a server killed with SIGKILL (in a webhook
//     burst, or in a 10,000-SKU resync, whose run then goes on), two
//     replicas on one PostgreSQL: the same property holds and no received
//     webhook is lost; replicas together keep within the shop's TikTok rate
//     limit and Shopify's cost bucket;
//   - a webhook that is not Shopify's changes nothing;
//   - a burst of webhooks for one item within the coalescing window costs
//     one Shopify read and at most one TikTok call.
//
// The package has no code of its own: only its tests. They build the
// binary once per run (go build, the default rule module from source), so
// they always test the source they sit in.
package e2e
