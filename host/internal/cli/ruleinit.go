package cli

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

// modulePath is this project's module path, which a plugin project
// requires for the SDK.
const modulePath = "github.com/syncrules/syncrules"

// sourceDir is the folder the binary was built from, set by the Makefile
// with -ldflags -X; rule init points a new project's SDK there.
var sourceDir = ""

//go:embed ruleinit/*.tmpl
var ruleInitFiles embed.FS

// ruleInitOutputs maps each template to the file it becomes.
var ruleInitOutputs = map[string]string{
	"rule.go.tmpl":      "rule.go",
	"rule_test.go.tmpl": "rule_test.go",
	"README.md.tmpl":    "README.md",
	"request.json.tmpl": "request.json",
	"gitignore.tmpl":    ".gitignore",
}

func ruleInit(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "rule init", "[--module PATH] [--sdk DIR] DIR",
		"Create a rule plugin project in DIR (a new or empty folder): a go.mod that uses the\n"+
			"syncrules SDK this binary was built from, a rule, its test with sdktest.Check, a\n"+
			"request to try it on, and a README. Then, in DIR: go test, syncrules rule build,\n"+
			"syncrules rule run.")
	modPath := fs.String("module", "", "module `path` of the new project (default example.com/ + DIR's name)")
	sdkDir := fs.String("sdk", "", "the syncrules source `folder` for the SDK (default: the one this binary was built from)")
	pos, err := parseArgs(e, fs, args, 1)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fmt.Fprintln(e.stderr, "syncrules rule init: which folder? Give one, e.g. syncrules rule init myrule")
		return errUsage
	}
	dir, err := filepath.Abs(pos[0])
	if err != nil {
		return err
	}
	name := strings.Trim(notName.ReplaceAllString(strings.ToLower(filepath.Base(dir)), "-"), "-")
	if name == "" {
		name = "rule"
	}
	if *modPath == "" {
		*modPath = "example.com/" + name
	}
	if err := module.CheckPath(*modPath); err != nil {
		return fmt.Errorf("--module: %w", err)
	}
	src, err := findSource(*sdkDir)
	if err != nil {
		return err
	}
	if err := emptyOrNew(dir); err != nil {
		return err
	}
	goMod, err := pluginGoMod(*modPath, src)
	if err != nil {
		return err
	}
	files := map[string][]byte{"go.mod": goMod}
	// The SDK's own checksums: go mod tidy below then needs no network for
	// modules this machine already has.
	if sum, err := os.ReadFile(filepath.Join(src, "go.sum")); err == nil {
		files["go.sum"] = sum
	}
	for tmpl, out := range ruleInitOutputs {
		t, err := template.ParseFS(ruleInitFiles, "ruleinit/"+tmpl)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, struct{ Name string }{name}); err != nil {
			return err
		}
		files[out] = b.Bytes()
	}
	for file, b := range files {
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			return err
		}
	}
	tidy := exec.CommandContext(ctx, "go", "mod", "tidy")
	tidy.Dir = dir
	tidy.Env = append(os.Environ(), "GOWORK=off")
	if out, err := tidy.CombinedOutput(); err != nil {
		return fmt.Errorf("created %s, but \"go mod tidy\" failed there (it fetches the SDK's dependencies): %v\n%s", dir, err, out)
	}
	self := "syncrules"
	if exe := os.Args[0]; strings.Contains(exe, "/") {
		if abs, err := filepath.Abs(exe); err == nil {
			self = shellQuote(abs)
		}
	}
	fmt.Fprintf(e.stdout, "created %s (module %s, SDK from %s)\n\nNext:\n  cd %s\n  go test ./...\n  %s rule build -o %s.wasm .\n  %s rule run --module %s.wasm --input request.json --params '{\"units\": 2}'\n",
		dir, *modPath, src, shellQuote(pos[0]), self, name, self, name)
	return nil
}

// findSource returns the syncrules source folder for the SDK: dir if
// given, else the folder this binary was built from.
func findSource(dir string) (string, error) {
	from := "--sdk"
	if dir == "" {
		from = "the folder this binary was built from"
		dir = sourceDir
	}
	if dir == "" {
		// A build without the Makefile's -ldflags still knows its source
		// files' paths, unless it was built with -trimpath.
		if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
			dir = filepath.Join(filepath.Dir(file), "..", "..", "..")
		}
	}
	if dir == "" {
		return "", errors.New("this binary does not know which syncrules source it was built from: pass --sdk with a syncrules checkout")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("no syncrules source at %s (%s): %w; pass --sdk with a syncrules checkout", dir, from, errors.Unwrap(err))
	}
	if modfile.ModulePath(b) != modulePath {
		return "", fmt.Errorf("%s is not a syncrules checkout (its go.mod is not module %s); pass --sdk with one", dir, modulePath)
	}
	return dir, nil
}

// emptyOrNew creates dir, or accepts it if it is empty: rule init never
// overwrites a project.
func emptyOrNew(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty: give a new or empty folder", dir)
	}
	return nil
}

// pluginGoMod is a plugin project's go.mod: it requires syncrules and
// replaces it with the source at src, at the Go version src needs.
func pluginGoMod(path, src string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		return nil, err
	}
	sdk, err := modfile.ParseLax("go.mod", b, nil)
	if err != nil {
		return nil, err
	}
	f := &modfile.File{}
	if err := f.AddModuleStmt(path); err != nil {
		return nil, err
	}
	if sdk.Go != nil {
		if err := f.AddGoStmt(sdk.Go.Version); err != nil {
			return nil, err
		}
	}
	if err := f.AddRequire(modulePath, "v0.0.0"); err != nil {
		return nil, err
	}
	if err := f.AddReplace(modulePath, "", src, ""); err != nil {
		return nil, err
	}
	return f.Format()
}
