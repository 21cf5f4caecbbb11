package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syncrules/syncrules/sdk/abi"
)

// A worker process runs one module with wazero's deadline checks off and is
// killed at the deadline. Host and worker share one memory file: the host
// writes a batch into it and one byte into a pipe; the worker runs the
// module, writes the output beside the batch and one byte back.

const workersSupported = true

// workerEnv carries a worker's spec; its presence makes a process a worker.
const workerEnv = "SYNCRULES_ENGINE_WORKER"

// IsWorker reports whether an engine started this process as a worker. A
// program whose engines use workers starts with
//
//	if engine.IsWorker() {
//		os.Exit(engine.ServeWorker())
//	}
//
// and so must a test binary's TestMain.
//
// Only an engine in such a program, or with Worker.Command set, compiles in
// a child process: another program started as one would run itself again.
func IsWorker() bool {
	childrenServed.Store(true)
	return os.Getenv(workerEnv) != "" || os.Getenv(compileEnv) != ""
}

// childrenServed records that this program calls IsWorker.
var childrenServed atomic.Bool

// workerSpec is what a worker needs to know, passed in its environment.
type workerSpec struct {
	Name               string
	CacheDir           string
	MaxMemoryBytes     uint64
	RecycleMemoryBytes uint64
	RecycleCalls       int
	LogBytes           int
	MaxOutputBytes     int
	SharedBytes        int
}

// Layout of the shared memory: a header of little-endian uint64s, then the
// data: the batch (or, to load, the module), the output and the guest's log
// after it, and the error message in the last errBytes.
const (
	hOp         = 0  // opLoad or opCall
	hStatus     = 8  // statusOK or an error kind code
	hInLen      = 16 // input bytes at sharedData
	hOutOff     = 24
	hOutLen     = 32
	hLogLen     = 40 // log bytes right after the output
	hLogDropped = 48
	hErrLen     = 56 // message bytes at len(shm)-errBytes
	hMemory     = 64 // guest memory after the call
	hSeq        = 72 // the call's number, set by the host
	hDone       = 80 // the number of the call the worker answered
	hReady      = 88 // the number of the failed call after which it has a new instance
	sharedData  = 4096
	errBytes    = 4096

	opLoad = 1
	opCall = 2
)

// Status codes, errors by kind.
const (
	statusOK = iota
	statusTrap
	statusMemory
	statusContract
	statusInvalid
	statusOther
)

func put64(b []byte, off int, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }
func get64(b []byte, off int) uint64    { return binary.LittleEndian.Uint64(b[off:]) }

type worker struct {
	cmd *exec.Cmd
	shm []byte
	// The host's ends of two blocking pipes: req wakes the worker, resp
	// says it is done. The host reads resp with a plain blocking read,
	// not Go's poller (RATIONALE.md).
	req, resp int
	// wake is the host's own copy of the write end of resp, with which a
	// deadline, a cancellation or the worker's exit ends a wait at once
	// rather than when the kernel has torn the dead process down
	// (≈ 5–9 ms for a worker).
	wake     int
	wakeMu   sync.Mutex
	wakeShut bool
	seq      uint64
	stderr   *lockedLog
	exited   chan struct{}
	killed   atomic.Bool
	stop     atomic.Int32 // why the process was killed: stopDeadline, stopCanceled
	used     atomic.Int64 // unix nanoseconds of the last call's end
	once     sync.Once
}

func (w *worker) lastUsed() time.Time { return time.Unix(0, w.used.Load()) }

const (
	stopDeadline = 1
	stopCanceled = 2
)

// lockedLog keeps the first bytes a worker process writes to stderr (a
// crash report of the worker itself), written from exec's copying goroutine.
type lockedLog struct {
	mu sync.Mutex
	logBuffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.logBuffer.Write(p)
}

func (l *lockedLog) outOfMemory() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.oom
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tail()
}

