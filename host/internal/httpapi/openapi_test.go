package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/syncrules/syncrules/host/internal/httpapi"
	"github.com/syncrules/syncrules/host/internal/problem"
)

func TestOpenAPIDocument(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	ex := s.do(t, http.MethodGet, "/openapi.json", "", "")
	if ex.status != http.StatusOK || ex.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: %d %s", ex.status, ex.header.Get("Content-Type"))
	}
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ex.body, httpapi.OpenAPI()) || !bytes.Equal(ex.body, file) {
		t.Error("the served document is not the embedded openapi.json")
	}
	doc, err := openapi3.NewLoader().LoadFromData(ex.body)
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q, want 3.0.3", doc.OpenAPI)
	}
	// Validate checks the document and every example against its schema.
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3: %v", err)
	}
	// The server rejects unknown members; so must every request schema.
	for _, name := range []string{"ComputeRequest", "Settings", "Mapping", "Rule", "Location", "Warehouse", "Item",
		"ShopRequest", "ShopComputeRequest", "PreviewRequest", "CredentialsRequest", "TokenRequest"} {
		s := doc.Components.Schemas[name]
		if s == nil || s.Value.AdditionalProperties.Has == nil || *s.Value.AdditionalProperties.Has {
			t.Errorf("schema %s does not forbid unknown members", name)
		}
	}
}

// TestOpenAPIExamples sends each documented request example to the real
// server, with the plugins the examples name installed, and expects the
// documented response example, so the examples cannot go stale.
func TestOpenAPIExamples(t *testing.T) {
	h := newPluginHost(t, pluginHostConfig{})
	h.install(t, "buffer", "1.0.0", "buffer")
	h.install(t, "cap", "1.0.0", "cap")
	s := newServer(t, loadRule(t), serverConfig{plugins: h})
	doc := loadContract(t).doc
	op := doc.Paths.Value("/v1/compute").Post
	reqExamples := op.RequestBody.Value.Content.Get("application/json").Examples
	tests := []struct {
		request  string // the request example
		query    string
		status   int
		response string // the response example
	}{
		{"seed", "", http.StatusOK, "seed"},
		{"seed", "?explain=true", http.StatusOK, "seed_explained"},
		{"invalid", "", http.StatusUnprocessableEntity, "invalid"},
		{"chain", "", http.StatusOK, "chain"},
		{"chain", "?explain=true", http.StatusOK, "chain_explained"},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.response, func(t *testing.T) {
			reqEx := reqExamples[tt.request]
			if reqEx == nil {
				t.Fatalf("no request example %q", tt.request)
			}
			req, err := json.Marshal(reqEx.Value.Value)
			if err != nil {
				t.Fatal(err)
			}
			resp := op.Responses.Status(tt.status).Value
			var respEx *openapi3.ExampleRef
			for _, mt := range resp.Content {
				respEx = mt.Examples[tt.response]
			}
			if respEx == nil {
				t.Fatalf("no %d response example %q", tt.status, tt.response)
			}
			ex := s.post(t, "/v1/compute"+tt.query, string(req))
			if ex.status != tt.status {
				t.Fatalf("status %d, want %d: %s", ex.status, tt.status, ex.body)
			}
			var got any
			if err := json.Unmarshal(ex.body, &got); err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(respEx.Value.Value)
			var wantV any
			if err := json.Unmarshal(want, &wantV); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, wantV) {
				t.Errorf("response\n%s\nwant the documented example\n%s", ex.body, want)
			}
		})
		covered["request "+tt.request] = true
		covered["response "+tt.response] = true
	}
	documented := map[string]bool{}
	for name := range reqExamples {
		documented["request "+name] = true
	}
	for _, code := range []int{200, 422} {
		for _, mt := range op.Responses.Status(code).Value.Content {
			for name := range mt.Examples {
				documented["response "+name] = true
			}
		}
	}
	if !reflect.DeepEqual(covered, documented) {
		t.Errorf("examples checked %v, documented %v", covered, documented)
	}
}

