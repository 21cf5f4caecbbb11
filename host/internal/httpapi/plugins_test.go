package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/httpapi"
	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/sdk/abi"
)

// pluginOf checks that ex is a plugin version with status and returns it.
func pluginOf(tb testing.TB, ex exchange, status int) pluginDoc {
	tb.Helper()
	if ex.status != status {
		tb.Fatalf("status %d, want %d\n%s", ex.status, status, ex.body)
	}
	var p pluginDoc
	decodeStrict(tb, ex.body, &p)
	return p
}

func TestPluginUpload(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{plugins: newPluginHost(t, pluginHostConfig{})})
	wasm := pluginModule(t, "buffer")
	sum := sha256.Sum256(wasm)
	path := versionPath("buffer", "1.0.0")
	start := time.Now().UTC()

	ex := s.upload(t, "buffer", "1.0.0", wasm)
	got := pluginOf(t, ex, http.StatusCreated)
	if loc := ex.header.Get("Location"); loc != path {
		t.Errorf("Location %q, want %q", loc, path)
	}
	want := pluginDoc{Name: "buffer", Version: "1.0.0", SHA256: hex.EncodeToString(sum[:]), Size: len(wasm),
		ABIVersion: abi.Version, Source: "upload", OwnedBy: "operator", CompileMS: got.CompileMS, Created: got.Created}
	if got != want {
		t.Errorf("uploaded\n%+v\nwant\n%+v", got, want)
	}
	if got.CompileMS <= 0 {
		t.Errorf("compile_ms %v, want > 0", got.CompileMS)
	}
	if got.Created.Before(start.Add(-time.Second)) || got.Created.After(time.Now().Add(time.Second)) || got.Created.Location() != time.UTC {
		t.Errorf("created %v, want now, in UTC", got.Created)
	}

	t.Run("the same bytes again change nothing", func(t *testing.T) {
		ex := s.upload(t, "buffer", "1.0.0", wasm)
		if again := pluginOf(t, ex, http.StatusOK); again != got {
			t.Errorf("second upload\n%+v\nwant the first\n%+v", again, got)
		}
		if loc := ex.header.Get("Location"); loc != "" {
			t.Errorf("Location %q on a 200", loc)
		}
	})
	t.Run("GET reads what PUT answered", func(t *testing.T) {
		if read := pluginOf(t, s.do(t, http.MethodGet, path, "", ""), http.StatusOK); read != got {
			t.Errorf("GET\n%+v\nwant\n%+v", read, got)
		}
	})
	t.Run("a pre-release version", func(t *testing.T) {
		ex := s.upload(t, "buffer", "1.1.0-beta.1", wasm)
		if p := pluginOf(t, ex, http.StatusCreated); p.Version != "1.1.0-beta.1" || p.SHA256 != got.SHA256 {
			t.Errorf("uploaded %+v", p)
		}
	})
	t.Run("it computes", func(t *testing.T) {
		items := []shopItem{{id: "v", a: 985, b: 15}}
		rules := []chainRule{bufferRule("1.0.0", 5)}
		want := chainWant(rules, items)
		if !slices.Equal(want[0], orderedQuantities{{"alpha", 783}, {"beta", 7}}) {
			t.Fatalf("the oracle says %v, want 788 - 5 = 783 and 12 - 5 = 7", want[0])
		}
		if err := checkChain(s.compute(t, "", chainBody(rules, items)), items, want); err != nil {
			t.Error(err)
		}
	})
}

