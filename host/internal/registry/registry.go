// Package registry keeps the plugin modules partners upload: it validates
// them at upload, keeps them in the store (the database every replica
// shares), loads them into the sandboxed engine when a request first needs
// them, and lends them to the chains of compute requests.
//
// Versions are immutable. An upload is written in one transaction, so a
// crash never leaves half a module; the engine's compilation cache is only a
// cache. Plugins that config.toml lists are this replica's own files,
// loaded at start-up and never stored.
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
	"runtime"
	"runtime/debug"
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
	// ErrQuota is an upload past its partner's quota of versions or bytes.
	ErrQuota = errors.New("plugin quota exceeded")
	// ErrOwned is an upload to a name another partner owns.
	ErrOwned = errors.New("plugin name owned by another partner")
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

// Info describes a plugin version.
type Info struct {
	Name        string        `json:"name"`
	Version     string        `json:"version"`
	SHA256      string        `json:"sha256"`
	Size        int           `json:"size"`
	ABIVersion  uint32        `json:"abi_version"`
	CompileTime time.Duration `json:"-"` // of the first compilation, at upload
	Created     time.Time     `json:"created"`
	// Source is "upload", or "config" for a plugin config.toml lists.
	Source string `json:"source"`
	// Owner is the partner that owns the name; "" for the operator's.
	Owner string `json:"owner,omitempty"`
}

// Sources of a version.
const (
	SourceUpload = "upload"
	SourceConfig = "config"
)

// Upload is a version to store, validated.
type Upload struct {
	Info
	Module []byte
	// Partner, if not empty, claims the name for that partner in the same
	// transaction as the write, unless another partner owns it
	// (ErrOwned), and holds the upload to Quota (ErrQuota).
	Partner string
	Quota   Quota
}

// Quota bounds what one partner stores. Zero fields are no bound.
type Quota struct {
	Versions int
	Bytes    int64
}

// Store keeps uploaded versions where every replica finds them; package
// store implements it.
type Store interface {
	// PutPlugin stores a version. The same bytes again are no change
	// (created false); other bytes for the version are ErrConflict.
	PutPlugin(ctx context.Context, u Upload) (created bool, err error)
	// DeletePlugin deletes a version that no shop's settings reference
	// (an *InUseError otherwise), or returns ErrNotFound. It is ordered
	// with settings writes that name the version: exactly one wins.
	DeletePlugin(ctx context.Context, name, version string) error
	// Plugin returns a version with its module's bytes, or ErrNotFound.
	Plugin(ctx context.Context, name, version string) (Info, []byte, error)
	// Plugins returns every stored version, without bytes.
	Plugins(ctx context.Context) ([]Info, error)
}

// InUseError is ErrInUse with what references the version.
type InUseError struct {
	Name, Version string
	Shops         []string // ids of the shops whose settings reference it
	Config        bool     // config.toml lists it
}

func (e *InUseError) Error() string {
	var users []string
	for _, s := range e.Shops {
		users = append(users, "shop "+s)
	}
	if e.Config {
		users = append(users, "config.toml")
	}
	return fmt.Sprintf("%s %s is referenced by %s; remove those references first", e.Name, e.Version, strings.Join(users, ", "))
}

func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// QuotaError is ErrQuota: what the partner has, and the bound it hit.
func QuotaError(partner string, versions int, bytes int64, q Quota, size int) error {
	if q.Versions > 0 && versions+1 > q.Versions {
		kept := fmt.Sprintf("%d plugin versions", versions)
		if versions == 1 {
			kept = "1 plugin version"
		}
		return errorf(ErrQuota, "partner %s has %s, the most it may keep; delete versions it no longer needs", partner, kept)
	}
	return errorf(ErrQuota, "partner %s keeps %d bytes of plugin modules; %d more exceed its quota of %d bytes; delete versions it no longer needs", partner, bytes, size, q.Bytes)
}

// OwnedError is ErrOwned for name.
func OwnedError(name string) error {
	return errorf(ErrOwned, "plugin %q belongs to another partner; choose another name", name)
}

type entry struct {
	info Info
	// mod is nil while a config-listed version is not loaded; a stored
	// version not loaded has no entry.
	mod     *engine.Module
	path    string    // of a config-listed version, read again to load it
	refs    int       // requests using it
	used    time.Time // when the last request let go of it
	deleted bool      // close once refs reach 0
}

