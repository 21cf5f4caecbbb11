package shop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syncrules/syncrules/host/internal/auth"
)

// A shop's sync can be paused (its webhooks are still recorded, nothing is
// published), resumed (its job catches up), and asked to resync: read
// every linked item from Shopify again and publish what differs. A resync,
// and the republication after a settings change, is a run whose progress
// GET .../sync shows: linked items published of linked items.

// The kinds of the runs that republish a shop.
const (
	RunKindResync   = "resync"   // POST .../sync/resync
	RunKindSettings = "settings" // a new settings version
)

// PhasePublishing is the phase of a republishing run: Done of Total linked
// items are published.
const PhasePublishing RunPhase = "publishing"

// maxStatusFailures is how many of its failing SKUs a shop's sync status
// names, the most recent first.
const maxStatusFailures = 5

// pausedRunError is the error of a republishing run that a pause ended.
const pausedRunError = "the sync was paused: the items not yet published stay pending and are published on resume (POST /v1/shops/%s/sync/resume)"

// SyncCounts are the figures of a shop's sync status.
type SyncCounts struct {
	// Pending counts the inventory items waiting for the sync; AllPending
	// says every item of the shop waits besides (a resync, a location
	// change), not yet counted one by one.
	Pending    int64
	AllPending bool
	// Failing counts the SKUs whose last push TikTok refused; Failures
	// are the most recent of them.
	Failing  int64
	Failures []SKUFailureAt
	// LastPublished is the time TikTok last accepted a quantity; zero if
	// never.
	LastPublished time.Time
	// OldestPending is when the oldest webhook an item still waits for
	// was received: the sync's lag now. Zero if no webhook's item waits.
	OldestPending time.Time
}

// SKUFailureAt is a failing SKU with the time of its failure.
type SKUFailureAt struct {
	SKUFailure
	Time time.Time
}

// ControlStore is the part of Store the sync's controls and status use.
type ControlStore interface {
	// SetSyncPaused pauses or resumes a shop's sync; resuming calls
	// enqueue (unless nil) in the same transaction.
	SetSyncPaused(ctx context.Context, shop string, paused bool, enqueue func(ctx context.Context, tx any) error) error
	// EnqueuePending calls enqueue in a transaction that finds the shop
	// not paused and items of it pending, and reports whether it did.
	EnqueuePending(ctx context.Context, shop string, enqueue func(ctx context.Context, tx any) error) (bool, error)
	// SyncCounts reads the shop's sync figures, naming at most failures
	// failing SKUs.
	SyncCounts(ctx context.Context, shop string, failures int) (SyncCounts, error)
	// LinkedItems counts the inventory items of the shop's linked variants.
	LinkedItems(ctx context.Context, shop string) (int64, error)
	// SetSyncBlocked records the shop's sync blocked (or no longer) as of
	// the Shop.SyncUnblocks read; nothing if that count moved since.
	SetSyncBlocked(ctx context.Context, shop string, blocked bool, unblocks int64) error
}

// SyncState is the sync's part of a shop's status.
type SyncState struct {
	Paused bool `json:"paused"`
	// PendingItems counts the items waiting to be read and published;
	// AllPending: every item of the shop waits besides.
	PendingItems int64 `json:"pending_items"`
	AllPending   bool  `json:"all_pending"`
	// FailingSKUs counts the SKUs TikTok Shop refused on their last push;
	// Failures are the most recent of them.
	FailingSKUs   int64         `json:"failing_skus"`
	Failures      []FailureView `json:"failures"`
	LastPublished *Timestamp    `json:"last_published,omitempty"`
	// OldestPending: see SyncCounts.
	OldestPending *Timestamp `json:"oldest_pending,omitempty"`
}

// FailureView is a failing SKU as the status shows it.
type FailureView struct {
	SKUID     string    `json:"sku_id"`
	Code      string    `json:"code"`
	Message   string    `json:"message"`
	RequestID string    `json:"request_id,omitempty"`
	Time      Timestamp `json:"time"`
}

// syncState reads the sync's part of a shop's status.
func (s *Service) syncState(ctx context.Context, sh Shop) (SyncState, error) {
	c, err := s.store.SyncCounts(ctx, sh.ID, maxStatusFailures)
	if err != nil {
		return SyncState{}, storeError(sh.ID, err)
	}
	out := SyncState{Paused: sh.SyncPaused, PendingItems: c.Pending, AllPending: c.AllPending, FailingSKUs: c.Failing,
		Failures: make([]FailureView, 0, len(c.Failures))}
	for _, f := range c.Failures {
		out.Failures = append(out.Failures, FailureView{SKUID: f.SKUID, Code: f.Code, Message: f.Message, RequestID: f.RequestID, Time: Timestamp(f.Time)})
	}
	if !c.LastPublished.IsZero() {
		t := Timestamp(c.LastPublished)
		out.LastPublished = &t
	}
	if !c.OldestPending.IsZero() {
		t := Timestamp(c.OldestPending)
		out.OldestPending = &t
	}
	return out, nil
}