func TestPluginUploadErrors(t *testing.T) {
	r := loadRule(t)
	h := newPluginHost(t, pluginHostConfig{})
	h.install(t, "buffer", "1.0.0", "buffer")
	s := newServer(t, r, serverConfig{plugins: h})
	const limit = 4096
	small := newServer(t, r, serverConfig{plugins: newPluginHost(t, pluginHostConfig{}), maxModuleBytes: limit})
	// The API takes 16 MiB, the registry 4096 bytes.
	smallRegistry := newServer(t, r, serverConfig{plugins: newPluginHost(t, pluginHostConfig{maxModuleBytes: limit})})
	buffer := pluginModule(t, "buffer")
	var envimport []byte
	if !testing.Short() {
		envimport = pluginModule(t, "envimport")
	}

	tests := []struct {
		name        string
		short       string // why -short skips it, if it does
		server      *server
		path        string
		contentType string
		body        []byte
		chunked     bool // sent without a Content-Length
		status      int
		wantFields  []string // the fields of the problem's errors
		wantDetail  string   // in the problem's detail
	}{
		{name: "other bytes for an installed version", path: versionPath("buffer", "1.0.0"), body: pluginModule(t, "cap"),
			status: http.StatusConflict, wantDetail: "buffer 1.0.0 is installed with sha256"},
		{name: "Content-Type application/octet-stream", path: versionPath("buffer", "2.0.0"), contentType: "application/octet-stream", body: buffer,
			status: http.StatusUnsupportedMediaType, wantDetail: `application/wasm (got "application/octet-stream")`},
		{name: "no Content-Type", path: versionPath("buffer", "2.0.0"), contentType: "-", body: buffer,
			status: http.StatusUnsupportedMediaType, wantDetail: `(got "")`},
		{name: "a module over the limit", server: small, path: versionPath("buffer", "1.0.0"), body: buffer,
			status: http.StatusRequestEntityTooLarge, wantDetail: "exceed the limit of 4096"},
		{name: "a chunked module over the limit", server: small, path: versionPath("buffer", "1.0.0"), body: buffer, chunked: true,
			status: http.StatusRequestEntityTooLarge, wantDetail: "exceeds the limit of 4096"},
		{name: "a chunked module one byte over the limit", server: small, path: versionPath("x", "1.0.0"), body: bytes.Repeat([]byte{0}, limit+1), chunked: true,
			status: http.StatusRequestEntityTooLarge, wantDetail: "exceeds the limit of 4096"},
		{name: "a module over the registry's limit", server: smallRegistry, path: versionPath("buffer", "1.0.0"), body: buffer,
			status: http.StatusRequestEntityTooLarge, wantDetail: fmt.Sprintf("%d bytes exceed the limit of 4096", len(buffer))},
		{name: "not WebAssembly", path: versionPath("notwasm", "1.0.0"), body: []byte("#!/bin/sh\necho hello\n"),
			status: http.StatusUnprocessableEntity, wantDetail: "not a WebAssembly module"},
		{name: "an empty body", path: versionPath("empty", "1.0.0"), body: []byte{},
			status: http.StatusUnprocessableEntity, wantDetail: "The module is refused"},
		{name: "an unsupported ABI version", path: versionPath("badabi", "1.0.0"), body: pluginModule(t, "badabi"),
			status: http.StatusUnprocessableEntity, wantDetail: "ABI version 99"},
		{name: "a forbidden import", short: "compiles no envimport", path: versionPath("envimport", "1.0.0"), body: envimport,
			status: http.StatusUnprocessableEntity, wantDetail: "env.steal_secrets"},
		{name: "an upper-case name", path: versionPath("Buffer", "1.0.0"), body: buffer,
			status: http.StatusUnprocessableEntity, wantFields: []string{"name"}, wantDetail: "name or version is not valid"},
		{name: "a name with an underscore", path: versionPath("safety_stock", "1.0.0"), body: buffer,
			status: http.StatusUnprocessableEntity, wantFields: []string{"name"}, wantDetail: "name or version is not valid"},
		{name: "a name of 65 characters", path: versionPath(strings.Repeat("a", 65), "1.0.0"), body: buffer,
			status: http.StatusUnprocessableEntity, wantFields: []string{"name"}, wantDetail: "name or version is not valid"},
		{name: "a version with a leading v", path: versionPath("buffer", "v1.0.0"), body: buffer,
			status: http.StatusUnprocessableEntity, wantFields: []string{"version"}, wantDetail: "name or version is not valid"},
		{name: "a version of two numbers", path: versionPath("buffer", "1.0"), body: buffer,
			status: http.StatusUnprocessableEntity, wantFields: []string{"version"}, wantDetail: "name or version is not valid"},
		{name: "a version with build metadata", path: versionPath("buffer", "1.0.0+build.5"), body: buffer,
			status: http.StatusUnprocessableEntity, wantFields: []string{"version"}, wantDetail: "name or version is not valid"},
		{name: "a version with a leading zero", path: versionPath("buffer", "01.0.0"), body: buffer,
			status: http.StatusUnprocessableEntity, wantFields: []string{"version"}, wantDetail: "name or version is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.short != "" && testing.Short() {
				t.Skip("-short " + tt.short)
			}
			srv := tt.server
			if srv == nil {
				srv = s
			}
			ct := tt.contentType
			switch ct {
			case "":
				ct = httpapi.WasmContentType
			case "-":
				ct = ""
			}
			var body io.Reader = bytes.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // of unknown length
			}
			p := problemOf(t, srv.send(t, http.MethodPut, tt.path, ct, body), tt.status)
			if got := p.fields(); !slices.Equal(got, tt.wantFields) {
				t.Errorf("fields %q, want %q\n%+v", got, tt.wantFields, p)
			}
			for _, e := range p.Errors {
				if !strings.Contains(e.Detail, e.Field) {
					t.Errorf("error %+v: the detail does not name the %s", e, e.Field)
				}
			}
			if !hasText(t, p.Detail, tt.wantDetail) {
				t.Errorf("detail %q, want it to contain %q", p.Detail, tt.wantDetail)
			}
		})
	}
	t.Run("nothing refused was installed", func(t *testing.T) {
		for _, srv := range []*server{s, small, smallRegistry} {
			var list struct{ Plugins []pluginVersionsDoc }
			decodeStrict(t, srv.do(t, http.MethodGet, "/v1/plugins", "", "").body, &list)
			var got []string
			for _, p := range list.Plugins {
				for _, v := range p.Versions {
					got = append(got, v.Name+"@"+v.Version)
				}
			}
			if want := map[*server][]string{s: {"buffer@1.0.0"}}[srv]; !slices.Equal(got, want) {
				t.Errorf("installed %q, want %q", got, want)
			}
		}
		if names := h.storedNames(t); !slices.Equal(names, []string{"buffer"}) {
			t.Errorf("the store holds plugins %q, want buffer alone", names)
		}
	})
}

