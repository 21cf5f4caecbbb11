// Package wasmbuild compiles Go rule packages into WebAssembly modules with
// the go command, as the Makefile does. Tests use it so that they always run
// the module built from the source they test, never a stale file.
package wasmbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Build compiles the Go package in dir (a directory or an import path
// resolved from dir) into a WASI reactor module at out.
func Build(ctx context.Context, dir, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for wasip1/wasm: %w\n%s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// ModuleRoot returns the directory of the go.mod enclosing the working
// directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

var (
	mu    sync.Mutex
	built = map[string][]byte{}
)

// ForTest builds the package at pkgPath (relative to the module root, like
// "./rules/defaultrule/module") once per test binary and returns the
// module's bytes. It fails the test if the build fails.
func ForTest(tb testing.TB, pkgPath string) []byte {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if b, ok := built[pkgPath]; ok {
		return b
	}
	root, err := ModuleRoot()
	if err != nil {
		tb.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "syncrules-wasm-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "module.wasm")
	if err := Build(context.Background(), root, pkgPath, out); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	built[pkgPath] = b
	return b
}