// PauseSync pauses a shop's sync: its webhooks are still recorded, and
// nothing is published until ResumeSync; a publication in flight ends
// first. A republishing run ends, interrupted. Admins and the shop may.
func (s *Service) PauseSync(ctx context.Context, p auth.Principal, id string) (SyncStatus, error) {
	if err := CheckShop(p, id); err != nil {
		return SyncStatus{}, err
	}
	if err := s.store.SetSyncPaused(ctx, id, true, nil); err != nil {
		return SyncStatus{}, storeError(id, err)
	}
	s.logChange("sync paused", p, "shop", id)
	if r, ok := s.republishRun(ctx, id); ok {
		r.State, r.Error = RunInterrupted, fmt.Sprintf(pausedRunError, id)
		if err := s.store.UpdateRun(ctx, r); err != nil && !errors.Is(err, ErrVersionMismatch) {
			s.log.Warn("sync: recording a run ended by a pause", "shop", id, "run", r.ID, "err", err)
		}
	}
	return s.SyncStatus(ctx, p, id)
}

// ResumeSync resumes a shop's sync and enqueues its job, in the same
// transaction, to publish what was recorded meanwhile. Resuming a shop not
// paused changes nothing. Admins and the shop may.
func (s *Service) ResumeSync(ctx context.Context, p auth.Principal, id string) (SyncStatus, error) {
	if err := CheckShop(p, id); err != nil {
		return SyncStatus{}, err
	}
	if err := s.store.SetSyncPaused(ctx, id, false, s.enqueuer(id)); err != nil {
		return SyncStatus{}, storeError(id, err)
	}
	s.logChange("sync resumed", p, "shop", id)
	return s.SyncStatus(ctx, p, id)
}

// Resync marks every linked item of a connected shop pending and enqueues
// its job, which reads them all from Shopify again and publishes what
// differs, as a run whose progress SyncStatus shows. A shop not connected,
// paused, or with a run in progress is a Conflict. Admins and the shop may.
func (s *Service) Resync(ctx context.Context, p auth.Principal, id string) (RunView, error) {
	if err := CheckShop(p, id); err != nil {
		return RunView{}, err
	}
	if s.isClosed() {
		return RunView{}, Errorf(Unavailable, "The server is shutting down; resync again once it is back.")
	}
	sh, err := s.store.Shop(ctx, id)
	if err != nil {
		return RunView{}, storeError(id, err)
	}
	switch {
	case !sh.Connected:
		return RunView{}, Errorf(Conflict, "Shop %q is not connected, so there is nothing to resync: connect it first (POST /v1/shops/%[1]s/sync/connect).", id)
	case sh.SyncPaused:
		return RunView{}, Errorf(Conflict, "The sync of shop %q is paused: resume it first (POST /v1/shops/%[1]s/sync/resume); resuming publishes what changed meanwhile.", id)
	}
	if err := s.checkNoRun(ctx, id); err != nil {
		return RunView{}, err
	}
	run, err := s.startRepublish(ctx, id, RunKindResync, p.TokenID)
	if errors.Is(err, ErrExists) {
		if err := s.checkNoRun(ctx, id); err != nil {
			return RunView{}, err
		}
		return RunView{}, Errorf(Conflict, "Another run of shop %q started meanwhile: see it with GET /v1/shops/%[1]s/sync.", id)
	}
	if err != nil {
		return RunView{}, storeError(id, err)
	}
	if err := s.store.MarkAllPending(ctx, id, CauseResync, s.enqueuer(id)); err != nil {
		run.State, run.Error = RunFailed, fmt.Sprintf("The items could not be marked for the resync; resync again (POST /v1/shops/%s/sync/resync).", id)
		if uerr := s.store.UpdateRun(context.WithoutCancel(ctx), run); uerr != nil {
			s.log.Error("sync: recording a failed resync", "shop", id, "run", run.ID, "err", uerr)
		}
		return RunView{}, storeError(id, err)
	}
	s.logChange("resync started", p, "shop", id, "run", run.ID, "items", run.Total)
	return viewRun(run, run.Updated), nil
}

// startRepublish starts a republishing run of the shop's linked items.
func (s *Service) startRepublish(ctx context.Context, id, kind, token string) (Run, error) {
	total, err := s.store.LinkedItems(ctx, id)
	if err != nil {
		return Run{}, err
	}
	// A republication changes no link: it carries the counts of the last
	// run that succeeded (a connect, or a republication that carried
	// them), so that the shop's status keeps showing its catalog's links
	// rather than zeros once it succeeds.
	var counts LinkCounts
	switch last, err := s.store.LatestRunIn(ctx, id, RunSucceeded); {
	case err == nil:
		counts = last.Counts
	case !errors.Is(err, ErrNotFound):
		return Run{}, err
	}
	return s.store.StartRun(ctx, Run{Shop: id, Kind: kind, State: RunRunning, Phase: PhasePublishing, Total: total, Counts: counts, Token: token})
}

