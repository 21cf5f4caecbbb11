package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/syncrules/syncrules/host/internal/shopify"
	"github.com/syncrules/syncrules/host/internal/tiktok"
)

const (
	// importBatch is how many catalog rows one store write takes: the
	// import holds at most this many, whatever the catalog's size.
	importBatch = 500
	// heartbeat is how often a run writes its progress, so that readers
	// see it move and never take a live run for a stale one
	// (StaleRunAfter).
	heartbeat = time.Second
	// finishTimeout bounds the write of a run's end, which happens after
	// Close cancelled the run's context.
	finishTimeout = 10 * time.Second
)

// connectJob is a connect run in progress.
type connectJob struct {
	s       *Service
	clients platformClients
	// imported counts the catalog rows written, variants and SKUs: what
	// linking will read.
	imported int64
	// mu guards run and orders its writes.
	mu  sync.Mutex
	run Run
}

// platformError is a platform's failure during a run: its text is shown
// to the caller, unlike the store's, which is logged.
type platformError struct {
	step string
	err  error
}

func (e *platformError) Error() string { return e.step + ": " + e.err.Error() }
func (e *platformError) Unwrap() error { return e.err }

// connectRun runs a connect to its end under the Service's context and
// records how it ended.
func (s *Service) connectRun(run Run, clients platformClients) {
	defer s.runs.Done()
	j := &connectJob{s: s, clients: clients, run: run}
	start := time.Now()
	s.log.Info("connect run started", "shop", run.Shop, "run", run.ID)

	ctx, stop := context.WithCancel(s.runCtx)
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		j.beat(ctx, stop)
	}()
	counts, err := j.connect(ctx)
	stop()
	<-beats

	j.mu.Lock()
	defer j.mu.Unlock()
	r := &j.run
	r.Finished = time.Now()
	switch {
	case err == nil:
		r.State, r.Phase, r.Counts = RunSucceeded, PhaseDone, counts
		// New links, warehouses or locations: publish the whole shop,
		// marked before the run shows succeeded.
		s.resyncAll(context.Background(), r.Shop, CauseConnect)
	case s.runCtx.Err() != nil:
		r.State, r.Error = RunInterrupted, interruptedByClose
	default:
		r.State, r.Error = RunFailed, runFailure(r.Shop, err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	if werr := s.store.UpdateRun(wctx, *r); werr != nil {
		s.log.Error("recording the end of a connect run", "shop", r.Shop, "run", r.ID, "err", werr)
	}
	args := []any{"shop", r.Shop, "run", r.ID, "state", r.State, "phase", r.Phase, "seconds", time.Since(start).Seconds()}
	if err != nil {
		s.log.Warn("connect run ended", append(args, "err", err)...)
		return
	}
	s.log.Info("connect run ended", append(args, "linked", counts.Linked, "unmatched_variants", counts.UnmatchedVariants,
		"unmatched_skus", counts.UnmatchedSKUs, "conflicts", counts.Conflicts)...)
}

// runFailure says what happened to a failed run and what to do. A
// platform's error is shown; the store's is only logged.
func runFailure(shop string, err error) string {
	var pe *platformError
	var se *shopify.StatusError
	switch {
	case errors.Is(err, tiktok.ErrReauthorize):
		return fmt.Sprintf("TikTok Shop refused the refresh token: the shop must authorise the app again, then store the new tokens "+
			"(PUT /v1/shops/%s/credentials) and connect again.", shop)
	case errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized:
		return fmt.Sprintf("Shopify refused the access token (HTTP 401): store a new one (PUT /v1/shops/%s/credentials) and connect again.", shop)
	case errors.As(err, &pe):
		return fmt.Sprintf("%v. Connect again (POST /v1/shops/%s/sync/connect); if it fails the same way, the server's log says more.", err, shop)
	}
	return fmt.Sprintf("An internal error stopped the run; it has been logged. Connect again (POST /v1/shops/%s/sync/connect).", shop)
}

// beat writes the run's progress every heartbeat until ctx ends. A run
// the store no longer takes (another run took over after it looked stale)
// is stopped: it must not write the catalog beside its successor.
func (j *connectJob) beat(ctx context.Context, stop context.CancelFunc) {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := j.write(ctx)
			switch {
			case err == nil || ctx.Err() != nil:
			case errors.Is(err, ErrVersionMismatch):
				j.s.log.Warn("a connect run was taken over: stopping it", "shop", j.run.Shop, "run", j.run.ID, "err", err)
				stop()
				return
			default:
				j.s.log.Warn("writing a run's progress", "shop", j.run.Shop, "run", j.run.ID, "err", err)
			}
		}
	}
}

// write stores the run as it is now.
func (j *connectJob) write(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.s.store.UpdateRun(ctx, j.run)
}

// phase starts a phase and stores it.
func (j *connectJob) phase(ctx context.Context, p RunPhase, total int64) error {
	j.mu.Lock()
	j.run.Phase, j.run.Done, j.run.Total = p, 0, total
	j.mu.Unlock()
	return j.write(ctx)
}

// progress sets the phase's progress; the next beat stores it.
func (j *connectJob) progress(done, total int64) {
	j.mu.Lock()
	j.run.Done, j.run.Total = done, total
	j.mu.Unlock()
}

