// Package metrics exposes the server's measurements to Prometheus. It is the
// only package that imports the Prometheus client; the engine reports through
// its engine.Observer interface, the HTTP API through ObserveHTTP, and the
// pools are read at scrape time.
//
//	var eng *engine.Engine
//	m := metrics.New(func() []engine.PoolStats { return eng.PoolStats() })
//	eng, err := engine.New(ctx, engine.Config{Observer: m, ...})
//	...
//	// serve m.Handler() at GET /metrics; in the HTTP middleware, after c.Next():
//	m.ObserveHTTP(c.FullPath(), c.Request.Method, c.Writer.Status(), time.Since(start))
//	// when a plugin version is deleted, its module closed and its calls over:
//	m.Forget(module)
//
// # Metrics
//
// Rule calls, reported by the engine. The label module is the module's name
// as the engine reports it; where is trusted, sandboxed or worker (how the
// call ran, see engine.RunTrusted and its siblings).
//
//	syncrules_rule_calls_total{module, where, result}
//	    Counter of finished rule calls. result is "ok" or the failure kind:
//	    trap (panic, out-of-bounds access, stack overflow), timeout (stopped
//	    at the deadline), memory (over the memory limit), contract (broke
//	    the ABI), canceled (the caller gave up), closed (the module or
//	    engine closed) or other.
//	syncrules_rule_errors_total{module, kind}
//	    Counter of failed rule calls by kind, the same kinds as result above
//	    and never "ok". It equals syncrules_rule_calls_total summed over
//	    where for the failed results. canceled and closed are the caller's
//	    or the server's doing, not the rule's: an alert on faulty rules
//	    selects kind=~"trap|timeout|memory|contract".
//	syncrules_rule_call_duration_seconds{module, where}
//	    Histogram of call durations, waiting for an instance included, from
//	    2 µs to 30 s, failed calls included.
//	syncrules_rule_pool_wait_seconds{module}
//	    Histogram of time spent waiting for a free instance or worker,
//	    observed only when the pool was full: its _count is the number of
//	    calls that had to wait.
//	syncrules_module_compile_duration_seconds{module}
//	    Histogram of the time to load a module: compile it, check its
//	    exports and start its first instance; from 1 ms to 60 s. A module
//	    is usually loaded once, so _count is the number of loads and
//	    _sum / _count their mean.
//
// Pools, read from the engine at each scrape. A module appears while it is
// loaded and disappears with it; two versions loaded under one name (during
// a reload) are summed.
//
//	syncrules_rule_instances{module}       live in-process instances
//	syncrules_rule_instances_idle{module}  of which idle
//	syncrules_rule_workers{module}         live worker processes
//
// HTTP requests, reported by the API.
//
//	syncrules_http_requests_total{route, method, code}
//	    Counter of finished requests. route is the route template, such as
//	    "/v1/compute" or "/v1/plugins/:name", or "unmatched" when no route
//	    matched; method is the request method, or "other" for a method
//	    that is not a standard one; code is the status code sent.
//	syncrules_http_request_duration_seconds{route, method}
//	    Histogram of request durations, from 100 µs to 30 s.
//
// The connector's sync, reported by the shop layer and the job queue
// (shop.SyncMetrics, sync.JobMetrics) and read from the queue at scrape
// time (WatchQueue). Every label comes from a bounded set.
//
//	syncrules_sync_webhooks_total{topic, outcome}
//	    Counter of Shopify webhooks received. topic is one the sync knows
//	    (inventory_levels/update …) or "other"; outcome is recorded (200,
//	    work enqueued), duplicate (200, seen before), refused (401 or
//	    400: not signed by the shop, or no id or topic) or unavailable
//	    (503: not recorded, Shopify retries).
//	syncrules_sync_queue_jobs{queue, state}
//	    Gauge of each queue's (webhooks, bulk) available and running jobs.
//	syncrules_sync_jobs{state}
//	    Gauge of every queue's jobs by River state: available, running,
//	    scheduled, retryable, completed (kept a day), discarded (gave up
//	    after about an hour of failures), cancelled, pending.
//	syncrules_sync_job_wait_seconds{queue, kind}
//	    Histogram of the time a job waited from becoming available
//	    (inserted, snoozed or due to retry) to starting, 1 ms to 5 min.
//	syncrules_sync_job_duration_seconds{queue, kind, outcome}
//	    Histogram of a job's run time; outcome is ok, snoozed (it yielded
//	    its worker with items left) or error (retried with backoff).
//	syncrules_sync_publications_total
//	    Counter of quantities (SKU and warehouse) TikTok Shop accepted.
//	syncrules_sync_failures_total{code}
//	    Counter of quantities not published, by TikTok Shop's per-SKU code
//	    (12052055 …) or the sync's reason (invalid_update,
//	    sku_not_in_warehouse, a rule's error code).
//	syncrules_sync_lag_seconds
//	    Histogram of the time from receiving the first webhook that left
//	    an item pending to TikTok Shop accepting its new quantity, 10 ms
//	    to 1 h: the sync's end-to-end lag. A change that leaves the
//	    published quantity as it was is not observed.
//	syncrules_sync_repairs_total
//	    Counter of quantities a reconciliation corrected on TikTok Shop.
//
// The registry also holds the Go runtime's collector (go_*), the process
// collector (process_*), and promhttp's own promhttp_metric_handler_*
// series about scrapes.
//
// Series of a deleted module linger until Forget removes them.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/syncrules/syncrules/host/engine"
)

