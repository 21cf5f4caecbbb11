package config

import (
	"reflect"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
)

// TestSandboxDefaultsAreTheEngines: the server's default [sandbox] is the
// engine's SandboxDefaults, which sdktest.Check runs partners' rules
// under; if they drifted, a rule passing its tests could fail on the
// server.
func TestSandboxDefaultsAreTheEngines(t *testing.T) {
	sb := Default().Sandbox
	if got, want := sb.EngineConfig(), engine.SandboxDefaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("Default().Sandbox.EngineConfig() = %+v\nengine.SandboxDefaults() = %+v", got, want)
	}
	if got := sb.MaxModuleMiB << 20; got != engine.DefaultMaxModuleBytes {
		t.Errorf("sandbox.max_module_mib = %d bytes, engine.DefaultMaxModuleBytes = %d", got, engine.DefaultMaxModuleBytes)
	}
}

// TestSandboxEngineConfig: every [sandbox] key that bounds a plugin reaches
// the engine.
func TestSandboxEngineConfig(t *testing.T) {
	cfg, err := Parse("test.toml", `[sandbox]
max_memory_mib = 32
recycle_memory_mib = 8
recycle_calls = 7
pool_size = 3
idle_timeout = "1m"
log_bytes = 100
max_output_mib = 2
call_timeout = "250ms"
item_timeout = "5us"
init_timeout = "2s"
compile_timeout = "9s"
compile_memory_mib = 128
worker_min_items = 1000
worker_max_processes = 5
`)
	if err != nil {
		t.Fatal(err)
	}
	want := engine.Config{
		MaxMemoryBytes: 32 << 20, RecycleMemoryBytes: 8 << 20, RecycleCalls: 7, PoolSize: 3,
		Lazy: true, IdleTimeout: time.Minute, LogBytes: 100, MaxOutputBytes: 2 << 20, Sandboxed: true,
		CallTimeout: 250 * time.Millisecond, ItemTimeout: 5 * time.Microsecond, InitTimeout: 2 * time.Second,
		CompileTimeout: 9 * time.Second, CompileMemoryBytes: 128 << 20,
		Worker: engine.WorkerConfig{MinItems: 1000, MaxProcesses: 5, IdleTimeout: time.Minute},
	}
	if got := cfg.Sandbox.EngineConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("EngineConfig() = %+v\nwant %+v", got, want)
	}
}
