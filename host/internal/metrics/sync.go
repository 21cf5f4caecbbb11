package metrics

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	// jobBuckets covers a job's wait and run: a webhook's job waits
	// milliseconds and runs tens of milliseconds; a resync runs minutes,
	// and a job is cut at [sync] job_timeout.
	jobBuckets = []float64{
		0.001, 0.002, 0.005,
		0.01, 0.02, 0.05,
		0.1, 0.2, 0.5,
		1, 2, 5,
		10, 30, 60,
		300,
	}
	// lagBuckets covers a webhook's lag to TikTok: the target is under a
	// second; retries with backoff take minutes, a blocked shop hours.
	lagBuckets = []float64{
		0.01, 0.02, 0.05,
		0.1, 0.2, 0.5,
		1, 2, 5,
		10, 30, 60,
		300, 900, 3600,
	}
)

// QueueDepth is the sync queue's jobs, read at scrape time.
type QueueDepth struct {
	// ByState counts every queue's jobs by River state.
	ByState map[string]int
	// ByQueue counts each queue's jobs by state (available, running).
	ByQueue map[string]map[string]int
}

// syncSeries are the connector's series.
type syncSeries struct {
	webhooks     *prometheus.CounterVec   // topic, outcome
	jobWait      *prometheus.HistogramVec // queue, kind
	jobSeconds   *prometheus.HistogramVec // queue, kind, outcome
	publications prometheus.Counter
	failures     *prometheus.CounterVec // code
	lag          prometheus.Histogram
	repairs      prometheus.Counter
	queue        *queueCollector
}

func newSyncSeries() *syncSeries {
	return &syncSeries{
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncrules_sync_webhooks_total",
			Help: "Shopify webhooks received, by topic (\"other\" for an unknown one) and outcome (recorded, duplicate, refused, unavailable).",
		}, []string{"topic", "outcome"}),
		jobWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncrules_sync_job_wait_seconds",
			Help:    "Time sync jobs waited from becoming available (inserted, snoozed or due to retry) to starting, by queue and kind.",
			Buckets: jobBuckets,
		}, []string{"queue", "kind"}),
		jobSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncrules_sync_job_duration_seconds",
			Help:    "Run time of sync jobs, by queue, kind and outcome (ok, snoozed, error).",
			Buckets: jobBuckets,
		}, []string{"queue", "kind", "outcome"}),
		publications: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncrules_sync_publications_total",
			Help: "Quantities (SKU and warehouse) TikTok Shop accepted.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncrules_sync_failures_total",
			Help: "Quantities not published, by code: TikTok Shop's per-SKU code or the sync's reason.",
		}, []string{"code"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "syncrules_sync_lag_seconds",
			Help:    "Time from receiving the first webhook that left an item pending to TikTok Shop accepting its quantity.",
			Buckets: lagBuckets,
		}),
		repairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "syncrules_sync_repairs_total",
			Help: "Quantities a reconciliation corrected on TikTok Shop.",
		}),
		queue: &queueCollector{},
	}
}

func (s *syncSeries) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.webhooks, s.jobWait, s.jobSeconds, s.publications, s.failures, s.lag, s.repairs, s.queue}
}

// WebhookReceived counts a webhook; it implements shop.SyncMetrics. topic
// and outcome must come from bounded sets.
func (m *Metrics) WebhookReceived(topic, outcome string) {
	m.sync.webhooks.WithLabelValues(label(topic), label(outcome)).Inc()
}

// Published counts quantities TikTok accepted.
func (m *Metrics) Published(n int) { m.sync.publications.Add(float64(n)) }

// Failed counts quantities not published, by code.
func (m *Metrics) Failed(code string, n int) {
	if code == "" {
		code = "unknown"
	}
	m.sync.failures.WithLabelValues(label(code)).Add(float64(n))
}

// Lag observes a webhook's lag to TikTok.
func (m *Metrics) Lag(d time.Duration) { m.sync.lag.Observe(d.Seconds()) }

// Repaired counts quantities a reconciliation corrected.
func (m *Metrics) Repaired(n int) { m.sync.repairs.Add(float64(n)) }

// JobStarted implements sync.JobMetrics.
func (m *Metrics) JobStarted(queue, kind string, wait time.Duration) {
	m.sync.jobWait.WithLabelValues(label(queue), label(kind)).Observe(wait.Seconds())
}

// JobFinished implements sync.JobMetrics.
func (m *Metrics) JobFinished(queue, kind, outcome string, d time.Duration) {
	m.sync.jobSeconds.WithLabelValues(label(queue), label(kind), label(outcome)).Observe(d.Seconds())
}

// WatchQueue makes every scrape report the queue's depth, read by depth
// (at most once a second, within 2 seconds; a scrape that finds it
// failing reports the error instead of the series).
func (m *Metrics) WatchQueue(depth func(ctx context.Context) (QueueDepth, error)) {
	m.sync.queue.depth.Store(&depth)
}

// queueCollector reads the queue's depth at scrape time.
type queueCollector struct {
	depth atomic.Pointer[func(context.Context) (QueueDepth, error)]
	mu    sync.Mutex // guards the cache below, and serializes reads
	read  time.Time
	last  QueueDepth
}

// queueCacheFor and queueTimeout keep scrapes cheap: several scrapers (or
// a scrape per replica of one database) read the counts at most once a
// second each, and a slow database cannot hold a scrape.
const (
	queueCacheFor = time.Second
	queueTimeout  = 2 * time.Second
)

var (
	queueJobsDesc = prometheus.NewDesc("syncrules_sync_queue_jobs",
		"Jobs of each sync queue by state (available, running), read at scrape time.", []string{"queue", "state"}, nil)
	jobsDesc = prometheus.NewDesc("syncrules_sync_jobs",
		"Jobs of every sync queue by River state (available, running, scheduled, retryable, completed, discarded, cancelled, pending), read at scrape time.",
		[]string{"state"}, nil)
)

// Describe implements prometheus.Collector.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueJobsDesc
	ch <- jobsDesc
}

// Collect implements prometheus.Collector.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.depth.Load()
	if f == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read.IsZero() || time.Since(c.read) >= queueCacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), queueTimeout)
		d, err := (*f)(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(jobsDesc, err)
			return
		}
		c.read, c.last = time.Now(), d
	}
	for _, state := range slices.Sorted(maps.Keys(c.last.ByState)) {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(c.last.ByState[state]), label(state))
	}
	for _, queue := range slices.Sorted(maps.Keys(c.last.ByQueue)) {
		for state, n := range c.last.ByQueue[queue] {
			ch <- prometheus.MustNewConstMetric(queueJobsDesc, prometheus.GaugeValue, float64(n), label(queue), label(state))
		}
	}
}
