// Package cli is the syncrules command line: serve, compute and version.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/config"
	"github.com/syncrules/syncrules/host/internal/defaultmodule"
)

// version is set by the Makefile with -ldflags -X.
var version = "dev"

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed, or its input was refused
	exitUsage = 2 // the command line was wrong
)

type command struct {
	name, summary string
	run           runFunc
}

var commands = []command{
	{"serve", "run the HTTP API", serve},
	{"compute", "compute quantities for a request file, as POST /v1/compute does", computeCmd},
	{"rule", "build a rule plugin, or run one on a request file as the server would", ruleCmd},
	{"token", "create, list or revoke API tokens", tokenCmd},
	{"version", "print the version", printVersion},
}

// env is what a command reads and writes.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// errUsage marks a command line error; the message has been printed.
var errUsage = errors.New("usage")

// exitCodeError makes Main exit with a code without printing more.
type exitCodeError int

func (e exitCodeError) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// Main runs the command line and returns the process's exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			return Main(ctx, []string{args[1], "--help"}, stdin, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(ctx, e, args[1:])
		var code exitCodeError
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, errUsage):
			return exitUsage
		case errors.As(err, &code):
			return int(code)
		}
		fmt.Fprintf(stderr, "syncrules %s: %v\n", name, err)
		return exitError
	}
	fmt.Fprintf(stderr, "syncrules: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "syncrules computes the inventory to publish to TikTok Shop from Shopify stock,")
	fmt.Fprintln(w, "running the default rule and partners' rule plugins as WebAssembly modules.")
	fmt.Fprintln(w, "\nUsage:\n  syncrules <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"syncrules <command> --help\" for a command's flags.")
}

// runFunc runs a command with its arguments.
type runFunc func(ctx context.Context, e *env, args []string) error

// dispatch runs the subcommand of group that args[0] names, or prints the
// group's usage: to stdout when asked for, else to stderr with errUsage.
func dispatch(ctx context.Context, e *env, group string, args []string, subs map[string]runFunc, usage func(io.Writer)) error {
	sub := ""
	if len(args) > 0 {
		sub = args[0]
	}
	if run, ok := subs[sub]; ok {
		return run(ctx, e, args[1:])
	}
	switch sub {
	case "-h", "-help", "--help", "help":
		usage(e.stdout)
		return nil
	case "":
	default:
		fmt.Fprintf(e.stderr, "syncrules %s: unknown command %q\n\n", group, sub)
	}
	usage(e.stderr)
	return errUsage
}

// flags returns a FlagSet whose --help prints to stdout and whose errors
// print to stderr.
func flags(e *env, name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: syncrules %s %s\n\n%s\n\nFlags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; --help prints the usage to stdout.
func parse(e *env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "syncrules %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// loadConfig loads the config file. The default file may be absent; one
// named on the command line must exist.
func loadConfig(fs *flag.FlagSet, path string) (config.Config, error) {
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	return config.Load(path, explicit)
}

func newLogger(w io.Writer, cfg config.Server) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// loadDefaultRule compiles the default rule module into a new engine.
func loadDefaultRule(ctx context.Context, cfg config.Config, obs engine.Observer) (*engine.Engine, *engine.Module, string, error) {
	wasm, source := defaultmodule.Bytes(), "built-in"
	if cfg.Rules.DefaultModule != "" {
		var err error
		if wasm, err = os.ReadFile(cfg.Rules.DefaultModule); err != nil {
			return nil, nil, "", fmt.Errorf("rules.default_module: %w", err)
		}
		source = cfg.Rules.DefaultModule
	}
	if wasm == nil {
		return nil, nil, "", errors.New("this binary has no built-in default rule (it was built without -tags syncrules_embed): build it with \"make build\", or set rules.default_module in the config")
	}
	eng, err := engine.New(ctx, engine.Config{
		CacheDir:           filepath.Join(cfg.Server.DataDir, "cache"),
		MaxMemoryBytes:     uint64(cfg.Engine.MaxMemoryMiB) << 20,
		RecycleMemoryBytes: uint64(cfg.Engine.RecycleMemoryMiB) << 20,
		PoolSize:           cfg.Engine.PoolSize,
		Observer:           obs,
	})
	if err != nil {
		return nil, nil, "", err
	}
	mod, err := eng.Load(ctx, compute.DefaultRuleName, wasm)
	if err != nil {
		eng.Close(ctx)
		return nil, nil, "", err
	}
	return eng, mod, source, nil
}

func limitsOf(cfg config.Config) compute.Limits {
	l := cfg.Limits
	return compute.Limits{MaxBodyBytes: l.MaxBodyBytes, MaxItems: l.MaxItems, MaxLocations: l.MaxLocations,
		MaxWarehouses: l.MaxWarehouses, MaxCells: l.MaxCells, MaxRules: cfg.Sandbox.MaxRules}
}

func printVersion(_ context.Context, e *env, args []string) error {
	fs := flags(e, "version", "", "Print the version, the Go version and the rule ABI version.")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "syncrules %s (%s, rule ABI %s)\n", version, runtime.Version(), strings.Trim(fmt.Sprint(engine.SupportedABIVersions), "[]"))
	return nil
}

// durationSince rounds a duration for logs.
func durationSince(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
