package registry_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/shop"
	"github.com/syncrules/syncrules/host/internal/store"
	"github.com/syncrules/syncrules/host/internal/store/storetest"
	"github.com/syncrules/syncrules/host/wasmbuild"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

var cacheDir string

func TestMain(m *testing.M) {
	// Sandboxed engines start this test binary to compile uploads.
	if engine.IsWorker() {
		os.Exit(engine.ServeWorker())
	}
	dir, err := os.MkdirTemp("", "syncrules-registry-cache-")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// open opens a registry on db, a new SQLite store if nil.
func open(t *testing.T, db *store.Store, opt registry.Options) *registry.Registry {
	t.Helper()
	ctx := context.Background()
	eng, err := engine.New(ctx, engine.Config{CacheDir: cacheDir, Sandboxed: true})
	if err != nil {
		t.Fatal(err)
	}
	if db == nil {
		db = storetest.SQLite(t, t.TempDir())
	}
	opt.Store = db
	r, err := registry.Open(ctx, eng, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close(ctx)
		eng.Close(ctx)
	})
	return r
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestCheckName(t *testing.T) {
	for _, tt := range []struct {
		name, version, field string
	}{
		{"buffer", "1.0.0", ""},
		{"safety-stock2", "1.2.0-beta.1", ""},
		{"Buffer", "1.0.0", "name"},
		{"-buffer", "1.0.0", "name"},
		{"buffer-", "1.0.0", "name"},
		{"buf--fer", "1.0.0", "name"},
		{"buf_fer", "1.0.0", "name"},
		{"", "1.0.0", "name"},
		{strings.Repeat("a", 65), "1.0.0", "name"},
		{"buffer", "1.0", "version"},
		{"buffer", "v1.0.0", "version"},
		{"buffer", "1.0.0+build.5", "version"},
		{"buffer", "01.0.0", "version"},
		{"buffer", "", "version"},
		{"buffer", "../1.0.0", "version"},
		{"buffer", "1.0.0-" + strings.Repeat("a", 59), "version"},
		{"buffer", "1.0.0-" + strings.Repeat("a", 58), ""},
	} {
		err := registry.CheckName(tt.name, tt.version)
		if got := registry.FieldOf(err); got != tt.field || (tt.field != "") != errors.Is(err, registry.ErrInvalidName) {
			t.Errorf("CheckName(%q, %q) = %v (field %q), want field %q", tt.name, tt.version, err, got, tt.field)
		}
	}
}

func TestPutGetDeletePersist(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t, t.TempDir())
	buffer := wasmbuild.ForTest(t, "./plugins/buffer")
	capWasm := wasmbuild.ForTest(t, "./plugins/cap")
	r := open(t, db, registry.Options{})

	info, created, err := r.Put(ctx, "buffer", "1.0.0", buffer, registry.Claim{})
	if err != nil || !created {
		t.Fatalf("Put = %+v, %t, %v", info, created, err)
	}
	if info.SHA256 != sum(buffer) || info.Size != len(buffer) || info.ABIVersion != 1 || info.Source != "upload" || info.CompileTime <= 0 {
		t.Errorf("info %+v", info)
	}
	if _, created, err := r.Put(ctx, "buffer", "1.0.0", buffer, registry.Claim{}); err != nil || created {
		t.Errorf("same bytes again: created %t, err %v; want accepted, not created", created, err)
	}
	if _, _, err := r.Put(ctx, "buffer", "1.0.0", capWasm, registry.Claim{}); !errors.Is(err, registry.ErrConflict) || !strings.Contains(err.Error(), "immutable") {
		t.Errorf("other bytes for 1.0.0: %v, want ErrConflict", err)
	}
	if _, _, err := r.Put(ctx, "buffer", "1.1.0", capWasm, registry.Claim{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Put(ctx, "buffer", "1.10.0", buffer, registry.Claim{}); err != nil {
		t.Fatal(err)
	}
	var order []string
	list, err := r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range list {
		order = append(order, in.Name+"@"+in.Version)
	}
	if strings.Join(order, " ") != "buffer@1.0.0 buffer@1.1.0 buffer@1.10.0" {
		t.Errorf("List() in order %v, want by semantic version", order)
	}

	// A compute can use it; an unknown version says what is installed.
	mod, release, err := r.Acquire(ctx, "buffer", "1.0.0")
	if err != nil || mod.SHA256() != sum(buffer) {
		t.Fatalf("Acquire = %v", err)
	}
	release()
	_, _, err = r.Acquire(ctx, "buffer", "2.0.0")
	if !errors.Is(err, compute.ErrUnknownVersion) || !strings.Contains(err.Error(), "installed versions: 1.0.0, 1.1.0, 1.10.0") {
		t.Errorf("Acquire(2.0.0) = %v", err)
	}
	if _, _, err := r.Acquire(ctx, "nope", "1.0.0"); !errors.Is(err, compute.ErrUnknownPlugin) || errors.Is(err, compute.ErrUnknownVersion) {
		t.Errorf("Acquire(nope) = %v", err)
	}

	if err := r.Delete(ctx, "buffer", "1.1.0"); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, "buffer", "1.1.0"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}

	// Another replica on the same store finds what was kept.
	r2 := open(t, db, registry.Options{})
	got, err := r2.Versions(ctx, "buffer")
	if err != nil || len(got) != 2 || got[0].Version != "1.0.0" || got[1].Version != "1.10.0" || got[0].SHA256 != sum(buffer) {
		t.Fatalf("after reopening: %+v, %v", got, err)
	}
	if !got[0].Created.Equal(info.Created) {
		t.Errorf("created %v after reopening, want %v", got[0].Created, info.Created)
	}
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t, t.TempDir())
	r := open(t, db, registry.Options{MaxModuleBytes: 8 << 20})
	tests := []struct {
		name string
		wasm []byte
		kind error
		want string
	}{
		{"not wasm", []byte("hello, world"), engine.ErrInvalidModule, "not a WebAssembly module"},
		{"bad abi", wasmbuild.ForTest(t, "./host/engine/testdata/badabi"), engine.ErrInvalidModule, "ABI version"},
		{"forbidden import", wasmbuild.ForTest(t, "./host/engine/testdata/envimport"), engine.ErrInvalidModule, "a rule may import only wasi_snapshot_preview1"},
		{"too large", make([]byte, 8<<20+1), registry.ErrTooLarge, "exceed the limit"},
	}
	for _, tt := range tests {
		_, _, err := r.Put(ctx, "p", "1.0.0", tt.wasm, registry.Claim{})
		if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %v saying %q", tt.name, err, tt.kind, tt.want)
		}
	}
	if list, err := r.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("%d versions installed after refusals (%v)", len(list), err)
	}
	if stored, err := db.Plugins(ctx); err != nil || len(stored) != 0 {
		t.Errorf("refused modules were stored: %v (%v)", stored, err)
	}
}