func TestPluginRead(t *testing.T) {
	h := newPluginHost(t, pluginHostConfig{})
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	var empty struct{ Plugins []pluginVersionsDoc }
	if ex := s.do(t, http.MethodGet, "/v1/plugins", "", ""); ex.status != http.StatusOK || string(ex.body) != `{"plugins":[]}` {
		t.Errorf("an empty registry: %d %s, want 200 {\"plugins\":[]}", ex.status, ex.body)
	} else {
		decodeStrict(t, ex.body, &empty)
	}

	// Installed out of order: the API lists by name, then by semantic
	// version (1.10.0 after 1.9.0, a pre-release before its release).
	for _, v := range []struct{ name, version, pkg string }{
		{"cap", "1.0.0", "cap"},
		{"buffer", "1.10.0", "buffer"},
		{"buffer", "1.9.0", "buffer"},
		{"buffer", "1.10.0-rc.1", "buffer"},
		{"buffer", "1.0.0", "buffer"},
	} {
		h.install(t, v.name, v.version, v.pkg)
	}
	infos := map[string]registry.Info{}
	list, err := h.registry.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range list {
		infos[in.Name+"@"+in.Version] = in
	}
	doc := func(key string) pluginDoc {
		in := infos[key]
		return pluginDoc{Name: in.Name, Version: in.Version, SHA256: in.SHA256, Size: in.Size, ABIVersion: in.ABIVersion,
			CompileMS: float64(in.CompileTime.Microseconds()) / 1000, Created: in.Created, Source: in.Source, OwnedBy: "operator"}
	}
	bufferVersions := pluginVersionsDoc{Name: "buffer", OwnedBy: "operator", Versions: []pluginDoc{
		doc("buffer@1.0.0"), doc("buffer@1.9.0"), doc("buffer@1.10.0-rc.1"), doc("buffer@1.10.0"),
	}}

	t.Run("list", func(t *testing.T) {
		var got struct{ Plugins []pluginVersionsDoc }
		decodeStrict(t, s.do(t, http.MethodGet, "/v1/plugins", "", "").body, &got)
		want := []pluginVersionsDoc{bufferVersions, {Name: "cap", OwnedBy: "operator", Versions: []pluginDoc{doc("cap@1.0.0")}}}
		if !equalVersions(got.Plugins, want) {
			t.Errorf("plugins\n%+v\nwant\n%+v", got.Plugins, want)
		}
	})
	t.Run("one plugin", func(t *testing.T) {
		ex := s.do(t, http.MethodGet, "/v1/plugins/buffer", "", "")
		if ex.status != http.StatusOK {
			t.Fatalf("status %d: %s", ex.status, ex.body)
		}
		var got pluginVersionsDoc
		decodeStrict(t, ex.body, &got)
		if !equalVersions([]pluginVersionsDoc{got}, []pluginVersionsDoc{bufferVersions}) {
			t.Errorf("buffer\n%+v\nwant\n%+v", got, bufferVersions)
		}
	})
	t.Run("one version", func(t *testing.T) {
		got := pluginOf(t, s.do(t, http.MethodGet, versionPath("buffer", "1.10.0-rc.1"), "", ""), http.StatusOK)
		if want := doc("buffer@1.10.0-rc.1"); got != want {
			t.Errorf("got\n%+v\nwant\n%+v", got, want)
		}
	})

	notFound := []struct {
		name       string
		path       string
		wantDetail string
	}{
		{"an unknown plugin", "/v1/plugins/stock", `no plugin named "stock" is installed`},
		{"a version of an unknown plugin", versionPath("stock", "1.0.0"), `no plugin named "stock" is installed`},
		{"an unknown version", versionPath("buffer", "2.0.0"), `buffer has no version "2.0.0"; installed versions: 1.0.0, 1.9.0, 1.10.0-rc.1, 1.10.0`},
		{"an invalid name", "/v1/plugins/Buffer", `no plugin named "Buffer"`},
	}
	for _, tt := range notFound {
		t.Run("404 "+tt.name, func(t *testing.T) {
			p := problemOf(t, s.do(t, http.MethodGet, tt.path, "", ""), http.StatusNotFound)
			if !hasText(t, p.Detail, tt.wantDetail) || !strings.HasPrefix(p.Detail, tt.wantDetail) {
				t.Errorf("detail %q, want %q", p.Detail, tt.wantDetail)
			}
		})
	}

	routes := []struct {
		name      string
		method    string
		path      string
		status    int
		wantAllow string
	}{
		{"POST plugins", http.MethodPost, "/v1/plugins", http.StatusMethodNotAllowed, "GET"},
		{"DELETE a plugin", http.MethodDelete, "/v1/plugins/buffer", http.StatusMethodNotAllowed, "GET"},
		{"PATCH a version", http.MethodPatch, versionPath("buffer", "1.0.0"), http.StatusMethodNotAllowed, "GET, PUT, DELETE"},
		{"the versions of a plugin", http.MethodGet, "/v1/plugins/buffer/versions", http.StatusNotFound, ""},
		{"plugins with a trailing slash", http.MethodGet, "/v1/plugins/", http.StatusNotFound, ""},
		{"a version with a trailing slash", http.MethodGet, versionPath("buffer", "1.0.0") + "/", http.StatusNotFound, ""},
	}
	for _, tt := range routes {
		t.Run(tt.name, func(t *testing.T) {
			ex := s.do(t, tt.method, tt.path, "", "")
			p := problemOf(t, ex, tt.status)
			if !hasText(t, p.Detail, tt.path) {
				t.Errorf("detail %q does not name %s", p.Detail, tt.path)
			}
			if got := ex.header.Get("Allow"); !sameMethods(got, tt.wantAllow) {
				t.Errorf("Allow %q, want %q", got, tt.wantAllow)
			}
		})
	}

	t.Run("without a registry there are no plugin endpoints", func(t *testing.T) {
		bare := newServer(t, loadRule(t), serverConfig{})
		for _, path := range []string{"/v1/plugins/buffer", "/metrics"} {
			// The document has these operations, but this server does not
			// serve them: the raw transport, without the checks.
			resp, err := (&http.Client{Transport: bare.transport}).Get(bare.url + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
			}
		}
	})
}

