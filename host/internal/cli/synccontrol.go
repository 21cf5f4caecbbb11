package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/syncrules/syncrules/host/internal/shop"
)

func syncResync(ctx context.Context, e *env, args []string) error {
	f := newShopFlags(e, "sync resync", "--shop ID",
		"Resync a shop as POST /v1/shops/{shop}/sync/resync does: every linked item is read from\n"+
			"Shopify again, computed with the current settings, and only the quantities that differ\n"+
			"from those last published are sent to TikTok Shop. The running server does the work;\n"+
			"the command follows the run to its end (a progress bar on a terminal, else a line such\n"+
			"as \"phase publishing: 250/3000\" on stderr), then prints the shop's status on stdout.\n"+
			"It exits 1 if the shop is not connected, is paused, has a run in progress, or the run\n"+
			"fails or stops moving (no server running), saying why; an interrupt stops following the\n"+
			"run, which goes on in the server.")
	svc, closeSvc, err := f.open(ctx, e, args)
	if err != nil {
		return err
	}
	defer closeSvc()
	run, err := svc.Resync(ctx, shop.Operator, *f.shop)
	if err != nil {
		return withFields(err)
	}
	fmt.Fprintf(e.stderr, "resync run %d of shop %s started: %d linked items\n", run.ID, *f.shop, run.Total)
	st, err := follow(ctx, e, svc, *f.shop, "interrupted: no longer following the resync, which goes on in the server")
	if err != nil {
		return err
	}
	return printSync(e.stdout, st)
}

func syncPause(ctx context.Context, e *env, args []string) error {
	return syncControl(ctx, e, args, "sync pause",
		"Pause a shop's sync as POST /v1/shops/{shop}/sync/pause does: nothing of the shop is\n"+
			"published to TikTok Shop until \"syncrules sync resume\"; its Shopify webhooks are still\n"+
			"recorded, and their items wait. A publication in flight finishes first. Prints the\n"+
			"shop's status; exits 1 if there is no such shop.",
		func(ctx context.Context, svc *shop.Service, id string) (shop.SyncStatus, error) {
			return svc.PauseSync(ctx, shop.Operator, id)
		})
}

func syncResume(ctx context.Context, e *env, args []string) error {
	return syncControl(ctx, e, args, "sync resume",
		"Resume a shop's sync as POST /v1/shops/{shop}/sync/resume does: the running server\n"+
			"publishes again, starting with what was recorded while it was paused (\"pending\" in the\n"+
			"status printed). Exits 1 if there is no such shop.",
		func(ctx context.Context, svc *shop.Service, id string) (shop.SyncStatus, error) {
			return svc.ResumeSync(ctx, shop.Operator, id)
		})
}

// syncControl is a command that changes a shop's sync and prints its
// status.
func syncControl(ctx context.Context, e *env, args []string, name, help string,
	do func(ctx context.Context, svc *shop.Service, id string) (shop.SyncStatus, error)) error {
	f := newShopFlags(e, name, "--shop ID", help)
	svc, closeSvc, err := f.open(ctx, e, args)
	if err != nil {
		return err
	}
	defer closeSvc()
	st, err := do(ctx, svc, *f.shop)
	if err != nil {
		return withFields(err)
	}
	return printSync(e.stdout, st)
}

// printPublishing adds where the shop's publications stand to a status.
func printPublishing(row func(name, format string, args ...any), b *strings.Builder, st shop.SyncStatus) {
	s := st.Sync
	if s.Paused {
		row("sync", "paused: webhooks are recorded, nothing is published (syncrules sync resume --shop %s)", st.Shop)
	} else {
		row("sync", "running")
	}
	pending := count(int(s.PendingItems), "item")
	if s.AllPending {
		pending += ", and every item of the shop"
	}
	row("pending", "%s", pending)
	row("failing", "%s", count(int(s.FailingSKUs), "SKU"))
	for _, f := range s.Failures {
		fmt.Fprintf(b, "%-10s   %s: %s %s (%s)\n", "", f.SKUID, f.Code, f.Message, f.Time)
	}
	if s.LastPublished != nil {
		row("published", "%s", *s.LastPublished)
	} else {
		row("published", "never")
	}
}
