package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// This file has the minimal GraphQL servers of the tests that need an
// answer the fake does not give on demand (a chosen bucket state, a
// dropped connection).

const testToken = "shpat_0123456789abcdef-never-log-me"

// gqlRequest is what a test server received.
type gqlRequest struct {
	Path, Token string
	Query       string
	Variables   map[string]any
}

func (r gqlRequest) op() string {
	q := strings.TrimSpace(r.Query)
	for _, kw := range []string{"query ", "mutation "} {
		if rest, ok := strings.CutPrefix(q, kw); ok {
			return strings.FieldsFunc(rest, func(r rune) bool { return r == '(' || r == ' ' || r == '{' })[0]
		}
	}
	return ""
}

// gqlServer serves handle's answers and records the requests.
type gqlServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []gqlRequest
}

func newGQLServer(t *testing.T, handle func(w http.ResponseWriter, req gqlRequest)) *gqlServer {
	t.Helper()
	s := &gqlServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Query     string         `json:"query"`
			Variables map[string]any `json:"variables"`
		}
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if r.Method != http.MethodPost || dec.Decode(&body) != nil {
			http.Error(w, "want a POSTed GraphQL request", http.StatusBadRequest)
			return
		}
		req := gqlRequest{Path: r.URL.Path, Token: r.Header.Get("X-Shopify-Access-Token"), Query: body.Query, Variables: body.Variables}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		handle(w, req)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *gqlServer) got() []gqlRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]gqlRequest(nil), s.requests...)
}

// fullBucket is the cost extension of an answer from an idle bucket.
func fullBucket(requested float64) map[string]any {
	return costExt(requested, requested, 1000, 1000-requested, 50)
}

func costExt(requested, actual, maxAvail, current, rate float64) map[string]any {
	return map[string]any{"cost": map[string]any{
		"requestedQueryCost": requested, "actualQueryCost": actual,
		"throttleStatus": map[string]any{"maximumAvailable": maxAvail, "currentlyAvailable": current, "restoreRate": rate},
	}}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func answerData(w http.ResponseWriter, data any) {
	writeJSON(w, map[string]any{"data": data, "extensions": fullBucket(10)})
}

// fakeClock is a clock whose sleeps pass at once and are recorded.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) slept() (total time.Duration, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.sleeps {
		total += d
	}
	return total, len(c.sleeps)
}

// capturedLog is a logger at debug level whose output a test reads.
type capturedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capturedLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *capturedLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *capturedLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newTestClient is a client of base whose clock is fake when clock is
// given.
func newTestClient(t *testing.T, base string, clock *fakeClock, mod func(*Options)) *Client {
	t.Helper()
	o := Options{BaseURL: base, AccessToken: testToken, BulkAbove: 2000, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if clock != nil {
		c.now, c.sleep = clock.now, clock.sleep
	}
	return c
}
