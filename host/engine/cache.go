package engine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
)

// What the engine keeps in CacheDir beside wazero's compilation cache (the
// folder wazero-<version>-<arch>-<os>): the proofs that a child compiled a
// module within given bounds. Folders whose name starts with a dot are the
// engine's, never given to a compiling child (linkFiles).

// CompileInfo says how a module came to be compiled.
type CompileInfo struct {
	// Cached reports that the compilation cache in CacheDir held the
	// module's machine code, so it was read, not compiled. Always false
	// for an engine without a CacheDir.
	Cached bool
	// Child reports that a sandboxed engine compiled the module first in
	// a bounded child process. It does so once per module and bounds: a
	// later load, even after a restart on the same CacheDir, skips it.
	Child bool
}

// provenBounded holds, by boundedKey, the modules a child compiled within
// those bounds in this process, so that a reload or another engine does
// not start a child again; provenDir holds them across restarts.
var provenBounded sync.Map

// provenDir is the folder of CacheDir holding a file per boundedKey a
// child compiled.
const provenDir = ".bounded"

// boundedKey is a module, the bounds a child compiled it within and the
// runtime configuration it compiled it for: with deadline checks, as the
// sandboxed engine runs it, or without, as a worker does. The timeout is
// the one the child had, race factor included.
type boundedKey struct {
	sum               [32]byte
	timeout           time.Duration
	memory, maxMemory uint64
	deadlineChecks    bool
}

func (k boundedKey) String() string {
	s := fmt.Sprintf("%x-%d-%d-%d", k.sum, k.timeout.Nanoseconds(), k.memory, k.maxMemory)
	if !k.deadlineChecks {
		s += "-worker"
	}
	return s
}

func (e *Engine) boundedKey(sum [32]byte, deadlineChecks bool) boundedKey {
	return boundedKey{sum, e.cfg.CompileTimeout * raceFactor, e.cfg.CompileMemoryBytes, e.cfg.MaxMemoryBytes, deadlineChecks}
}

// proven reports whether a child compiled the module within key's bounds,
// in this process or, as a file in CacheDir says, in an earlier one. A
// file missing, unreadable or torn is no proof: the module is compiled in
// a child again.
func (e *Engine) proven(key boundedKey) bool {
	if _, ok := provenBounded.Load(key); ok {
		return true
	}
	if e.cfg.CacheDir == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(e.cfg.CacheDir, provenDir, key.String()))
	if err != nil || string(b) != key.String() {
		return false
	}
	provenBounded.Store(key, true)
	return true
}

// prove records that a child compiled the module within key's bounds. A
// proof that cannot be written costs a child at the next start, nothing
// more, so its error is dropped.
func (e *Engine) prove(key boundedKey) {
	provenBounded.Store(key, true)
	if e.cfg.CacheDir != "" {
		_ = writeFileAtomic(filepath.Join(e.cfg.CacheDir, provenDir), key.String(), []byte(key.String()))
	}
}

// writeFileAtomic writes dir/name whole or not at all: a reader sees the
// old file, the new one, or none.
func writeFileAtomic(dir, name string, content []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, name+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// wazero does not say whether CompileModule found a module in its file
// cache. It names the module's entry, in the folder
// wazero-<version>-<arch>-<os>, by the hex of sha256(id, "WAZEVO", the CPU
// features it uses as 8 bytes), where id is sha256(the module's bytes,
// whether the runtime ensures termination). cacheLayout is the folder and
// the CPU features, learnt once per process by compiling an empty module
// into a fresh cache and finding its entry; if wazero ever names entries
// otherwise, no layout is found and CompileInfo.Cached stays false, which
// TestCompileInfo reports.
type cacheLayout struct {
	folder string
	cpu    [8]byte
}

var (
	layoutOnce sync.Once
	layout     *cacheLayout // nil: unknown
)

// emptyModule is the smallest valid module.
var emptyModule = []byte("\x00asm\x01\x00\x00\x00")

// learnCacheLayout learns the layout, the first time, in a folder of
// parent (or of the system's temporary folder) that it removes.
func learnCacheLayout(parent string) *cacheLayout {
	layoutOnce.Do(func() { layout = probeCacheLayout(parent) })
	return layout
}

func probeCacheLayout(parent string) *cacheLayout {
	dir, err := os.MkdirTemp(parent, ".compile-probe-")
	if err != nil { // a cache folder others fill, read-only to us
		if dir, err = os.MkdirTemp("", "syncrules-probe-"); err != nil {
			return nil
		}
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil
	}
	defer cache.Close(ctx)
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
	defer rt.Close(ctx)
	if _, err := rt.CompileModule(ctx, emptyModule); err != nil {
		return nil
	}
	folders, err := os.ReadDir(dir)
	if err != nil || len(folders) != 1 || !folders[0].IsDir() {
		return nil
	}
	entries, err := os.ReadDir(filepath.Join(dir, folders[0].Name()))
	if err != nil || len(entries) != 1 {
		return nil
	}
	// wazero's CPU features are a few bits.
	for cpu := range uint64(256) {
		l := &cacheLayout{folder: folders[0].Name()}
		binary.LittleEndian.PutUint64(l.cpu[:], cpu)
		if l.entry(emptyModule, false) == entries[0].Name() {
			return l
		}
	}
	return nil
}

// entry returns the name of the module's entry in the layout's folder.
func (l *cacheLayout) entry(wasm []byte, ensureTermination bool) string {
	h := sha256.New()
	h.Write(wasm)
	if ensureTermination {
		h.Write([]byte{1})
	} else {
		h.Write([]byte{0})
	}
	id := h.Sum(nil)
	h.Reset()
	h.Write(id)
	h.Write([]byte("WAZEVO"))
	h.Write(l.cpu[:])
	return hex.EncodeToString(h.Sum(nil))
}

// inCache reports whether the compilation cache in CacheDir holds wasm's
// machine code for this engine (the sandboxed engine's and the trusted
// one's differ: only the former ensures termination).
func (e *Engine) inCache(wasm []byte) bool {
	return !e.cfg.inWorker && e.cacheHolds(wasm, e.cfg.Sandboxed)
}

// cacheHolds reports whether the compilation cache in CacheDir holds
// wasm's machine code for a runtime with or without deadline checks.
func (e *Engine) cacheHolds(wasm []byte, deadlineChecks bool) bool {
	if e.cfg.CacheDir == "" {
		return false
	}
	l := learnCacheLayout(e.cfg.CacheDir)
	if l == nil {
		return false
	}
	fi, err := os.Stat(filepath.Join(e.cfg.CacheDir, l.folder, l.entry(wasm, deadlineChecks)))
	return err == nil && fi.Mode().IsRegular()
}
