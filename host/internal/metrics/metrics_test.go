package metrics_test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/metrics"
)

// scrape fetches url over HTTP and parses the text exposition.
func scrape(t testing.TB, url string) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := fetch(url)
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func fetch(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		return nil, fmt.Errorf("scrape: Content-Type %q, want text/plain", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape: parsing: %w", err)
	}
	return mfs, nil
}

// find returns the metric of family name whose labels are exactly want, or
// nil.
func find(mfs map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	mf := mfs[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if v, ok := want[lp.GetName()]; !ok || v != lp.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}

func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func counter(t *testing.T, mfs map[string]*dto.MetricFamily, name string, kv ...string) float64 {
	t.Helper()
	m := find(mfs, name, labels(kv...))
	if m == nil {
		t.Fatalf("%s%v: no such series", name, kv)
	}
	if mfs[name].GetType() != dto.MetricType_COUNTER {
		t.Fatalf("%s: type %v, want counter", name, mfs[name].GetType())
	}
	return m.GetCounter().GetValue()
}

func gauge(t *testing.T, mfs map[string]*dto.MetricFamily, name string, kv ...string) float64 {
	t.Helper()
	m := find(mfs, name, labels(kv...))
	if m == nil {
		t.Fatalf("%s%v: no such series", name, kv)
	}
	if mfs[name].GetType() != dto.MetricType_GAUGE {
		t.Fatalf("%s: type %v, want gauge", name, mfs[name].GetType())
	}
	return m.GetGauge().GetValue()
}

func histogram(t *testing.T, mfs map[string]*dto.MetricFamily, name string, kv ...string) *dto.Histogram {
	t.Helper()
	m := find(mfs, name, labels(kv...))
	if m == nil {
		t.Fatalf("%s%v: no such series", name, kv)
	}
	if mfs[name].GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("%s: type %v, want histogram", name, mfs[name].GetType())
	}
	return m.GetHistogram()
}

