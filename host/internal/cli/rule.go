package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/config"
	"github.com/syncrules/syncrules/host/wasmbuild"
)

func ruleCmd(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "rule", args, map[string]runFunc{"init": ruleInit, "build": ruleBuild, "run": ruleRun}, ruleUsage)
}

func ruleUsage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  syncrules rule init DIR                    create a rule plugin project in DIR
  syncrules rule build [-o FILE] [PACKAGE]   build a Go rule package into a plugin module
  syncrules rule run --module FILE --input FILE [flags]
                                             run a module on a request as the server would

Run "syncrules rule <command> --help" for a command's flags.
`)
}

func ruleBuild(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "rule build", "[-o FILE] [PACKAGE]",
		"Build the Go rule package (default \".\") into a WebAssembly plugin module with the\n"+
			"Go toolchain (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared), then check it as an\n"+
			"upload is checked: exports, imports, memory and ABI version.")
	out := fs.String("o", "", "output `file` (default: the package directory's name + .wasm)")
	pos, err := parseArgs(e, fs, args, 1)
	if err != nil {
		return err
	}
	pkg := "."
	if len(pos) == 1 {
		pkg = pos[0]
	}
	// A directory is built from inside it, so that its own go.mod (a
	// partner's module) is the one that counts.
	dir := "."
	if st, err := os.Stat(pkg); err == nil && st.IsDir() {
		dir, pkg = pkg, "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Base(abs) + ".wasm"
	}
	if *out, err = filepath.Abs(*out); err != nil {
		return err
	}
	start := time.Now()
	if err := wasmbuild.Build(ctx, dir, pkg, *out); err != nil {
		return err
	}
	built := time.Since(start)
	wasm, err := os.ReadFile(*out)
	if err != nil {
		return err
	}
	// Checked as an upload is, within the default limits.
	cfg := config.Default().Sandbox.EngineConfig()
	cfg.CacheDir = commandCacheDir(config.Default(), config.Source{})
	eng, err := engine.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer eng.Close(context.WithoutCancel(ctx))
	start = time.Now()
	mod, err := eng.Load(ctx, filepath.Base(*out), wasm)
	if err != nil {
		return fmt.Errorf("built %s, but the host refuses it: %w", *out, err)
	}
	fmt.Fprintf(e.stdout, "%s: %s, sha256 %s, ABI %d (built in %v, compiled in %v)\n",
		*out, byteSize(int64(len(wasm))), mod.SHA256(), mod.ABIVersion(), built.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return nil
}

var notName = regexp.MustCompile(`[^a-z0-9]+`)

func ruleRun(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "rule run", "--module FILE --input FILE [--params JSON] [--on-error fail|skip] [--explain] [--config FILE]",
		"Run a plugin module on a compute request exactly as the server runs it: sandboxed,\n"+
			"with the limits of the config's [sandbox], after the default rule and any rules the\n"+
			"request's settings name. Prints the response JSON to stdout, and to stderr what the\n"+
			"module used against its limits.")
	configPath := fs.String("config", "config.toml", "configuration `file`; the default may be absent")
	module := fs.String("module", "", "the plugin module (.wasm) to run")
	input := fs.String("input", "-", "compute request `file`, or - for standard input")
	params := fs.String("params", "", "the module's params, as `JSON`")
	onError := fs.String("on-error", compute.OnErrorFail, "what a failed item gets: fail or skip")
	explain := fs.Bool("explain", false, "add each item's trace and the module's output, as ?explain=true does")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	if *module == "" {
		fmt.Fprintln(e.stderr, "syncrules rule run: --module is required")
		fs.Usage()
		return errUsage
	}
	if *params != "" && !json.Valid([]byte(*params)) {
		fmt.Fprintf(e.stderr, "syncrules rule run: --params is not valid JSON: %s\n", *params)
		return errUsage
	}
	cfg, src, err := loadConfig(fs, *configPath)
	if err != nil {
		return err
	}
	wasm, err := os.ReadFile(*module)
	if err != nil {
		return err
	}
	in, size, closeIn, err := openInput(e, *input)
	if err != nil {
		return err
	}
	defer closeIn()

	h, err := openCommandHost(ctx, e, cfg, *configPath, src)
	if err != nil {
		return err
	}
	defer h.close(context.WithoutCancel(ctx))
	name := strings.Trim(notName.ReplaceAllString(strings.ToLower(strings.TrimSuffix(filepath.Base(*module), ".wasm")), "-"), "-")
	if name == "" {
		name = "module"
	}
	const version = "0.0.0-local"
	done := slowNotice(e.stderr, "compiling "+*module)
	mod, err := h.sandbox.Load(ctx, name+"@"+version, wasm)
	done()
	if err != nil {
		return err
	}
	rec := &recorder{mod: mod}
	svc, err := compute.NewService(h.defaultRule, limitsOf(cfg), cfg.Rules.MaxQuantity)
	if err != nil {
		return err
	}
	svc.WithPlugins(localPlugins{Plugins: noticePlugins{Plugins: h.registry, w: e.stderr}, name: name, version: version, local: rec}, cfg.Sandbox.LogBytes, slog.New(slog.DiscardHandler))

	err = computeAndPrint(ctx, e, svc, in, size, compute.Options{Explain: *explain}, func(req *compute.Request) {
		if req.Settings == nil {
			req.Settings = &compute.Settings{}
		}
		req.Settings.Rules = append(req.Settings.Rules, compute.Rule{Plugin: name, Version: version, Params: []byte(*params), OnError: *onError})
	})
	if err == nil {
		rec.report(e.stderr, *module, cfg.Sandbox.MaxMemoryMiB, cfg.Sandbox.MaxOutputMiB, cfg.Sandbox.LogBytes)
	}
	return err
}

// openInput opens a request file, or standard input for "-", and returns
// its size when known.
func openInput(e *env, path string) (io.Reader, int64, func(), error) {
	if path == "-" {
		return e.stdin, -1, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, nil, err
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, func() { f.Close() }, nil
}

// localPlugins adds the module under test to the installed plugins.
type localPlugins struct {
	compute.Plugins
	name, version string
	local         compute.Plugin
}

func (p localPlugins) Acquire(ctx context.Context, name, version string) (compute.Plugin, func(), error) {
	if name == p.name && version == p.version {
		return p.local, func() {}, nil
	}
	return p.Plugins.Acquire(ctx, name, version)
}

// recorder measures a module's calls against its limits.
type recorder struct {
	mod *engine.Module

	mu             sync.Mutex
	calls, failed  int
	total, slowest time.Duration
	limit          time.Duration // of the slowest call
	memory         uint64
	output, log    int
	logDropped     int
	firstErr       error
}

func (r *recorder) SHA256() string { return r.mod.SHA256() }

func (r *recorder) CallInfo(ctx context.Context, input []byte, read func([]byte, *engine.CallInfo) error) error {
	start := time.Now()
	var info engine.CallInfo
	var outLen int
	err := r.mod.CallInfo(ctx, input, func(out []byte, in *engine.CallInfo) error {
		info, outLen = *in, len(out)
		return read(out, in)
	})
	d := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.total += d
	if d > r.slowest {
		r.slowest, r.limit = d, info.Timeout
	}
	r.memory = max(r.memory, info.MemoryBytes)
	r.output = max(r.output, outLen)
	r.log = max(r.log, len(info.Log))
	r.logDropped = max(r.logDropped, info.LogDropped)
	if err != nil {
		r.failed++
		if r.firstErr == nil {
			r.firstErr = err
		}
	}
	return err
}

func (r *recorder) report(w io.Writer, module string, memMiB, outMiB, logBytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := fmt.Sprintf("%d calls", r.calls)
	if r.calls == 1 {
		calls = "1 call"
	}
	fmt.Fprintf(w, "%s: %s (%d failed), %v in all\n", module, calls, r.failed, r.total.Round(time.Microsecond))
	limit := "no limit"
	if r.limit > 0 {
		limit = fmt.Sprintf("limit %v", r.limit)
	}
	fmt.Fprintf(w, "  slowest call  %v (%s)\n", r.slowest.Round(time.Microsecond), limit)
	fmt.Fprintf(w, "  memory        %s of %d MiB\n", byteSize(int64(r.memory)), memMiB)
	fmt.Fprintf(w, "  output        %s of %d MiB\n", byteSize(int64(r.output)), outMiB)
	dropped := ""
	if r.logDropped > 0 {
		dropped = fmt.Sprintf(", %d more dropped", r.logDropped)
	}
	fmt.Fprintf(w, "  log           %d of %d bytes%s\n", r.log, logBytes, dropped)
	if r.firstErr != nil && !errors.Is(r.firstErr, context.Canceled) {
		fmt.Fprintf(w, "  first error   %v\n", r.firstErr)
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
