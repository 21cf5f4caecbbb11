package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// patience is how long a test waits for the server to drop a client
// before it fails: a safety net many times the configured timeouts, never
// a measure of them.
const patience = 2 * time.Minute

// rawConn dials the server, for clients the http package cannot play:
// ones that stall, or never read.
func rawConn(t testing.TB, s *server) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// untilClosed reads what the server sends until it closes the connection,
// and fails the test if it keeps it open longer than patience.
func untilClosed(t *testing.T, c net.Conn) []byte {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	_, err := io.Copy(&got, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %s; got %q", patience, clip(got.Bytes()))
	}
	return got.Bytes() // EOF, or a reset: either way, dropped
}

func authHeader(token string) string {
	if token == "" {
		return ""
	}
	return "Authorization: Bearer " + token + "\r\n"
}

// TestStalledBodyIsDropped sends headers and part of a body, then stalls:
// the server drops the connection after its read timeout, whether or not
// the request had a valid token (without one, net/http would otherwise
// wait forever to discard the rest of the body).
func TestStalledBodyIsDropped(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{bounds: bounds{readTimeout: 500 * time.Millisecond}})
	for _, tt := range []struct {
		name, token string
		status      int
	}{
		{"with a token", testAdminToken, http.StatusBadRequest},
		{"without a token", "", http.StatusUnauthorized},
		{"with a bad token", "not-a-token", http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, s)
			fmt.Fprintf(c, "POST /v1/compute HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n%s\r\n{\"items\":[", authHeader(tt.token))
			got := untilClosed(t, c)
			if line, _, _ := bytes.Cut(got, []byte("\r\n")); len(got) > 0 {
				t.Logf("answered %s, then dropped", line)
			}
			// The answer, if the server could send one before closing,
			// is the request's failure.
			if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 "+strconv.Itoa(tt.status))) {
				t.Errorf("answer %q, want status %d", clip(got), tt.status)
			}
			if tt.status == http.StatusBadRequest && len(got) > 0 && !bytes.Contains(got, []byte("did not arrive within the server's read timeout")) {
				t.Errorf("answer %q, want it to say the body was too slow", clip(got))
			}
		})
	}
}

// TestAnnouncedBodyIsNotAllocated announces a 60 MiB body, within the
// limit, and sends none of it: the server drops the client after its read
// timeout, and never allocated the announced size.
func TestAnnouncedBodyIsNotAllocated(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{bounds: bounds{readTimeout: 500 * time.Millisecond, inflightBytes: 1 << 20}})
	const announced = 60 << 20
	for _, path := range []string{"/v1/compute", "/v1/shops/s/settings", "/v1/tokens"} {
		t.Run(path, func(t *testing.T) {
			c := rawConn(t, s)
			method := http.MethodPost
			if strings.Contains(path, "settings") {
				method = http.MethodPut
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n", method, path, announced, authHeader(testAdminToken))
			untilClosed(t, c)
			runtime.ReadMemStats(&after)
			if d := after.TotalAlloc - before.TotalAlloc; d > announced/4 {
				t.Errorf("the server allocated %d MiB for a body it never received", d>>20)
			}
		})
	}
}

// logTap is a slog handler that passes the server's "request" records to
// a channel.
type logTap struct{ records chan slog.Record }

func (l logTap) Enabled(context.Context, slog.Level) bool { return true }
func (l logTap) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l logTap) WithGroup(string) slog.Handler            { return l }
func (l logTap) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "request" {
		select {
		case l.records <- r:
		default:
		}
	}
	return nil
}

