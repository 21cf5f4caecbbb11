package shop_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/auth"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/fakes"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/shopify"
	syncq "github.com/syncrules/syncrules/host/internal/sync"
	"github.com/syncrules/syncrules/host/internal/tiktok"
	"github.com/syncrules/syncrules/rules/defaultrule"
	"github.com/syncrules/syncrules/sdk"
)

func (h *syncHarness) status() shop.SyncStatus {
	h.t.Helper()
	st, err := h.svc.SyncStatus(context.Background(), shop.Operator, shopID)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

// TestResyncPublishesWhatDiffers: a resync reads every linked item again
// and sends TikTok only what changed (a stock change no webhook told of),
// as a run whose progress moves batch by batch to linked items of linked
// items; a second resync with nothing changed calls TikTok not at all.
func TestResyncPublishesWhatDiffers(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testResyncPublishesWhatDiffers(t, false) })
	t.Run("postgres", func(t *testing.T) { testResyncPublishesWhatDiffers(t, true) })
}

func testResyncPublishesWhatDiffers(t *testing.T, postgres bool) {
	cat := generate(t, 150, 2, 2) // more linked items than one batch
	h := newSyncHarness(t, cat, postgres)
	if st := h.status(); st.Run == nil || st.Run.Kind != shop.RunKindSettings || st.Run.State != shop.RunSucceeded || st.Run.Done != st.Run.Total {
		t.Errorf("the settings' republication: %+v, want a settings run succeeded with every item", st.Run)
	}
	a := singleWarehouse(cat)[5]
	h.stock(a, 10) // no webhook

	ctx := context.Background()
	run, err := h.svc.Resync(ctx, shop.Operator, shopID)
	if err != nil {
		t.Fatal(err)
	}
	linked := int64(len(h.variants(shop.LinkLinked)))
	if run.Kind != shop.RunKindResync || run.State != shop.RunRunning || run.Phase != shop.PhasePublishing || run.Total != linked || run.Done != 0 {
		t.Fatalf("Resync returned %+v, want a running resync of %d linked items", run, linked)
	}
	if _, err := h.svc.Resync(ctx, shop.Operator, shopID); shop.CodeOf(err) != shop.Conflict {
		t.Errorf("a second resync while one runs: %v, want a Conflict", err)
	}
	more, err := h.svc.SyncShop(ctx, shopID)
	if err != nil || !more {
		t.Fatalf("first batch: more %t, %v; want more", more, err)
	}
	// A full batch ends on a product: the last product's 2 variants may
	// wait for the next.
	if r := h.status().Run; r.ID != run.ID || r.State != shop.RunRunning || r.Done < shop.SyncBatch-2 || r.Done > shop.SyncBatch || r.Total != linked {
		t.Errorf("after one batch: %+v, want running, %d-%d of %d", r, shop.SyncBatch-2, shop.SyncBatch, linked)
	}
	h.sync()
	st := h.status()
	if r := st.Run; r.ID != run.ID || r.State != shop.RunSucceeded || r.Phase != shop.PhaseDone || r.Done != linked {
		t.Errorf("after the resync: %+v, want succeeded with %d done", r, linked)
	}
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 8 {
		t.Errorf("SKU a after the resync = %d, want 8 (80%% of 10)", got)
	}
	if got := h.updates(); len(got) != 1 {
		t.Errorf("TikTok updates of the resync: %v, want one, of SKU a's product", got)
	}
	if !slices.ContainsFunc(h.history(), func(e shop.HistoryEntry) bool {
		return e.SKUID == a.TikTokID && e.Cause == shop.CauseResync && e.Outcome == shop.OutcomePublished && e.Quantity == 8
	}) {
		t.Error("no history of SKU a published by the resync")
	}
	if st.Sync.PendingItems != 0 || st.Sync.AllPending || st.Sync.LastPublished == nil {
		t.Errorf("sync status after the resync: %+v, want nothing pending and a last publication", st.Sync)
	}

	h.tiktok.ResetRequests()
	if _, err := h.svc.Resync(ctx, shop.Operator, shopID); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if got := h.updates(); len(got) != 0 {
		t.Errorf("a resync with nothing changed sent %v", got)
	}
	if r := h.status().Run; r.State != shop.RunSucceeded {
		t.Errorf("the second resync: %+v", r)
	}
}

