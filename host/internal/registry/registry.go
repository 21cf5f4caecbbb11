// Package registry keeps the plugin modules partners upload: it validates
// them at upload, stores them under the data folder, loads them into the
// sandboxed engine at start-up, and lends them to the chains of compute
// requests.
//
// Versions are immutable. A version is stored as <dir>/<name>/<version>.wasm
// with its metadata beside it in <version>.json; writes go through a
// temporary file and a rename, so a crash never leaves half a module.
package registry

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/semver"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/compute"
)

// Errors a caller tests with errors.Is.
var (
	ErrInvalidName = errors.New("invalid plugin name or version")
	ErrTooLarge    = errors.New("plugin module too large")
	ErrConflict    = errors.New("plugin version exists with other bytes")
	ErrNotFound    = errors.New("plugin not found")
	ErrInUse       = errors.New("plugin version in use")
)

// kindError is an error of one of the kinds above whose message does not
// repeat the kind; Field names the path parameter at fault, if any.
type kindError struct {
	kind  error
	Field string
	msg   string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// TooLarge is the ErrTooLarge of a module of size bytes over limit; a
// negative size means unknown.
func TooLarge(size, limit int64) error {
	if size < 0 {
		return errorf(ErrTooLarge, "the module exceeds the limit of %d bytes", limit)
	}
	return errorf(ErrTooLarge, "%d bytes exceed the limit of %d", size, limit)
}

// FieldOf returns the path parameter ("name" or "version") an
// ErrInvalidName is about.
func FieldOf(err error) string {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.Field
	}
	return ""
}

// Info describes a stored plugin version.
type Info struct {
	Name        string        `json:"name"`
	Version     string        `json:"version"`
	SHA256      string        `json:"sha256"`
	Size        int           `json:"size"`
	ABIVersion  uint32        `json:"abi_version"`
	CompileTime time.Duration `json:"-"`
	Created     time.Time     `json:"created"`
	// Source is "upload", or "config" for a plugin config.toml lists.
	Source string `json:"source"`
}