// Bucket upper bounds, in seconds, in 1-2-5 steps. Round bounds rather than
// prometheus.ExponentialBucketsRange (whose bounds are 0.000967, 0.0027 …)
// because an SLO query must name a bound: "calls under 1 ms" is
// rate(…_bucket{le="0.001"}) only if 0.001 is one.
var (
	// callBuckets covers rule calls and pool waits: a one-item call takes
	// ≈ 2 µs (RATIONALE.md), a 10,000-SKU batch ≈ 1 ms, and a wait is
	// bounded by server.compute_timeout, 30 s by default. Factor 2-2.5
	// between bounds keeps histogram_quantile within ≈ ±50 % while 22
	// buckets over seven decades keep a series at 25 lines.
	callBuckets = []float64{
		2e-6, 5e-6,
		1e-5, 2e-5, 5e-5,
		1e-4, 2e-4, 5e-4,
		0.001, 0.002, 0.005,
		0.01, 0.02, 0.05,
		0.1, 0.2, 0.5,
		1, 2, 5,
		10, 30,
	}
	// httpBuckets covers requests: /healthz in tens of µs, a compute of
	// 100,000 items and a 64 MiB body in seconds, compute_timeout at 30 s.
	httpBuckets = []float64{
		1e-4, 2e-4, 5e-4,
		0.001, 0.002, 0.005,
		0.01, 0.02, 0.05,
		0.1, 0.2, 0.5,
		1, 2, 5,
		10, 30,
	}
	// compileBuckets covers a compile: milliseconds from the compilation
	// cache, seconds for a large module compiled from scratch. A histogram
	// rather than a gauge of the last compile: it aggregates over modules
	// ("are compiles slow since the cache was wiped?") and counts
	// recompiles of a module, which a gauge would overwrite; it costs 18
	// series a module, and modules are few.
	compileBuckets = []float64{
		0.001, 0.002, 0.005,
		0.01, 0.02, 0.05,
		0.1, 0.2, 0.5,
		1, 2, 5,
		10, 20, 60,
	}
)

// Metrics holds the server's Prometheus series in a registry of its own. It
// implements engine.Observer. Its methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	calls       *prometheus.CounterVec   // module, where, result
	errors      *prometheus.CounterVec   // module, kind
	callSeconds *prometheus.HistogramVec // module, where
	waitSeconds *prometheus.HistogramVec // module
	compile     *prometheus.HistogramVec // module
	httpCount   *prometheus.CounterVec   // route, method, code
	httpSeconds *prometheus.HistogramVec // route, method
	sync        *syncSeries

	// modules caches each module's child series (string → *moduleSeries),
	// so that a call costs a map load and three atomic adds rather than
	// three label hashes and vec lookups (see BenchmarkCalled).
	modules sync.Map
	// mu orders filling the cache against Forget, so that a cached series
	// is always one the vecs still hold. The hot path does not take it.
	mu sync.Mutex
}

var _ engine.Observer = (*Metrics)(nil)

