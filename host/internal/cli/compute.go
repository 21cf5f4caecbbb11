package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/config"
	"github.com/syncrules/syncrules/host/internal/problem"
)

func computeCmd(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "compute", "[--config FILE] [--input FILE] [--explain]",
		"Compute quantities for a request exactly as POST /v1/compute does, and print the\n"+
			"response JSON. An input that is refused prints its problem document to stderr\n"+
			"and exits 1.")
	configPath := fs.String("config", "config.toml", "configuration `file`; the default may be absent")
	input := fs.String("input", "-", "request `file`, or - for standard input")
	explain := fs.Bool("explain", false, "add each item's trace, as ?explain=true does")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	cfg, src, err := loadConfig(fs, *configPath)
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
	return computeAndPrint(ctx, e, h.svc, in, size, compute.Options{Explain: *explain}, nil)
}

// computeAndPrint reads a request, lets edit change it, computes it and
// prints the response to stdout; a refused input prints its problem
// document to stderr and exits 1.
func computeAndPrint(ctx context.Context, e *env, svc *compute.Service, in io.Reader, size int64, opt compute.Options, edit func(*compute.Request)) error {
	req, err := compute.ReadRequest(in, size, svc.Limits())
	if err == nil {
		if edit != nil {
			edit(req)
		}
		var resp *compute.Response
		if resp, err = svc.Compute(ctx, req, opt); err == nil {
			return writeLine(e.stdout, func(w io.Writer) error { return compute.WriteResponse(w, resp) })
		}
	}
	p := problem.From(err)
	if p.Status >= 500 {
		return err
	}
	if err := writeLine(e.stderr, func(w io.Writer) error { return json.NewEncoder(w).Encode(p) }); err != nil {
		return err
	}
	return exitCodeError(exitError)
}

// writeLine writes what fn encodes, ending it with exactly one newline.
func writeLine(w io.Writer, fn func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := fn(&buf); err != nil {
		return err
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// openCommandHost opens the host for a command that computes, saying so
// when compiling takes long.
func openCommandHost(ctx context.Context, e *env, cfg config.Config, configPath string, src config.Source) (*host, error) {
	cache := commandCacheDir(cfg, src)
	done := slowNotice(e.stderr, "compiling the default rule (once: later runs load it from "+cache+")")
	h, err := openHost(ctx, cfg, filepath.Dir(configPath), cache, nil, slog.New(slog.DiscardHandler))
	done()
	if err != nil {
		return nil, err
	}
	h.svc.WithPlugins(noticePlugins{Plugins: h.registry, w: e.stderr}, cfg.Sandbox.LogBytes, slog.New(slog.DiscardHandler))
	return h, nil
}