// loading is a version being loaded from the store, which later requests
// for it wait on.
type loading struct {
	done chan struct{}
	e    *entry
	err  error
}

// Options configure a Registry.
type Options struct {
	// Store keeps uploaded versions; nil keeps none, for a command that
	// runs config-listed plugins only.
	Store Store
	// LegacyDir is where versions were kept before the store did: a
	// version found there at Open is moved into the store.
	LegacyDir string
	// MaxModuleBytes bounds a module; zero means 16 MiB.
	MaxModuleBytes int
	// RefreshInterval is how often versions deleted through another
	// replica, and versions idle for IdleTimeout, are dropped here. Zero
	// means 5 s.
	RefreshInterval time.Duration
	// IdleTimeout unloads a version no request used for this long: a
	// plugin nobody calls holds no compiled code, instance or process.
	// Loading it again takes its compilation-cache hit (≈ 30 ms). Zero
	// means two minutes.
	IdleTimeout time.Duration
	// Forget is called with a deleted version's module name, so metrics
	// can drop its series.
	Forget func(module string)
	Logger *slog.Logger
}

// Registry is the set of installed plugins. It is safe for concurrent use.
type Registry struct {
	eng     *engine.Engine
	opt     Options
	mu      sync.Mutex
	vers    map[string]map[string]*entry // name -> version -> loaded entry
	loading map[string]*loading          // ModuleName -> load in flight
	closed  bool
	stop    chan struct{}
	// life ends at Close, which stops the loads in flight.
	life    context.Context
	endLife context.CancelFunc
	stopped sync.WaitGroup      // the refresh loop and the loads in flight
	onWait  func(module string) // tests: a request waits for a load in flight
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

// Open returns the registry of the versions opt.Store keeps, loading none
// of them yet: LoadAll loads them, and a request loads what it needs. eng
// should be sandboxed.
func Open(ctx context.Context, eng *engine.Engine, opt Options) (*Registry, error) {
	if opt.Store == nil {
		opt.Store = noStore{}
	}
	if opt.MaxModuleBytes <= 0 {
		opt.MaxModuleBytes = 16 << 20
	}
	if opt.RefreshInterval <= 0 {
		opt.RefreshInterval = 5 * time.Second
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 2 * time.Minute
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Forget == nil {
		opt.Forget = func(string) {}
	}
	r := &Registry{eng: eng, opt: opt, vers: map[string]map[string]*entry{}, loading: map[string]*loading{}, stop: make(chan struct{})}
	r.life, r.endLife = context.WithCancel(context.Background())
	if err := r.importLegacy(ctx); err != nil {
		return nil, err
	}
	r.stopped.Add(1)
	go r.refreshLoop()
	return r, nil
}

// importLegacy moves versions kept as <dir>/<name>/<version>.wasm, as
// earlier releases did, into the store, and removes the files once stored.
func (r *Registry) importLegacy(ctx context.Context) error {
	dir := r.opt.LegacyDir
	if dir == "" {
		return nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.wasm"))
	if err != nil || len(files) == 0 {
		return err
	}
	for _, f := range files {
		name, version := filepath.Base(filepath.Dir(f)), strings.TrimSuffix(filepath.Base(f), ".wasm")
		if err := r.importFile(ctx, name, version, f); err != nil {
			r.opt.Logger.Error("stored plugin not moved into the store", "plugin", name, "version", version, "path", f, "err", err)
			continue
		}
		os.Remove(strings.TrimSuffix(f, ".wasm") + ".json")
		os.Remove(f)
		os.Remove(filepath.Dir(f)) // only if empty
		r.opt.Logger.Info("stored plugin moved into the store", "plugin", name, "version", version)
	}
	os.Remove(dir) // only if empty
	return nil
}

func (r *Registry) importFile(ctx context.Context, name, version, path string) error {
	if err := CheckName(name, version); err != nil {
		return err
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var meta struct {
		Created time.Time `json:"created"`
	}
	if b, err := os.ReadFile(strings.TrimSuffix(path, ".wasm") + ".json"); err == nil {
		_ = json.Unmarshal(b, &meta)
	}
	e, err := r.compile(ctx, name, version, wasm, SourceUpload)
	if err != nil {
		return err
	}
	if !meta.Created.IsZero() {
		e.info.Created = meta.Created
	}
	_, err = r.opt.Store.PutPlugin(ctx, Upload{Info: e.info, Module: wasm})
	if err != nil && !errors.Is(err, ErrConflict) {
		e.mod.Close(ctx)
		return err
	}
	r.add(e)
	return nil
}

// compile validates and loads a module in the engine.
func (r *Registry) compile(ctx context.Context, name, version string, wasm []byte, source string) (*entry, error) {
	if len(wasm) > r.opt.MaxModuleBytes {
		return nil, TooLarge(int64(len(wasm)), int64(r.opt.MaxModuleBytes))
	}
	start := time.Now()
	mod, err := r.eng.Load(ctx, ModuleName(name, version), wasm)
	if err != nil {
		return nil, err
	}
	return &entry{mod: mod, used: time.Now(), info: Info{
		Name: name, Version: version, SHA256: mod.SHA256(), Size: len(wasm), ABIVersion: mod.ABIVersion(),
		CompileTime: time.Since(start), Created: time.Now().UTC().Truncate(time.Microsecond), Source: source,
	}}, nil
}

// add makes e the loaded entry of its version, unless one is loaded
// already, which it returns instead (closing e), or the registry is closed
// (closing e too).
func (r *Registry) add(e *entry) *entry {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		e.mod.Close(context.Background())
		return e
	}
	vs := r.vers[e.info.Name]
	if vs == nil {
		vs = map[string]*entry{}
		r.vers[e.info.Name] = vs
	}
	if have := vs[e.info.Version]; have != nil && have.info.SHA256 == e.info.SHA256 {
		r.mu.Unlock()
		e.mod.Close(context.Background())
		return have
	}
	vs[e.info.Version] = e
	r.mu.Unlock()
	return e
}

func (r *Registry) lookup(name, version string) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.vers[name][version]
}

// Claim is who an upload is for: a partner, held to its quota, or the
// operator (the zero Claim).
type Claim struct {
	Partner string
	Quota   Quota
}

// Put installs a version from its module's bytes, after checking the
// module as the engine runs it, and stores it for every replica. It
// reports whether the version is new: the same bytes again are accepted
// and change nothing; other bytes for an existing version are ErrConflict.
// Compilation holds no lock: other uploads go on meanwhile.
func (r *Registry) Put(ctx context.Context, name, version string, wasm []byte, claim Claim) (Info, bool, error) {
	if err := CheckName(name, version); err != nil {
		return Info{}, false, err
	}
	if len(wasm) > r.opt.MaxModuleBytes {
		return Info{}, false, TooLarge(int64(len(wasm)), int64(r.opt.MaxModuleBytes))
	}
	if e := r.lookup(name, version); e != nil {
		if e.info.SHA256 == sha256Hex(wasm) {
			return e.info, false, nil
		}
		return e.info, false, conflict(e.info)
	}
	e, err := r.compile(ctx, name, version, wasm, SourceUpload)
	if err != nil {
		return Info{}, false, err
	}
	e.info.Owner = claim.Partner
	created, err := r.opt.Store.PutPlugin(ctx, Upload{Info: e.info, Module: wasm, Partner: claim.Partner, Quota: claim.Quota})
	if errors.Is(err, ErrConflict) {
		e.mod.Close(ctx)
		stored, _, serr := r.opt.Store.Plugin(ctx, name, version)
		if serr != nil {
			return Info{}, false, errors.Join(err, serr)
		}
		return stored, false, conflict(stored)
	}
	if err != nil {
		e.mod.Close(ctx)
		return Info{}, false, err
	}
	if !created {
		// The same bytes, stored by a concurrent upload or another replica.
		e.mod.Close(ctx)
		stored, _, err := r.opt.Store.Plugin(ctx, name, version)
		return stored, false, err
	}
	r.add(e)
	r.opt.Logger.Info("plugin installed", "plugin", name, "version", version, "sha256", e.info.SHA256,
		"size", e.info.Size, "compile", e.info.CompileTime, "owner", claim.Partner)
	return e.info, true, nil
}

func conflict(have Info) error {
	return errorf(ErrConflict, "%s %s is installed with sha256 %s; versions are immutable, so upload these bytes as a new version",
		have.Name, have.Version, have.SHA256)
}

// Register installs a version from a file that config.toml lists. It is
// not stored and cannot be deleted through the API; the file is read again
// at every start.
func (r *Registry) Register(ctx context.Context, name, version, path string) (Info, error) {
	if err := CheckName(name, version); err != nil {
		return Info{}, err
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return Info{}, err
	}
	if len(wasm) > r.opt.MaxModuleBytes {
		return Info{}, TooLarge(int64(len(wasm)), int64(r.opt.MaxModuleBytes))
	}
	if _, _, err := r.opt.Store.Plugin(ctx, name, version); err == nil {
		return Info{}, errorf(ErrConflict, "%s %s was uploaded already; give the file another version", name, version)
	} else if !errors.Is(err, ErrNotFound) {
		return Info{}, err
	}
	// Compiled when a request needs it, or by CheckConfigured: a start
	// does not wait for plugins, and a command compiles only what it runs.
	e := &entry{path: path, info: Info{Name: name, Version: version, SHA256: sha256Hex(wasm), Size: len(wasm),
		Created: time.Now().UTC().Truncate(time.Microsecond), Source: SourceConfig}}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.vers[name][version] != nil {
		return Info{}, errorf(ErrConflict, "%s %s is already installed", name, version)
	}
	if r.vers[name] == nil {
		r.vers[name] = map[string]*entry{}
	}
	r.vers[name][version] = e
	return e.info, nil
}

// check loads a config-listed version and unloads it again unless a
// request holds it: it is then checked, compiled into the cache, and its
// ABI version known. It says how the version's module was compiled.
func (r *Registry) check(ctx context.Context, e *entry) (engine.CompileInfo, error) {
	got, err := r.acquire(ctx, e.info.Name, e.info.Version)
	if err != nil {
		return engine.CompileInfo{}, err
	}
	info := got.mod.CompileInfo()
	r.release(got)
	r.unloadIdle(got)
	return info, nil
}

// CheckConfigured loads every config-listed version not loaded yet, a few
// at a time, and unloads it again unless a request holds it: that checks
// it, puts it in the compilation cache and learns its ABI version. It logs
// each version and returns the failures joined.
func (r *Registry) CheckConfigured(ctx context.Context) error {
	var todo []*entry
	r.mu.Lock()
	for _, vs := range r.vers {
		for _, e := range vs {
			if e.path != "" && e.mod == nil {
				todo = append(todo, e)
			}
		}
	}
	r.mu.Unlock()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	)
	for _, e := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			start := time.Now()
			info, err := r.check(ctx, e)
			if err != nil {
				r.opt.Logger.Error("plugin does not load", "plugin", e.info.Name, "version", e.info.Version, "path", e.path, "err", err)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			r.opt.Logger.Info("plugin compiled", "plugin", e.info.Name, "version", e.info.Version,
				"took", time.Since(start).Round(time.Millisecond), "cached", info.Cached, "child", info.Child)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// configured returns the config-listed versions, each checked: the
// first list after start loads those CheckConfigured has not reached yet,
// so that their ABI version is known.
func (r *Registry) configured(ctx context.Context) ([]Info, error) {
	var out []Info
	r.mu.Lock()
	var unchecked []*entry
	for _, vs := range r.vers {
		for _, e := range vs {
			if e.info.Source == SourceConfig && e.info.ABIVersion == 0 {
				unchecked = append(unchecked, e)
			}
		}
	}
	r.mu.Unlock()
	for _, e := range unchecked {
		// Listed even if it fails: its error is what a request naming it
		// gets.
		_, _ = r.check(ctx, e)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, vs := range r.vers {
		for _, e := range vs {
			if e.info.Source == SourceConfig {
				out = append(out, e.info)
			}
		}
	}
	return out, ctx.Err()
}

// List returns every version, stored and config-listed, by name and then
// by semantic version.
func (r *Registry) List(ctx context.Context) ([]Info, error) {
	stored, err := r.opt.Store.Plugins(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing plugins: %w", err)
	}
	conf, err := r.configured(ctx)
	if err != nil {
		return nil, err
	}
	out := append(stored, conf...)
	sortInfos(out)
	return out, nil
}

// Versions returns a plugin's versions in order, or ErrNotFound.
func (r *Registry) Versions(ctx context.Context, name string) ([]Info, error) {
	all, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, in := range all {
		if in.Name == name {
			out = append(out, in)
		}
	}
	if len(out) == 0 {
		return nil, &notFoundError{msg: fmt.Sprintf("no plugin named %q is installed", name)}
	}
	return out, nil
}

// Get returns one version.
func (r *Registry) Get(ctx context.Context, name, version string) (Info, error) {
	r.mu.Lock()
	e := r.vers[name][version]
	var info Info
	if e != nil {
		info = e.info
	}
	r.mu.Unlock()
	if e != nil && info.Source == SourceConfig {
		if info.ABIVersion == 0 {
			if _, err := r.check(ctx, e); err == nil {
				r.mu.Lock()
				info = e.info
				r.mu.Unlock()
			}
		}
		return info, nil
	}
	info, _, err := r.opt.Store.Plugin(ctx, name, version)
	if errors.Is(err, ErrNotFound) {
		return Info{}, r.notFound(ctx, name, version)
	}
	return info, err
}

func sortInfos(s []Info) {
	slices.SortFunc(s, func(a, b Info) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), semver.Compare("v"+a.Version, "v"+b.Version))
	})
}

// Delete removes a version. Requests using it finish with it; new ones
// cannot find it. A version something references is ErrInUse (an
// *InUseError).
func (r *Registry) Delete(ctx context.Context, name, version string) error {
	if e := r.lookup(name, version); e != nil && e.info.Source == SourceConfig {
		return &InUseError{Name: name, Version: version, Config: true}
	}
	if err := r.opt.Store.DeletePlugin(ctx, name, version); errors.Is(err, ErrNotFound) {
		return r.notFound(ctx, name, version)
	} else if err != nil {
		return err
	}
	r.unload(name, version)
	r.opt.Logger.Info("plugin deleted", "plugin", name, "version", version)
	return nil
}

// unload drops a loaded version; its module closes when the last request
// using it is done.
func (r *Registry) unload(name, version string) {
	r.mu.Lock()
	e := r.vers[name][version]
	if e == nil {
		r.mu.Unlock()
		return
	}
	delete(r.vers[name], version)
	if len(r.vers[name]) == 0 {
		delete(r.vers, name)
	}
	e.deleted = true
	closeNow := e.refs == 0
	r.mu.Unlock()
	if closeNow {
		e.mod.Close(context.Background())
		r.opt.Forget(ModuleName(name, version))
	}
}

// Acquire lends a version's module to a request until it calls release,
// loading it from the store if this replica has not yet.
func (r *Registry) Acquire(ctx context.Context, name, version string) (compute.Plugin, func(), error) {
	e, err := r.acquire(ctx, name, version)
	if err != nil {
		return nil, nil, err
	}
	var once sync.Once
	return e.mod, func() { once.Do(func() { r.release(e) }) }, nil
}

func (r *Registry) acquire(ctx context.Context, name, version string) (*entry, error) {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, fmt.Errorf("%w: the plugin registry is closed", engine.ErrClosed)
		}
		if e := r.vers[name][version]; e != nil && e.mod != nil {
			e.refs++
			r.mu.Unlock()
			return e, nil
		}
		// One load per version, whoever asks: the first request starts
		// it, the others wait for it, each within its own context.
		key := ModuleName(name, version)
		l := r.loading[key]
		joined := l != nil
		if !joined && ctx.Err() != nil {
			r.mu.Unlock()
			return nil, fmt.Errorf("loading plugin %s: %w", key, context.Cause(ctx))
		}
		if !joined {
			l = &loading{done: make(chan struct{})}
			r.loading[key] = l
			r.stopped.Add(1)
			go r.loadFor(context.WithoutCancel(ctx), l, key, name, version)
		}
		r.mu.Unlock()
		if joined && r.onWait != nil {
			r.onWait(key)
		}
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for plugin %s to load: %w", key, context.Cause(ctx))
		}
		if l.err != nil {
			return nil, l.err
		}
	}
}

