package engine

import "time"

// The limits a server puts on partners' plugins when its config's [sandbox]
// section leaves them out. They live here, where both the server's config
// and sdk/sdktest read them, so that a rule that passes sdktest.Check runs
// under exactly the limits the server will give it.

// DefaultMaxModuleBytes is the largest module a server accepts from a
// partner by default (sandbox.max_module_mib). The server's registry
// enforces it, not the engine.
const DefaultMaxModuleBytes = 16 << 20

// SandboxDefaults returns the Config a server runs partners' plugins with
// by default: sandboxed, each call stopped at 100 ms plus 10 µs per item,
// 64 MiB of memory, batches of 256 items or more in a worker process. Only
// CacheDir and Observer are left for the caller; zero fields, such as
// PoolSize, mean what they mean in any Config.
func SandboxDefaults() Config {
	return Config{
		MaxMemoryBytes: 64 << 20,
		// A plugin holds 3.4 MiB after a small batch, 16 after 100,000
		// items (RATIONALE.md).
		RecycleMemoryBytes: 16 << 20,
		RecycleCalls:       10_000,
		Lazy:               true, // no memory held for a plugin nobody calls
		IdleTimeout:        2 * time.Minute,
		LogBytes:           4096,
		MaxOutputBytes:     64 << 20,
		Sandboxed:          true,
		CallTimeout:        100 * time.Millisecond,
		ItemTimeout:        10 * time.Microsecond,
		InitTimeout:        5 * time.Second,
		// 12x the slowest compile of an example plugin (RATIONALE.md).
		CompileTimeout:     30 * time.Second,
		CompileMemoryBytes: 512 << 20,
		Worker:             WorkerConfig{MinItems: 256, IdleTimeout: 2 * time.Minute},
	}
}

// WorkersSupported reports whether this system runs worker processes
// (Linux only); elsewhere a Config must leave Worker.MinItems at zero.
func WorkersSupported() bool { return workersSupported }