// New returns Metrics with a registry of its own (not the global default)
// holding the series listed in the package doc, the Go runtime collector and
// the process collector. pools, if not nil, is called at every scrape and
// must be safe to call concurrently with the engine's work.
func New(pools func() []engine.PoolStats) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncrules_rule_calls_total",
			Help: `Finished rule calls, by module, where the call ran (trusted, sandboxed, worker) and result ("ok" or the failure kind).`,
		}, []string{"module", "where", "result"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncrules_rule_errors_total",
			Help: "Failed rule calls, by module and kind (trap, timeout, memory, contract, canceled, closed, other).",
		}, []string{"module", "kind"}),
		callSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncrules_rule_call_duration_seconds",
			Help:    "Duration of rule calls, waiting for an instance included, by module and where the call ran.",
			Buckets: callBuckets,
		}, []string{"module", "where"}),
		waitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncrules_rule_pool_wait_seconds",
			Help:    "Time rule calls waited for a free instance or worker, observed only when the pool was full.",
			Buckets: callBuckets,
		}, []string{"module"}),
		compile: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncrules_module_compile_duration_seconds",
			Help:    "Time to load a rule module: compile it, check its exports and start its first instance.",
			Buckets: compileBuckets,
		}, []string{"module"}),
		httpCount: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncrules_http_requests_total",
			Help: "Finished HTTP API requests, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		httpSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncrules_http_request_duration_seconds",
			Help:    "Duration of HTTP API requests, by route template and method.",
			Buckets: httpBuckets,
		}, []string{"route", "method"}),
		sync: newSyncSeries(),
	}
	m.reg.MustRegister(m.sync.collectors()...)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.calls, m.errors, m.callSeconds, m.waitSeconds, m.compile,
		m.httpCount, m.httpSeconds,
		poolCollector{pools},
	)
	// Text or protobuf, as the scraper asks; not OpenMetrics, whose only
	// gain is exemplars, which we do not record, and which writes le="1.0"
	// where the text format writes le="1", a different series.
	// ContinueOnError: a failing collector (pools panics) loses its own
	// series, counted in promhttp_metric_handler_errors_total, not the
	// whole scrape.
	m.handler = promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	}))
	return m
}

// Handler serves the registry in the Prometheus exposition format, for a
// route such as GET /metrics.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Compiled implements engine.Observer.
func (m *Metrics) Compiled(module string, d time.Duration) {
	m.compile.WithLabelValues(label(module)).Observe(d.Seconds())
}

// Called implements engine.Observer. Once the module's series exist it
// costs a map load, a counter and a histogram update: ≈ 50 ns, against
// ≈ 150 ns through WithLabelValues (BenchmarkCalled).
func (m *Metrics) Called(module string, where string, kind engine.ErrorKind, d time.Duration) {
	w, r := whereIndex(where), resultIndex(kind)
	if w < 0 || r < 0 {
		// A value this package does not know: correct, uncached.
		module, where := label(module), label(where)
		m.calls.WithLabelValues(module, where, label(resultLabel(kind))).Inc()
		if kind != "" {
			m.errors.WithLabelValues(module, label(string(kind))).Inc()
		}
		m.callSeconds.WithLabelValues(module, where).Observe(d.Seconds())
		return
	}
	ms := m.series(module)
	s := ms.calls[w][r].Load()
	if s == nil {
		s = m.fillCall(ms, module, w, r)
	}
	s.calls.Inc()
	if s.errors != nil {
		s.errors.Inc()
	}
	s.seconds.Observe(d.Seconds())
}

// Waited implements engine.Observer.
func (m *Metrics) Waited(module string, d time.Duration) {
	ms := m.series(module)
	s := ms.wait.Load()
	if s == nil {
		s = m.fillWait(ms, module)
	}
	s.seconds.Observe(d.Seconds())
}

// ObserveHTTP records a finished HTTP request. route must be the route
// template ("/v1/plugins/:name"), never the raw path, so that the number of
// series stays bounded; "" (no route matched) is recorded as "unmatched".
// A method other than the standard ones is recorded as "other".
func (m *Metrics) ObserveHTTP(route string, method string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	route = label(route)
	method = methodLabel(method)
	m.httpCount.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpSeconds.WithLabelValues(route, method).Observe(d.Seconds())
}

// Forget deletes the series of module: its calls, errors, durations, waits
// and compiles. Pool gauges need no Forget: they follow the pools function.
//
// Call it once the module is closed and its calls in flight are over (the
// longest is bounded by the call timeout): a call reported after Forget
// starts the module's series again, and they stay until the next Forget.
// Forget is by name, so if another version was loaded under the same name,
// its series go too.
func (m *Metrics) Forget(module string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := prometheus.Labels{"module": label(module)}
	m.calls.DeletePartialMatch(l)
	m.errors.DeletePartialMatch(l)
	m.callSeconds.DeletePartialMatch(l)
	m.waitSeconds.DeletePartialMatch(l)
	m.compile.DeletePartialMatch(l)
	m.modules.Delete(module)
}

// The cache. A moduleSeries holds a module's child series, filled on first
// use under m.mu. Forget deletes the series from the vecs and the
// moduleSeries from m.modules under the same lock, so a moduleSeries in
// m.modules only ever holds series the vecs hold too. A call that loaded a
// moduleSeries just before Forget may still count into it: that count is
// lost with the module, as it should be.