// TestPausedShopCatchesUpOnResume: a paused shop records its webhooks and
// publishes nothing; resumed, it publishes what was recorded.
func TestPausedShopCatchesUpOnResume(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, false)
	ctx := context.Background()
	st, err := h.svc.PauseSync(ctx, shop.Operator, shopID)
	if err != nil || !st.Sync.Paused {
		t.Fatalf("PauseSync = %+v, %v; want paused", st.Sync, err)
	}
	a := singleWarehouse(cat)[1]
	before := h.tiktokQuantity(a.TikTokID, h.main)
	h.stock(a, 20)
	h.webhook(a)
	if more, err := h.svc.SyncShop(ctx, shopID); more || err != nil {
		t.Errorf("SyncShop of a paused shop = %t, %v; want nothing more and no error", more, err)
	}
	if got := h.updates(); len(got) != 0 {
		t.Errorf("a paused shop sent %v", got)
	}
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != before {
		t.Errorf("SKU a while paused = %d, want %d as before", got, before)
	}
	if st := h.status(); !st.Sync.Paused || st.Sync.PendingItems != 1 {
		t.Errorf("status while paused: %+v, want paused with 1 item pending", st.Sync)
	}
	if _, err := h.svc.Resync(ctx, shop.Operator, shopID); shop.CodeOf(err) != shop.Conflict || !strings.Contains(err.Error(), "resume") {
		t.Errorf("Resync of a paused shop: %v, want a Conflict saying to resume", err)
	}
	if st, err := h.svc.ResumeSync(ctx, shop.Operator, shopID); err != nil || st.Sync.Paused {
		t.Fatalf("ResumeSync = %+v, %v", st.Sync, err)
	}
	h.sync()
	if got := h.tiktokQuantity(a.TikTokID, h.main); got != 16 {
		t.Errorf("SKU a after resuming = %d, want 16 (80%% of 20)", got)
	}
	if st := h.status(); st.Sync.Paused || st.Sync.PendingItems != 0 {
		t.Errorf("status after resuming: %+v", st.Sync)
	}
	other := auth.Principal{TokenID: "t-other", Scopes: []auth.Scope{{Kind: auth.KindShop, Name: "other"}}}
	for name, call := range map[string]func() error{
		"PauseSync":  func() error { _, err := h.svc.PauseSync(ctx, other, shopID); return err },
		"ResumeSync": func() error { _, err := h.svc.ResumeSync(ctx, other, shopID); return err },
		"Resync":     func() error { _, err := h.svc.Resync(ctx, other, shopID); return err },
	} {
		if err := call(); shop.CodeOf(err) != shop.NotFound {
			t.Errorf("%s with another shop's token: %v, want NotFound", name, err)
		}
	}
	if st := h.status(); st.Sync.Paused {
		t.Error("another shop's token paused the shop")
	}
}

// TestFailingSKUsInStatus: a SKU TikTok refuses is counted and named in
// the status with its code, until a push of it is accepted.
func TestFailingSKUsInStatus(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, false)
	a := singleWarehouse(cat)[1]
	if err := h.tiktok.InjectFault(fakes.Fault{Path: "/inventory/update", SKUID: a.TikTokID, Code: 12052048, Message: "the SKU is frozen"}); err != nil {
		t.Fatal(err)
	}
	h.stock(a, 10)
	h.webhook(a)
	h.sync()
	st := h.status()
	if f := st.Sync.Failures; st.Sync.FailingSKUs != 1 || len(f) != 1 || f[0].SKUID != a.TikTokID || f[0].Code != "12052048" ||
		!strings.Contains(f[0].Message, "frozen") || time.Time(f[0].Time).IsZero() {
		t.Errorf("status after a refused SKU: %+v", st.Sync)
	}
	h.tiktok.ClearFaults()
	h.stock(a, 20)
	h.webhook(a)
	h.sync()
	if st := h.status(); st.Sync.FailingSKUs != 0 || len(st.Sync.Failures) != 0 {
		t.Errorf("status once the SKU is accepted: %+v, want no failure", st.Sync)
	}
}