// spawnWorker starts a worker process for m and has it load the module. It
// takes as long as compiling does (tens of milliseconds from the cache).
func (m *Module) spawnWorker(ctx context.Context) (_ *worker, err error) {
	cfg := &m.eng.cfg
	size := sharedData + cfg.Worker.MaxInputBytes + cfg.MaxOutputBytes + cfg.LogBytes + 16 + errBytes
	size = (size + pageSize - 1) &^ (pageSize - 1)
	fd, err := unix.MemfdCreate("syncrules-worker", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("shared memory: %w", err)
	}
	memFile := os.NewFile(uintptr(fd), "syncrules-worker-shm")
	defer memFile.Close()
	if err := memFile.Truncate(int64(size)); err != nil {
		return nil, fmt.Errorf("shared memory: %w", err)
	}
	shm, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shared memory: %w", err)
	}
	w := &worker{shm: shm, req: -1, resp: -1, wake: -1, stderr: &lockedLog{logBuffer: logBuffer{limit: 4096}}, exited: make(chan struct{})}
	defer func() {
		if err != nil {
			w.destroy()
		}
	}()
	var reqP, respP [2]int
	if err := syscall.Pipe2(reqP[:], syscall.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	if err := syscall.Pipe2(respP[:], syscall.O_CLOEXEC); err != nil {
		syscall.Close(reqP[0])
		syscall.Close(reqP[1])
		return nil, fmt.Errorf("pipe: %w", err)
	}
	w.req, w.resp = reqP[1], respP[0]
	if w.wake, err = syscall.Dup(respP[1]); err != nil {
		w.wake = -1
		return nil, fmt.Errorf("pipe: %w", err)
	}
	syscall.CloseOnExec(w.wake)
	reqR, respW := os.NewFile(uintptr(reqP[0]), "req"), os.NewFile(uintptr(respP[1]), "resp")
	spec, _ := json.Marshal(workerSpec{
		Name: m.name, CacheDir: cfg.CacheDir, MaxMemoryBytes: cfg.MaxMemoryBytes,
		RecycleMemoryBytes: cfg.RecycleMemoryBytes, RecycleCalls: cfg.RecycleCalls,
		LogBytes: cfg.LogBytes, MaxOutputBytes: cfg.MaxOutputBytes, SharedBytes: size,
	})
	exe := cfg.Worker.Command
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(exe)
	// The worker needs nothing of the server's environment, and gets none
	// of its secrets.
	cmd.Env = []string{workerEnv + "=" + string(spec)}
	cmd.ExtraFiles = []*os.File{memFile, reqR, respW} // fds 3, 4, 5
	cmd.Stderr = w.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	reqR.Close()
	respW.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", exe, err)
	}
	w.cmd = cmd
	go func() {
		cmd.Wait()
		w.wakeUp()
		close(w.exited)
	}()

	if len(m.wasm) > cfg.Worker.MaxInputBytes {
		return nil, fmt.Errorf("module of %d bytes exceeds the worker's input limit", len(m.wasm))
	}
	w.used.Store(time.Now().UnixNano())
	copy(shm[sharedData:], m.wasm)
	put64(shm, hInLen, uint64(len(m.wasm)))
	put64(shm, hOp, opLoad)
	// Loading compiles, unless the cache has the module; allow for that.
	if err := w.roundTrip(ctx, time.Minute); err != nil {
		return nil, err
	}
	return w, w.status()
}

// roundTrip wakes the worker and waits for its answer, killing it at the
// deadline or when ctx ends.
func (w *worker) roundTrip(ctx context.Context, timeout time.Duration) error {
	w.seq++
	put64(w.shm, hSeq, w.seq)
	tok := [1]byte{1}
	if _, err := ioRetry(syscall.Write, w.req, tok[:]); err != nil {
		w.kill()
		return w.died()
	}
	return w.wait(ctx, timeout, hDone)
}

// wait waits until the worker has written the current call's number at
// field and a byte to resp, killing it at the deadline or when ctx ends.
func (w *worker) wait(ctx context.Context, timeout time.Duration, field int) error {
	deadline := time.AfterFunc(timeout, func() { w.stopFor(stopDeadline) })
	canceled := context.AfterFunc(ctx, func() { w.stopFor(stopCanceled) })
	var tok [1]byte
	ioRetry(syscall.Read, w.resp, tok[:])
	deadline.Stop()
	canceled()
	if get64(w.shm, field) == w.seq {
		return nil // answered, even if killed a moment later
	}
	w.kill()
	switch w.stop.Load() {
	case stopDeadline:
		return timeoutError(timeout)
	case stopCanceled:
		return context.Cause(ctx)
	}
	return w.died()
}

// stopFor kills the worker for a reason and ends the wait for it.
func (w *worker) stopFor(reason int32) {
	w.stop.CompareAndSwap(0, reason)
	w.kill()
	w.wakeUp()
}

