// Package fakes holds what the fake Shopify (shopifyfake) and the fake
// TikTok Shop (tiktokfake) share: the request log, injected faults, a
// loopback listener and the JSON plumbing of their control APIs.
//
// The fakes are test doubles and a demo aid. They are written from what the
// platforms document and do, never from this project's clients, so that a
// client that misreads an API fails against them.
package fakes

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// ControlPrefix is where each fake serves its control API.
const ControlPrefix = "/_control/"

// Redacted replaces a secret in the request log.
const Redacted = "REDACTED"

// secretHeaders and secretParams never reach the request log.
var (
	secretHeaders = []string{"Authorization", "X-Shopify-Access-Token", "X-Tts-Access-Token", "Cookie"}
	secretParams  = []string{"sign", "access_token", "app_secret", "refresh_token", "auth_code"}
)

// Request is one request a fake received, secrets redacted.
type Request struct {
	Time   time.Time   `json:"time"`
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  url.Values  `json:"query,omitempty"`
	Header http.Header `json:"header,omitempty"`
	Body   string      `json:"body,omitempty"`
	// Status is the HTTP status answered; 0 when the connection was dropped.
	Status int `json:"status"`
	// Code is the platform's error code answered ("" or "0" on success):
	// TikTok's envelope code, Shopify's first GraphQL error code.
	Code string `json:"code,omitempty"`
}

// Log records requests, at most max (the oldest go first).
type Log struct {
	mu   sync.Mutex
	max  int
	reqs []Request
}

// NewLog returns a log that keeps the last max requests (max ≤ 0: 10,000).
func NewLog(max int) *Log {
	if max <= 0 {
		max = 10_000
	}
	return &Log{max: max}
}

// Add appends a request.
func (l *Log) Add(r Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.reqs) >= l.max {
		l.reqs = slices.Delete(l.reqs, 0, len(l.reqs)-l.max+1)
	}
	l.reqs = append(l.reqs, r)
}

// Requests returns the recorded requests, oldest first.
func (l *Log) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request{}, l.reqs...) // [] in JSON when empty, not null
}

// Reset forgets every request.
func (l *Log) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = nil
}

// NewRequest describes r for the log, with its secrets redacted. body is
// the request body already read.
func NewRequest(r *http.Request, body []byte, now time.Time) Request {
	h := r.Header.Clone()
	for _, k := range secretHeaders {
		if h.Get(k) != "" {
			h.Set(k, Redacted)
		}
	}
	q := r.URL.Query()
	for _, k := range secretParams {
		if q.Has(k) {
			q.Set(k, Redacted)
		}
	}
	return Request{Time: now, Method: r.Method, Path: r.URL.Path, Query: q, Header: h, Body: string(body)}
}