// equalVersions compares listings, times by their instant.
func equalVersions(a, b []pluginVersionsDoc) bool {
	return slices.EqualFunc(a, b, func(x, y pluginVersionsDoc) bool {
		return x.Name == y.Name && x.OwnedBy == y.OwnedBy && x.Owner == y.Owner && slices.EqualFunc(x.Versions, y.Versions, func(p, q pluginDoc) bool {
			pc, qc := p, q
			pc.Created, qc.Created = time.Time{}, time.Time{}
			return pc == qc && p.Created.Equal(q.Created)
		})
	})
}

func TestPluginDelete(t *testing.T) {
	ctx := context.Background()
	h := newPluginHost(t, pluginHostConfig{})
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	h.install(t, "buffer", "1.0.0", "buffer")
	h.install(t, "buffer", "1.0.1", "buffer")
	h.install(t, "cap", "1.0.0", "cap")
	// A plugin config.toml lists, as cli registers it.
	file := filepath.Join(t.TempDir(), "limit.wasm")
	if err := os.WriteFile(file, pluginModule(t, "cap"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.registry.Register(ctx, "limit", "1.0.0", file); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name       string
		method     string
		path       string
		status     int
		wantDetail string
	}{
		{"delete a version", http.MethodDelete, versionPath("buffer", "1.0.0"), http.StatusNoContent, ""},
		{"it is gone", http.MethodGet, versionPath("buffer", "1.0.0"), http.StatusNotFound, `buffer has no version "1.0.0"; installed versions: 1.0.1`},
		{"delete it again", http.MethodDelete, versionPath("buffer", "1.0.0"), http.StatusNotFound, `buffer has no version "1.0.0"`},
		{"the other version stays", http.MethodGet, versionPath("buffer", "1.0.1"), http.StatusOK, ""},
		{"delete the last version", http.MethodDelete, versionPath("buffer", "1.0.1"), http.StatusNoContent, ""},
		{"the plugin is gone", http.MethodGet, "/v1/plugins/buffer", http.StatusNotFound, `no plugin named "buffer" is installed`},
		{"delete a version of an unknown plugin", http.MethodDelete, versionPath("stock", "1.0.0"), http.StatusNotFound, `no plugin named "stock" is installed`},
		{"delete a plugin config.toml lists", http.MethodDelete, versionPath("limit", "1.0.0"), http.StatusConflict, "limit 1.0.0 is referenced by config.toml"},
		{"it stays", http.MethodGet, versionPath("limit", "1.0.0"), http.StatusOK, ""},
		{"the other plugin stays", http.MethodGet, versionPath("cap", "1.0.0"), http.StatusOK, ""},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			ex := s.do(t, tt.method, tt.path, "", "")
			switch tt.status {
			case http.StatusNoContent:
				if ex.status != tt.status || len(ex.body) != 0 {
					t.Errorf("%d %q, want 204 and no body", ex.status, ex.body)
				}
			case http.StatusOK:
				if p := pluginOf(t, ex, tt.status); tt.path != versionPath(p.Name, p.Version) {
					t.Errorf("got %+v", p)
				}
			default:
				if p := problemOf(t, ex, tt.status); !hasText(t, p.Detail, tt.wantDetail) {
					t.Errorf("detail %q, want it to contain %q", p.Detail, tt.wantDetail)
				}
			}
		})
	}
	t.Run("the modules are gone", func(t *testing.T) {
		if names := h.storedNames(t); !slices.Equal(names, []string{"cap"}) {
			t.Errorf("the store holds plugins %q, want cap alone", names)
		}
	})
	t.Run("a compute naming a deleted version is a 422", func(t *testing.T) {
		h.install(t, "buffer", "1.0.2", "buffer")
		p := problemOf(t, s.post(t, "/v1/compute", chainBody([]chainRule{bufferRule("1.0.0", 1)}, []shopItem{{id: "v", a: 10}})), http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Field != "/settings/rules/0/version" || !strings.Contains(p.Errors[0].Detail, "installed versions: 1.0.2") {
			t.Errorf("errors %+v, want one at /settings/rules/0/version that lists 1.0.2", p.Errors)
		}
	})
	if err := h.registry.Delete(ctx, "nope", "1.0.0"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Delete of an unknown plugin: %v, want ErrNotFound", err)
	}
}