// TestUnreadAnswerIsDropped asks for a large answer and never reads it:
// the server gives up its write after its write timeout and drops the
// connection, instead of keeping a goroutine and the answer forever.
func TestUnreadAnswerIsDropped(t *testing.T) {
	tap := logTap{records: make(chan slog.Record, 4)}
	s := newServer(t, loadRule(t), serverConfig{
		logger: slog.New(tap),
		bounds: bounds{writeTimeout: 500 * time.Millisecond},
	})
	// 600 items of 2000 warehouses: an answer of some 11 MB, more than
	// the loopback's buffers hold (the sender's grows to 4 MiB here).
	var req strings.Builder
	req.WriteString(`{"locations":[{"id":"A"}],"warehouses":[`)
	for w := range 2000 {
		if w > 0 {
			req.WriteByte(',')
		}
		fmt.Fprintf(&req, `{"id":"w%d"}`, w)
	}
	req.WriteString(`],"settings":{"mappings":[{"location":"A","warehouse":"w0"}]},"items":[`)
	for i := range 600 {
		if i > 0 {
			req.WriteByte(',')
		}
		fmt.Fprintf(&req, `{"id":"i%d","tracked":false}`, i)
	}
	req.WriteString(`]}`)

	// The client's receive buffer stays at its initial size (some 128 KiB
	// here) as it never reads; it is not made smaller, as a tiny window
	// would make reading what is left after the drop crawl.
	c := rawConn(t, s)
	fmt.Fprintf(c, "POST /v1/compute HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s",
		req.Len(), authHeader(testAdminToken), req.String())
	// The handler returns only once its write has failed.
	select {
	case rec := <-tap.records:
		var status int64
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "status" {
				status = a.Value.Int64()
			}
			return true
		})
		if status != http.StatusOK {
			t.Fatalf("logged status %d, want 200", status)
		}
	case <-time.After(patience):
		t.Fatalf("the server still writes to a client that does not read, after %s", patience)
	}
	got := untilClosed(t, c)
	m := regexp.MustCompile(`(?i)\r\nContent-Length: (\d+)\r\n`).FindSubmatch(got)
	end := bytes.Index(got, []byte("\r\n\r\n"))
	if m == nil || end < 0 {
		t.Fatalf("no answer's head in %q", clip(got))
	}
	want, _ := strconv.Atoi(string(m[1]))
	if want < 8<<20 {
		t.Fatalf("an answer of %d bytes is too small to fill the buffers", want)
	}
	sent := len(got) - end - 4
	if sent >= want {
		t.Errorf("the client got the whole answer (%d bytes): it was not dropped", sent)
	}
	t.Logf("dropped after %d of %d bytes", sent, want)
}

// TestInflightBodyBound fills the bound of body bytes in flight with one
// request held in the rule: another body finds no room, and is 503 with
// Retry-After; once the first request ends, its bytes are free again.
func TestInflightBodyBound(t *testing.T) {
	r := loadRule(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free() // before the server closes, even if the test fails
	held := runnerFunc(func(ctx context.Context, input []byte, read func([]byte) error) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return r.module.Call(ctx, input, read)
	})
	// The held request's body: a valid request padded with blanks.
	big := body(seedShop, itemsAB) + strings.Repeat(" ", 100<<10)
	s := newServer(t, r, serverConfig{runner: held, bounds: bounds{
		inflightBytes: int64(len(big)) + 100,
		inflightWait:  50 * time.Millisecond,
	}})
	done := make(chan exchange, 1)
	go func() {
		ex, err := s.try(http.MethodPost, "/v1/compute", "application/json", strings.NewReader(big))
		if err != nil {
			t.Error(err)
		}
		done <- ex
	}()
	select {
	case <-entered:
	case ex := <-done:
		t.Fatalf("the held request was answered %d: %s", ex.status, ex.body)
	}
	small := body(seedShop, itemsAB) // over the 100 bytes left
	for _, rq := range []struct{ method, path, body string }{
		{http.MethodPost, "/v1/compute", small},
		{http.MethodPut, "/v1/shops/corner/settings", `{"percentage":` + strings.Repeat(" ", 200) + `50}`},
		{http.MethodPost, "/v1/tokens", `{"name":"t","scopes":["admin"]}` + strings.Repeat(" ", 200)},
	} {
		ex := s.do(t, rq.method, rq.path, "application/json", rq.body)
		p := problemOf(t, ex, http.StatusServiceUnavailable)
		if ex.header.Get("Retry-After") != "1" {
			t.Errorf("%s: Retry-After %q, want 1", rq.path, ex.header.Get("Retry-After"))
		}
		if !strings.Contains(p.Detail, "busy") {
			t.Errorf("%s: detail %q", rq.path, p.Detail)
		}
	}
	free()
	if ex := <-done; ex.status != http.StatusOK {
		t.Fatalf("the held request: %d %s", ex.status, ex.body)
	}
	s.compute(t, "", small)
}