// Duration is a time.Duration that JSON writes and reads as "1.5s".
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"1.5s\" or \"200ms\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Fault is a misbehaviour to inject into the next requests a fake
// answers. It applies to Count matching requests, or to every matching
// request for For, or (neither set) to the next one.
type Fault struct {
	// Path limits the fault to requests whose path contains it; "" means
	// every request but the control API's.
	Path  string   `json:"path,omitempty"`
	Count int      `json:"count,omitempty"`
	For   Duration `json:"for,omitempty"`

	// Latency delays the answer (combined with any of the others).
	Latency Duration `json:"latency,omitempty"`
	// Status answers with this HTTP status in the platform's shape: 429 is
	// the rate-limit answer (TikTok 36009002, Shopify's 429 with
	// Retry-After), 5xx the platform's internal error.
	Status int `json:"status,omitempty"`
	// Drop closes the connection without answering.
	Drop bool `json:"drop,omitempty"`
	// ExpiredToken answers as if the access token had expired (TikTok
	// 105002; Shopify 401).
	ExpiredToken bool `json:"expired_token,omitempty"`
	// SKUID (TikTok only) fails this SKU in inventory updates with Code
	// (default 12052109) and Message, in data.errors[], HTTP 200, code 0.
	SKUID   string `json:"sku_id,omitempty"`
	Code    int    `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Validate says what is wrong with a fault.
func (f Fault) Validate() error {
	switch {
	case f.Count < 0 || f.For < 0 || f.Latency < 0:
		return errors.New("fault: count, for and latency may not be negative")
	case f.Status != 0 && f.Status != http.StatusTooManyRequests && (f.Status < 500 || f.Status > 599):
		return fmt.Errorf("fault: status %d: only 429 and 5xx may be injected", f.Status)
	case f.Latency == 0 && f.Status == 0 && !f.Drop && !f.ExpiredToken && f.SKUID == "":
		return errors.New("fault: say what to do: latency, status, drop, expired_token or sku_id")
	}
	return nil
}

type activeFault struct {
	Fault
	left  int       // requests left; -1 = until
	until time.Time // with left == -1
}

// Faults are the faults in force.
type Faults struct {
	mu  sync.Mutex
	now func() time.Time
	all []*activeFault
}

// NewFaults returns an empty set of faults on the clock now.
func NewFaults(now func() time.Time) *Faults { return &Faults{now: now} }

// Add puts a fault in force.
func (fs *Faults) Add(f Fault) error {
	if err := f.Validate(); err != nil {
		return err
	}
	a := &activeFault{Fault: f, left: f.Count}
	if f.Count == 0 && f.For > 0 {
		a.left, a.until = -1, fs.now().Add(time.Duration(f.For))
	} else if f.Count == 0 {
		a.left = 1
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.all = append(fs.all, a)
	return nil
}

// Clear removes every fault.
func (fs *Faults) Clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.all = nil
}

// Take returns the first request-level fault (not a SKU fault) in force
// for path and uses it up once.
func (fs *Faults) Take(path string) (Fault, bool) {
	return fs.take(func(f *activeFault) bool { return f.SKUID == "" && strings.Contains(path, f.Path) })
}

// TakeSKU returns the first SKU fault in force for path and sku and uses
// it up once.
func (fs *Faults) TakeSKU(path, sku string) (Fault, bool) {
	return fs.take(func(f *activeFault) bool { return f.SKUID == sku && strings.Contains(path, f.Path) })
}

func (fs *Faults) take(match func(*activeFault) bool) (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	now := fs.now()
	fs.all = slices.DeleteFunc(fs.all, func(f *activeFault) bool { return f.left == -1 && !now.Before(f.until) })
	for i, f := range fs.all {
		if !match(f) {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				fs.all = slices.Delete(fs.all, i, i+1)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// Sleep waits d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// DropConnection closes the client's connection without an answer.
func DropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // net/http closes the connection
}

// Recorder captures the status a handler answers and adds Entry to Log
// as the answer starts, before the client can see it: a test that reads
// the log right after a call finds the call there.
type Recorder struct {
	http.ResponseWriter
	Entry  *Request
	Log    *Log
	Status int
	logged bool
}

func (r *Recorder) record(status int) {
	if r.logged {
		return
	}
	r.logged, r.Status = true, status
	if r.Log != nil && r.Entry != nil {
		r.Entry.Status = status
		r.Log.Add(*r.Entry)
	}
}

// Finish records a request that got no answer.
func (r *Recorder) Finish() { r.record(0) }

func (r *Recorder) WriteHeader(code int) {
	r.record(code)
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(b []byte) (int, error) {
	r.record(http.StatusOK)
	return r.ResponseWriter.Write(b)
}

// Hijack lets DropConnection through the recorder; the request is
// recorded with status 0.
func (r *Recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.record(0)
	hj, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be hijacked")
	}
	return hj.Hijack()
}

// Flush passes on to the writer, for streamed answers.
func (r *Recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ControlError answers a control request that was wrong.
func ControlError(w http.ResponseWriter, status int, err error) {
	WriteJSON(w, status, map[string]string{"error": err.Error()})
}

// ReadControl decodes a control request's JSON body into v, refusing
// unknown fields so that a typo in a test fails loudly.
func ReadControl(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("control body: %w", err)
	}
	return nil
}

// Listener serves a handler on a loopback address.
type Listener struct {
	srv *http.Server
	ln  net.Listener
}

// Listen serves h on addr ("127.0.0.1:0" picks a free port) in the
// background.
func Listen(addr string, h http.Handler) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // Serve returns when Close is called
	return &Listener{srv: srv, ln: ln}, nil
}

// URL is the listener's base URL, http://host:port.
func (l *Listener) URL() string { return "http://" + l.ln.Addr().String() }

// Close stops serving at once.
func (l *Listener) Close() error { return l.srv.Close() }

// Shutdown stops serving once the requests in flight are answered.
func (l *Listener) Shutdown(ctx context.Context) error { return l.srv.Shutdown(ctx) }

// Serving is a fake's loopback server; a fake embeds it for URL, Close and
// Shutdown, and starts it with its own handler.
type Serving struct {
	mu       sync.Mutex
	listener *Listener
}

// Serve serves h on addr ("127.0.0.1:0" picks a port) until Close.
func (s *Serving) Serve(addr string, h http.Handler) error {
	l, err := Listen(addr, h)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.listener = l
	s.mu.Unlock()
	return nil
}

// URL is the base URL being served ("" before Serve).
func (s *Serving) URL() string {
	if l := s.current(); l != nil {
		return l.URL()
	}
	return ""
}

// Close stops serving at once.
func (s *Serving) Close() error {
	if l := s.current(); l != nil {
		return l.Close()
	}
	return nil
}

// Shutdown stops serving once the requests in flight are answered, within
// 5 s.
func (s *Serving) Shutdown(ctx context.Context) error {
	l := s.current()
	if l == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return l.Shutdown(ctx)
}

func (s *Serving) current() *Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listener
}

// Recording is the part of the control API both fakes share: faults and
// the request log.
type Recording interface {
	InjectFault(Fault) error
	ClearFaults()
	Requests() []Request
	ResetRequests()
}

// ServeRecording answers route ("METHOD path" under ControlPrefix) if it
// is one of the shared control routes, and reports whether it was.
func ServeRecording(w http.ResponseWriter, r *http.Request, route string, rec Recording) bool {
	done := func(err error) {
		if err != nil {
			ControlError(w, http.StatusBadRequest, err)
			return
		}
		WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
	}
	switch route {
	case "POST faults":
		var f Fault
		if err := ReadControl(r, &f); err != nil {
			done(err)
			return true
		}
		done(rec.InjectFault(f))
	case "DELETE faults":
		rec.ClearFaults()
		done(nil)
	case "GET requests":
		WriteJSON(w, http.StatusOK, rec.Requests())
	case "DELETE requests":
		rec.ResetRequests()
		done(nil)
	default:
		return false
	}
	return true
}
