package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/syncrules/syncrules/sdk/abi"
)

// instance is one instantiation of a module, used by one call at a time.
type instance struct {
	mod                     api.Module
	mem                     api.Memory
	version, input, compute api.Function
	inPtr, inCap            uint32 // the guest's input buffer, once it gave us one
	stack                   []uint64
	log                     *logBuffer
	calls                   int
	used                    time.Time // the last call's end, for reaping
}

func (m *Module) instantiate(ctx context.Context) (*instance, error) {
	log := &logBuffer{limit: m.eng.cfg.LogBytes}
	// No filesystem, environment or arguments; stdout and stderr go to a
	// bounded buffer; clocks and random source stay wazero's deterministic
	// defaults.
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(abi.ExportInitialize).
		WithStdout(log).
		WithStderr(log)
	if m.eng.cfg.Sandboxed {
		// A guest's initialisation is its code too: bound it.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.eng.cfg.initTimeout())
		defer cancel()
	}
	mod, err := m.eng.rt.InstantiateModule(ctx, m.compiled, cfg)
	if err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded {
			return nil, fmt.Errorf("%w: it did not finish initialising within %v: its init functions must return", ErrTimeout, m.eng.cfg.initTimeout())
		}
		return nil, fmt.Errorf("it fails to initialise: %w%s", err, log.tail())
	}
	inst := &instance{
		mod:     mod,
		mem:     mod.Memory(),
		version: mod.ExportedFunction(abi.ExportABIVersion),
		input:   mod.ExportedFunction(abi.ExportInput),
		compute: mod.ExportedFunction(abi.ExportCompute),
		stack:   make([]uint64, 1),
		log:     log,
		used:    time.Now(),
	}
	if inst.mem == nil {
		mod.Close(ctx)
		return nil, fmt.Errorf("it exports no memory")
	}
	return inst, nil
}

func (inst *instance) abiVersion(ctx context.Context, bounded bool) (uint32, error) {
	if bounded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	if err := inst.version.CallWithStack(ctx, inst.stack); err != nil {
		return 0, fmt.Errorf("%s: %w", abi.ExportABIVersion, inst.trap(err))
	}
	return uint32(inst.stack[0]), nil
}

func (inst *instance) call(ctx context.Context, input []byte, maxOutput int, read func([]byte) error) error {
	inst.log.Reset()
	if len(input) > math.MaxUint32 {
		return fmt.Errorf("engine: input of %d bytes exceeds 4 GiB", len(input))
	}
	n := uint32(len(input))
	if n > inst.inCap || inst.inPtr == 0 {
		inst.stack[0] = uint64(n)
		if err := inst.input.CallWithStack(ctx, inst.stack); err != nil {
			return fmt.Errorf("%s(%d): %w", abi.ExportInput, n, inst.trap(err))
		}
		inst.inPtr, inst.inCap = uint32(inst.stack[0]), n
		if inst.inPtr == 0 {
			return fmt.Errorf("%w: %s could not allocate %d bytes", abi.ErrContract, abi.ExportInput, n)
		}
	}
	if !inst.mem.Write(inst.inPtr, input) {
		return fmt.Errorf("%w: input buffer [%d, %d) is outside the guest's memory", abi.ErrContract, inst.inPtr, uint64(inst.inPtr)+uint64(n))
	}
	inst.stack[0] = uint64(n)
	if err := inst.compute.CallWithStack(ctx, inst.stack); err != nil {
		return fmt.Errorf("%s: %w", abi.ExportCompute, inst.trap(err))
	}
	ptr, size := abi.UnpackResult(inst.stack[0])
	if uint64(size) > uint64(maxOutput) {
		return fmt.Errorf("%w: output of %d bytes exceeds the limit of %d", abi.ErrContract, size, maxOutput)
	}
	out, ok := inst.mem.Read(ptr, size)
	if !ok {
		return fmt.Errorf("%w: output [%d, %d) is outside the guest's memory", abi.ErrContract, ptr, uint64(ptr)+uint64(size))
	}
	return read(out)
}

// trap wraps an error from the guest with ErrTrap and the tail of what the
// guest wrote to stderr, which is where a Go panic's message goes.
func (inst *instance) trap(err error) error {
	return fmt.Errorf("%w: %w%s", ErrTrap, err, inst.log.tail())
}