// enqueuer enqueues the shop's job in a store transaction; nil without a
// queue.
func (s *Service) enqueuer(id string) func(ctx context.Context, tx any) error {
	if s.queue == nil {
		return nil
	}
	return func(ctx context.Context, tx any) error { return s.queue.EnqueueTx(ctx, tx, id) }
}

// enqueuePending lets a shop's job take up the items it left pending,
// after a change that may unblock it (new credentials). A failure is
// logged: the change itself is saved, and the next webhook retries.
func (s *Service) enqueuePending(ctx context.Context, id string) {
	if s.queue == nil {
		return
	}
	if _, err := s.store.EnqueuePending(ctx, id, s.enqueuer(id)); err != nil {
		s.log.Error("sync: enqueueing the shop's pending items failed; they are published on its next change", "shop", id, "err", err)
	}
}

// republishRun is the shop's latest run if it is a republishing one still
// running.
func (s *Service) republishRun(ctx context.Context, id string) (Run, bool) {
	r, err := s.store.LatestRun(ctx, id)
	if err != nil || r.State != RunRunning || (r.Kind != RunKindResync && r.Kind != RunKindSettings) {
		return Run{}, false
	}
	return r, true
}

// trackRepublish records a SyncShop call's outcome in the shop's
// republishing run, if one runs: its progress, its success once nothing
// is pending, its failure when the sync is blocked (the error says what to
// fix).
func (s *Service) trackRepublish(ctx context.Context, id string, more bool, syncErr error) {
	r, ok := s.republishRun(ctx, id)
	if !ok {
		return
	}
	ctx = context.WithoutCancel(ctx)
	switch {
	case errors.Is(syncErr, ErrSyncBlocked):
		r.State, r.Error = RunFailed, blockedReason(syncErr)
	case syncErr != nil:
		return // retried: the run goes on
	case !more:
		r.State, r.Phase, r.Done = RunSucceeded, PhaseDone, r.Total
	default:
		c, err := s.store.SyncCounts(ctx, id, 0)
		if err != nil {
			s.log.Warn("sync: reading a run's progress", "shop", id, "run", r.ID, "err", err)
			return
		}
		if !c.AllPending {
			r.Done = max(r.Total-c.Pending, 0)
		}
	}
	if err := s.store.UpdateRun(ctx, r); err != nil && !errors.Is(err, ErrVersionMismatch) {
		s.log.Warn("sync: recording a run's progress", "shop", id, "run", r.ID, "err", err)
	}
}

// blockedReason is a blocked sync's error without its "shop ...: the
// shop's sync is blocked: " prefix.
func blockedReason(err error) string {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, ErrSyncBlocked.Error()+": "); ok {
		return "The sync is blocked: " + after
	}
	return msg
}

// supersededRunError is the error of a republishing run a connect took
// over.
const supersededRunError = "a connect took over; it republishes every linked item once it succeeds"

// checkNoConnectBlocker is checkNoRun for a connect, which may take over a
// republishing run: its own success republishes the whole shop.
func (s *Service) checkNoConnectBlocker(ctx context.Context, id string) error {
	if _, ok := s.republishRun(ctx, id); ok {
		return nil
	}
	return s.checkNoRun(ctx, id)
}

// supersedeRepublish ends the shop's republishing run, if one runs, for a
// connect that starts: its items stay pending and publish as before.
func (s *Service) supersedeRepublish(ctx context.Context, id string) {
	r, ok := s.republishRun(ctx, id)
	if !ok {
		return
	}
	r.State, r.Error = RunInterrupted, supersededRunError
	if err := s.store.UpdateRun(ctx, r); err != nil && !errors.Is(err, ErrVersionMismatch) {
		s.log.Warn("sync: recording a run a connect took over", "shop", id, "run", r.ID, "err", err)
	}
}

// recordBlocked records whether SyncShop found the shop, as read at its
// start, blocked: the queue's job of a blocked shop sees nothing pending
// and ends, until a change that may unblock it.
func (s *Service) recordBlocked(ctx context.Context, read Shop, syncErr error) {
	blocked := errors.Is(syncErr, ErrSyncBlocked)
	if blocked == read.SyncBlocked || (!blocked && syncErr != nil) {
		return // as recorded, or a failure that says nothing of it
	}
	if err := s.store.SetSyncBlocked(context.WithoutCancel(ctx), read.ID, blocked, read.SyncUnblocks); err != nil {
		s.log.Warn("sync: recording whether the shop's sync is blocked", "shop", read.ID, "blocked", blocked, "err", err)
	}
}