// wheres and results are the label values the cache has slots for; the
// indexes of whereIndex and resultIndex point into them.
var (
	wheres  = [...]string{engine.RunTrusted, engine.RunSandboxed, engine.RunWorker}
	results = [...]engine.ErrorKind{"", engine.KindTrap, engine.KindTimeout, engine.KindMemory,
		engine.KindContract, engine.KindCanceled, engine.KindClosed, engine.KindOther}
)

type moduleSeries struct {
	calls [len(wheres)][len(results)]atomic.Pointer[callSeries]
	wait  atomic.Pointer[waitSeries]
}

// callSeries are the series one call updates.
type callSeries struct {
	calls   prometheus.Counter
	errors  prometheus.Counter // nil for success
	seconds prometheus.Observer
}

type waitSeries struct{ seconds prometheus.Observer }

func (m *Metrics) series(module string) *moduleSeries {
	if v, ok := m.modules.Load(module); ok {
		return v.(*moduleSeries)
	}
	v, _ := m.modules.LoadOrStore(module, new(moduleSeries))
	return v.(*moduleSeries)
}

func (m *Metrics) fillCall(ms *moduleSeries, module string, w, r int) *callSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := ms.calls[w][r].Load(); s != nil {
		return s
	}
	kind := results[r]
	module = label(module)
	s := &callSeries{
		calls:   m.calls.WithLabelValues(module, wheres[w], resultLabel(kind)),
		seconds: m.callSeconds.WithLabelValues(module, wheres[w]),
	}
	if kind != "" {
		s.errors = m.errors.WithLabelValues(module, string(kind))
	}
	ms.calls[w][r].Store(s)
	return s
}

func (m *Metrics) fillWait(ms *moduleSeries, module string) *waitSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := ms.wait.Load(); s != nil {
		return s
	}
	s := &waitSeries{seconds: m.waitSeconds.WithLabelValues(label(module))}
	ms.wait.Store(s)
	return s
}

func whereIndex(where string) int {
	switch where {
	case engine.RunTrusted:
		return 0
	case engine.RunSandboxed:
		return 1
	case engine.RunWorker:
		return 2
	}
	return -1
}

func resultIndex(kind engine.ErrorKind) int {
	switch kind {
	case "":
		return 0
	case engine.KindTrap:
		return 1
	case engine.KindTimeout:
		return 2
	case engine.KindMemory:
		return 3
	case engine.KindContract:
		return 4
	case engine.KindCanceled:
		return 5
	case engine.KindClosed:
		return 6
	case engine.KindOther:
		return 7
	}
	return -1
}

// label makes s a valid label value: the client panics on invalid UTF-8,
// and a module's name should not be able to crash a call.
func label(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func resultLabel(kind engine.ErrorKind) string {
	if kind == "" {
		return "ok"
	}
	return string(kind)
}

// methodLabel bounds the method label: a client may send any token as a
// method, and Gin answers an unknown one with 404 or 405 after the
// middleware has seen it.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

// poolCollector reports the engine's pools at scrape time.
type poolCollector struct {
	pools func() []engine.PoolStats
}

var (
	instancesDesc = prometheus.NewDesc("syncrules_rule_instances",
		"Live in-process instances of a rule module.", []string{"module"}, nil)
	idleDesc = prometheus.NewDesc("syncrules_rule_instances_idle",
		"Idle in-process instances of a rule module.", []string{"module"}, nil)
	workersDesc = prometheus.NewDesc("syncrules_rule_workers",
		"Live worker processes of a rule module.", []string{"module"}, nil)
)

// Describe implements prometheus.Collector.
func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- instancesDesc
	ch <- idleDesc
	ch <- workersDesc
}

// Collect implements prometheus.Collector. Entries of the same module are
// summed: while a module is reloaded under its name, the old and the new
// version are both loaded, and a series reported twice would fail.
func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	if c.pools == nil {
		return
	}
	stats := c.pools()
	sums := make([]engine.PoolStats, 0, len(stats))
	index := make(map[string]int, len(stats)) // module → index in sums
	for _, p := range stats {
		p.Module = label(p.Module)
		if i, ok := index[p.Module]; ok {
			sums[i].Instances += p.Instances
			sums[i].Idle += p.Idle
			sums[i].Workers += p.Workers
			continue
		}
		index[p.Module] = len(sums)
		sums = append(sums, p)
	}
	for _, p := range sums {
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(p.Instances), p.Module)
		ch <- prometheus.MustNewConstMetric(idleDesc, prometheus.GaugeValue, float64(p.Idle), p.Module)
		ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(p.Workers), p.Module)
	}
}
