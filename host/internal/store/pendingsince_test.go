package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
)

// TestPendingSinceWaitsForYoungWebhooksOnly: the sync's coalescing window waits only while every
// pending item waits for a webhook younger than the cutoff, and then until
// the oldest of them.
func TestPendingSinceWaitsForYoungWebhooksOnly(t *testing.T) {
	cutoff := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	young, younger := cutoff.Add(100*time.Millisecond), cutoff.Add(200*time.Millisecond)
	for _, tc := range []struct {
		name    string
		pending func(ctx context.Context, s *store.Store) error
		want    time.Time // zero: nothing to wait for
	}{
		{"nothing pending", func(context.Context, *store.Store) error { return nil }, time.Time{}},
		{"webhooks after the cutoff: the oldest", func(ctx context.Context, s *store.Store) error {
			return recordAt(ctx, s, younger, young, younger)
		}, young},
		{"a webhook at the cutoff", func(ctx context.Context, s *store.Store) error {
			return recordAt(ctx, s, younger, cutoff)
		}, time.Time{}},
		{"an item named again keeps its first receipt", func(ctx context.Context, s *store.Store) error {
			if err := recordAt(ctx, s, cutoff.Add(-time.Second)); err != nil {
				return err
			}
			return recordAt(ctx, s, younger)
		}, time.Time{}},
		{"a resync beside young webhooks", func(ctx context.Context, s *store.Store) error {
			if err := recordAt(ctx, s, young); err != nil {
				return err
			}
			return s.MarkAllPending(ctx, "a", shop.CauseResync, nil)
		}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachDB(t, func(t *testing.T, s *store.Store) {
				ctx := t.Context()
				mustPutShop(t, s, "a")
				if err := tc.pending(ctx, s); err != nil {
					t.Fatal(err)
				}
				got, err := s.PendingSince(ctx, "a", cutoff)
				if err != nil || !got.Equal(tc.want) {
					t.Errorf("PendingSince = %v, %v; want %v", got, err, tc.want)
				}
			})
		})
	}
}

// recordAt records a webhook received at each time given, the i-th
// naming item i, except the third, which names item 0 again.
func recordAt(ctx context.Context, s *store.Store, received ...time.Time) error {
	for i, at := range received {
		item := i
		if i == 2 {
			item = 0
		}
		r := shop.WebhookReceipt{Shop: "a", WebhookID: fmt.Sprintf("w-%d-%d", at.UnixNano(), i), Topic: shop.TopicInventoryLevelsUpdate,
			Received: at, Body: []byte("{}")}
		if _, err := s.RecordWebhook(ctx, r, []string{fmt.Sprintf("gid://shopify/InventoryItem/%d", item)}, false, nil); err != nil {
			return err
		}
	}
	return nil
}