// loadFor loads a version for the requests waiting on l. It runs on its
// own, so that the request that started it may give up without failing
// the others; Close stops it.
func (r *Registry) loadFor(ctx context.Context, l *loading, key, name, version string) {
	defer r.stopped.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(r.life, cancel)()
	l.e, l.err = r.load(ctx, name, version)
	r.mu.Lock()
	delete(r.loading, key)
	close(l.done)
	r.mu.Unlock()
}

// load loads a stored or config-listed version into the engine.
func (r *Registry) load(ctx context.Context, name, version string) (*entry, error) {
	if e := r.lookup(name, version); e != nil && e.path != "" {
		return r.loadConfigured(ctx, e)
	}
	if err := CheckName(name, version); err != nil {
		return nil, r.notFound(ctx, name, version)
	}
	info, wasm, err := r.opt.Store.Plugin(ctx, name, version)
	if errors.Is(err, ErrNotFound) {
		return nil, r.notFound(ctx, name, version)
	}
	if err != nil {
		return nil, fmt.Errorf("reading plugin %s from the store: %w", ModuleName(name, version), err)
	}
	start := time.Now()
	mod, err := r.eng.Load(ctx, ModuleName(name, version), wasm)
	if err != nil {
		return nil, fmt.Errorf("loading stored plugin %s: %w", ModuleName(name, version), err)
	}
	if mod.SHA256() != info.SHA256 {
		mod.Close(ctx)
		return nil, fmt.Errorf("stored plugin %s: its bytes do not match the sha256 recorded at upload, %s", ModuleName(name, version), info.SHA256)
	}
	r.opt.Logger.Info("plugin loaded", "plugin", name, "version", version, "took", time.Since(start).Round(time.Millisecond),
		"cached", mod.CompileInfo().Cached, "child", mod.CompileInfo().Child)
	return r.add(&entry{mod: mod, info: info}), nil
}