// TestContractChecker shows that the client every test uses fails an
// exchange that breaks the document, so that its passing means something.
func TestContractChecker(t *testing.T) {
	const validReq = `{"locations":[{"id":"A"}],"warehouses":[{"id":"alpha","default":true}],"items":[{"id":"v","available":{"A":1}}]}`
	const okResp = `{"items":[{"id":"v","quantities":{"alpha":1}}],"warnings":[]}`
	const plugin = `{"name":"buffer","version":"1.0.0","sha256":"1cbe423a7a0a3fe3f8dcaede253a21c4cdc7ba2dbb9032ec650598631c7c9f18","size":3776822,"abi_version":1,"compile_ms":1.5,"created":"2026-11-27T14:27:27.128529Z","source":"upload","owned_by":"operator"}`
	// withItem is a compute response with one item, as JSON members.
	withItem := func(members string) string {
		return `{"items":[{"id":"v",` + members + `}],"warnings":[]}`
	}
	tests := []struct {
		name        string
		method      string
		path        string
		reqBody     string
		reqType     string // the request's Content-Type; application/json when there is a body
		status      int
		location    string
		contentType string
		allow       string
		respBody    string
		noToken     bool   // send no Authorization
		challenge   string // WWW-Authenticate
		wantErr     string // "" for an exchange that conforms
	}{
		{name: "a 200 to a request without a token", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json", respBody: okResp,
			noToken: true, wantErr: "the server accepted a request that the document rejects"},
		{name: "a conforming 401", path: "/v1/compute", reqBody: validReq, status: 401, contentType: "application/problem+json",
			respBody: `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"d"}`, noToken: true, challenge: "Bearer"},
		{name: "a 401 without a challenge", path: "/v1/compute", reqBody: validReq, status: 401, contentType: "application/problem+json",
			respBody: `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"d"}`, noToken: true, wantErr: "WWW-Authenticate"},
		{name: "a health check needs no token", method: "GET", path: "/healthz", status: 200, contentType: "application/json; charset=utf-8",
			respBody: `{"status":"ok","version":"v","default_rule":{"sha256":"1cbe423a7a0a3fe3f8dcaede253a21c4cdc7ba2dbb9032ec650598631c7c9f18","abi_version":1}}`, noToken: true},
		{name: "a conforming 200", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json", respBody: okResp},
		{name: "a conforming 400", path: "/v1/compute", reqBody: validReq + " x", status: 400, contentType: "application/problem+json",
			respBody: `{"type":"about:blank","title":"Bad Request","status":400,"errors":[{"field":"","detail":"x"}]}`},
		{name: "a conforming 404", method: "GET", path: "/nope", status: 404, contentType: "application/problem+json",
			respBody: `{"type":"about:blank","title":"Not Found","status":404}`},
		{name: "a negative quantity", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: `{"items":[{"id":"v","quantities":{"alpha":-1}}],"warnings":[]}`, wantErr: "response body doesn't match"},
		{name: "a quantity over 999999", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: `{"items":[{"id":"v","quantities":{"alpha":1000000}}],"warnings":[]}`, wantErr: "response body doesn't match"},
		{name: "an undocumented member", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: `{"items":[{"id":"v","quantities":{"alpha":1},"extra":1}],"warnings":[]}`, wantErr: "response body doesn't match"},
		{name: "no warnings", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: `{"items":[{"id":"v","quantities":{"alpha":1}}]}`, wantErr: "response body doesn't match"},
		{name: "an item with neither quantities nor error", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: `{"items":[{"id":"v"}],"warnings":[]}`, wantErr: "response body doesn't match"},
		{name: "an unknown warning code", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: `{"items":[{"id":"v","quantities":{"alpha":1}}],"warnings":[{"code":"oops","message":"m"}]}`, wantErr: "response body doesn't match"},
		{name: "a problem as application/json", path: "/v1/compute", reqBody: `{}`, status: 422, contentType: "application/json",
			respBody: `{"type":"about:blank","title":"Unprocessable Entity","status":422}`, wantErr: "Content-Type"},
		{name: "a problem whose status is not the response's", path: "/v1/compute", reqBody: `{}`, status: 422, contentType: "application/problem+json",
			respBody: `{"type":"about:blank","title":"Bad Request","status":400}`, wantErr: "problem's status"},
		{name: "a field that is not a JSON Pointer", path: "/v1/compute", reqBody: `{}`, status: 422, contentType: "application/problem+json",
			respBody: `{"type":"about:blank","title":"Unprocessable Entity","status":422,"errors":[{"field":"items[0]","detail":"x"}]}`, wantErr: "response body doesn't match"},
		{name: "an undocumented status", path: "/v1/compute", reqBody: validReq, status: 418, contentType: "application/problem+json",
			respBody: `{"type":"about:blank","title":"I'm a teapot","status":418}`, wantErr: "status is not supported"},
		{name: "200 to a request with an unknown member", path: "/v1/compute", reqBody: `{"items":[],"x":1}`, status: 200, contentType: "application/json",
			respBody: `{"items":[],"warnings":[]}`, wantErr: "the server accepted a request that the document rejects"},
		{name: "200 to a body with a duplicate name", path: "/v1/compute", reqBody: `{"items":[],"items":[]}`, status: 200, contentType: "application/json",
			respBody: `{"items":[],"warnings":[]}`, wantErr: "the server accepted a request that the document rejects"},
		{name: "400 to a request the document accepts", path: "/v1/compute", reqBody: validReq, status: 400, contentType: "application/problem+json",
			respBody: `{"type":"about:blank","title":"Bad Request","status":400}`, wantErr: "answered 400"},
		{name: "a 404 in plain text", method: "GET", path: "/nope", status: 404, contentType: "text/plain", respBody: `404 page not found`, wantErr: "Content-Type"},
		{name: "a 405 without Allow", method: "GET", path: "/v1/compute", status: 405, contentType: "application/problem+json",
			respBody: `{"type":"about:blank","title":"Method Not Allowed","status":405}`, wantErr: "Allow"},
		{name: "a 405 for a documented operation", method: "GET", path: "/healthz", status: 405, contentType: "application/problem+json", allow: "POST",
			respBody: `{"type":"about:blank","title":"Method Not Allowed","status":405}`, wantErr: "status is not supported"},
		{name: "a failed item", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: withItem(`"error":{"rule":"buffer@1.0.0","code":"timeout","detail":"d"}`)},
		{name: "an unknown item error code", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: withItem(`"error":{"rule":"buffer@1.0.0","code":"oops","detail":"d"}`), wantErr: "response body doesn't match"},
		{name: "an item with quantities and an error", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: withItem(`"quantities":{"alpha":1},"error":{"rule":"buffer@1.0.0","code":"trap","detail":"d"}`), wantErr: "response body doesn't match"},
		{name: "a skipped plugin stage", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: withItem(`"quantities":{"alpha":1},"trace":[{"stage":"default","quantities":{"alpha":1}},{"stage":"buffer@1.0.0","quantities":{"alpha":1},"error":{"rule":"buffer@1.0.0","code":"trap","detail":"d"},"skipped":true}]`)},
		{name: "a plugin stage with notes of any kind", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: withItem(`"quantities":{"alpha":1},"trace":[{"stage":"buffer@1.0.0","quantities":{"alpha":1},"warehouses":{"alpha":{"sum":"text","capped":{"by":"x"}}},"item":{"n":1.5}}]`)},
		{name: "a default stage with an error", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: withItem(`"quantities":{"alpha":1},"trace":[{"stage":"default","error":{"rule":"default","code":"trap","detail":"d"}}]`), wantErr: "response body doesn't match"},
		{name: "a default stage with a sum that is not a number", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: withItem(`"quantities":{"alpha":1},"trace":[{"stage":"default","warehouses":{"alpha":{"sum":"text"}}}]`), wantErr: "response body doesn't match"},
		{name: "a stage that is neither default nor a plugin version", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: withItem(`"quantities":{"alpha":1},"trace":[{"stage":"buffer"}]`), wantErr: "response body doesn't match"},
		{name: "a plugin stage with an unknown member", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: withItem(`"quantities":{"alpha":1},"trace":[{"stage":"buffer@1.0.0","extra":1}]`), wantErr: "response body doesn't match"},
		{name: "logs", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: `{"items":[],"warnings":[{"code":"rule_skipped","message":"m","field":"/settings/rules/0"}],"logs":[{"rule":"buffer@1.0.0","calls":2,"output":"hi\n","truncated":false}]}`},
		{name: "a log without calls", path: "/v1/compute", reqBody: validReq, status: 200, contentType: "application/json",
			respBody: `{"items":[],"warnings":[],"logs":[{"rule":"buffer@1.0.0","output":"","truncated":false}]}`, wantErr: "response body doesn't match"},
		{name: "200 to a rule with an unknown member", path: "/v1/compute", reqBody: `{"settings":{"rules":[{"plugin":"buffer","version":"1.0.0","retries":1}]},"items":[]}`, status: 200, contentType: "application/json",
			respBody: `{"items":[],"warnings":[]}`, wantErr: "the server accepted a request that the document rejects"},
		{name: "a conforming 201", method: "PUT", path: "/v1/plugins/buffer/versions/1.0.0", reqBody: "\x00asm", reqType: "application/wasm",
			status: 201, contentType: "application/json", location: "/v1/plugins/buffer/versions/1.0.0", respBody: plugin},
		{name: "a 201 without Location", method: "PUT", path: "/v1/plugins/buffer/versions/1.0.0", reqBody: "\x00asm", reqType: "application/wasm",
			status: 201, contentType: "application/json", respBody: plugin, wantErr: "Location"},
		{name: "201 to an upload that is not application/wasm", method: "PUT", path: "/v1/plugins/buffer/versions/1.0.0", reqBody: "\x00asm", reqType: "application/octet-stream",
			status: 201, contentType: "application/json", location: "/v1/plugins/buffer/versions/1.0.0", respBody: plugin, wantErr: "the server accepted a request that the document rejects"},
		{name: "200 to an upload under an invalid name", method: "PUT", path: "/v1/plugins/Buffer/versions/1.0.0", reqBody: "\x00asm", reqType: "application/wasm",
			status: 200, contentType: "application/json", respBody: plugin, wantErr: "the server accepted a request that the document rejects"},
		{name: "200 to an upload under a version with a leading v", method: "PUT", path: "/v1/plugins/buffer/versions/v1.0.0", reqBody: "\x00asm", reqType: "application/wasm",
			status: 200, contentType: "application/json", respBody: plugin, wantErr: "the server accepted a request that the document rejects"},
		{name: "a plugin from an unknown source", method: "GET", path: "/v1/plugins/buffer/versions/1.0.0", status: 200, contentType: "application/json",
			respBody: strings.Replace(plugin, `"upload"`, `"disk"`, 1), wantErr: "response body doesn't match"},
		{name: "a plugin created at no date", method: "GET", path: "/v1/plugins/buffer/versions/1.0.0", status: 200, contentType: "application/json",
			respBody: strings.Replace(plugin, `"2026-11-27T14:27:27.128529Z"`, `"yesterday"`, 1), wantErr: "response body doesn't match"},
		{name: "a plugin created at a time of another format", method: "GET", path: "/v1/plugins/buffer/versions/1.0.0", status: 200, contentType: "application/json",
			respBody: strings.Replace(plugin, `"2026-11-27T14:27:27.128529Z"`, `"2026-11-27T14:27:27.12853Z"`, 1), wantErr: "response body doesn't match"},
		{name: "a conforming list", method: "GET", path: "/v1/plugins", status: 200, contentType: "application/json",
			respBody: `{"plugins":[{"name":"buffer","owned_by":"operator","versions":[` + plugin + `]}]}`},
		{name: "a 204 for a version", method: "DELETE", path: "/v1/plugins/buffer/versions/1.0.0", status: 204},
		{name: "a 200 for a delete", method: "DELETE", path: "/v1/plugins/buffer/versions/1.0.0", status: 200, contentType: "application/json", respBody: plugin,
			wantErr: "status is not supported"},
		{name: "metrics", method: "GET", path: "/metrics", status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", respBody: "up 1\n"},
		{name: "metrics as JSON", method: "GET", path: "/metrics", status: 200, contentType: "application/json", respBody: `{"up":1}`, wantErr: "response header Content-Type has unexpected value"},
		{name: "a 200 on an undocumented path", method: "GET", path: "/debug/vars", status: 200, contentType: "text/plain", respBody: `up 1`, wantErr: "the document has no such operation"},
		{name: "an unhealthy health", method: "GET", path: "/healthz", status: 200, contentType: "application/json; charset=utf-8",
			respBody: `{"status":"draining"}`, wantErr: "response body doesn't match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				if tt.allow != "" {
					w.Header().Set("Allow", tt.allow)
				}
				if tt.location != "" {
					w.Header().Set("Location", tt.location)
				}
				if tt.challenge != "" {
					w.Header().Set("WWW-Authenticate", tt.challenge)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.respBody))
			}))
			t.Cleanup(fake.Close)
			client := &http.Client{Transport: &checkedTransport{base: fake.Client().Transport, contract: loadContract(t)}}
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, fake.URL+tt.path, strings.NewReader(tt.reqBody))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.noToken {
				req.Header.Set("Authorization", "Bearer srt_test")
			}
			switch {
			case tt.reqType != "":
				req.Header.Set("Content-Type", tt.reqType)
			case tt.reqBody != "":
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("the checker failed a conforming exchange: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("the checker passed an exchange that breaks the document, want an error with %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("error %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}

// TestOpenAPIShopExamples runs the shop examples in the order a merchant
// would: the shop, its settings, then the preview of a change, and expects
// the documented answers.
func TestOpenAPIShopExamples(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
	doc := loadContract(t).doc
	example := func(path, method string, status int, name string, request bool) string {
		t.Helper()
		op := doc.Paths.Value(path).GetOperation(method)
		var ex *openapi3.ExampleRef
		if request {
			ex = op.RequestBody.Value.Content.Get("application/json").Examples[name]
		} else {
			for _, mt := range op.Responses.Status(status).Value.Content {
				ex = mt.Examples[name]
			}
		}
		if ex == nil {
			t.Fatalf("%s %s: no example %q", method, path, name)
		}
		b, err := json.Marshal(ex.Value.Value)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	same := func(what string, got []byte, want string) {
		t.Helper()
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s\n%s\nwant the documented example\n%s", what, got, want)
		}
	}
	const shop = "/v1/shops/acme.myshopify.com"
	s.putShop(t, "acme.myshopify.com", example("/v1/shops/{shop}", "PUT", 0, "shop", true))
	// The settings the preview example starts from.
	s.putSettings(t, "acme.myshopify.com", `{"percentage":80,"mappings":[{"location":"*","warehouse":"alpha"}]}`)

	ex := s.post(t, shop+"/preview", example("/v1/shops/{shop}/preview", "POST", 0, "preview", true))
	if ex.status != http.StatusOK {
		t.Fatalf("preview: %d %s", ex.status, ex.body)
	}
	same("preview", ex.body, example("/v1/shops/{shop}/preview", "POST", 200, "preview", false))

	ex = s.do(t, "PUT", shop+"/settings", "application/json", example("/v1/shops/{shop}/settings", "PUT", 0, "invalid", true))
	if ex.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid settings: %d %s", ex.status, ex.body)
	}
	same("invalid settings", ex.body, example("/v1/shops/{shop}/settings", "PUT", 422, "invalid", false))
}

// TestOpenAPIProblemTypes: every problem type of its own is documented
// with its status in the Problem schema, for clients that tell problems
// apart by type.
func TestOpenAPIProblemTypes(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	described := doc.Components.Schemas["Problem"].Value.Properties["type"].Value.Description
	if len(problem.Types()) == 0 {
		t.Fatal("no problem types")
	}
	for uri, typ := range problem.Types() {
		if want := fmt.Sprintf("%s (%d,", uri, typ.Status); !strings.Contains(described, want) {
			t.Errorf("the Problem schema's type does not document %s as %q", uri, want)
		}
		if !strings.HasPrefix(uri, "/problems/") || typ.Title == "" {
			t.Errorf("problem type %+v: want a /problems/ path and a title", typ)
		}
	}
}
