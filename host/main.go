// Command syncrules serves the inventory rules API and computes quantities
// from the command line. Run "syncrules --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/cli"
)

func main() {
	// The sandboxed engine starts this binary again as a worker process
	// for plugins' big batches.
	if engine.IsWorker() {
		os.Exit(engine.ServeWorker())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
