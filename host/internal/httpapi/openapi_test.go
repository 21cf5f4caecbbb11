package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/syncrules/syncrules/host/internal/httpapi"
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
	for _, name := range []string{"ComputeRequest", "Settings", "Mapping", "Location", "Warehouse", "Item"} {
		s := doc.Components.Schemas[name]
		if s == nil || s.Value.AdditionalProperties.Has == nil || *s.Value.AdditionalProperties.Has {
			t.Errorf("schema %s does not forbid unknown members", name)
		}
	}
}

// TestOpenAPIExamples sends each documented request example to the real
// server and expects the documented response example, so the examples
// cannot go stale.
func TestOpenAPIExamples(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{})
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
	tests := []struct {
		name        string
		method      string
		path        string
		reqBody     string
		status      int
		contentType string
		allow       string
		respBody    string
		wantErr     string // "" for an exchange that conforms
	}{
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
		{name: "a 200 on an undocumented path", method: "GET", path: "/metrics", status: 200, contentType: "text/plain", respBody: `up 1`, wantErr: "the document has no such operation"},
		{name: "an unhealthy health", method: "GET", path: "/healthz", status: 200, contentType: "application/json; charset=utf-8",
			respBody: `{"status":"draining"}`, wantErr: "response body doesn't match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				if tt.allow != "" {
					w.Header().Set("Allow", tt.allow)
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
			if tt.reqBody != "" {
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