// loadConfigured loads a config-listed version from its file again, which
// must still hold the bytes checked at start.
func (r *Registry) loadConfigured(ctx context.Context, e *entry) (*entry, error) {
	key := ModuleName(e.info.Name, e.info.Version)
	wasm, err := os.ReadFile(e.path)
	if err != nil {
		return nil, fmt.Errorf("loading plugin %s: %w", key, err)
	}
	if sum := sha256Hex(wasm); sum != e.info.SHA256 {
		return nil, fmt.Errorf("loading plugin %s: %s changed since start (sha256 %s, was %s); give the new module a new version and restart", key, e.path, sum, e.info.SHA256)
	}
	start := time.Now()
	mod, err := r.eng.Load(ctx, key, wasm)
	if err != nil {
		return nil, fmt.Errorf("loading plugin %s: %w", key, err)
	}
	r.mu.Lock()
	if e.mod != nil || r.closed {
		r.mu.Unlock()
		mod.Close(ctx)
		return e, nil
	}
	e.mod, e.used = mod, time.Now()
	if e.info.ABIVersion == 0 {
		e.info.ABIVersion, e.info.CompileTime = mod.ABIVersion(), time.Since(start)
	}
	r.mu.Unlock()
	r.opt.Logger.Debug("plugin loaded", "plugin", e.info.Name, "version", e.info.Version, "took", time.Since(start).Round(time.Millisecond),
		"cached", mod.CompileInfo().Cached, "child", mod.CompileInfo().Child)
	return e, nil
}