// stored is the metadata file of a version.
type stored struct {
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

type entry struct {
	info    Info
	mod     *engine.Module
	refs    int  // requests using it
	deleted bool // close once refs reach 0
}

// Options configure a Registry.
type Options struct {
	// Dir stores uploaded plugins.
	Dir string
	// MaxModuleBytes bounds a module; zero means 16 MiB.
	MaxModuleBytes int
	// InUse lists what references a plugin version, which Delete refuses
	// while it does: stored shop settings, once there are some.
	InUse func(name, version string) []string
	// Forget is called with a deleted version's module name, so metrics
	// can drop its series.
	Forget func(module string)
	Logger *slog.Logger
}

// Registry is the set of installed plugins. It is safe for concurrent use.
type Registry struct {
	eng    *engine.Engine
	opt    Options
	put    sync.Mutex // one upload at a time: compiling is the cost anyway
	mu     sync.Mutex
	vers   map[string]map[string]*entry // name -> version -> entry
	closed bool
}

// ModuleName is how a version's module is named in logs and metrics.
func ModuleName(name, version string) string { return name + "@" + version }

var nameRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// CheckName checks a plugin name and version and says what is wrong.
func CheckName(name, version string) error {
	if len(name) > 64 || !nameRE.MatchString(name) {
		return &kindError{kind: ErrInvalidName, Field: "name",
			msg: fmt.Sprintf("name %q must be 1 to 64 lower-case letters, digits and inner hyphens, such as \"safety-stock\"", name)}
	}
	v := "v" + version
	if len(version) > 64 || !semver.IsValid(v) || semver.Canonical(v) != v || strings.HasPrefix(version, "v") {
		return &kindError{kind: ErrInvalidName, Field: "version",
			msg: fmt.Sprintf("version %q must be a semantic version of at most 64 characters, such as \"1.0.0\" or \"1.2.0-beta.1\" (no leading v, no build metadata)", version)}
	}
	return nil
}

// Open loads every plugin stored in opt.Dir into eng, which should be
// sandboxed. A stored plugin that no longer loads is logged and skipped,
// never deleted.
func Open(ctx context.Context, eng *engine.Engine, opt Options) (*Registry, error) {
	if opt.MaxModuleBytes <= 0 {
		opt.MaxModuleBytes = 16 << 20
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.InUse == nil {
		opt.InUse = func(string, string) []string { return nil }
	}
	if opt.Forget == nil {
		opt.Forget = func(string) {}
	}
	r := &Registry{eng: eng, opt: opt, vers: map[string]map[string]*entry{}}
	if err := os.MkdirAll(opt.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	names, err := os.ReadDir(opt.Dir)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	for _, d := range names {
		if !d.IsDir() {
			continue
		}
		files, err := filepath.Glob(filepath.Join(opt.Dir, d.Name(), "*.wasm"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			version := strings.TrimSuffix(filepath.Base(f), ".wasm")
			if err := r.loadStored(ctx, d.Name(), version, f); err != nil {
				opt.Logger.Error("stored plugin not loaded", "plugin", d.Name(), "version", version, "path", f, "err", err)
			}
		}
	}
	return r, nil
}

func (r *Registry) loadStored(ctx context.Context, name, version, path string) error {
	if err := CheckName(name, version); err != nil {
		return err
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var meta stored
	if b, err := os.ReadFile(strings.TrimSuffix(path, ".wasm") + ".json"); err == nil {
		if err := json.Unmarshal(b, &meta); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
	}
	e, err := r.load(ctx, name, version, wasm, "upload")
	if err != nil {
		return err
	}
	if meta.SHA256 != "" && meta.SHA256 != e.info.SHA256 {
		e.mod.Close(ctx)
		return fmt.Errorf("its bytes do not match the sha256 recorded at upload, %s", meta.SHA256)
	}
	e.info.Created = meta.Created
	r.add(e)
	return nil
}

func (r *Registry) load(ctx context.Context, name, version string, wasm []byte, source string) (*entry, error) {
	if len(wasm) > r.opt.MaxModuleBytes {
		return nil, TooLarge(int64(len(wasm)), int64(r.opt.MaxModuleBytes))
	}
	start := time.Now()
	mod, err := r.eng.Load(ctx, ModuleName(name, version), wasm)
	if err != nil {
		return nil, err
	}
	return &entry{mod: mod, info: Info{
		Name: name, Version: version, SHA256: mod.SHA256(), Size: len(wasm), ABIVersion: mod.ABIVersion(),
		CompileTime: time.Since(start), Created: time.Now().UTC(), Source: source,
	}}, nil
}

func (r *Registry) add(e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	vs := r.vers[e.info.Name]
	if vs == nil {
		vs = map[string]*entry{}
		r.vers[e.info.Name] = vs
	}
	vs[e.info.Version] = e
}

func (r *Registry) lookup(name, version string) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.vers[name][version]
}

// Put installs a version from its module's bytes, after checking the
// module as the engine runs it. It reports whether the version is new: the
// same bytes again are accepted and change nothing; other bytes for an
// existing version are ErrConflict.
func (r *Registry) Put(ctx context.Context, name, version string, wasm []byte) (Info, bool, error) {
	if err := CheckName(name, version); err != nil {
		return Info{}, false, err
	}
	if len(wasm) > r.opt.MaxModuleBytes {
		return Info{}, false, TooLarge(int64(len(wasm)), int64(r.opt.MaxModuleBytes))
	}
	r.put.Lock()
	defer r.put.Unlock()
	if e := r.lookup(name, version); e != nil {
		if e.info.SHA256 == sha256Hex(wasm) {
			return e.info, false, nil
		}
		return e.info, false, errorf(ErrConflict, "%s %s is installed with sha256 %s; versions are immutable, so upload these bytes as a new version",
			name, version, e.info.SHA256)
	}
	e, err := r.load(ctx, name, version, wasm, "upload")
	if err != nil {
		return Info{}, false, err
	}
	if err := r.store(e, wasm); err != nil {
		e.mod.Close(ctx)
		return Info{}, false, err
	}
	r.add(e)
	r.opt.Logger.Info("plugin installed", "plugin", name, "version", version, "sha256", e.info.SHA256,
		"size", e.info.Size, "compile", e.info.CompileTime)
	return e.info, true, nil
}

func (r *Registry) store(e *entry, wasm []byte) error {
	dir := filepath.Join(r.opt.Dir, e.info.Name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	meta, _ := json.Marshal(stored{SHA256: e.info.SHA256, Created: e.info.Created})
	base := filepath.Join(dir, e.info.Version)
	// Metadata first: a module without it still loads, and is checked
	// against nothing; metadata without a module is ignored.
	err := writeFile(base+".json", meta)
	if err == nil {
		err = writeFile(base+".wasm", wasm)
	}
	if err != nil {
		os.Remove(base + ".json")
		os.Remove(dir) // only if empty
	}
	return err
}

func writeFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Register installs a version from a file that config.toml lists. It is
// not copied into the data folder and cannot be deleted through the API;
// the file is read again at every start.
func (r *Registry) Register(ctx context.Context, name, version, path string) (Info, error) {
	if err := CheckName(name, version); err != nil {
		return Info{}, err
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return Info{}, err
	}
	r.put.Lock()
	defer r.put.Unlock()
	if e := r.lookup(name, version); e != nil {
		return Info{}, errorf(ErrConflict, "%s %s is already installed", name, version)
	}
	e, err := r.load(ctx, name, version, wasm, "config")
	if err != nil {
		return Info{}, err
	}
	r.add(e)
	return e.info, nil
}

// List returns every version, by name and then by semantic version.
func (r *Registry) List() []Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Info
	for _, vs := range r.vers {
		for _, e := range vs {
			out = append(out, e.info)
		}
	}
	sortInfos(out)
	return out
}

// Versions returns a plugin's versions in order, or ErrNotFound.
func (r *Registry) Versions(name string) ([]Info, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	vs := r.vers[name]
	if len(vs) == 0 {
		return nil, &notFoundError{msg: fmt.Sprintf("no plugin named %q is installed", name)}
	}
	out := make([]Info, 0, len(vs))
	for _, e := range vs {
		out = append(out, e.info)
	}
	sortInfos(out)
	return out, nil
}

// Get returns one version.
func (r *Registry) Get(name, version string) (Info, error) {
	if e := r.lookup(name, version); e != nil {
		return e.info, nil
	}
	return Info{}, r.notFound(name, version)
}

func sortInfos(s []Info) {
	slices.SortFunc(s, func(a, b Info) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), semver.Compare("v"+a.Version, "v"+b.Version))
	})
}

// Delete removes a version. Requests using it finish with it; new ones
// cannot find it. A version something references is ErrInUse.
func (r *Registry) Delete(ctx context.Context, name, version string) error {
	r.put.Lock()
	defer r.put.Unlock()
	e := r.lookup(name, version)
	if e == nil {
		return r.notFound(name, version)
	}
	users := r.opt.InUse(name, version)
	if e.info.Source == "config" {
		users = append(users, "config.toml")
	}
	if len(users) > 0 {
		return errorf(ErrInUse, "%s %s is referenced by %s; remove those references first", name, version, strings.Join(users, ", "))
	}
	base := filepath.Join(r.opt.Dir, name, version)
	if err := os.Remove(base + ".wasm"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	os.Remove(base + ".json")
	os.Remove(filepath.Join(r.opt.Dir, name)) // only if empty
	r.mu.Lock()
	delete(r.vers[name], version)
	if len(r.vers[name]) == 0 {
		delete(r.vers, name)
	}
	e.deleted = true
	closeNow := e.refs == 0
	r.mu.Unlock()
	if closeNow {
		e.mod.Close(ctx)
		r.opt.Forget(ModuleName(name, version))
	}
	r.opt.Logger.Info("plugin deleted", "plugin", name, "version", version, "sha256", e.info.SHA256)
	return nil
}

// Acquire lends a version's module to a request until it calls release.
func (r *Registry) Acquire(name, version string) (compute.Plugin, func(), error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: the plugin registry is closed", engine.ErrClosed)
	}
	e := r.vers[name][version]
	if e == nil {
		r.mu.Unlock()
		return nil, nil, r.notFound(name, version)
	}
	e.refs++
	r.mu.Unlock()
	var once sync.Once
	return e.mod, func() { once.Do(func() { r.release(e) }) }, nil
}

func (r *Registry) release(e *entry) {
	r.mu.Lock()
	e.refs--
	closeNow := e.deleted && e.refs == 0
	r.mu.Unlock()
	if closeNow {
		e.mod.Close(context.Background())
		r.opt.Forget(ModuleName(e.info.Name, e.info.Version))
	}
}

// notFound says what is installed instead.
func (r *Registry) notFound(name, version string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	vs := r.vers[name]
	if len(vs) == 0 {
		return &notFoundError{msg: fmt.Sprintf("no plugin named %q is installed", name)}
	}
	have := make([]string, 0, len(vs))
	for v := range vs {
		have = append(have, v)
	}
	slices.SortFunc(have, func(a, b string) int { return semver.Compare("v"+a, "v"+b) })
	return &notFoundError{version: true, msg: fmt.Sprintf("%s has no version %q; installed versions: %s", name, version, strings.Join(have, ", "))}
}

// notFoundError is ErrNotFound, and compute's unknown plugin or version.
type notFoundError struct {
	msg     string
	version bool // the plugin exists, the version does not
}

func (e *notFoundError) Error() string { return e.msg }

func (e *notFoundError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return true
	case compute.ErrUnknownPlugin:
		return !e.version
	case compute.ErrUnknownVersion:
		return e.version
	}
	return false
}

// Close closes every module.
func (r *Registry) Close(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, vs := range r.vers {
		for _, e := range vs {
			e.mod.Close(ctx)
		}
	}
	clear(r.vers)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
