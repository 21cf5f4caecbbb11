package shopify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewRefusesWhatCannotWork(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string // in the error; "" is no error
	}{
		{"domain", Options{Domain: "acme.myshopify.com", AccessToken: "t"}, ""},
		{"base url", Options{BaseURL: "http://127.0.0.1:9", AccessToken: "t"}, ""},
		{"no token", Options{Domain: "acme.myshopify.com"}, "AccessToken"},
		{"no domain", Options{AccessToken: "t"}, "Domain"},
		{"url for a domain", Options{Domain: "https://acme.myshopify.com", AccessToken: "t"}, "Domain"},
		{"negative bulk", Options{Domain: "a.myshopify.com", AccessToken: "t", BulkAbove: -1}, "BulkAbove"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("New: %v, want an error naming %q", err, tc.want)
			}
		})
	}
	c, _ := New(Options{Domain: "acme.myshopify.com", AccessToken: "t"})
	if want := "https://acme.myshopify.com/admin/api/2026-10/graphql.json"; c.endpoint != want {
		t.Errorf("endpoint %q, want %q", c.endpoint, want)
	}
}

func TestRequestCarriesTokenToVersionedEndpoint(t *testing.T) {
	srv := newGQLServer(t, func(w http.ResponseWriter, req gqlRequest) {
		answerData(w, map[string]any{"shop": map[string]any{"name": "Acme", "myshopifyDomain": "acme.myshopify.com"}})
	})
	c := newTestClient(t, srv.URL, nil, func(o *Options) { o.APIVersion = "2025-07" })
	shop, err := c.Shop(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if shop != (Shop{Name: "Acme", MyshopifyDomain: "acme.myshopify.com"}) {
		t.Errorf("shop %+v", shop)
	}
	got := srv.got()
	if len(got) != 1 || got[0].Path != "/admin/api/2025-07/graphql.json" || got[0].Token != testToken {
		t.Errorf("requests %+v, want one to /admin/api/2025-07/graphql.json with the token", got)
	}
}

func TestErrorsComeBackTyped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   any
		check  func(t *testing.T, err error)
	}{
		{"graphql error", 200, map[string]any{"data": nil, "errors": []any{map[string]any{
			"message": "Field 'bogus' doesn't exist", "extensions": map[string]any{"code": "undefinedField"}, "path": []any{"query", 9007199254740993}}}},
			func(t *testing.T, err error) {
				var qe *QueryError
				if !errors.As(err, &qe) || !qe.HasCode("undefinedField") || !strings.Contains(err.Error(), "bogus") {
					t.Fatalf("%v, want a *QueryError with code undefinedField", err)
				}
			}},
		{"unauthorized", 401, map[string]any{"errors": "[API] Invalid API key or access token"},
			func(t *testing.T, err error) {
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != 401 || !strings.Contains(err.Error(), "reconnect") {
					t.Fatalf("%v, want a *StatusError 401 that says to reconnect", err)
				}
			}},
		{"max cost", 200, map[string]any{"errors": []any{map[string]any{
			"message": "Query cost is 1502, which exceeds the single query max cost limit (1000).", "extensions": map[string]any{"code": "MAX_COST_EXCEEDED"}}}},
			func(t *testing.T, err error) {
				var qe *QueryError
				if !errors.As(err, &qe) || !qe.HasCode("MAX_COST_EXCEEDED") {
					t.Fatalf("%v, want MAX_COST_EXCEEDED", err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newGQLServer(t, func(w http.ResponseWriter, req gqlRequest) {
				w.WriteHeader(tc.status)
				writeJSON(w, tc.body)
			})
			clock := &fakeClock{}
			_, err := newTestClient(t, srv.URL, clock, nil).Shop(context.Background())
			tc.check(t, err)
			if n := len(srv.got()); n != 1 {
				t.Errorf("%d requests, want 1: a permanent error is not retried", n)
			}
		})
	}
}

func TestUserErrorsComeBackTyped(t *testing.T) {
	srv := newGQLServer(t, func(w http.ResponseWriter, req gqlRequest) {
		answerData(w, map[string]any{"bulkOperationRunQuery": map[string]any{"bulkOperation": nil, "userErrors": []any{
			map[string]any{"field": []string{"query"}, "message": "A bulk query operation for this app and shop is already in progress", "code": "OPERATION_IN_PROGRESS"}}}})
	})
	c := newTestClient(t, srv.URL, &fakeClock{}, func(o *Options) { o.BulkAbove = 0 })
	for _, err := range c.Catalog(context.Background()) {
		var ue *UserErrors
		if !errors.As(err, &ue) || ue.Errors[0].Code != "OPERATION_IN_PROGRESS" || !strings.Contains(err.Error(), "query: A bulk") {
			t.Fatalf("%v, want *UserErrors OPERATION_IN_PROGRESS naming its field", err)
		}
		return
	}
	t.Fatal("the catalog ended without the error")
}

func TestTransientFailuresAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(w http.ResponseWriter)
	}{
		{"503", func(w http.ResponseWriter) { http.Error(w, "unavailable", http.StatusServiceUnavailable) }},
		{"502", func(w http.ResponseWriter) { http.Error(w, "bad gateway", http.StatusBadGateway) }},
		{"dropped connection", func(w http.ResponseWriter) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}},
		{"truncated answer", func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "100")
			w.Write([]byte(`{"data":`))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := newGQLServer(t, func(w http.ResponseWriter, req gqlRequest) {
				if calls.Add(1) <= 2 {
					tc.fail(w)
					return
				}
				answerData(w, map[string]any{"shop": map[string]any{"name": "Acme"}})
			})
			clock := &fakeClock{}
			shop, err := newTestClient(t, srv.URL, clock, nil).Shop(context.Background())
			if err != nil || shop.Name != "Acme" {
				t.Fatalf("Shop: %+v, %v; want Acme after two failures", shop, err)
			}
			if _, n := clock.slept(); n != 2 {
				t.Errorf("%d waits, want one before each retry", n)
			}
		})
	}
}

