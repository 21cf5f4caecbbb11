package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/wasmbuild"
)

// Sandboxed engines start this test binary as their worker process.
func TestMain(m *testing.M) {
	if engine.IsWorker() {
		os.Exit(engine.ServeWorker())
	}
	os.Exit(m.Run())
}

func TestRuleRun(t *testing.T) {
	cfg := testConfig(t)
	module := filepath.Join(t.TempDir(), "buffer.wasm")
	if err := os.WriteFile(module, wasmbuild.ForTest(t, "./plugins/buffer"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The seed: beta gets 80; the buffer holds 3 back.
	r := run(t, seedRequest, "rule", "run", "--config", cfg, "--module", module, "--params", `{"units": 3}`)
	if r.code != 0 || !strings.Contains(r.stdout, `"quantities":{"alpha":0,"beta":77}`) {
		t.Fatalf("rule run = %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{module + ": 2 calls (0 failed)", "slowest call", "(limit 100", "memory", "of 64 MiB", "log           0 of 4096 bytes"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the report lacks %q:\n%s", want, r.stderr)
		}
	}

	r = run(t, seedRequest, "rule", "run", "--config", cfg, "--module", module, "--params", `{"unit": 3}`)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, `"field":"/settings/rules/0/params"`) || !strings.Contains(r.stderr, `unknown field \"unit\"`) {
		t.Errorf("refused params: %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	r = run(t, seedRequest, "rule", "run", "--config", cfg, "--module", filepath.Join(t.TempDir(), "none.wasm"))
	if r.code != 1 || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("missing module: %d %s", r.code, r.stderr)
	}
	r = run(t, seedRequest, "rule", "run", "--config", cfg)
	if r.code != 2 || !strings.Contains(r.stderr, "--module is required") {
		t.Errorf("no module: %d %s", r.code, r.stderr)
	}
	r = run(t, seedRequest, "rule", "frobnicate")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown subcommand: %d %s", r.code, r.stderr)
	}
}

func TestRuleBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "cap.wasm")
	r := run(t, "", "rule", "build", "-o", out, filepath.Join(root, "plugins", "cap"))
	if r.code != 0 || !strings.Contains(r.stdout, out+": ") || !strings.Contains(r.stdout, "ABI 1") {
		t.Fatalf("rule build = %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	r = run(t, "", "rule", "build", "-o", filepath.Join(t.TempDir(), "x.wasm"), filepath.Join(root, "host", "engine", "testdata", "badabi"))
	if r.code != 1 || !strings.Contains(r.stderr, "the host refuses it") || !strings.Contains(r.stderr, "ABI version") {
		t.Errorf("a module the host refuses: %d\n%s", r.code, r.stderr)
	}
}