// checkHistogram checks a histogram's count, sum and the cumulative count
// at some upper bounds.
func checkHistogram(t *testing.T, h *dto.Histogram, count uint64, sum float64, cumulative map[float64]uint64) {
	t.Helper()
	if h.GetSampleCount() != count {
		t.Errorf("count = %d, want %d", h.GetSampleCount(), count)
	}
	if math.Abs(h.GetSampleSum()-sum) > 1e-9*math.Max(1, sum) {
		t.Errorf("sum = %v, want %v", h.GetSampleSum(), sum)
	}
	seen := map[float64]bool{}
	for _, b := range h.GetBucket() {
		if want, ok := cumulative[b.GetUpperBound()]; ok {
			seen[b.GetUpperBound()] = true
			if b.GetCumulativeCount() != want {
				t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
	}
	for le := range cumulative {
		if !seen[le] {
			t.Errorf("no bucket le=%v", le)
		}
	}
}

// seriesOf lists the series of syncrules_* families that carry module.
// sum adds the counter family's series of module, 0 when it has none.
func sum(mfs map[string]*dto.MetricFamily, name, module string) float64 {
	total := 0.0
	for _, m := range mfs[name].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "module" && lp.GetValue() == module {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func seriesOf(mfs map[string]*dto.MetricFamily, module string) []string {
	var out []string
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "syncrules_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "module" && lp.GetValue() == module {
					out = append(out, fmt.Sprintf("%s%v", name, m.GetLabel()))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestScrape(t *testing.T) {
	pools := []engine.PoolStats{
		{Module: "stock@1", Instances: 4, Idle: 3, Workers: 0},
		{Module: "split@2", Instances: 0, Idle: 0, Workers: 2},
	}
	m := metrics.New(func() []engine.PoolStats { return pools })

	m.Compiled("stock@1", 1500*time.Millisecond)
	m.Compiled("stock@1", 3*time.Millisecond) // reloaded from the compilation cache

	m.Called("stock@1", engine.RunSandboxed, "", 3*time.Microsecond)
	m.Called("stock@1", engine.RunSandboxed, "", 40*time.Microsecond)
	m.Called("stock@1", engine.RunSandboxed, "", 800*time.Microsecond)
	m.Called("stock@1", engine.RunSandboxed, engine.KindTrap, 2*time.Millisecond)
	m.Called("stock@1", engine.RunTrusted, "", 2*time.Microsecond)
	m.Called("split@2", engine.RunWorker, engine.KindTimeout, 5*time.Second)
	m.Called("split@2", engine.RunWorker, engine.KindTimeout, 5*time.Second)
	m.Called("split@2", engine.RunSandboxed, engine.KindCanceled, time.Second)
	// Values the cache has no slot for are still counted.
	m.Called("split@2", "elsewhere", "new-kind", time.Millisecond)

	m.Waited("stock@1", 100*time.Microsecond)
	m.Waited("stock@1", 20*time.Millisecond)

	m.ObserveHTTP("/v1/compute", http.MethodPost, 200, 2*time.Millisecond)
	m.ObserveHTTP("/v1/compute", http.MethodPost, 200, 3*time.Millisecond)
	m.ObserveHTTP("/v1/compute", http.MethodPost, 422, 150*time.Microsecond)
	m.ObserveHTTP("/v1/plugins/:name", http.MethodDelete, 204, time.Millisecond)
	m.ObserveHTTP("", http.MethodGet, 404, 50*time.Microsecond)
	m.ObserveHTTP("", "BREW", 404, 50*time.Microsecond)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	mfs := scrape(t, srv.URL)

	t.Run("calls", func(t *testing.T) {
		for _, c := range []struct {
			module, where, result string
			want                  float64
		}{
			{"stock@1", "sandboxed", "ok", 3},
			{"stock@1", "sandboxed", "trap", 1},
			{"stock@1", "trusted", "ok", 1},
			{"split@2", "worker", "timeout", 2},
			{"split@2", "sandboxed", "canceled", 1},
			{"split@2", "elsewhere", "new-kind", 1},
		} {
			got := counter(t, mfs, "syncrules_rule_calls_total", "module", c.module, "where", c.where, "result", c.result)
			if got != c.want {
				t.Errorf("calls{%s,%s,%s} = %v, want %v", c.module, c.where, c.result, got, c.want)
			}
		}
		if n := len(mfs["syncrules_rule_calls_total"].GetMetric()); n != 6 {
			t.Errorf("%d call series, want 6", n)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, c := range []struct {
			module, kind string
			want         float64
		}{
			{"stock@1", "trap", 1},
			{"split@2", "timeout", 2},
			{"split@2", "canceled", 1},
			{"split@2", "new-kind", 1},
		} {
			got := counter(t, mfs, "syncrules_rule_errors_total", "module", c.module, "kind", c.kind)
			if got != c.want {
				t.Errorf("errors{%s,%s} = %v, want %v", c.module, c.kind, got, c.want)
			}
		}
		if n := len(mfs["syncrules_rule_errors_total"].GetMetric()); n != 4 {
			t.Errorf("%d error series, want 4 (no ok)", n)
		}
	})

	t.Run("call durations", func(t *testing.T) {
		h := histogram(t, mfs, "syncrules_rule_call_duration_seconds", "module", "stock@1", "where", "sandboxed")
		checkHistogram(t, h, 4, 3e-6+40e-6+800e-6+2e-3, map[float64]uint64{
			2e-6: 0, 5e-6: 1, 5e-5: 2, 0.001: 3, 0.002: 4, 30: 4,
		})
		h = histogram(t, mfs, "syncrules_rule_call_duration_seconds", "module", "stock@1", "where", "trusted")
		checkHistogram(t, h, 1, 2e-6, map[float64]uint64{2e-6: 1}) // le is inclusive
		h = histogram(t, mfs, "syncrules_rule_call_duration_seconds", "module", "split@2", "where", "worker")
		checkHistogram(t, h, 2, 10, map[float64]uint64{2: 0, 5: 2})
	})

	t.Run("waits", func(t *testing.T) {
		h := histogram(t, mfs, "syncrules_rule_pool_wait_seconds", "module", "stock@1")
		checkHistogram(t, h, 2, 0.0201, map[float64]uint64{1e-4: 1, 0.01: 1, 0.02: 2})
		if find(mfs, "syncrules_rule_pool_wait_seconds", labels("module", "split@2")) != nil {
			t.Error("a module that never waited has a wait series")
		}
	})

	t.Run("compiles", func(t *testing.T) {
		h := histogram(t, mfs, "syncrules_module_compile_duration_seconds", "module", "stock@1")
		checkHistogram(t, h, 2, 1.503, map[float64]uint64{0.005: 1, 1: 1, 2: 2})
	})

	t.Run("pools", func(t *testing.T) {
		for _, c := range []struct {
			name, module string
			want         float64
		}{
			{"syncrules_rule_instances", "stock@1", 4},
			{"syncrules_rule_instances_idle", "stock@1", 3},
			{"syncrules_rule_workers", "stock@1", 0},
			{"syncrules_rule_instances", "split@2", 0},
			{"syncrules_rule_workers", "split@2", 2},
		} {
			if got := gauge(t, mfs, c.name, "module", c.module); got != c.want {
				t.Errorf("%s{%s} = %v, want %v", c.name, c.module, got, c.want)
			}
		}
	})

	t.Run("http", func(t *testing.T) {
		for _, c := range []struct {
			route, method, code string
			want                float64
		}{
			{"/v1/compute", "POST", "200", 2},
			{"/v1/compute", "POST", "422", 1},
			{"/v1/plugins/:name", "DELETE", "204", 1},
			{"unmatched", "GET", "404", 1},
			{"unmatched", "other", "404", 1},
		} {
			got := counter(t, mfs, "syncrules_http_requests_total", "route", c.route, "method", c.method, "code", c.code)
			if got != c.want {
				t.Errorf("requests{%s,%s,%s} = %v, want %v", c.route, c.method, c.code, got, c.want)
			}
		}
		h := histogram(t, mfs, "syncrules_http_request_duration_seconds", "route", "/v1/compute", "method", "POST")
		checkHistogram(t, h, 3, 0.00515, map[float64]uint64{2e-4: 1, 0.002: 2, 0.005: 3})
	})

	t.Run("runtime and process", func(t *testing.T) {
		for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes"} {
			if mfs[name] == nil {
				t.Errorf("no %s", name)
			}
		}
	})
}

func TestForget(t *testing.T) {
	pools := func() []engine.PoolStats { return nil }
	m := metrics.New(pools)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	for _, mod := range []string{"gone@1", "kept@1"} {
		m.Compiled(mod, time.Second)
		m.Called(mod, engine.RunSandboxed, "", time.Millisecond)
		m.Called(mod, engine.RunSandboxed, engine.KindTrap, time.Millisecond)
		m.Called(mod, engine.RunWorker, engine.KindMemory, time.Millisecond)
		m.Called(mod, "elsewhere", "", time.Millisecond) // uncached
		m.Waited(mod, time.Millisecond)
	}
	mfs := scrape(t, srv.URL)
	// 4 calls, 2 errors, 3 call histograms, 1 wait, 1 compile.
	if got := len(seriesOf(mfs, "gone@1")); got != 11 {
		t.Fatalf("before Forget: %d series of gone@1, want 11:\n%s", got, strings.Join(seriesOf(mfs, "gone@1"), "\n"))
	}

	m.Forget("gone@1")
	mfs = scrape(t, srv.URL)
	if s := seriesOf(mfs, "gone@1"); len(s) != 0 {
		t.Errorf("after Forget, series of gone@1 remain:\n%s", strings.Join(s, "\n"))
	}
	if got := len(seriesOf(mfs, "kept@1")); got != 11 {
		t.Errorf("after Forget of another module: %d series of kept@1, want 11", got)
	}

	// A module that comes back starts from zero, in series the registry
	// exposes: the cache must not hold the deleted ones.
	m.Called("gone@1", engine.RunSandboxed, "", time.Millisecond)
	m.Called("gone@1", engine.RunSandboxed, engine.KindTrap, time.Millisecond)
	m.Waited("gone@1", time.Millisecond)
	mfs = scrape(t, srv.URL)
	if got := counter(t, mfs, "syncrules_rule_calls_total", "module", "gone@1", "where", "sandboxed", "result", "ok"); got != 1 {
		t.Errorf("calls after Forget = %v, want 1", got)
	}
	if got := counter(t, mfs, "syncrules_rule_errors_total", "module", "gone@1", "kind", "trap"); got != 1 {
		t.Errorf("errors after Forget = %v, want 1", got)
	}
	h := histogram(t, mfs, "syncrules_rule_call_duration_seconds", "module", "gone@1", "where", "sandboxed")
	checkHistogram(t, h, 2, 0.002, nil)
	checkHistogram(t, histogram(t, mfs, "syncrules_rule_pool_wait_seconds", "module", "gone@1"), 1, 0.001, nil)
	if got := counter(t, mfs, "syncrules_rule_calls_total", "module", "kept@1", "where", "sandboxed", "result", "ok"); got != 1 {
		t.Errorf("calls of kept@1 = %v, want 1", got)
	}

	m.Forget("never-seen") // no-op
}

func TestPoolsFollowTheEngine(t *testing.T) {
	var mu sync.Mutex
	pools := []engine.PoolStats{{Module: "a", Instances: 1, Idle: 1}}
	m := metrics.New(func() []engine.PoolStats {
		mu.Lock()
		defer mu.Unlock()
		return pools
	})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	if got := gauge(t, scrape(t, srv.URL), "syncrules_rule_instances", "module", "a"); got != 1 {
		t.Errorf("instances{a} = %v, want 1", got)
	}
	mu.Lock()
	pools = []engine.PoolStats{{Module: "b", Instances: 7, Idle: 2, Workers: 1}}
	mu.Unlock()
	mfs := scrape(t, srv.URL)
	if find(mfs, "syncrules_rule_instances", labels("module", "a")) != nil {
		t.Error("an unloaded module still has a pool gauge")
	}
	if got := gauge(t, mfs, "syncrules_rule_instances_idle", "module", "b"); got != 2 {
		t.Errorf("idle{b} = %v, want 2", got)
	}
}

func TestNilPools(t *testing.T) {
	m := metrics.New(nil)
	m.Called("a", engine.RunTrusted, "", time.Microsecond)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	mfs := scrape(t, srv.URL)
	if mfs["syncrules_rule_instances"] != nil {
		t.Error("pool gauges without a pools func")
	}
	if got := counter(t, mfs, "syncrules_rule_calls_total", "module", "a", "where", "trusted", "result", "ok"); got != 1 {
		t.Errorf("calls = %v, want 1", got)
	}
}

// While a module is reloaded under its name, the engine lists it twice.
func TestPoolsSummed(t *testing.T) {
	stats := []engine.PoolStats{
		{Module: "a", Instances: 1, Idle: 1},
		{Module: "b", Instances: 5, Idle: 5},
		{Module: "a", Instances: 2, Idle: 2, Workers: 1},
	}
	m := metrics.New(func() []engine.PoolStats { return stats })
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	mfs := scrape(t, srv.URL)
	for _, c := range []struct {
		name, module string
		want         float64
	}{
		{"syncrules_rule_instances", "a", 3},
		{"syncrules_rule_instances_idle", "a", 3},
		{"syncrules_rule_workers", "a", 1},
		{"syncrules_rule_instances", "b", 5},
	} {
		if got := gauge(t, mfs, c.name, "module", c.module); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.module, got, c.want)
		}
	}
	if stats[0].Instances != 1 {
		t.Error("Collect changed the pools func's slice")
	}
	if got := counter(t, scrape(t, srv.URL), "promhttp_metric_handler_errors_total", "cause", "gathering"); got != 0 {
		t.Errorf("promhttp_metric_handler_errors_total{cause=gathering} = %v, want 0", got)
	}
}

// A pools func that panics costs its own series, not the scrape.
func TestPoolsPanic(t *testing.T) {
	m := metrics.New(func() []engine.PoolStats { panic("pools broke") })
	m.Called("a", engine.RunTrusted, "", time.Microsecond)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	mfs := scrape(t, srv.URL) // fails on a status other than 200
	if got := counter(t, mfs, "syncrules_rule_calls_total", "module", "a", "where", "trusted", "result", "ok"); got != 1 {
		t.Errorf("calls = %v, want 1", got)
	}
	mfs = scrape(t, srv.URL) // the first scrape's error shows in the second
	if got := counter(t, mfs, "promhttp_metric_handler_errors_total", "cause", "gathering"); got < 1 {
		t.Errorf("promhttp_metric_handler_errors_total{cause=gathering} = %v, want ≥ 1", got)
	}
}

// Invalid UTF-8 would make the Prometheus client panic in a rule call.
func TestInvalidUTF8(t *testing.T) {
	bad := "bad\xffname"
	m := metrics.New(func() []engine.PoolStats { return []engine.PoolStats{{Module: bad, Instances: 1}} })
	m.Compiled(bad, time.Millisecond)
	m.Called(bad, engine.RunSandboxed, engine.KindTrap, time.Millisecond)
	m.Called(bad, "where\xff", "kind\xff", time.Millisecond)
	m.Waited(bad, time.Millisecond)
	m.ObserveHTTP("/route\xff", http.MethodGet, 200, time.Millisecond)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	mfs := scrape(t, srv.URL)
	want := "bad\uFFFDname"
	if got := counter(t, mfs, "syncrules_rule_calls_total", "module", want, "where", "sandboxed", "result", "trap"); got != 1 {
		t.Errorf("calls = %v, want 1", got)
	}
	if got := gauge(t, mfs, "syncrules_rule_instances", "module", want); got != 1 {
		t.Errorf("instances = %v, want 1", got)
	}
	m.Forget(bad)
	if s := seriesOf(scrape(t, srv.URL), want); len(s) != 3 { // the pool gauges only
		t.Errorf("after Forget: %v", s)
	}
}

func TestOpenMetricsNotOffered(t *testing.T) {
	m := metrics.New(nil)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}
}

// TestHammer has goroutines report calls while others scrape and forget
// another module, then checks that no count was lost. Barriers make the
// race with Forget happen on every run: Forget first runs once every
// goroutine has counted a call of the module, and no goroutine goes past
// half its calls before Forget has run twice.
func TestHammer(t *testing.T) {
	const (
		goroutines = 8
		perG       = 2000
	)
	var forgotten atomic.Int64
	var churned sync.WaitGroup // each goroutine has counted a churn call
	churned.Add(goroutines)
	forgotTwice := make(chan struct{})
	m := metrics.New(func() []engine.PoolStats {
		return []engine.PoolStats{{Module: "steady", Instances: goroutines}}
	})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { // scrape
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := fetch(srv.URL); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() { // forget the churning module
		defer bg.Done()
		churned.Wait()
		for {
			select {
			case <-stop:
				return
			default:
			}
			m.Forget("churn")
			if forgotten.Add(1) == 2 {
				close(forgotTwice)
			}
			runtime.Gosched() // let the counting goroutines take the lock
		}
	}()

	kinds := []engine.ErrorKind{"", "", "", engine.KindTrap, engine.KindTimeout}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				if i == perG/2 {
					<-forgotTwice
				}
				kind := kinds[(g+i)%len(kinds)]
				m.Called("steady", engine.RunSandboxed, kind, time.Duration(i)*time.Microsecond)
				m.Called("churn", engine.RunWorker, kind, time.Microsecond)
				if i == 0 {
					churned.Done()
				}
				if i%10 == 0 {
					m.Waited("steady", time.Microsecond)
					m.Waited("churn", time.Microsecond)
					m.ObserveHTTP("/v1/compute", http.MethodPost, 200, time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	if forgotten.Load() < 2 {
		t.Errorf("Forget ran %d times while the calls were counted, want at least 2", forgotten.Load())
	}

	mfs := scrape(t, srv.URL)
	// Every goroutine's first churn call was counted before the first
	// Forget: those counts, at least, are gone.
	if churn := sum(mfs, "syncrules_rule_calls_total", "churn"); churn > goroutines*(perG-1) {
		t.Errorf("churn: %v calls counted after Forget, want at most %d", churn, goroutines*(perG-1))
	}
	var ok, failed float64
	for _, r := range []string{"ok", "trap", "timeout"} {
		n := counter(t, mfs, "syncrules_rule_calls_total", "module", "steady", "where", "sandboxed", "result", r)
		if r == "ok" {
			ok += n
		} else {
			failed += n
		}
	}
	if ok+failed != goroutines*perG || ok != goroutines*perG*3/5 {
		t.Errorf("steady: ok %v + failed %v, want %d + %d", ok, failed, goroutines*perG*3/5, goroutines*perG*2/5)
	}
	h := histogram(t, mfs, "syncrules_rule_call_duration_seconds", "module", "steady", "where", "sandboxed")
	if h.GetSampleCount() != goroutines*perG {
		t.Errorf("steady: %d durations, want %d", h.GetSampleCount(), goroutines*perG)
	}
	h = histogram(t, mfs, "syncrules_rule_pool_wait_seconds", "module", "steady")
	if h.GetSampleCount() != goroutines*perG/10 {
		t.Errorf("steady: %d waits, want %d", h.GetSampleCount(), goroutines*perG/10)
	}

	// Whatever the race with Forget left, a Forget now and a call after it
	// must show exactly that call.
	m.Forget("churn")
	m.Called("churn", engine.RunWorker, engine.KindTimeout, time.Microsecond)
	mfs = scrape(t, srv.URL)
	if got := counter(t, mfs, "syncrules_rule_calls_total", "module", "churn", "where", "worker", "result", "timeout"); got != 1 {
		t.Errorf("churn after Forget: %v calls, want 1", got)
	}
	if got := counter(t, mfs, "syncrules_rule_errors_total", "module", "churn", "kind", "timeout"); got != 1 {
		t.Errorf("churn after Forget: %v errors, want 1", got)
	}
	if s := seriesOf(mfs, "churn"); len(s) != 3 { // calls, errors, duration
		t.Errorf("churn after Forget: %d series, want 3:\n%s", len(s), strings.Join(s, "\n"))
	}
}