func TestTransientFailuresGiveUp(t *testing.T) {
	srv := newGQLServer(t, func(w http.ResponseWriter, req gqlRequest) {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	})
	clock := &fakeClock{}
	_, err := newTestClient(t, srv.URL, clock, nil).Shop(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 503 {
		t.Fatalf("%v, want the 503", err)
	}
	if n := len(srv.got()); n != maxAttempts {
		t.Errorf("%d tries, want %d", n, maxAttempts)
	}
	// The waits grow, jittered within [bound/2, bound].
	clock.mu.Lock()
	defer clock.mu.Unlock()
	for i, d := range clock.sleeps {
		bound := min(backoffBase<<i, backoffCap)
		if d < bound/2 || d > bound {
			t.Errorf("wait %d is %v, want within [%v, %v]", i+1, d, bound/2, bound)
		}
	}
}

func TestEveryRequestHasATimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newGQLServer(t, func(w http.ResponseWriter, req gqlRequest) {
		<-release // never answers while the test runs
	})
	// Cleanups run last first: release the handlers before the server
	// waits for them.
	t.Cleanup(func() { close(release) })
	clock := &fakeClock{}
	c := newTestClient(t, srv.URL, clock, func(o *Options) { o.RequestTimeout = 20 * time.Millisecond })
	_, err := c.Shop(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v, want the request's deadline", err)
	}
	if n := len(srv.got()); n != maxAttempts {
		t.Errorf("%d tries, want %d: a timed-out attempt is retried", n, maxAttempts)
	}
}

func TestTokenIsNeverLogged(t *testing.T) {
	var calls atomic.Int32
	srv := newGQLServer(t, func(w http.ResponseWriter, req gqlRequest) {
		switch calls.Add(1) {
		case 1:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		case 2:
			writeJSON(w, map[string]any{"errors": []any{map[string]any{"message": "Throttled", "extensions": map[string]any{"code": "THROTTLED"}}},
				"extensions": costExt(10, 0, 1000, 0, 50)})
		case 3:
			answerData(w, map[string]any{"shop": map[string]any{"name": "Acme"}})
		default:
			w.WriteHeader(http.StatusUnauthorized)
			writeJSON(w, map[string]any{"errors": "[API] Invalid API key or access token"})
		}
	})
	var log capturedLog
	c := newTestClient(t, srv.URL, &fakeClock{}, func(o *Options) { o.Logger = log.logger() })
	if _, err := c.Shop(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := c.Shop(context.Background())
	if err == nil {
		t.Fatal("want the 401")
	}
	out := log.String()
	for _, want := range []string{"retrying", "throttled", "answered"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q; the test logs too little to prove anything:\n%s", want, out)
		}
	}
	if strings.Contains(out, testToken) || strings.Contains(err.Error(), testToken) {
		t.Errorf("the token leaked:\nlog: %s\nerr: %v", out, err)
	}
}
