package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/internal/registry"
	"github.com/syncrules/syncrules/host/internal/shop"
)

type noMetrics struct{}

func (noMetrics) Handler() http.Handler                          { return http.NotFoundHandler() }
func (noMetrics) ObserveHTTP(string, string, int, time.Duration) {}

// TestEveryRouteDocumented: each route the server serves is an operation
// of openapi.json, so a new route cannot ship undocumented (the exchange
// checks of the other tests only see the routes they call).
func TestEveryRouteDocumented(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	// With plugins and metrics, so that every route is there; the
	// operations are not called.
	h := New(Options{Shops: shop.New(shop.Options{Plugins: &registry.Registry{}}), Metrics: noMetrics{}})
	param := regexp.MustCompile(`[:*]([a-z]+)`)
	seen := map[string]bool{}
	for _, r := range h.engine.Routes() {
		if r.Method == http.MethodHead {
			continue // served with GET's answer, as HTTP says
		}
		path := param.ReplaceAllString(r.Path, "{$1}")
		seen[r.Method+" "+path] = true
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is served but openapi.json has no such operation", r.Method, path)
		}
	}
	// The routes of each kind are there, so the loop checked something.
	for _, want := range []string{"GET /metrics", "PUT /v1/plugins/{name}/versions/{version}", "POST /v1/session", "GET /assets/{name}", "POST /v1/shops/{shop}/sync/resync"} {
		if !seen[want] {
			t.Errorf("the server has no route %s", want)
		}
	}
}