// TestSettingsRunFailsWhenBlocked: a republication whose sync is blocked
// (TikTok wants the seller to authorise the app again) ends its run
// failed with what to do; its items stay pending. New credentials enqueue
// the shop's job.
func TestSettingsRunFailsWhenBlocked(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newSyncHarness(t, cat, false)
	q := &recordingQueue{}
	h.svc = shop.New(shop.Options{Store: h.store, Compute: nativeCompute(t), Sealer: h.sealer, Queue: q,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Platforms: shop.Platforms{Shopify: shopify.Options{BaseURL: h.shopify.URL()},
			TikTok: tiktok.Options{BaseURL: h.tiktok.URL(), AuthBaseURL: h.tiktok.URL(), RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond, Rate: 10_000, Burst: 100}}})
	t.Cleanup(h.svc.Close)
	settings := &compute.Settings{Percentage: compute.NumberOf("50"), Mappings: []compute.Mapping{{Location: compute.AllLocations, Warehouse: h.main}}}
	if _, err := h.svc.PutSettings(context.Background(), shop.Operator, shopID, settings, nil); err != nil {
		t.Fatal(err)
	}
	if got := q.taken(); len(got) != 1 {
		t.Errorf("the settings enqueued %v, want the shop's job once", got)
	}
	h.tiktok.ExpireAccessTokens()
	h.tiktok.RevokeRefreshTokens()
	if _, err := h.svc.SyncShop(context.Background(), shopID); !errors.Is(err, shop.ErrSyncBlocked) {
		t.Fatalf("SyncShop with a revoked refresh token: %v, want ErrSyncBlocked", err)
	}
	st := h.status()
	if r := st.Run; r == nil || r.Kind != shop.RunKindSettings || r.State != shop.RunFailed || !strings.Contains(r.Error, "authorise") {
		t.Errorf("the settings run of a blocked shop: %+v, want failed saying to authorise again", r)
	}
	if st.Sync.PendingItems == 0 && !st.Sync.AllPending {
		t.Error("the blocked republication's items are no longer pending")
	}
	h.putCredentials(shop.Credentials{TikTok: &shop.TikTokCredentials{AppKey: ptr(h.tiktok.AppKey()), AppSecret: ptr(h.tiktok.AppSecret()),
		AccessToken: ptr("new-access"), RefreshToken: ptr("new-refresh"), ShopCipher: ptr(h.tiktok.ShopCipher())}})
	if got := q.taken(); !slices.Equal(got, []string{shopID + " *sql.Tx"}) {
		t.Errorf("new credentials enqueued %v, want the blocked shop's job", got)
	}
}

