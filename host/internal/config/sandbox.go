package config

import "github.com/syncrules/syncrules/host/engine"

// EngineConfig returns the engine configuration the server runs partners'
// plugins with; the caller adds the cache directory and the observer.
func (s Sandbox) EngineConfig() engine.Config {
	return engine.Config{
		MaxMemoryBytes:     uint64(s.MaxMemoryMiB) << 20,
		RecycleMemoryBytes: uint64(s.RecycleMemoryMiB) << 20,
		RecycleCalls:       s.RecycleCalls,
		PoolSize:           s.PoolSize,
		Lazy:               true, // no memory held for a plugin nobody calls
		IdleTimeout:        s.IdleTimeout.Duration,
		LogBytes:           s.LogBytes,
		MaxOutputBytes:     s.MaxOutputMiB << 20,
		Sandboxed:          true,
		CallTimeout:        s.CallTimeout.Duration,
		ItemTimeout:        s.ItemTimeout.Duration,
		InitTimeout:        s.InitTimeout.Duration,
		CompileTimeout:     s.CompileTimeout.Duration,
		CompileMemoryBytes: uint64(s.CompileMemoryMiB) << 20,
		Worker: engine.WorkerConfig{
			MinItems:     s.WorkerMinItems,
			MaxProcesses: s.WorkerMaxProcesses,
			IdleTimeout:  s.IdleTimeout.Duration,
		},
	}
}

// withEngineDefaults returns s with the limits on each plugin set to the
// engine's defaults, engine.SandboxDefaults, the single place they are
// written: sdktest.Check runs a partner's rule under them too.
func withEngineDefaults(s Sandbox) Sandbox {
	d := engine.SandboxDefaults()
	s.MaxModuleMiB = engine.DefaultMaxModuleBytes >> 20
	s.MaxMemoryMiB = int(d.MaxMemoryBytes >> 20)
	s.RecycleMemoryMiB = int(d.RecycleMemoryBytes >> 20)
	s.RecycleCalls = d.RecycleCalls
	s.PoolSize = d.PoolSize
	s.IdleTimeout = Duration{d.IdleTimeout}
	s.LogBytes = d.LogBytes
	s.MaxOutputMiB = d.MaxOutputBytes >> 20
	s.CallTimeout = Duration{d.CallTimeout}
	s.ItemTimeout = Duration{d.ItemTimeout}
	s.InitTimeout = Duration{d.InitTimeout}
	s.CompileTimeout = Duration{d.CompileTimeout}
	s.CompileMemoryMiB = int(d.CompileMemoryBytes >> 20)
	s.WorkerMinItems = d.Worker.MinItems
	s.WorkerMaxProcesses = d.Worker.MaxProcesses
	return s
}