// TestComputeRateLimit spends one token's burst of computes: the next is
// 429 with Retry-After, on every compute route, while another token and
// the routes that do not compute are unaffected.
func TestComputeRateLimit(t *testing.T) {
	s := newServer(t, loadRule(t), serverConfig{bounds: bounds{computeRate: 0.001, computeBurst: 3}})
	other := s.as(s.createToken(t, "shop:corner"))
	req := body(seedShop, itemsAB)
	for range 3 {
		s.compute(t, "", req)
	}
	for _, path := range []string{"/v1/compute", "/v1/shops/corner/compute", "/v1/shops/corner/preview"} {
		ex := s.post(t, path, req)
		p := problemOf(t, ex, http.StatusTooManyRequests)
		// 0.001 a second: the next token in 1000 s.
		if ra := ex.header.Get("Retry-After"); ra != "1000" {
			t.Errorf("%s: Retry-After %q, want 1000", path, ra)
		}
		if !strings.Contains(p.Detail, "Too many computes") {
			t.Errorf("%s: detail %q", path, p.Detail)
		}
	}
	if ex := s.do(t, http.MethodGet, "/v1/shops", "", ""); ex.status != http.StatusOK {
		t.Errorf("GET /v1/shops: %d, want 200: only computes are limited", ex.status)
	}
	other.compute(t, "", req)
}

// BenchmarkSlowClients measures the heap that slow clients make the
// server hold: each announces a body of the largest size, sends 24 MiB of
// it and stalls. Without a bound the server holds them all; with one, it
// holds at most the bound (in buffers that grow by doubling) and answers
// the others 503.
//
//	go test -run '^$' -bench SlowClients -benchtime 1x ./host/internal/httpapi/
func BenchmarkSlowClients(b *testing.B) {
	const clients, sent = 8, 24 << 20
	pad := bytes.Repeat([]byte(" "), sent)
	for _, bound := range []int64{0, 64 << 20} {
		b.Run(fmt.Sprintf("clients=%d/inflight=%dMiB", clients, bound>>20), func(b *testing.B) {
			s := newServer(b, loadRule(b), serverConfig{bounds: bounds{inflightBytes: bound}})
			var heap float64
			for b.Loop() {
				runtime.GC()
				var base, held runtime.MemStats
				runtime.ReadMemStats(&base)
				conns := make([]net.Conn, clients)
				var wg sync.WaitGroup
				for i := range conns {
					c := rawConn(b, s)
					conns[i] = c
					wg.Go(func() {
						fmt.Fprintf(c, "POST /v1/compute HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n{\"items\":[",
							64<<20, authHeader(testAdminToken))
						c.Write(pad) // a refused client's write fails: it was reset
					})
				}
				// Every write has returned: what each client sent is
				// read by the server or in the kernel's buffers, or the
				// server refused it.
				wg.Wait()
				// Two collections empty the pools of the refused
				// requests' buffers.
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&held)
				heap = float64(int64(held.HeapInuse)-int64(base.HeapInuse)) / (1 << 20)
				for _, c := range conns {
					c.Close()
				}
			}
			b.ReportMetric(heap, "heap-MiB")
		})
	}
}
