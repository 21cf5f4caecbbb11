package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/internal/cli"
	"github.com/syncrules/syncrules/host/wasmbuild"
)

// TestRuleInitOutsideTheModule follows a partner in an empty folder
// outside this module: rule init, go test, rule build, rule run, with no
// edits. The compilation cache goes to the user's cache folder, never
// into the folder the commands run in.
func TestRuleInitOutsideTheModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin project with the go command")
	}
	bin := buildBinary(t)
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	work, userCache := t.TempDir(), t.TempDir()
	// The test binary has no built-in default rule: the environment names
	// one, as an operator's would; the project itself is not edited.
	defaultRule := filepath.Join(t.TempDir(), "default.wasm")
	if err := os.WriteFile(defaultRule, wasmbuild.ForTest(t, "./rules/defaultrule/module"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=", "XDG_CACHE_HOME="+userCache,
		"GOCACHE="+strings.TrimSpace(string(gocache)), // the user cache moved, Go's build cache need not
		"SYNCRULES_RULES_DEFAULT_MODULE="+defaultRule)
	run := func(dir string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out)
		}
		return string(out)
	}

	out := run(work, bin, "rule", "init", "holdback")
	project := filepath.Join(work, "holdback")
	for _, want := range []string{"created " + project, "go test ./...", "rule build -o holdback.wasm ."} {
		if !strings.Contains(out, want) {
			t.Errorf("rule init printed no %q:\n%s", want, out)
		}
	}
	run(project, "go", "test", "./...")
	run(project, bin, "rule", "build", "-o", "holdback.wasm", ".")
	cmd := exec.Command(bin, "rule", "run", "--module", "holdback.wasm", "--input", "request.json", "--params", `{"units": 2}`)
	cmd.Dir, cmd.Env = project, env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("rule run: %v\n%s%s", err, stdout, stderr.String())
	}
	var resp struct {
		Items []struct {
			ID         string
			Quantities map[string]int64
		}
	}
	if err := json.Unmarshal(stdout, &resp); err != nil {
		t.Fatalf("rule run printed %s: %v", stdout, err)
	}
	// 985 at A, 80% is 788, held back 2: 786. 1 + 1 at A and B, 80% is 1,
	// held back 2: 0. No mapping feeds beta.
	want := map[string]map[string]int64{"v-1": {"alpha": 786, "beta": 0}, "v-2": {"alpha": 0, "beta": 0}}
	for _, it := range resp.Items {
		for w, q := range want[it.ID] {
			if it.Quantities[w] != q {
				t.Errorf("%s at %s = %d, want %d", it.ID, w, it.Quantities[w], q)
			}
		}
	}
	if len(resp.Items) != 2 {
		t.Errorf("rule run answered %d items, want 2: %s", len(resp.Items), stdout)
	}

	if _, err := os.Stat(filepath.Join(project, "data")); err == nil {
		t.Error("rule run made a data folder in the project")
	}
	if entries, err := os.ReadDir(filepath.Join(userCache, "syncrules")); err != nil || len(entries) == 0 {
		t.Errorf("nothing was cached in the user's cache folder: %v", err)
	}

	// A folder that is not empty is never overwritten.
	if out, err := exec.Command(bin, "rule", "init", project).CombinedOutput(); err == nil || !strings.Contains(string(out), "is not empty") {
		t.Errorf("rule init over a project = %v %s", err, out)
	}
}

// TestComputeCachesOutsideTheWorkingFolder: compute with no config file
// keeps compiled modules in the user's cache folder, and on a terminal
// says what it is compiling.
func TestComputeCachesOutsideTheWorkingFolder(t *testing.T) {
	work, userCache := t.TempDir(), t.TempDir()
	defaultRule := filepath.Join(t.TempDir(), "default.wasm")
	if err := os.WriteFile(defaultRule, wasmbuild.ForTest(t, "./rules/defaultrule/module"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	t.Setenv("XDG_CACHE_HOME", userCache)
	t.Setenv("SYNCRULES_RULES_DEFAULT_MODULE", defaultRule)
	defer cli.ForceNotices(0)()

	r := run(t, seedRequest, "compute")
	if r.code != 0 || !strings.Contains(r.stdout, `"beta":80`) {
		t.Fatalf("compute = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cache := filepath.Join(userCache, "syncrules")
	if want := "syncrules: compiling the default rule (once: later runs load it from " + cache + ")…"; !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "syncrules: done in ") {
		t.Errorf("compute said %q, want %q and how long it took", r.stderr, want)
	}
	if entries, err := os.ReadDir(cache); err != nil || len(entries) == 0 {
		t.Errorf("nothing cached in %s: %v", cache, err)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("compute wrote into the folder it ran in: %v", entries)
	}
}