// TestBlockedJobEndsAndSettingsPublish: through the River queue, a shop
// without settings ends its job (not retried) with its webhook's item
// pending, recorded blocked; saving settings enqueues it, and the item is
// published.
func TestBlockedJobEndsAndSettingsPublish(t *testing.T) {
	cat := generate(t, 4, 2, 2)
	h := newHarness(t, cat, harnessOptions{})
	var svc *shop.Service
	q, err := syncq.Open(context.Background(), syncq.Options{Store: h.store, Logger: slog.New(slog.NewTextHandler(h.logs, nil)),
		RetryDelay: 10 * time.Millisecond, JobTimeout: runDeadline,
		SyncShop: func(ctx context.Context, id string) (bool, error) { return svc.SyncShop(ctx, id) },
		Pending:  h.store.HasPendingTx})
	if err != nil {
		t.Fatal(err)
	}
	svc = shop.New(shop.Options{Store: h.store, Compute: nativeCompute(t), Sealer: h.sealer, Queue: q,
		Logger: slog.New(slog.NewTextHandler(h.logs, nil)),
		Platforms: shop.Platforms{Shopify: shopify.Options{BaseURL: h.shopify.URL()},
			TikTok: tiktok.Options{BaseURL: h.tiktok.URL(), AuthBaseURL: h.tiktok.URL(), RetryBase: time.Millisecond, RetryMax: 10 * time.Millisecond, Rate: 10_000, Burst: 100}}})
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), runDeadline)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Error(err)
		}
		svc.Close()
	})
	h.svc = svc
	h.connect() // enqueues the shop: its job ends blocked (no settings)
	sh := &syncHarness{harness: h, main: cat.Warehouses[0].ID, loc: locationGID(cat.Locations[0].ID)}
	a := singleWarehouse(cat)[1]
	sh.stock(a, 10)
	r := shop.WebhookReceipt{Shop: shopID, WebhookID: "blocked-1", Topic: shop.TopicInventoryLevelsUpdate, Body: []byte("{}")}
	if _, err := h.store.RecordWebhook(context.Background(), r, []string{itemGID(a.InventoryItemID)}, false,
		func(ctx context.Context, tx any) error { return q.EnqueueTx(ctx, tx, shopID) }); err != nil {
		t.Fatal(err)
	}
	// Every job ends, none waits for a retry, and the item stays pending.
	waitFor(t, func() bool {
		st, err := q.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		b := st.ByState
		sh, err := h.store.Shop(context.Background(), shopID)
		if err != nil {
			t.Fatal(err)
		}
		return sh.SyncBlocked && b["completed"] >= 1 && b["available"]+b["running"]+b["retryable"]+b["scheduled"] == 0
	})
	pending, err := h.store.PendingItems(context.Background(), shopID, 0)
	if err != nil || !slices.ContainsFunc(pending, func(p shop.PendingItem) bool { return p.Cause == "blocked-1" }) {
		t.Fatalf("pending after the blocked job = %v, %v; want the webhook's item", pending, err)
	}
	if !strings.Contains(h.logs.String(), "the shop's sync is blocked") {
		t.Error("no warning of the blocked shop")
	}

	settings := &compute.Settings{Percentage: compute.NumberOf("80"), Mappings: []compute.Mapping{{Location: compute.AllLocations, Warehouse: sh.main}}}
	if _, err := svc.PutSettings(context.Background(), shop.Operator, shopID, settings, nil); err != nil {
		t.Fatal(err)
	}
	// The settings' run ends once the shop's job published everything.
	waitFor(t, func() bool {
		r := sh.status().Run
		return r != nil && r.Kind == shop.RunKindSettings && r.State != shop.RunRunning
	})
	if r := sh.status().Run; r.State != shop.RunSucceeded || r.Done != r.Total {
		t.Errorf("the settings' run: %+v, want succeeded", r)
	}
	if q, _ := h.tiktok.Quantity(a.TikTokID, sh.main); q != 8 {
		t.Errorf("SKU a once the settings published = %d, want 8 (80%% of 10)", q)
	}
	if s, err := h.store.Shop(context.Background(), shopID); err != nil || s.SyncBlocked {
		t.Errorf("the shop is still recorded blocked (%v) once it published", err)
	}
}

// waitFor polls done until it holds, for up to runDeadline.
func waitFor(t *testing.T, done func() bool) {
	t.Helper()
	deadline := time.NewTimer(runDeadline)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("not done after %s", runDeadline)
		}
	}
}

// nativeCompute is the default rule's compute, run natively.
func nativeCompute(t *testing.T) *compute.Service {
	t.Helper()
	cs, err := compute.NewService(&nativeRule{runner: sdk.NewRunner(defaultrule.Rule)}, compute.Limits{}, compute.MaxMaxQuantity)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