// CompileStored compiles every stored version that is not loaded, which
// checks it still compiles on this host and puts it in the compilation
// cache, so that the first request that needs it loads it in
// milliseconds. It keeps none loaded. A version that no longer compiles
// is logged, never deleted.
func (r *Registry) CompileStored(ctx context.Context) error {
	stored, err := r.opt.Store.Plugins(ctx)
	if err != nil {
		return fmt.Errorf("listing stored plugins: %w", err)
	}
	done := map[string]bool{} // by sha256: versions may share bytes
	for _, in := range stored {
		if done[in.SHA256] || r.lookup(in.Name, in.Version) != nil {
			continue
		}
		done[in.SHA256] = true
		start := time.Now()
		info, err := r.compileStored(ctx, in)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			r.opt.Logger.Error("stored plugin does not compile", "plugin", in.Name, "version", in.Version, "err", err)
			continue
		}
		r.opt.Logger.Debug("stored plugin compiled", "plugin", in.Name, "version", in.Version, "took", time.Since(start).Round(time.Millisecond),
			"cached", info.Cached, "child", info.Child)
	}
	return nil
}

func (r *Registry) compileStored(ctx context.Context, in Info) (engine.CompileInfo, error) {
	_, wasm, err := r.opt.Store.Plugin(ctx, in.Name, in.Version)
	if err != nil {
		return engine.CompileInfo{}, err
	}
	if sum := sha256Hex(wasm); sum != in.SHA256 {
		return engine.CompileInfo{}, fmt.Errorf("its bytes do not match the sha256 recorded at upload, %s", in.SHA256)
	}
	return r.eng.Compile(ctx, ModuleName(in.Name, in.Version), wasm)
}