// classify says why a call failed: the deadline, the caller giving up, the
// memory limit, or a trap. ctx is the caller's context, timeout the call's
// limit.
func (inst *instance) classify(ctx context.Context, err error, timeout time.Duration) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			if ctx.Err() == nil {
				return timeoutError(timeout)
			}
			return context.Cause(ctx)
		case sys.ExitCodeContextCanceled:
			return context.Cause(ctx)
		}
	}
	if inst.log.oom {
		return fmt.Errorf("%w: %v", ErrMemory, err)
	}
	return err
}

func timeoutError(timeout time.Duration) error {
	return fmt.Errorf("%w: stopped at the limit of %v for this batch", ErrTimeout, timeout)
}

func (inst *instance) close(ctx context.Context) { inst.mod.Close(ctx) }

// logBuffer keeps the first limit bytes the guest writes and counts the
// rest. Whatever the limit, it watches the whole stream for what a crashing
// Go guest says first: its "panic:" or "fatal error:" line, and whether it
// ran out of memory.
type logBuffer struct {
	buf     bytes.Buffer
	limit   int
	dropped int

	carry []byte // the end of the last write, for markers split across writes
	seam  []byte // carry joined to the start of a write
	crash []byte // the first crash line, as far as seen
	open  bool   // crash is still being read
	oom   bool
}

var (
	crashMarkers = [][]byte{[]byte("panic: "), []byte("fatal error: ")}
	oomMarker    = []byte("out of memory")
)

const maxCrashLine = 512

func (b *logBuffer) Write(p []byte) (int, error) {
	n := min(len(p), b.limit-b.buf.Len())
	b.buf.Write(p[:n])
	b.dropped += len(p) - n
	b.watch(p)
	return len(p), nil
}

func (b *logBuffer) watch(p []byte) {
	if b.open {
		line, _, done := bytes.Cut(p, []byte("\n"))
		b.crash = append(b.crash, line[:min(len(line), maxCrashLine-len(b.crash))]...)
		b.open = !done && len(b.crash) < maxCrashLine
	}
	if !b.oom || b.crash == nil {
		// A marker split between two writes is whole in the end of the
		// last write joined to the start of this one.
		b.seam = append(append(b.seam[:0], b.carry...), p[:min(len(p), markerMax)]...)
		b.scan(b.seam)
		b.scan(p)
	}
	if len(p) >= markerMax {
		b.carry = append(b.carry[:0], p[len(p)-markerMax:]...)
	} else {
		b.carry = append(b.carry, p...)
		b.carry = b.carry[max(0, len(b.carry)-markerMax):]
	}
}

// markerMax is longer than every marker.
const markerMax = 32

func (b *logBuffer) scan(s []byte) {
	if !b.oom && bytes.Contains(s, oomMarker) {
		b.oom = true
	}
	if b.crash != nil {
		return
	}
	for _, m := range crashMarkers {
		if i := bytes.Index(s, m); i >= 0 {
			line, _, done := bytes.Cut(s[i:], []byte("\n"))
			b.crash = append([]byte{}, line[:min(len(line), maxCrashLine)]...)
			b.open = !done && len(b.crash) < maxCrashLine
			return
		}
	}
}

func (b *logBuffer) Reset() {
	b.buf.Reset()
	b.dropped = 0
	b.carry, b.crash, b.open, b.oom = b.carry[:0], nil, false, false
}

// tail returns, for an error message, the guest's crash line if it wrote
// one, and the last lines it wrote.
func (b *logBuffer) tail() string {
	s := bytes.TrimSpace(b.buf.Bytes())
	if len(s) > 512 {
		s = s[len(s)-512:]
	}
	var out []string
	if len(b.crash) > 0 && !bytes.Contains(s, b.crash) {
		out = append(out, string(bytes.ToValidUTF8(b.crash, nil)))
	}
	if len(s) > 0 {
		out = append(out, string(bytes.ToValidUTF8(bytes.ReplaceAll(s, []byte("\n"), []byte(" | ")), nil)))
	}
	if len(out) == 0 {
		return ""
	}
	return " (guest output: " + strings.Join(out, " … ") + ")"
}