// connect does the run's phases in order.
func (j *connectJob) connect(ctx context.Context) (counts LinkCounts, err error) {
	defer func() {
		if v := recover(); v != nil {
			j.s.log.Error("connect run panicked", "shop", j.run.Shop, "run", j.run.ID, "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	shop, run := j.run.Shop, j.run.ID
	if err := j.readLocations(ctx, shop); err != nil {
		return LinkCounts{}, err
	}
	if err := j.importVariants(ctx, shop, run); err != nil {
		return LinkCounts{}, err
	}
	if err := j.importSKUs(ctx, shop, run); err != nil {
		return LinkCounts{}, err
	}
	if err := j.s.store.PruneCatalog(ctx, shop, run); err != nil {
		return LinkCounts{}, err
	}
	return j.link(ctx, shop)
}

// readLocations reads the shop's locations and pickup warehouses into it.
// Return warehouses ship nothing: they are left out. A change that breaks
// the stored settings is stored all the same, and shown by SyncStatus.
func (j *connectJob) readLocations(ctx context.Context, shop string) error {
	c, err := readConnection(ctx, j.clients)
	if err != nil {
		return err
	}
	if err := j.s.store.Connect(ctx, shop, c); err != nil {
		return err
	}
	n := int64(len(c.Locations) + len(c.Warehouses))
	j.progress(n, n)
	return nil
}

// readConnection reads a shop's locations and its pickup warehouses.
func readConnection(ctx context.Context, clients platformClients) (Connection, error) {
	locs, err := clients.shopify.Locations(ctx)
	if err != nil {
		return Connection{}, &platformError{"reading the Shopify locations", err}
	}
	whs, err := clients.tiktok.Warehouses(ctx)
	if err != nil {
		return Connection{}, &platformError{"reading the TikTok Shop warehouses", err}
	}
	c := Connection{Locations: make([]Location, 0, len(locs)), Warehouses: make([]Warehouse, 0, len(whs))}
	for _, l := range locs {
		c.Locations = append(c.Locations, Location{ID: l.ID, Active: l.Active})
	}
	for _, w := range whs {
		if w.Type == tiktok.WarehouseSales {
			c.Warehouses = append(c.Warehouses, Warehouse{ID: w.ID, Active: w.ActivePickup(), Default: w.IsDefault})
		}
	}
	return c, nil
}

// importVariants streams the Shopify catalog into the store.
func (j *connectJob) importVariants(ctx context.Context, shop string, run int64) error {
	// The count is for progress only: a shop that cannot count still
	// imports, with its total unknown (0).
	var total int64
	if n, _, err := j.clients.shopify.VariantsCount(ctx); err == nil {
		total = int64(n)
	}
	if err := j.phase(ctx, PhaseShopify, total); err != nil {
		return err
	}
	batch := make([]Variant, 0, importBatch)
	var done int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := j.s.store.PutVariants(ctx, shop, run, batch); err != nil {
			return err
		}
		j.imported += int64(len(batch))
		done += int64(len(batch))
		total = max(total, done) // a lower bound, or variants added since
		j.progress(done, total)
		batch = make([]Variant, 0, importBatch)
		return nil
	}
	for v, err := range j.clients.shopify.Catalog(ctx) {
		if err != nil {
			return &platformError{"reading the Shopify catalog", err}
		}
		batch = append(batch, Variant{ID: v.ID, ProductID: v.ProductID, SKU: v.SKU, Tags: v.Tags,
			InventoryPolicy: string(v.InventoryPolicy), InventoryItemID: v.InventoryItemID, Tracked: v.Tracked, Available: v.Available})
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	j.progress(done, done)
	return nil
}

// importSKUs streams TikTok Shop's products, of every status, into the
// store. Progress counts products, whose total each page gives.
func (j *connectJob) importSKUs(ctx context.Context, shop string, run int64) error {
	if err := j.phase(ctx, PhaseTikTok, 0); err != nil {
		return err
	}
	batch := make([]TikTokSKU, 0, importBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := j.s.store.PutTikTokSKUs(ctx, shop, run, batch); err != nil {
			return err
		}
		j.imported += int64(len(batch))
		batch = make([]TikTokSKU, 0, importBatch)
		return nil
	}
	var products int64
	token := ""
	for {
		page, err := j.clients.tiktok.SearchProducts(ctx, tiktok.ProductQuery{}, token)
		if err != nil {
			return &platformError{"reading the TikTok Shop products", err}
		}
		for _, p := range page.Products {
			for _, k := range p.SKUs {
				q := make(map[string]int, len(k.Inventory))
				for _, st := range k.Inventory {
					q[st.WarehouseID] = st.Quantity
				}
				batch = append(batch, TikTokSKU{ID: k.ID, ProductID: p.ID, SellerSKU: k.SellerSKU, Warehouses: k.WarehouseIDs(), Quantities: q})
				if len(batch) == importBatch {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		products += int64(len(page.Products))
		j.progress(products, max(int64(page.TotalCount), products))
		if page.NextPageToken == "" {
			return flush()
		}
		token = page.NextPageToken
	}
}

// link links the catalog as imported and stores the links, a page at a
// time. Progress counts the rows linked, of those imported (rows pruned
// since were imported by an earlier run: the total is a bound).
func (j *connectJob) link(ctx context.Context, shop string) (LinkCounts, error) {
	if err := j.phase(ctx, PhaseLinking, j.imported); err != nil {
		return LinkCounts{}, err
	}
	return linkStored(ctx, j.s.store, shop, linkPage, func(done int64) {
		j.progress(done, max(done, j.imported))
	})
}
