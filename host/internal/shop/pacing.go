package shop

import (
	"context"
	"strings"
	"time"

	"github.com/syncrules/syncrules/host/internal/shopify"
)

// ShopifyBuckets keep shops' Shopify cost buckets in the store, by
// myshopify domain, for replicas to share: see shopify.SharedBucket, whose
// methods these are for one domain. stale is how long a request may take:
// points reserved and not settled after the bucket was left untouched
// that long belong to a process that stopped.
type ShopifyBuckets interface {
	ReserveShopifyCost(ctx context.Context, domain string, cost float64, stale time.Duration) (shopify.Reservation, error)
	SettleShopifyCost(ctx context.Context, domain string, reserved, spent float64, report shopify.BucketReport) error
	CancelShopifyCost(ctx context.Context, domain string, reserved float64) error
}

// sharedBucket is one shop's bucket in ShopifyBuckets.
type sharedBucket struct {
	buckets ShopifyBuckets
	domain  string
	stale   time.Duration
}

func (b sharedBucket) Reserve(ctx context.Context, cost float64) (shopify.Reservation, error) {
	return b.buckets.ReserveShopifyCost(ctx, b.domain, cost, b.stale)
}

func (b sharedBucket) Settle(ctx context.Context, reserved, spent float64, report shopify.BucketReport) error {
	return b.buckets.SettleShopifyCost(ctx, b.domain, reserved, spent, report)
}

func (b sharedBucket) Cancel(ctx context.Context, reserved float64) error {
	return b.buckets.CancelShopifyCost(ctx, b.domain, reserved)
}

// shopifyPacer is the pacer of the shop's Shopify clients: every client of
// one shop in this process shares it (the sync job, a reconciliation, a
// connect), so that they spend the shop's cost bucket together; with
// Options.ShopifyBuckets, every replica's clients share the bucket too.
func (s *Service) shopifyPacer(domain string) shopify.Pacer {
	domain = strings.ToLower(domain)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.shopifyPacers[domain]; ok {
		return p
	}
	var p shopify.Pacer
	if s.shopifyBuckets != nil {
		// Each attempt lasts at most the request timeout; twice that
		// leaves room for the store's own round trips.
		stale := s.platforms.Shopify.RequestTimeout
		if stale <= 0 {
			stale = 30 * time.Second
		}
		p = shopify.NewSharedPacer(sharedBucket{buckets: s.shopifyBuckets, domain: domain, stale: 2 * stale})
	} else {
		p = shopify.NewPacer()
	}
	s.shopifyPacers[domain] = p
	return p
}