// DropIdle unloads the versions no request has used since before, and
// reports how many it unloaded.
func (r *Registry) DropIdle(before time.Time) int {
	var idle []*entry
	r.mu.Lock()
	for _, vs := range r.vers {
		for _, e := range vs {
			if e.mod != nil && e.refs == 0 && e.used.Before(before) {
				idle = append(idle, e)
			}
		}
	}
	r.mu.Unlock()
	n := 0
	for _, e := range idle {
		if r.unloadIdle(e) {
			n++
		}
	}
	return n
}

// unloadIdle unloads e if no request holds it: a stored version loses
// its entry (the store still has it), a config-listed one its module.
func (r *Registry) unloadIdle(e *entry) bool {
	r.mu.Lock()
	mod := e.mod
	if mod == nil || e.refs > 0 || e.deleted || r.vers[e.info.Name][e.info.Version] != e {
		r.mu.Unlock()
		return false
	}
	if e.path == "" {
		delete(r.vers[e.info.Name], e.info.Version)
		if len(r.vers[e.info.Name]) == 0 {
			delete(r.vers, e.info.Name)
		}
	}
	e.mod = nil
	r.mu.Unlock()
	mod.Close(context.Background())
	return true
}

func (r *Registry) release(e *entry) {
	r.mu.Lock()
	e.used = time.Now()
	e.refs--
	closeNow := e.deleted && e.refs == 0
	r.mu.Unlock()
	if closeNow {
		e.mod.Close(context.Background())
		r.opt.Forget(ModuleName(e.info.Name, e.info.Version))
	}
}

