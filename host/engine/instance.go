package engine

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

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
	mod, err := m.eng.rt.InstantiateModule(ctx, m.compiled, cfg)
	if err != nil {
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
	}
	if inst.mem == nil {
		mod.Close(ctx)
		return nil, fmt.Errorf("it exports no memory")
	}
	return inst, nil
}

func (inst *instance) abiVersion(ctx context.Context) (uint32, error) {
	if err := inst.version.CallWithStack(ctx, inst.stack); err != nil {
		return 0, fmt.Errorf("%s: %w", abi.ExportABIVersion, inst.trap(err))
	}
	return uint32(inst.stack[0]), nil
}

func (inst *instance) call(ctx context.Context, input []byte, read func([]byte) error) error {
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
	out, ok := inst.mem.Read(ptr, size)
	if !ok {
		return fmt.Errorf("%w: output [%d, %d) is outside the guest's memory", abi.ErrContract, ptr, uint64(ptr)+uint64(size))
	}
	return read(out)
}

// trap wraps an error from the guest with ErrTrap and the tail of what the
// guest wrote to stderr, which is where a Go panic's message goes.
func (inst *instance) trap(err error) error {
	return fmt.Errorf("%w: %v%s", ErrTrap, err, inst.log.tail())
}

func (inst *instance) close(ctx context.Context) { inst.mod.Close(ctx) }

// logBuffer keeps the first limit bytes the guest writes and counts the rest.
type logBuffer struct {
	buf     bytes.Buffer
	limit   int
	dropped int
}

func (b *logBuffer) Write(p []byte) (int, error) {
	n := min(len(p), b.limit-b.buf.Len())
	b.buf.Write(p[:n])
	b.dropped += len(p) - n
	return len(p), nil
}

func (b *logBuffer) Reset() { b.buf.Reset(); b.dropped = 0 }

// tail returns the last lines the guest wrote, prefixed for an error message.
func (b *logBuffer) tail() string {
	s := bytes.TrimSpace(b.buf.Bytes())
	if len(s) == 0 {
		return ""
	}
	if len(s) > 512 {
		s = s[len(s)-512:]
	}
	return " (guest output: " + string(bytes.ReplaceAll(s, []byte("\n"), []byte(" | "))) + ")"
}

// pool bounds a module's instances. Acquire reuses an idle instance, makes a
// new one while under the bound, or waits as long as ctx allows.
type pool struct {
	idle   chan *instance
	sem    chan struct{} // one token per live instance
	mu     sync.Mutex
	closed bool
}

func (p *pool) init(size int) {
	p.idle = make(chan *instance, size)
	p.sem = make(chan struct{}, size)
}

func (p *pool) acquire(ctx context.Context, m *Module) (*instance, error) {
	select {
	case inst := <-p.idle:
		return inst, nil
	default:
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	case p.sem <- struct{}{}:
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			<-p.sem
			return nil, ErrClosed
		}
		inst, err := m.instantiate(ctx)
		if err != nil {
			<-p.sem
			return nil, fmt.Errorf("engine: new instance of %s: %w", m.name, err)
		}
		return inst, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("engine: waiting for an instance of %s: %w", m.name, context.Cause(ctx))
	}
}

// release returns an instance to the pool, or closes it; it reports whether
// the pool was closed.
func (p *pool) release(ctx context.Context, inst *instance, keep bool) (closed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if keep && !p.closed {
		p.idle <- inst // never blocks: idle holds at most one per token
		return false
	}
	inst.close(context.WithoutCancel(ctx))
	<-p.sem
	return p.closed
}

func (p *pool) close(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for {
		select {
		case inst := <-p.idle:
			inst.close(ctx)
			<-p.sem
		default:
			return
		}
	}
}
