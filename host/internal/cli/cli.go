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
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/config"
	"github.com/syncrules/syncrules/host/internal/defaultmodule"
	"github.com/syncrules/syncrules/host/internal/shop"
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
	{"sync", "connect a shop to Shopify and TikTok Shop, or show its connection", syncCmd},
	{"fakes", "serve a fake Shopify and a fake TikTok Shop on loopback, for tests and demos", fakesCmd},
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
		fmt.Fprintf(w, "Usage: syncrules %s\n\n%s\n", strings.TrimSpace(name+" "+synopsis), about)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses args, a command's flags with no other arguments; --help
// prints the usage to stdout.
func parse(e *env, fs *flag.FlagSet, args []string) error {
	_, err := parseArgs(e, fs, args, 0)
	return err
}

// parseArgs parses args, flags anywhere among at most max other arguments
// ("--" ends the flags), and returns those arguments; --help prints the
// usage to stdout.
func parseArgs(e *env, fs *flag.FlagSet, args []string, max int) ([]string, error) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return nil, flag.ErrHelp
		}
	}
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage
		}
		left := fs.Args()
		if stop := len(args) - len(left); stop > 0 && args[stop-1] == "--" {
			rest = append(rest, left...)
			break
		}
		if len(left) == 0 {
			break
		}
		rest, args = append(rest, left[0]), left[1:]
	}
	if len(rest) > max {
		fmt.Fprintf(e.stderr, "syncrules %s: unexpected argument %q\n", fs.Name(), rest[max])
		fs.Usage()
		return nil, errUsage
	}
	return rest, nil
}

// loadConfig loads the config file and the environment, and says where
// the values came from. The default file may be absent; one named on the
// command line must exist.
func loadConfig(fs *flag.FlagSet, path string) (config.Config, config.Source, error) {
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	return config.Load(path, explicit)
}

// commandCacheDir is where compute and rule run keep compiled modules: in
// the data folder of a config file they read (or the environment names),
// else in the user's cache folder, never in a ./data of whatever folder
// they run in.
func commandCacheDir(cfg config.Config, src config.Source) string {
	if src.File == "" && !slices.Contains(src.Env, "SYNCRULES_SERVER_DATA_DIR") {
		if dir, err := os.UserCacheDir(); err == nil {
			return filepath.Join(dir, "syncrules")
		}
	}
	return serverCacheDir(cfg)
}

// serverCacheDir is where the server keeps compiled modules.
func serverCacheDir(cfg config.Config) string { return filepath.Join(cfg.Server.DataDir, "cache") }

func newLogger(w io.Writer, cfg config.Server) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: logTime}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logTime writes a log line's time as the API writes times: RFC 3339 in
// UTC with six fractional digits, so that logs and answers line up.
func logTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 && a.Value.Kind() == slog.KindTime {
		return slog.String(slog.TimeKey, shop.Timestamp(a.Value.Time()).String())
	}
	return a
}

// loadDefaultRule compiles the default rule module into a new engine.
func loadDefaultRule(ctx context.Context, cfg config.Config, cacheDir string, obs engine.Observer) (*engine.Engine, *engine.Module, string, error) {
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
		CacheDir:           cacheDir,
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

// slowAfter is how long a command works in silence before saying what it
// is doing: a first run compiles modules, which takes seconds.
var slowAfter = time.Second

// isTerminal reports whether w is a terminal: notices are for people, and
// would break a script that reads stderr as a problem document.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// slowNotice prints "syncrules: <what>…" to w, if it is a terminal and done
// is not called within slowAfter, and then how long it took.
func slowNotice(w io.Writer, what string) (done func()) {
	if !isTerminal(w) {
		return func() {}
	}
	var (
		mu      sync.Mutex
		said    bool
		stopped bool
		start   = time.Now()
	)
	t := time.AfterFunc(slowAfter, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			fmt.Fprintf(w, "syncrules: %s…\n", what)
			said = true
		}
	})
	return func() {
		t.Stop()
		mu.Lock()
		defer mu.Unlock()
		if !stopped && said {
			fmt.Fprintf(w, "syncrules: done in %v\n", durationSince(start))
		}
		stopped = true
	}
}

// noticePlugins says so when a plugin a request names takes long to load.
type noticePlugins struct {
	compute.Plugins
	w io.Writer
}

func (p noticePlugins) Acquire(ctx context.Context, name, version string) (compute.Plugin, func(), error) {
	done := slowNotice(p.w, fmt.Sprintf("compiling plugin %s %s", name, version))
	defer done()
	return p.Plugins.Acquire(ctx, name, version)
}
