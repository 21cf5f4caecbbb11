package httpapi

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/syncrules/syncrules/host/internal/problem"
)

// This file holds the middleware that bounds what a client costs the
// server: how long it may take to send its request and read its answer,
// how many body bytes all requests in flight may hold, and how often one
// token may ask for a compute.

// bodyChunk is the most a body read reserves at once: a request holds at
// most what it has read plus this.
const bodyChunk = 64 << 10

// defaultInflightWait is how long a body read waits for room under
// Options.InflightBodyBytes when Options.InflightWait is zero.
const defaultInflightWait = time.Second

// maxLimiters bounds the per-token rate limiters kept; idle ones are
// dropped first.
const maxLimiters = 10_000

// errInflight is a body read refused because the bytes of requests in
// flight are at their bound.
var errInflight = errors.New("the server holds as many request bytes as it may")

// bodyReadError is a failure to read a request's body: the client went
// away or was too slow. It is the client's, not the server's.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "reading the body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

// readFailure is err, from reading a body, as the client's failure unless
// it is the server's bound.
func readFailure(err error) error {
	var re *bodyReadError
	if errors.Is(err, errInflight) || errors.As(err, &re) {
		return err
	}
	return &bodyReadError{err}
}

// limitProblem answers the errors of this file's middleware, which package
// problem does not know: they are the HTTP layer's.
func limitProblem(c *gin.Context, err error) (problem.Problem, bool) {
	var re *bodyReadError
	switch {
	case errors.Is(err, errInflight):
		c.Header("Retry-After", "1")
		return problem.New(http.StatusServiceUnavailable, "The server is busy reading other requests. Retry later."), true
	case errors.As(err, &re) && errors.Is(err, os.ErrDeadlineExceeded):
		return problem.New(http.StatusBadRequest, "The body did not arrive within the server's read timeout."), true
	case errors.As(err, &re):
		// The error names the connection's addresses: not for the client.
		return problem.New(http.StatusBadRequest, "The body could not be read: the connection failed."), true
	}
	return problem.Problem{}, false
}

// bound sets the request's deadlines and meters its body. It runs first,
// for every request, with or without a token.
//
// The read deadline starts when the headers are read and bounds the body;
// it is lifted once the body is read whole, so that a compute may then take
// as long as it needs (net/http would otherwise cancel the request's
// context when the deadline passes). The write deadline starts at the
// answer's first byte, or when the handler returns, so that a client that
// never reads its answer is dropped WriteTimeout later however long the
// compute took.
func (h *Handler) bound(c *gin.Context) {
	rc := http.NewResponseController(c.Writer)
	hasBody := c.Request.Body != nil && c.Request.Body != http.NoBody
	var b *meteredBody
	if hasBody && (h.opt.ReadTimeout > 0 || h.inflight != nil) {
		b = &meteredBody{ReadCloser: c.Request.Body, h: h, ctx: c.Request.Context(), size: c.Request.ContentLength}
		if d := h.opt.ReadTimeout; d > 0 {
			_ = rc.SetReadDeadline(time.Now().Add(d))
			b.atEOF = func() { _ = rc.SetReadDeadline(time.Time{}) }
		}
		c.Request.Body = b
		defer b.release()
	}
	if d := h.opt.WriteTimeout; d > 0 {
		w := &deadlineWriter{ResponseWriter: c.Writer, rc: rc, d: d}
		c.Writer = w
		defer w.start()
	}
	c.Next()
}

// meteredBody is a request body that reserves room under the server's
// bound of bytes in flight before each read, and keeps what it read
// reserved until the request ends.
type meteredBody struct {
	io.ReadCloser
	h     *Handler
	ctx   context.Context
	atEOF func()
	// size is the declared length, or -1; read is what was read.
	size, read int64

	mu   sync.Mutex
	held int64
}

func (b *meteredBody) Read(p []byte) (int, error) {
	sem := b.h.inflight
	var want int64
	if sem != nil && len(p) > 0 {
		if len(p) > bodyChunk {
			p = p[:bodyChunk]
		}
		want = int64(len(p))
		if b.size >= 0 {
			// No more than the declared length can arrive (net/http
			// stops there), and the read that finds the end needs no
			// room: a body that fits the bound whole never waits on
			// itself.
			if want = min(want, b.size-b.read); want > 0 {
				p = p[:want]
			}
		}
		if want > 0 && !sem.TryAcquire(want) {
			ctx, cancel := context.WithTimeout(b.ctx, b.h.inflightWait)
			err := sem.Acquire(ctx, want)
			cancel()
			if err != nil {
				return 0, errInflight
			}
		}
	}
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if sem != nil && want > 0 {
		kept := min(int64(n), want)
		if kept < want {
			sem.Release(want - kept)
		}
		b.mu.Lock()
		b.held += kept
		b.mu.Unlock()
	}
	switch {
	case err == io.EOF:
		if b.atEOF != nil {
			b.atEOF()
			b.atEOF = nil
		}
	case err != nil:
		err = &bodyReadError{err}
	}
	return n, err
}

// release returns what the body holds, when the request ends.
func (b *meteredBody) release() {
	b.mu.Lock()
	held := b.held
	b.held = 0
	b.mu.Unlock()
	if held > 0 {
		b.h.inflight.Release(held)
	}
}

// deadlineWriter sets the connection's write deadline at the answer's
// first byte.
type deadlineWriter struct {
	gin.ResponseWriter
	rc      *http.ResponseController
	d       time.Duration
	started bool
}

func (w *deadlineWriter) start() {
	if !w.started {
		w.started = true
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	}
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.start()
	return w.ResponseWriter.Write(b)
}

func (w *deadlineWriter) WriteString(s string) (int, error) {
	w.start()
	return w.ResponseWriter.WriteString(s)
}

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// limiters are token buckets by key, at most max of them: when full, the
// buckets that have refilled (idle long enough that a new one is the same)
// are dropped, then, if need be, arbitrary others.
type limiters struct {
	mu    sync.Mutex
	rate  rate.Limit
	burst int
	max   int
	m     map[string]*rate.Limiter
}

func newLimiters(r float64, burst, max int) *limiters {
	return &limiters{rate: rate.Limit(r), burst: burst, max: max, m: map[string]*rate.Limiter{}}
}

// wait takes a token from key's bucket and returns zero, or returns how
// long until one is there and takes nothing.
func (l *limiters) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[key]
	if lim == nil {
		if len(l.m) >= l.max {
			l.evict(now)
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.m[key] = lim
	}
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

func (l *limiters) evict(now time.Time) {
	for k, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < l.max*3/4 {
			break
		}
		delete(l.m, k)
	}
}

// limitCompute answers 429 to a token (a client address, without one)
// over its rate of computes, with Retry-After in whole seconds.
func (h *Handler) limitCompute(c *gin.Context) {
	if h.computeRate == nil {
		c.Next()
		return
	}
	key := principal(c).TokenID
	if key == "" {
		key = "ip:" + c.RemoteIP()
	}
	if d := h.computeRate.wait(key, time.Now()); d > 0 {
		secs := max(1, int(math.Ceil(d.Seconds())))
		c.Header("Retry-After", strconv.Itoa(secs))
		writeProblem(c, problem.New(http.StatusTooManyRequests,
			"Too many computes for this token: at most "+strconv.FormatFloat(float64(h.computeRate.rate), 'g', -1, 64)+
				" a second, in bursts of "+strconv.Itoa(h.computeRate.burst)+". Retry after "+strconv.Itoa(secs)+" s."))
		return
	}
	c.Next()
}
