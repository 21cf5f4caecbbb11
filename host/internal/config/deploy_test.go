package config

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The files of docs/deploy.md, from this package's directory.
const (
	deployDoc     = "../../../docs/deploy.md"
	deployUnit    = "../../../docs/deploy/syncrules.service"
	deployEnv     = "../../../docs/deploy/syncrules.env"
	deployConfig  = "../../../docs/deploy/config.toml"
	deployBinary  = "/usr/local/bin/syncrules"
	deployDataDir = "/var/lib/syncrules"
)

func readDeploy(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDeployDocQuotesItsFiles holds docs/deploy.md to the files it tells
// the operator to install: each is quoted whole, as it is.
func TestDeployDocQuotesItsFiles(t *testing.T) {
	doc := readDeploy(t, deployDoc)
	for _, path := range []string{deployUnit, deployEnv, deployConfig} {
		if !strings.Contains(doc, "\n"+readDeploy(t, path)+"```\n") {
			t.Errorf("docs/deploy.md does not quote %s as it is: copy the file into its fenced block", filepath.Base(path))
		}
	}
}

// TestDeployUnitVerifies runs systemd-analyze verify on the unit, with its
// binary replaced by one that exists here.
func TestDeployUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit is not verified")
	}
	unit := readDeploy(t, deployUnit)
	if !strings.Contains(unit, "\nExecStart="+deployBinary+" ") {
		t.Fatalf("the unit's ExecStart does not start %s", deployBinary)
	}
	exe, err := os.Executable() // any executable file will do
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "syncrules.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, deployBinary, exe)), 0o644); err != nil {
		t.Fatal(err)
	}
	// systemd-analyze exits 0 after a warning such as an unknown key or a
	// bad value, which it ignores: any output is a failure.
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// unitDuration returns the duration a unit's key is set to.
func unitDuration(t *testing.T, unit, key string) time.Duration {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + key + `=(\S+)$`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatalf("the unit sets no %s", key)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("%s=%s: %v", key, m[1], err)
	}
	return d
}

// TestDeployConfig loads the deployment's config as the server would, and
// checks that the unit gives a stop the time the config asks for.
func TestDeployConfig(t *testing.T) {
	cfg, err := Parse("docs/deploy/config.toml", readDeploy(t, deployConfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckListen(cfg.Server.Listen, cfg.Server.BehindProxy); err != nil {
		t.Error(err)
	}
	unit := readDeploy(t, deployUnit)
	stop := unitDuration(t, unit, "TimeoutStopSec")
	if need := cfg.Server.DrainPeriod.Duration + cfg.Server.ShutdownTimeout.Duration; stop <= need {
		t.Errorf("TimeoutStopSec=%v: systemd would kill the server before its drain_period (%v) and shutdown_timeout (%v) end",
			stop, cfg.Server.DrainPeriod.Duration, cfg.Server.ShutdownTimeout.Duration)
	}
	for _, want := range []string{"--data-dir " + deployDataDir, "StateDirectory=" + filepath.Base(deployDataDir) + "\n", "KillMode=mixed\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
	for _, forbidden := range []string{"MemoryDenyWriteExecute=yes", "MemoryDenyWriteExecute=true", "~@resources"} {
		if strings.Contains(unit, forbidden) {
			t.Errorf("the unit sets %s, which stops wazero or the compiling process", forbidden)
		}
	}
}

// envLine is an assignment in an environment file, or a commented-out
// example of one.
var envLine = regexp.MustCompile(`^(?:#\s*)?([A-Z][A-Z0-9_]*)=(.*)$`)

// TestDeployEnvFileNamesKnownVariables holds every variable syncrules.env
// sets or shows to those the server reads, with a value it accepts: a
// misspelt name in an environment file is silently ignored.
func TestDeployEnvFileNamesKnownVariables(t *testing.T) {
	known := map[string]bool{}
	for _, v := range envVars() {
		known[v.Name] = true
		if v.Alias != "" {
			known[v.Alias] = true
		}
	}
	for _, name := range otherEnv {
		known[name] = true
	}
	set := map[string]string{}
	for line := range strings.Lines(readDeploy(t, deployEnv)) {
		m := envLine.FindStringSubmatch(strings.TrimRight(line, "\n"))
		if m == nil {
			continue
		}
		name, value := m[1], m[2]
		switch {
		case slices.Contains(internalEnv, name):
			t.Errorf("%s is set by the server for its own processes, not by an operator", name)
		case !known[name]:
			t.Errorf("%s is no variable of the server's", name)
		}
		set[name] = value
	}
	if len(set) < 3 {
		t.Fatalf("found %d variables in syncrules.env: %v", len(set), slices.Sorted(maps.Keys(set)))
	}
	cfg := Default()
	if _, err := applyEnv(&cfg, set); err != nil {
		t.Errorf("syncrules.env: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("syncrules.env: %v", err)
	}
}