// wakeUp ends a wait on resp, unless the worker is already destroyed.
func (w *worker) wakeUp() {
	w.wakeMu.Lock()
	defer w.wakeMu.Unlock()
	if !w.wakeShut && w.wake >= 0 {
		ioRetry(syscall.Write, w.wake, []byte{0})
	}
}

// ioRetry calls a read or write until it is not interrupted.
func ioRetry(op func(int, []byte) (int, error), fd int, b []byte) (int, error) {
	for {
		n, err := op(fd, b)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// died describes a worker that exited on its own: a crash of the worker,
// or the kernel killing it.
func (w *worker) died() error {
	select {
	case <-w.exited:
	case <-time.After(time.Second):
	}
	state := "still running"
	if w.cmd != nil && w.cmd.ProcessState != nil {
		state = w.cmd.ProcessState.String()
	}
	log := w.stderr.String()
	if w.stderr.outOfMemory() {
		return fmt.Errorf("%w: the worker process died (%s)%s", ErrMemory, state, log)
	}
	return fmt.Errorf("%w: the worker process died (%s)%s", ErrTrap, state, log)
}

// workerError is an error of a kind the worker reported; its message,
// made by the worker's engine, names the kind already.
type workerError struct {
	kind error
	msg  string
}

func (e *workerError) Error() string        { return e.msg }
func (e *workerError) Is(target error) bool { return target == e.kind }

// status turns the worker's reply into an error.
func (w *worker) status() error {
	code := get64(w.shm, hStatus)
	if code == statusOK {
		return nil
	}
	n := min(get64(w.shm, hErrLen), errBytes)
	msg := string(w.shm[len(w.shm)-errBytes:][:n])
	var kind error
	switch code {
	case statusTrap:
		kind = ErrTrap
	case statusMemory:
		kind = ErrMemory
	case statusContract:
		kind = abi.ErrContract
	case statusInvalid:
		kind = ErrInvalidModule
	default:
		return errors.New(msg)
	}
	if !strings.Contains(msg, kind.Error()) {
		msg = kind.Error() + ": " + msg
	}
	return &workerError{kind: kind, msg: msg}
}

// kill stops the worker process, which ends a wait for it; its pipes and
// shared memory stay until destroy, so a caller holding the worker may
// still read them.
func (w *worker) kill() {
	w.once.Do(func() {
		w.killed.Store(true)
		if w.cmd != nil && w.cmd.Process != nil {
			w.cmd.Process.Kill()
		}
	})
}

// destroy kills the worker and, once it is gone, frees its pipes and
// shared memory.
func (w *worker) destroy() {
	w.kill()
	go func() {
		if w.cmd != nil {
			<-w.exited
		}
		w.wakeMu.Lock()
		w.wakeShut = true
		w.wakeMu.Unlock()
		for _, fd := range []int{w.req, w.resp, w.wake} {
			if fd >= 0 {
				syscall.Close(fd)
			}
		}
		unix.Munmap(w.shm)
	}()
}

func (m *Module) callWorker(ctx context.Context, timeout time.Duration, input []byte, read func([]byte, *CallInfo) error) error {
	w, err := m.workers.acquire(ctx)
	if err != nil {
		return err
	}
	err = w.call(ctx, timeout, input, read)
	keep := !w.killed.Load() && (err == nil || get64(w.shm, hStatus) != statusOK)
	if keep && err != nil {
		// The worker discarded its instance and says when it has a new
		// one, so that making it is not charged to the next call's
		// deadline; initialisation is the guest's code, so it is bounded.
		if w.wait(ctx, m.eng.cfg.initTimeout(), hReady) != nil {
			keep = false
		}
	}
	w.used.Store(time.Now().UnixNano())
	if closed := m.workers.release(w, keep); closed && err != nil {
		return ErrClosed
	}
	return err
}

func (w *worker) call(ctx context.Context, timeout time.Duration, input []byte, read func([]byte, *CallInfo) error) error {
	copy(w.shm[sharedData:], input)
	put64(w.shm, hInLen, uint64(len(input)))
	put64(w.shm, hOp, opCall)
	put64(w.shm, hStatus, statusOK)
	if err := w.roundTrip(ctx, timeout); err != nil {
		return err
	}
	if err := w.status(); err != nil {
		return err
	}
	off, n := get64(w.shm, hOutOff), get64(w.shm, hOutLen)
	logN := get64(w.shm, hLogLen)
	if off+n+logN > uint64(len(w.shm)-errBytes) {
		return fmt.Errorf("%w: the worker's output is outside shared memory", abi.ErrContract)
	}
	info := CallInfo{Where: RunWorker, Log: w.shm[off+n : off+n+logN], LogDropped: int(get64(w.shm, hLogDropped)),
		MemoryBytes: get64(w.shm, hMemory), Timeout: timeout}
	return read(w.shm[off:off+n:off+n], &info)
}

// ServeWorker runs this process as a worker, or a compiling child, until
// its engine closes the pipe or kills it, and returns the exit code.
func ServeWorker() int {
	if os.Getenv(compileEnv) != "" {
		return serveCompile()
	}
	var spec workerSpec
	if err := json.Unmarshal([]byte(os.Getenv(workerEnv)), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "syncrules worker:", err)
		return 2
	}
	shm, err := unix.Mmap(3, 0, spec.SharedBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncrules worker: shared memory:", err)
		return 2
	}
	req, resp := os.NewFile(4, "req"), os.NewFile(5, "resp")
	ctx := context.Background()
	var tok [1]byte
	var mod *Module
	for {
		if _, err := io.ReadFull(req, tok[:]); err != nil {
			return 0 // the engine closed the pipe: it is done with us
		}
		in := shm[sharedData:][:get64(shm, hInLen)]
		switch get64(shm, hOp) {
		case opLoad:
			eng, err := New(ctx, Config{
				CacheDir: spec.CacheDir, MaxMemoryBytes: spec.MaxMemoryBytes, RecycleMemoryBytes: spec.RecycleMemoryBytes,
				RecycleCalls: spec.RecycleCalls, PoolSize: 1, LogBytes: spec.LogBytes, MaxOutputBytes: spec.MaxOutputBytes,
				inWorker: true,
			})
			if err == nil {
				mod, err = eng.Load(ctx, spec.Name, in)
			}
			reply(shm, err)
		case opCall:
			if mod == nil {
				reply(shm, errors.New("no module loaded"))
				break
			}
			err := mod.callInstance(ctx, RunTrusted, 0, in, func(out []byte, info *CallInfo) error {
				off := uint64((sharedData + len(in) + 7) &^ 7)
				if int(off)+len(out)+len(info.Log) > len(shm)-errBytes {
					return fmt.Errorf("%w: output of %d bytes does not fit the shared memory", abi.ErrContract, len(out))
				}
				copy(shm[off:], out)
				copy(shm[int(off)+len(out):], info.Log)
				put64(shm, hOutOff, off)
				put64(shm, hOutLen, uint64(len(out)))
				put64(shm, hLogLen, uint64(len(info.Log)))
				put64(shm, hLogDropped, uint64(info.LogDropped))
				put64(shm, hMemory, info.MemoryBytes)
				return nil
			})
			reply(shm, err)
		default:
			reply(shm, errors.New("unknown operation"))
		}
		put64(shm, hDone, get64(shm, hSeq))
		if _, err := resp.Write(tok[:]); err != nil {
			return 0
		}
		// A failed call discarded its instance: make the next one now,
		// and say so, rather than inside the next call and its deadline.
		if mod != nil && get64(shm, hOp) == opCall && get64(shm, hStatus) != statusOK {
			mod.warm(ctx)
			put64(shm, hReady, get64(shm, hSeq))
			if _, err := resp.Write(tok[:]); err != nil {
				return 0
			}
		}
	}
}

func reply(shm []byte, err error) {
	if err == nil {
		put64(shm, hStatus, statusOK)
		return
	}
	code := uint64(statusOther)
	switch KindOf(err) {
	case KindTrap:
		code = statusTrap
	case KindMemory:
		code = statusMemory
	case KindContract:
		code = statusContract
	}
	if errors.Is(err, ErrInvalidModule) {
		code = statusInvalid
	}
	msg := []byte(err.Error())
	// Keep the message's end, where the guest's own words are.
	if len(msg) > errBytes {
		msg = append([]byte("…"), msg[len(msg)-errBytes+len("…"):]...)
	}
	msg = bytes.ToValidUTF8(msg, nil)
	copy(shm[len(shm)-errBytes:], msg)
	put64(shm, hErrLen, uint64(len(msg)))
	put64(shm, hStatus, code)
}