// TestPluginsPersist restarts the registry on its folder: what was uploaded
// is installed again, with the metadata of its upload, and computes; what
// was deleted stays deleted.
func TestPluginsPersist(t *testing.T) {
	r := loadRule(t)
	h := newPluginHost(t, pluginHostConfig{})
	s := newServer(t, r, serverConfig{plugins: h})
	var uploaded []pluginDoc
	for _, v := range []struct{ name, version string }{{"buffer", "1.0.0"}, {"buffer", "1.1.0"}, {"cap", "1.0.0"}} {
		uploaded = append(uploaded, pluginOf(t, s.upload(t, v.name, v.version, pluginModule(t, v.name)), http.StatusCreated))
	}
	if ex := s.do(t, http.MethodDelete, versionPath("buffer", "1.1.0"), "", ""); ex.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", ex.status, ex.body)
	}
	want := []pluginVersionsDoc{{Name: "buffer", OwnedBy: "operator", Versions: uploaded[:1]}, {Name: "cap", OwnedBy: "operator", Versions: uploaded[2:]}}

	h.reopen(t)
	s = newServer(t, r, serverConfig{plugins: h})
	var got struct{ Plugins []pluginVersionsDoc }
	decodeStrict(t, s.do(t, http.MethodGet, "/v1/plugins", "", "").body, &got)
	// compile_ms is this start's; the rest is the upload's.
	for _, p := range got.Plugins {
		for i := range p.Versions {
			if p.Versions[i].CompileMS <= 0 {
				t.Errorf("%s %s: compile_ms %v, want > 0", p.Name, p.Versions[i].Version, p.Versions[i].CompileMS)
			}
			p.Versions[i].CompileMS = 0
		}
	}
	for _, p := range want {
		for i := range p.Versions {
			p.Versions[i].CompileMS = 0
		}
	}
	if !equalVersions(got.Plugins, want) {
		t.Errorf("after a restart\n%+v\nwant\n%+v", got.Plugins, want)
	}

	items := []shopItem{{id: "v", a: 985, b: 15}, {id: "w", continueSelling: true}}
	rules := []chainRule{bufferRule("1.0.0", 5), capRule(700)}
	if err := checkChain(s.compute(t, "", chainBody(rules, items)), items, chainWant(rules, items)); err != nil {
		t.Error(err)
	}
	p := problemOf(t, s.post(t, "/v1/compute", chainBody([]chainRule{bufferRule("1.1.0", 5)}, items)), http.StatusUnprocessableEntity)
	if got := p.fields(); !slices.Equal(got, []string{"/settings/rules/0/version"}) {
		t.Errorf("the deleted version: fields %q, want /settings/rules/0/version", got)
	}
	// The same bytes again are still the same version; other bytes still
	// conflict.
	if again := pluginOf(t, s.upload(t, "buffer", "1.0.0", pluginModule(t, "buffer")), http.StatusOK); again.SHA256 != uploaded[0].SHA256 {
		t.Errorf("upload after restart: %+v", again)
	}
	problemOf(t, s.upload(t, "cap", "1.0.0", pluginModule(t, "buffer")), http.StatusConflict)
}