// refreshLoop drops, every RefreshInterval, the loaded versions another
// replica deleted.
func (r *Registry) refreshLoop() {
	defer r.stopped.Done()
	t := time.NewTicker(r.opt.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-t.C:
			if err := r.Refresh(context.Background()); err != nil {
				r.opt.Logger.Warn("cannot refresh the plugins from the store", "err", err)
			}
			if n := r.DropIdle(now.Add(-r.opt.IdleTimeout)); n > 0 {
				r.opt.Logger.Debug("idle plugins unloaded", "versions", n)
				// Their instances were heap: give it back now, not over
				// the minutes the scavenger takes.
				debug.FreeOSMemory()
			}
		}
	}
}

// Refresh drops the loaded versions that are no longer stored.
func (r *Registry) Refresh(ctx context.Context) error {
	stored, err := r.opt.Store.Plugins(ctx)
	if err != nil {
		return err
	}
	keep := make(map[string]string, len(stored))
	for _, in := range stored {
		keep[ModuleName(in.Name, in.Version)] = in.SHA256
	}
	var gone [][2]string
	r.mu.Lock()
	for name, vs := range r.vers {
		for version, e := range vs {
			if e.info.Source == SourceUpload && keep[ModuleName(name, version)] != e.info.SHA256 {
				gone = append(gone, [2]string{name, version})
			}
		}
	}
	r.mu.Unlock()
	for _, g := range gone {
		r.unload(g[0], g[1])
		r.opt.Logger.Info("plugin deleted through another replica", "plugin", g[0], "version", g[1])
	}
	return nil
}

// notFound says what is installed instead.
func (r *Registry) notFound(ctx context.Context, name, version string) error {
	infos, err := r.Versions(ctx, name)
	if err != nil || len(infos) == 0 {
		return &notFoundError{msg: fmt.Sprintf("no plugin named %q is installed", name)}
	}
	have := make([]string, len(infos))
	for i, in := range infos {
		have[i] = in.Version
	}
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
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	close(r.stop)
	r.endLife()
	for _, vs := range r.vers {
		for _, e := range vs {
			if e.mod != nil {
				e.mod.Close(ctx)
			}
		}
	}
	clear(r.vers)
	r.mu.Unlock()
	r.stopped.Wait()
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Configured reports whether config.toml lists the version.
func (r *Registry) Configured(name, version string) bool {
	e := r.lookup(name, version)
	return e != nil && e.info.Source == SourceConfig
}

// noStore is the Store of a registry that keeps no uploads.
type noStore struct{}

func (noStore) PutPlugin(context.Context, Upload) (bool, error) {
	return false, errors.New("this command keeps no uploaded plugins: upload to a server")
}

func (noStore) DeletePlugin(_ context.Context, name, version string) error {
	return fmt.Errorf("plugin %s %s: %w", name, version, ErrNotFound)
}

func (noStore) Plugin(_ context.Context, name, version string) (Info, []byte, error) {
	return Info{}, nil, fmt.Errorf("plugin %s %s: %w", name, version, ErrNotFound)
}

func (noStore) Plugins(context.Context) ([]Info, error) { return nil, nil }
