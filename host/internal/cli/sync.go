package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/sync"
)

func syncCmd(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "sync", args, map[string]runFunc{"connect": syncConnect, "status": syncStatus,
		"resync": syncResync, "pause": syncPause, "resume": syncResume}, syncUsage)
}

func syncUsage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  syncrules sync connect --shop ID          connect a shop: check its credentials, read its locations and
                                            warehouses, import both catalogs and link them, following the run
  syncrules sync status --shop ID [--wait]  the shop's connection and its latest run
  syncrules sync resync --shop ID           read every linked item from Shopify again and publish what
                                            differs, following the run
  syncrules sync pause --shop ID            stop publishing the shop (its webhooks are still recorded)
  syncrules sync resume --shop ID           publish again, catching up on what was recorded meanwhile

The commands open the store the server uses (--config, --data-dir, SYNCRULES_DB) with its
credentials key, as POST /v1/shops/{shop}/sync/... and GET /v1/shops/{shop}/sync do. The
publications themselves are the running server's: the commands queue its work.

Run "syncrules sync <command> --help" for a command's flags.
`)
}

// syncPollEvery is how often a followed run's progress is read.
var syncPollEvery = 250 * time.Millisecond

func syncConnect(ctx context.Context, e *env, args []string) error {
	f := newShopFlags(e, "sync connect", "--shop ID",
		"Connect a shop as POST /v1/shops/{shop}/sync/connect does: check its Shopify and TikTok\n"+
			"Shop credentials, then read its locations and warehouses, import the Shopify catalog and\n"+
			"the TikTok Shop SKUs, and link variants to SKUs by seller SKU. The run is this process's:\n"+
			"the command follows it to its end (a progress bar per phase on a terminal, else a line\n"+
			"such as \"phase shopify: 1500/10000\" on stderr), then prints the shop's status and counts\n"+
			"on stdout. It exits 1 if the credentials are refused or the run fails, saying why; an\n"+
			"interrupt stops the run, which is then recorded interrupted.")
	svc, closeSvc, err := f.open(ctx, e, args)
	if err != nil {
		return err
	}
	defer closeSvc()
	run, err := svc.Connect(ctx, shop.Operator, *f.shop)
	if err != nil {
		return withFields(err)
	}
	fmt.Fprintf(e.stderr, "connect run %d of shop %s started\n", run.ID, *f.shop)
	st, err := follow(ctx, e, svc, *f.shop, "interrupted: the run stops and is recorded interrupted; connect again to finish it")
	if err != nil {
		return err
	}
	return printSync(e.stdout, st)
}

func syncStatus(ctx context.Context, e *env, args []string) error {
	f := newShopFlags(e, "sync status", "--shop ID [--wait]",
		"Print a shop's connection as GET /v1/shops/{shop}/sync does: its domain, whether it is\n"+
			"connected, the state of its settings, its latest run and the links of its catalog. With\n"+
			"--wait, a running run is followed to its end first (a progress bar per phase on a\n"+
			"terminal, else plain lines on stderr). It exits 1 if the latest run failed or was\n"+
			"interrupted.")
	wait := f.fs.Bool("wait", false, "follow a running run until it ends")
	svc, closeSvc, err := f.open(ctx, e, args)
	if err != nil {
		return err
	}
	defer closeSvc()
	var st shop.SyncStatus
	if *wait {
		st, err = follow(ctx, e, svc, *f.shop, "interrupted: no longer following the run, which goes on where it runs")
	} else {
		st, err = svc.SyncStatus(ctx, shop.Operator, *f.shop)
		err = withFields(err)
	}
	if err != nil {
		return err
	}
	if err := printSync(e.stdout, st); err != nil {
		return err
	}
	if r := st.Run; r != nil && (r.State == shop.RunFailed || r.State == shop.RunInterrupted) {
		return exitCodeError(exitError) // the error is printed with the run
	}
	return nil
}

// needShop refuses a command line without --shop.
// shopFlags are a sync command's flags: --shop and those finding the
// server's store.
type shopFlags struct {
	fs    *flag.FlagSet
	shop  *string
	store storeFlags
}

func newShopFlags(e *env, name, synopsis, about string) shopFlags {
	fs := flags(e, name, synopsis, about)
	return shopFlags{fs: fs, shop: fs.String("shop", "", "the shop's `id`"), store: addStoreFlags(fs)}
}

// open parses args, then opens the server's store and service as serve
// does.
func (f shopFlags) open(ctx context.Context, e *env, args []string) (*shop.Service, func(), error) {
	if err := parse(e, f.fs, args); err != nil {
		return nil, nil, err
	}
	if err := needShop(e, f.fs, *f.shop); err != nil {
		return nil, nil, err
	}
	return f.store.openServer(ctx, e, f.fs)
}

func needShop(e *env, fs *flag.FlagSet, id string) error {
	if id != "" {
		return nil
	}
	fmt.Fprintf(e.stderr, "syncrules %s: --shop is required: the id of the shop (see GET /v1/shops)\n", fs.Name())
	return errUsage
}

// openServer opens the server's store and the application layer the
// server runs over it, with its credentials key, rules and platforms, for
// commands that act as the server would. close stops the runs this
// process started, then closes everything.
func (f storeFlags) openServer(ctx context.Context, e *env, fs *flag.FlagSet) (svc *shop.Service, close func(), err error) {
	log := quietLogger(e)
	cfg, db, err := f.openStore(ctx, fs, log)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	sealer, _, err := openSealer(ctx, cfg, db)
	if err != nil {
		return nil, nil, err
	}
	done := slowNotice(e.stderr, "loading the default rule")
	h, err := openHost(ctx, cfg, filepath.Dir(*f.config), serverCacheDir(cfg), db, slog.New(slog.DiscardHandler))
	done()
	if err != nil {
		return nil, nil, err
	}
	// The queue only inserts here: what a command marks pending (a
	// connect, a resync, a resume) is published by the server's workers.
	queue, err := sync.Open(ctx, sync.Options{Store: db, Logger: log,
		SyncShop: func(ctx context.Context, id string) (bool, error) { return svc.SyncShop(ctx, id) },
		Pending:  db.HasPendingTx})
	if err != nil {
		h.close(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	opt := shopOptions(cfg, db, h, sealer, log)
	opt.Queue = queue
	svc = shop.New(opt)
	return svc, func() {
		svc.Close()
		_ = queue.Stop(context.WithoutCancel(ctx)) // never started: closes its handle
		h.close(context.WithoutCancel(ctx))
		db.Close()
	}, nil
}

// withFields adds what an application error says of each field to its
// message: on a terminal there is no problem document to read them from.
func withFields(err error) error {
	var app *shop.Error
	if !errors.As(err, &app) || len(app.Fields) == 0 {
		return err
	}
	var b strings.Builder
	b.WriteString(app.Message)
	for _, f := range app.Fields {
		fmt.Fprintf(&b, "\n  %s: %s", f.Field, f.Detail)
	}
	return errors.New(b.String())
}

// follow reads the shop's latest run until it is no longer running,
// showing its progress on stderr, and returns the final status. A run
// that failed or was interrupted is an error that says why; so is an
// interrupt of the command, with onInterrupt.
func follow(ctx context.Context, e *env, svc *shop.Service, id, onInterrupt string) (shop.SyncStatus, error) {
	p := newProgress(e.stderr)
	defer p.close()
	tick := time.NewTicker(syncPollEvery)
	defer tick.Stop()
	for {
		st, err := svc.SyncStatus(ctx, shop.Operator, id)
		if err != nil {
			if ctx.Err() != nil {
				return st, errors.New(onInterrupt)
			}
			return st, withFields(err)
		}
		if st.Run == nil {
			return st, nil
		}
		p.show(*st.Run)
		switch st.Run.State {
		case shop.RunRunning:
		case shop.RunSucceeded:
			return st, nil
		default:
			p.close()
			// The status still prints: what the shop has, and the error.
			if err := printSync(e.stdout, st); err != nil {
				return st, err
			}
			return st, fmt.Errorf("%s run %d %s: %s", st.Run.Kind, st.Run.ID, st.Run.State, st.Run.Error)
		}
		select {
		case <-ctx.Done():
			return st, errors.New(onInterrupt)
		case <-tick.C:
		}
	}
}

// progress shows a run's progress on w: a bar per phase on a terminal;
// otherwise a line when a phase starts, then at most one a second while it
// moves, and its last one when it ends ("phase shopify: 1500/10000").
type progress struct {
	w           io.Writer
	terminal    bool
	phase       shop.RunPhase
	done, total int64
	bar         *progressbar.ProgressBar
	pending     bool      // plain: the last progress read is not printed yet
	printed     time.Time // plain: when the last line was
}

func newProgress(w io.Writer) *progress { return &progress{w: w, terminal: isTerminal(w)} }

// plainEvery is how often plain lines repeat within a phase.
const plainEvery = time.Second

func (p *progress) show(r shop.RunView) {
	if r.Phase != p.phase {
		p.endPhase(true)
		p.phase, p.done, p.total = r.Phase, r.Done, r.Total
		if r.Phase == shop.PhaseDone {
			return
		}
		if p.terminal {
			p.bar = progressbar.NewOptions64(barMax(r.Total),
				progressbar.OptionSetWriter(p.w),
				progressbar.OptionSetDescription(fmt.Sprintf("%-9s", r.Phase)),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(false),
				progressbar.OptionThrottle(100*time.Millisecond),
				// No goroutine of its own turning the spinner: each look
				// at the run turns it, and nothing writes after the bar
				// ends.
				progressbar.OptionSetSpinnerChangeInterval(0),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
			)
			p.bar.Set64(r.Done)
		} else {
			p.print()
		}
		return
	}
	if r.Phase == shop.PhaseDone || r.Done == p.done && r.Total == p.total {
		return
	}
	if p.bar != nil {
		if r.Total != p.total {
			p.bar.ChangeMax64(barMax(r.Total))
		}
		p.bar.Set64(r.Done)
	}
	p.done, p.total = r.Done, r.Total
	if !p.terminal {
		p.pending = true
		if time.Since(p.printed) >= plainEvery {
			p.print()
		}
	}
}

// barMax is a bar's length: -1, a spinner, while the total is unknown.
func barMax(total int64) int64 {
	if total <= 0 {
		return -1
	}
	return total
}

func (p *progress) print() {
	if p.total > 0 {
		fmt.Fprintf(p.w, "phase %s: %d/%d\n", p.phase, p.done, p.total)
	} else {
		fmt.Fprintf(p.w, "phase %s: %d\n", p.phase, p.done)
	}
	p.printed, p.pending = time.Now(), false
}

// endPhase ends the current phase's display: complete when the run went on
// to the next phase, so its bar is filled.
func (p *progress) endPhase(complete bool) {
	if p.bar != nil {
		if complete {
			p.bar.Finish()
		} else {
			p.bar.Exit() // as far as the run got
		}
		p.bar = nil
	}
	if !p.terminal && complete && p.total > 0 && p.done < p.total {
		// The run went on before this look saw the phase's last rows.
		p.done, p.pending = p.total, true
	}
	if p.pending {
		p.print()
	}
}

// close ends the display where the run stopped.
func (p *progress) close() {
	p.endPhase(false)
	p.phase = ""
}

// printSync prints a shop's connection, one field a line.
func printSync(w io.Writer, st shop.SyncStatus) error {
	var b strings.Builder
	row := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "%-10s %s\n", name, fmt.Sprintf(format, args...))
	}
	row("shop", "%s", st.Shop)
	domain := st.ShopifyDomain
	if domain == "" {
		domain = "(none: set shopify_domain with PUT /v1/shops/" + st.Shop + ")"
	}
	row("domain", "%s", domain)
	row("connected", "%s", yesNo(st.Connected))
	switch st.Settings.State {
	case "ok":
		row("settings", "ok (version %d)", st.Settings.Version)
	case "broken":
		row("settings", "broken (version %d): nothing syncs until they are fixed", st.Settings.Version)
		for _, p := range st.Settings.Problems {
			fmt.Fprintf(&b, "%-10s   %s: %s\n", "", p.Field, p.Detail)
		}
	default:
		row("settings", "%s", st.Settings.State)
	}
	if r := st.Run; r != nil {
		row("run", "%d %s %s, phase %s %s, started %s", r.ID, r.Kind, r.State, r.Phase, progressOf(r.Done, r.Total), r.Started)
		if r.Finished != nil {
			row("finished", "%s", *r.Finished)
		}
		if r.Error != "" {
			row("error", "%s", r.Error)
		}
	} else {
		row("run", "none yet: syncrules sync connect --shop %s", st.Shop)
	}
	if c := st.Catalog; c != nil {
		row("catalog", "%d linked, %s, %s, %s", c.Linked, count(c.UnmatchedVariants, "unmatched variant"),
			count(c.UnmatchedSKUs, "unmatched TikTok SKU"), count(c.Conflicts, "conflict"))
	}
	printPublishing(row, &b, st)
	_, err := io.WriteString(w, b.String())
	return err
}

func progressOf(done, total int64) string {
	if total > 0 {
		return fmt.Sprintf("%d/%d", done, total)
	}
	return fmt.Sprint(done)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// count is n and noun, plural unless n is 1.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