func TestDeleteInUse(t *testing.T) {
	ctx := context.Background()
	buffer := wasmbuild.ForTest(t, "./plugins/buffer")
	path := filepath.Join(t.TempDir(), "buffer.wasm")
	if err := os.WriteFile(path, buffer, 0o600); err != nil {
		t.Fatal(err)
	}
	var forgotten []string
	db := storetest.SQLite(t, t.TempDir())
	r := open(t, db, registry.Options{Forget: func(m string) { forgotten = append(forgotten, m) }})
	if _, err := r.Register(ctx, "buffer", "1.0.0", path); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, "buffer", "1.0.0"); !errors.Is(err, registry.ErrInUse) || !strings.Contains(err.Error(), "config.toml") {
		t.Errorf("deleting a config-listed plugin: %v, want ErrInUse naming config.toml", err)
	}
	if _, _, err := r.Put(ctx, "buffer", "2.0.0", buffer, registry.Claim{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutShop(ctx, shop.Shop{ID: "acme"}, nil); err != nil {
		t.Fatal(err)
	}
	ref := shop.PluginRef{Name: "buffer", Version: "2.0.0"}
	if _, err := db.PutSettings(ctx, "acme", shop.SettingsWrite{Doc: []byte(`{}`), Refs: []shop.PluginRef{ref}, Require: []shop.PluginRef{ref}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, "buffer", "2.0.0"); !errors.Is(err, registry.ErrInUse) || !strings.Contains(err.Error(), "shop acme") {
		t.Errorf("deleting a referenced version: %v", err)
	}

	// A request holding a version keeps its module until it is done.
	if _, _, err := r.Put(ctx, "buffer", "3.0.0", buffer, registry.Claim{}); err != nil {
		t.Fatal(err)
	}
	mod, release, err := r.Acquire(ctx, "buffer", "3.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, "buffer", "3.0.0"); err != nil {
		t.Fatal(err)
	}
	if len(forgotten) != 0 {
		t.Errorf("forgot %v while a request held it", forgotten)
	}
	if err := callOnce(ctx, t, mod); err != nil {
		t.Errorf("a call by the request holding a deleted version: %v", err)
	}
	release()
	if strings.Join(forgotten, ",") != "buffer@3.0.0" {
		t.Errorf("forgot %v, want buffer@3.0.0 once released", forgotten)
	}
	if err := callOnce(ctx, t, mod); !errors.Is(err, engine.ErrClosed) {
		t.Errorf("a call after the last release: %v, want ErrClosed", err)
	}
}

// A concurrent upload of one version compiles it once; the others see it.
func TestConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	buffer := wasmbuild.ForTest(t, "./plugins/buffer")
	r := open(t, nil, registry.Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for range 4 {
		wg.Go(func() {
			_, c, err := r.Put(ctx, "buffer", "1.0.0", buffer, registry.Claim{})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if c {
				created++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if created != 1 {
		t.Errorf("%d uploads created the version, want 1", created)
	}
}

// A closed registry is a service stopping, not a plugin the caller named
// wrongly.
func TestAcquireAfterClose(t *testing.T) {
	ctx := context.Background()
	r := open(t, nil, registry.Options{})
	if _, _, err := r.Put(ctx, "buffer", "1.0.0", wasmbuild.ForTest(t, "./plugins/buffer"), registry.Claim{}); err != nil {
		t.Fatal(err)
	}
	r.Close(ctx)
	if _, _, err := r.Acquire(ctx, "buffer", "1.0.0"); !errors.Is(err, engine.ErrClosed) || errors.Is(err, compute.ErrUnknownPlugin) {
		t.Errorf("Acquire after Close = %v, want ErrClosed", err)
	}
}

// TestIdleVersionsHoldNothing: a version nobody calls holds no module in
// the engine, whether config-listed, checked at start, or uploaded and
// left idle; a request loads it again and gets the same rule.
func TestIdleVersionsHoldNothing(t *testing.T) {
	ctx := context.Background()
	buffer := wasmbuild.ForTest(t, "./plugins/buffer")
	path := filepath.Join(t.TempDir(), "buffer.wasm")
	if err := os.WriteFile(path, buffer, 0o600); err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(ctx, engine.Config{CacheDir: cacheDir, Sandboxed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	db := storetest.SQLite(t, t.TempDir())
	loaded := func() []string {
		var names []string
		for _, st := range eng.PoolStats() {
			names = append(names, st.Module)
		}
		slices.Sort(names)
		return names
	}
	// Versions stored by an earlier run: this registry has loaded none.
	first, err := registry.Open(ctx, eng, registry.Options{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	// As many versions as a busy partner keeps: after a restart they cost
	// no module, instance or worker process until called.
	versions := 42
	if testing.Short() {
		versions = 4
	}
	for i := range versions {
		if _, _, err := first.Put(ctx, "stored", fmt.Sprintf("1.%d.0", i), buffer, registry.Claim{}); err != nil {
			t.Fatal(err)
		}
	}
	first.Close(ctx)
	if got := loaded(); len(got) != 0 {
		t.Fatalf("modules left after Close: %v", got)
	}

	r, err := registry.Open(ctx, eng, registry.Options{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	if _, err := r.Register(ctx, "buffer", "1.0.0", path); err != nil {
		t.Fatal(err)
	}
	if err := r.CompileStored(ctx); err != nil {
		t.Fatal(err)
	}
	if got := loaded(); len(got) != 0 {
		t.Fatalf("after Register and CompileStored, loaded %v; want none until a request needs one", got)
	}

	call := func(name, version string) {
		t.Helper()
		p, release, err := r.Acquire(ctx, name, version)
		if err != nil {
			t.Fatalf("Acquire %s %s: %v", name, version, err)
		}
		defer release()
		if err := callOnce(ctx, t, p); err != nil {
			t.Fatalf("calling %s %s: %v", name, version, err)
		}
	}
	call("buffer", "1.0.0")
	call("stored", "1.1.0")
	want := []string{"buffer@1.0.0", "stored@1.1.0"}
	if got := loaded(); !slices.Equal(got, want) {
		t.Fatalf("after two requests, loaded %v; want %v", got, want)
	}
	if n := r.DropIdle(time.Now().Add(-time.Hour)); n != 0 {
		t.Errorf("DropIdle dropped %d versions used within the hour", n)
	}
	p, release, err := r.Acquire(ctx, "stored", "1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if n := r.DropIdle(time.Now().Add(time.Second)); n != 1 {
		t.Errorf("DropIdle dropped %d versions; want 1 (the other one is in use)", n)
	}
	release()
	_ = p
	if n := r.DropIdle(time.Now().Add(time.Second)); n != 1 {
		t.Errorf("DropIdle dropped %d versions once released; want 1", n)
	}
	if got := loaded(); len(got) != 0 {
		t.Fatalf("after DropIdle, loaded %v; want none", got)
	}
	call("buffer", "1.0.0")
	call("stored", "1.1.0")
	if list, err := r.List(ctx); err != nil || len(list) != versions+1 {
		t.Errorf("List = %d versions, %v; want %d", len(list), err, versions+1)
	}
}

// callOnce runs a one-item batch through a buffer plugin.
func callOnce(ctx context.Context, t *testing.T, p compute.Plugin) error {
	t.Helper()
	in, err := sdktest.Batch{
		Warehouses: []sdktest.Warehouse{{ID: "w", Active: true, Default: true}},
		Params:     `{"units": 1}`,
		Items:      []sdktest.Item{{ID: "v", Quantities: map[string]int64{"w": 5}}},
	}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return p.CallInfo(ctx, in, func([]byte, *engine.CallInfo) error { return nil })
}

// TestAcquireWaitsForOneLoad: requests that need a version being loaded
// wait for that one load, each within its own context. One that gives up,
// even the one whose need started the load, returns at once with its
// context's error; the others get the version, read and compiled once.
func TestAcquireWaitsForOneLoad(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t, t.TempDir())
	if _, _, err := open(t, db, registry.Options{}).Put(ctx, "buffer", "1.0.0", wasmbuild.ForTest(t, "./plugins/buffer"), registry.Claim{}); err != nil {
		t.Fatal(err)
	}
	held := &heldStore{Store: db, reading: make(chan struct{}, 8), let: make(chan struct{})}
	var loads atomic.Int32
	eng, err := engine.New(ctx, engine.Config{CacheDir: cacheDir, Sandboxed: true, Observer: loadCounter{&loads}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close(ctx)
	r, err := registry.Open(ctx, eng, registry.Options{Store: held})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	waiting := make(chan string, 8)
	r.OnWait(func(module string) { waiting <- module })

	type result struct {
		err     error
		release func()
	}
	acquire := func(ctx context.Context) <-chan result {
		done := make(chan result, 1)
		go func() {
			_, release, err := r.Acquire(ctx, "buffer", "1.0.0")
			done <- result{err, release}
		}()
		return done
	}
	// answer fails the test if a request is still waiting long after it
	// should have returned.
	answer := func(who string, done <-chan result) result {
		t.Helper()
		select {
		case res := <-done:
			return res
		case <-time.After(time.Minute):
			t.Fatalf("%s is still waiting", who)
			return result{}
		}
	}

	startedCtx, cancelStarted := context.WithCancel(ctx)
	started := acquire(startedCtx)
	<-held.reading // the load began, and holds until let is closed
	waitingCtx, cancelWaiting := context.WithCancel(ctx)
	gaveUp := acquire(waitingCtx)
	patient := acquire(ctx)
	for range 2 {
		if m := <-waiting; m != "buffer@1.0.0" {
			t.Fatalf("a request waits for %s, want buffer@1.0.0", m)
		}
	}
	cancelStarted()
	cancelWaiting()
	for _, c := range []struct {
		who  string
		done <-chan result
	}{{"the request that started the load", started}, {"a request that waited", gaveUp}} {
		if res := answer(c.who, c.done); !errors.Is(res.err, context.Canceled) {
			t.Errorf("%s, cancelled while the load holds: %v, want context.Canceled", c.who, res.err)
		}
	}
	close(held.let)
	res := answer("the patient request", patient)
	if res.err != nil {
		t.Fatalf("the patient request: %v", res.err)
	}
	res.release()
	_, release, err := r.Acquire(ctx, "buffer", "1.0.0")
	if err != nil {
		t.Fatalf("a request after the load: %v", err)
	}
	release()
	if reads, loads := held.reads.Load(), loads.Load(); reads != 1 || loads != 1 {
		t.Errorf("the version was read from the store %d times and loaded %d times, want once each", reads, loads)
	}
}

// heldStore is a Store whose reads of a module count, say that they began,
// and hold until let is closed.
type heldStore struct {
	registry.Store
	reads   atomic.Int32
	reading chan struct{}
	let     chan struct{}
}

func (s *heldStore) Plugin(ctx context.Context, name, version string) (registry.Info, []byte, error) {
	s.reads.Add(1)
	s.reading <- struct{}{}
	<-s.let
	return s.Store.Plugin(ctx, name, version)
}

// loadCounter counts the modules an engine loads.
type loadCounter struct{ n *atomic.Int32 }

func (c loadCounter) Compiled(string, time.Duration)                       { c.n.Add(1) }
func (loadCounter) Called(string, string, engine.ErrorKind, time.Duration) {}
func (loadCounter) Waited(string, time.Duration)                           {}