// TestMetrics reads /metrics after computes: the plugin's calls under its
// module name, where they ran, and the API's requests by route template.
func TestMetrics(t *testing.T) {
	h := newPluginHost(t, pluginHostConfig{workerMinItems: 64})
	h.install(t, "buffer", "1.0.0", "buffer")
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	rules := []chainRule{bufferRule("1.0.0", 5)}
	small := []shopItem{{id: "v", a: 985, b: 15}}
	var big []shopItem
	for i := range 64 {
		big = append(big, shopItem{id: fmt.Sprint(i), a: int64(i)})
	}
	for range 3 {
		if err := checkChain(s.compute(t, "", chainBody(rules, small)), small, chainWant(rules, small)); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkChain(s.compute(t, "", chainBody(rules, big)), big, chainWant(rules, big)); err != nil {
		t.Fatal(err)
	}
	problemOf(t, s.do(t, http.MethodGet, versionPath("buffer", "9.0.0"), "", ""), http.StatusNotFound)

	ex := s.do(t, http.MethodGet, "/metrics", "", "")
	if ex.status != http.StatusOK || !strings.HasPrefix(ex.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", ex.status, ex.header.Get("Content-Type"))
	}
	// Each call through the chain, plus one per request that asks the
	// plugin about its params (the verdict is cached after the first).
	for _, want := range []string{
		`syncrules_rule_calls_total{module="buffer@1.0.0",result="ok",where="sandboxed"} 4`,
		`syncrules_rule_calls_total{module="buffer@1.0.0",result="ok",where="worker"} 1`,
		`syncrules_rule_instances{module="buffer@1.0.0"} `,
		`syncrules_module_compile_duration_seconds_count{module="buffer@1.0.0"} 1`,
		`syncrules_http_requests_total{code="200",method="POST",route="/v1/compute"} 4`,
		`syncrules_http_requests_total{code="404",method="GET",route="/v1/plugins/:name/versions/:version"} 1`,
	} {
		if !strings.Contains(string(ex.body), want) {
			t.Errorf("the metrics do not have %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", grepLines(string(ex.body), "syncrules_"))
	}

	t.Run("a deleted version's series go", func(t *testing.T) {
		if ex := s.do(t, http.MethodDelete, versionPath("buffer", "1.0.0"), "", ""); ex.status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", ex.status, ex.body)
		}
		ex := s.do(t, http.MethodGet, "/metrics", "", "")
		if strings.Contains(string(ex.body), `module="buffer@1.0.0"`) {
			t.Errorf("buffer@1.0.0 is still in the metrics:\n%s", grepLines(string(ex.body), "buffer@1.0.0"))
		}
		if !strings.Contains(string(ex.body), `syncrules_http_requests_total{code="204",method="DELETE",route="/v1/plugins/:name/versions/:version"} 1`) {
			t.Errorf("the DELETE is not counted:\n%s", grepLines(string(ex.body), "syncrules_http_requests_total"))
		}
	})
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

// TestPluginReleasedAfterEveryAnswer deletes a version after computes that
// named it were answered in every way: once deleted, its module must be
// closed at once, its pool and series gone from the metrics. A request that
// kept it acquired would keep it open.
func TestPluginReleasedAfterEveryAnswer(t *testing.T) {
	h := newPluginHost(t, pluginHostConfig{})
	h.install(t, "cap", "1.0.0", "cap")
	s := newServer(t, loadRule(t), serverConfig{plugins: h, limits: smallLimits})
	item := `"items":[` + shopItem{id: "v", a: 10, b: 10}.json() + `]`
	buffer := `{"plugin":"buffer","version":"1.0.1","params":{"units":1}}`
	tests := []struct {
		name   string
		query  string
		body   string
		status int
	}{
		{"200", "", body(`"settings":{"rules":[`+buffer+`]}`, chainShop, item), http.StatusOK},
		{"200 explained", "?explain=true", body(`"settings":{"rules":[`+buffer+`]}`, chainShop, item), http.StatusOK},
		{"422 for params another rule refuses", "", body(`"settings":{"rules":[`+buffer+`,{"plugin":"cap","version":"1.0.0","params":{"max":-1}}]}`, chainShop, item), http.StatusUnprocessableEntity},
		{"422 for another rule's unknown plugin", "", body(`"settings":{"rules":[`+buffer+`,{"plugin":"stock","version":"1.0.0"}]}`, chainShop, item), http.StatusUnprocessableEntity},
		{"422 for another field", "", body(`"settings":{"percentage":101,"rules":[`+buffer+`]}`, chainShop, item), http.StatusUnprocessableEntity},
		{"413 for too many locations", "", body(`"settings":{"rules":[`+buffer+`]}`, `"locations":[{"id":"A"},{"id":"B"},{"id":"C"},{"id":"D"}],"warehouses":[{"id":"alpha","default":true}]`, item), http.StatusRequestEntityTooLarge},
		{"400 for an unknown member", "", body(`"settings":{"rules":[`+buffer+`]}`, chainShop, item, `"shop":1`), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.install(t, "buffer", "1.0.1", "buffer")
			if ex := s.post(t, "/v1/compute"+tt.query, tt.body); ex.status != tt.status {
				t.Fatalf("status %d, want %d: %s", ex.status, tt.status, ex.body)
			}
			if ex := s.do(t, http.MethodDelete, versionPath("buffer", "1.0.1"), "", ""); ex.status != http.StatusNoContent {
				t.Fatalf("DELETE: %d %s", ex.status, ex.body)
			}
			for _, ps := range h.engine.PoolStats() {
				if ps.Module == "buffer@1.0.1" {
					t.Errorf("buffer@1.0.1 is deleted and answered for, but its module is still open: %+v", ps)
				}
			}
			if m := string(s.do(t, http.MethodGet, "/metrics", "", "").body); strings.Contains(m, `module="buffer@1.0.1"`) {
				t.Errorf("the metrics still have buffer@1.0.1:\n%s", grepLines(m, `module="buffer@1.0.1"`))
			}
		})
	}
}

// A server stopping under a compute (Shutdown timed out, the engines and the
// registry closed) answers 503, never a 200 that skipped a plugin or a 422
// that blames the caller's settings.
func TestPluginAfterClose(t *testing.T) {
	r := loadRule(t)
	for _, onError := range []string{"fail", "skip"} {
		h := newPluginHost(t, pluginHostConfig{})
		h.install(t, "buffer", "1.0.0", "buffer")
		s := newServer(t, r, serverConfig{plugins: h})
		req := chainBody([]chainRule{withOnError(bufferRule("1.0.0", 5), onError)}, []shopItem{{id: "v", a: 985, b: 15}})
		h.engine.Close(context.Background())
		problemOf(t, s.post(t, "/v1/compute", req), 503)
		h.registry.Close(context.Background())
		problemOf(t, s.post(t, "/v1/compute", req), 503)
	}
}

// A version too long for a file name is the caller's mistake, named.
func TestPluginVersionTooLong(t *testing.T) {
	h := newPluginHost(t, pluginHostConfig{})
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	ex := s.upload(t, "buffer", "1.0.0-"+strings.Repeat("a", 300), pluginModule(t, "buffer"))
	p := problemOf(t, ex, 422)
	if len(p.Errors) == 0 || p.Errors[0].Field != "version" {
		t.Errorf("problem %+v, want an error naming version", p)
	}
}
