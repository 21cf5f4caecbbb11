package compute

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/host/internal/budget"
	"github.com/syncrules/syncrules/host/wasmbuild"
)

var testCacheDir string

func TestMain(m *testing.M) {
	// Sandboxed engines start this test binary as their worker process.
	if engine.IsWorker() {
		os.Exit(engine.ServeWorker())
	}
	dir, err := os.MkdirTemp("", "syncrules-compute-cache-")
	if err != nil {
		panic(err)
	}
	testCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pluginSet lends loaded modules by "name@version".
type pluginSet map[string]*engine.Module

func (ps pluginSet) Acquire(_ context.Context, name, version string) (Plugin, func(), error) {
	m, ok := ps[name+"@"+version]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s@%s", ErrUnknownPlugin, name, version)
	}
	return m, func() {}, nil
}

// chainService runs the default rule natively and the chaos and buffer
// plugins in a sandboxed engine, with workers for batches of at least
// workerMin items (0: none).
func chainService(t testing.TB, workerMin int, logBytes int) *Service {
	t.Helper()
	return observedChainService(t, workerMin, logBytes, nil)
}

// observedChainService is chainService with an engine that reports to obs.
func observedChainService(t testing.TB, workerMin int, logBytes int, obs engine.Observer) *Service {
	t.Helper()
	ctx := context.Background()
	eng, err := engine.New(ctx, engine.Config{
		// A deadline that a busy machine, or the race detector, does not
		// hit by accident: only hanging items may time out.
		CacheDir: testCacheDir, Sandboxed: true, CallTimeout: chainCallTimeout * slowdown, ItemTimeout: time.Microsecond,
		MaxMemoryBytes: 64 << 20, Worker: engine.WorkerConfig{MinItems: workerMin}, Observer: obs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(ctx) })
	ps := pluginSet{}
	for name, pkg := range map[string]string{"chaos@1.0.0": "./host/internal/compute/testdata/chaos", "buffer@1.0.0": "./plugins/buffer"} {
		m, err := eng.Load(ctx, name, wasmbuild.ForTest(t, pkg))
		if err != nil {
			t.Fatal(err)
		}
		ps[name] = m
	}
	return newService(t, newNativeRule()).WithPlugins(ps, logBytes, nil)
}

// chaosRequest has items "v-0" … with stock 10+i at one location feeding
// warehouse "alpha", an inactive warehouse "beta", and the given tags.
func chaosRequest(n int, tags map[int][]string, onError string) *Request {
	var b strings.Builder
	b.WriteString(`{"settings": {"rules": [{"plugin": "chaos", "version": "1.0.0"`)
	if onError != "" {
		fmt.Fprintf(&b, `, "on_error": %q`, onError)
	}
	b.WriteString(`}]}, "locations": [{"id": "A"}], "warehouses": [{"id": "alpha", "default": true}, {"id": "beta", "active": false}], "items": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		tagJSON := "[]"
		if len(tags[i]) > 0 {
			tagJSON = `["` + strings.Join(tags[i], `","`) + `"]`
		}
		fmt.Fprintf(&b, `{"id": "v-%d", "available": {"A": %d}, "tags": %s}`, i, 10+i, tagJSON)
	}
	b.WriteString("]}")
	req, err := DecodeRequest([]byte(b.String()))
	if err != nil {
		panic(err)
	}
	return req
}

// want is the oracle: what the chaos plugin's tags mean for item i, whose
// default-rule quantity in alpha is 10+i.
func want(i int, tags []string, skip bool) (q int32, code string) {
	before := int32(10 + i)
	has := func(t string) bool { return slices.Contains(tags, t) }
	code = ""
	switch {
	case has("panic"):
		code = "rule_failed"
	case has("trap"):
		code = "trap"
	case has("loop"):
		code = "timeout"
	case has("fail"):
		code = "rule_failed"
	case has("inactive"):
		code = "contract"
	}
	if code != "" {
		if skip {
			return before, code
		}
		return 0, code
	}
	switch {
	case has("negative"):
		return 0, ""
	case has("huge"):
		return 999_999, ""
	}
	return max(0, before-1), ""
}

// fataler is what checkChaos needs of testing.T and rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

func checkChaos(t fataler, resp *Response, n int, tags map[int][]string, skip bool) {
	t.Helper()
	for i := range n {
		it := resp.Items[i]
		q, code := want(i, tags[i], skip)
		failed := code != "" && !skip
		if failed {
			if it.Error == nil || it.Error.Code != code || it.Error.Rule != "chaos@1.0.0" || !it.Quantities.IsZero() {
				t.Fatalf("item %d tagged %v: error %+v, quantities %v; want code %q and no quantities", i, tags[i], it.Error, it.Quantities, code)
			}
			continue
		}
		if it.Error != nil {
			t.Fatalf("item %d tagged %v failed: %+v", i, tags[i], it.Error)
		}
		if got, _ := it.Quantities.Get("alpha"); got != q {
			t.Fatalf("item %d tagged %v: alpha = %d, want %d", i, tags[i], got, q)
		}
		if got, ok := it.Quantities.Get("beta"); ok {
			t.Fatalf("item %d has a quantity %d for the inactive warehouse", i, got)
		}
	}
}

// TestChainNarrowsToFailingItems: whatever way an item breaks the plugin,
// only that item fails (or, with on_error skip, keeps its quantities from
// before the stage); every other item of its batch gets the plugin's
// result.
func TestChainNarrowsToFailingItems(t *testing.T) {
	for _, mode := range []struct {
		name      string
		workerMin int
	}{{"in process", 0}, {"worker", 8}} {
		svc := chainService(t, mode.workerMin, 4096)
		for _, tag := range []string{"panic", "trap", "loop", "fail", "inactive", "negative", "huge"} {
			for _, onError := range []string{"", OnErrorSkip} {
				t.Run(fmt.Sprintf("%s/%s/on_error=%q", mode.name, tag, onError), func(t *testing.T) {
					const n = 40
					tags := map[int][]string{3: {tag}, 29: {tag}}
					resp, err := svc.Compute(context.Background(), chaosRequest(n, tags, onError), Options{})
					if err != nil {
						t.Fatal(err)
					}
					if tag == "loop" {
						// Timeouts are not narrowed past two per stage:
						// every item of the batch fails (or is skipped).
						tags = map[int][]string{}
						for i := range n {
							tags[i] = []string{tag}
						}
					}
					checkChaos(t, resp, n, tags, onError == OnErrorSkip)
					var codes []string
					for _, w := range resp.Warnings {
						codes = append(codes, w.Code)
					}
					switch wantWarning := map[string]string{"negative": "quantity_clamped", "huge": "quantity_clamped"}[tag]; {
					case wantWarning != "":
						if !slices.Contains(codes, wantWarning) {
							t.Errorf("warnings %v, want %s", codes, wantWarning)
						}
					case onError == OnErrorSkip:
						want := fmt.Sprintf("for %d items", len(tags))
						if !slices.Contains(codes, "rule_skipped") || !strings.Contains(resp.Warnings[0].Message, want) {
							t.Errorf("warnings %+v, want rule_skipped %s", resp.Warnings, want)
						}
					}
				})
			}
		}
	}
}

// TestChainProperty compares the chain with the oracle on random batches:
// random tags on random items, a few of them failing their batch.
func TestChainProperty(t *testing.T) {
	svc := chainService(t, 0, 4096)
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 200).Draw(t, "n")
		tags := map[int][]string{}
		perItem := rapid.SampledFrom([]string{"fail", "inactive", "negative", "huge", "print"})
		for range rapid.IntRange(0, n).Draw(t, "tagged") {
			i := rapid.IntRange(0, n-1).Draw(t, "item")
			tags[i] = append(tags[i], perItem.Draw(t, "tag"))
		}
		// Batch failures, few enough for narrowing to isolate each.
		for range rapid.IntRange(0, 3).Draw(t, "breakers") {
			i := rapid.IntRange(0, n-1).Draw(t, "item")
			tags[i] = append(tags[i], rapid.SampledFrom([]string{"panic", "trap"}).Draw(t, "breaker"))
		}
		skip := rapid.Bool().Draw(t, "skip")
		onError := ""
		if skip {
			onError = OnErrorSkip
		}
		resp, err := svc.Compute(context.Background(), chaosRequest(n, tags, onError), Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkChaos(t, resp, n, tags, skip)
	})
}

// TestChainBudget: a plugin that breaks every item costs a bounded number
// of calls, and every item fails: none is published.
func TestChainBudget(t *testing.T) {
	svc := chainService(t, 0, 4096)
	const n = 1000
	tags := map[int][]string{}
	for i := range n {
		tags[i] = []string{"panic"}
	}
	resp, err := svc.Compute(context.Background(), chaosRequest(n, tags, ""), Options{Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range resp.Items {
		if it.Error == nil || !it.Quantities.IsZero() {
			t.Fatalf("item %d: %+v, want an error and no quantities", i, it)
		}
	}
	if calls := resp.Logs[0].Calls; calls > narrowingBudget(n) {
		t.Errorf("%d calls, more than the budget of %d", calls, narrowingBudget(n))
	}
}

func TestChainExplainAndLogs(t *testing.T) {
	svc := chainService(t, 0, 64)
	req := chaosRequest(3, map[int][]string{0: {"print"}, 1: {"print"}, 2: {"print"}}, "")
	req.Settings.Rules = append(req.Settings.Rules, Rule{Plugin: "buffer", Version: "1.0.0", Params: []byte(`{"units": 2}`)})
	resp, err := svc.Compute(context.Background(), req, Options{Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	it := resp.Items[2] // 12 → default 12 → chaos 11 → buffer 9
	var stages []string
	var qs []int32
	for _, st := range it.Trace {
		stages = append(stages, st.Stage)
		q, _ := st.Quantities.Get("alpha")
		qs = append(qs, q)
	}
	if fmt.Sprint(stages) != "[default chaos@1.0.0 buffer@1.0.0]" || fmt.Sprint(qs) != "[12 11 9]" {
		t.Errorf("trace %v %v, want [default chaos@1.0.0 buffer@1.0.0] [12 11 9]", stages, qs)
	}
	if len(resp.Logs) != 2 {
		t.Fatalf("logs %+v, want one per rule", resp.Logs)
	}
	l := resp.Logs[0]
	if l.Rule != "chaos@1.0.0" || !strings.HasPrefix(l.Output, "chaos says hello from v-0\n") || len(l.Output) > 64 || !l.Truncated {
		t.Errorf("chaos log %+v, want its output cut at 64 bytes and marked truncated", l)
	}
	if l := resp.Logs[1]; l.Output != "" || l.Truncated || l.Calls != 1 {
		t.Errorf("buffer log %+v, want empty", l)
	}
}

func TestChainRequestErrors(t *testing.T) {
	svc := chainService(t, 0, 4096)
	tests := []struct {
		rules string
		field string
		want  string
	}{
		{`[{"plugin": "chaos", "version": "1.0.0", "params": {"refuse": true}}]`, "/settings/rules/0/params", "chaos@1.0.0 refuses its params: refuse is set"},
		{`[{"plugin": "chaos", "version": "1.0.0", "params": {"refuze": true}}]`, "/settings/rules/0/params", `unknown field "refuze"`},
		{`[{"plugin": "nope", "version": "1.0.0"}]`, "/settings/rules/0/plugin", "unknown plugin"},
		{`[{"plugin": "chaos"}]`, "/settings/rules/0/version", "is required"},
		{`[{"version": "1.0.0"}]`, "/settings/rules/0/plugin", "is required"},
		{`[{"plugin": "chaos", "version": "1.0.0", "on_error": "ignore"}]`, "/settings/rules/0/on_error", `must be "fail" or "skip"`},
		{`[` + strings.Repeat(`{"plugin": "chaos", "version": "1.0.0"},`, 8) + `{"plugin": "chaos", "version": "1.0.0"}]`, "/settings/rules", "has 9 rules, over the limit of 8"},
	}
	for _, tt := range tests {
		body := `{"settings": {"rules": ` + tt.rules + `}, "locations": [{"id": "A"}], "warehouses": [{"id": "alpha", "default": true}], "items": [{"id": "v", "available": {"A": 1}}]}`
		_, err := svc.Compute(context.Background(), decode(t, body), Options{})
		in, ok := err.(*InputError)
		if !ok || in.Kind != Invalid || len(in.Errors) == 0 || in.Errors[0].Field != tt.field || !hasText(t, in.Errors[0].Detail, tt.want) {
			t.Errorf("rules %s: err = %v, want %s: %s", tt.rules, err, tt.field, tt.want)
		}
	}
}

// A plugin closed under a request (the server stopping) fails the request,
// so that it is retried: skipping the plugin would publish more than the
// merchant's rule allows, failing the items would blame the plugin.
func TestChainModuleClosed(t *testing.T) {
	ctx := context.Background()
	eng, err := engine.New(ctx, engine.Config{CacheDir: testCacheDir, Sandboxed: true, CallTimeout: chainCallTimeout * slowdown})
	if err != nil {
		t.Fatal(err)
	}
	mod, err := eng.Load(ctx, "chaos@1.0.0", wasmbuild.ForTest(t, "./host/internal/compute/testdata/chaos"))
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(t, newNativeRule()).WithPlugins(pluginSet{"chaos@1.0.0": mod}, 0, nil)
	req := chaosRequest(3, nil, OnErrorSkip)
	if _, err := svc.Compute(ctx, req, Options{}); err != nil {
		t.Fatal(err)
	}
	eng.Close(ctx)
	resp, err := svc.Compute(ctx, chaosRequest(3, nil, OnErrorSkip), Options{})
	if !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Compute after the plugin closed = %+v, %v; want ErrClosed", resp, err)
	}
}

// timeoutCounter counts the calls the engine stopped at their deadline.
type timeoutCounter struct {
	timeouts, calls atomic.Int64
}

func (c *timeoutCounter) Compiled(string, time.Duration) {}
func (c *timeoutCounter) Waited(string, time.Duration)   {}
func (c *timeoutCounter) Called(_, _ string, kind engine.ErrorKind, _ time.Duration) {
	c.calls.Add(1)
	if kind == engine.KindTimeout {
		c.timeouts.Add(1)
	}
}

// TestChainTimeoutBudget: a plugin that hangs costs at most
// maxStageTimeouts deadlines per stage and maxRequestTimeouts per request,
// however many items hang; the items it did not compute fail with a clear
// error, or keep their quantities with on_error "skip". Narrowing still
// isolates other failures.
func TestChainTimeoutBudget(t *testing.T) {
	const n = 100
	every := map[int][]string{}
	for i := range n {
		every[i] = []string{"loop"}
	}
	secondHalf := map[int][]string{}
	for i := n / 2; i < n; i++ {
		secondHalf[i] = []string{"loop"}
	}
	tests := []struct {
		name      string
		workerMin int
		tags      map[int][]string
		stages    int
		onError   string
		// wantTags is the oracle's view: the items that fail.
		wantTags     map[int][]string
		maxTimeouts  int64
		isolatedText string
	}{
		{"every item hangs", 0, every, 1, "", every, maxStageTimeouts, "not isolated: the plugin timed out on this batch"},
		{"every item hangs/worker", 8, every, 1, "", every, maxStageTimeouts, "not isolated: the plugin timed out on this batch"},
		// The first half succeeds; the second times out again.
		{"one item hangs", 0, map[int][]string{57: {"loop"}}, 1, "", secondHalf, maxStageTimeouts, "not isolated: the plugin timed out on this batch"},
		{"eight stages hang, skipped", 0, every, 8, OnErrorSkip, every, maxRequestTimeouts, ""},
		{"a trap after two timeouts", 0, map[int][]string{10: {"loop"}, 90: {"trap"}}, 1, "", every, maxStageTimeouts, "not isolated: the plugin timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var obs timeoutCounter
			svc := observedChainService(t, tt.workerMin, 4096, &obs)
			req := chaosRequest(n, tt.tags, tt.onError)
			for range tt.stages - 1 {
				req.Settings.Rules = append(req.Settings.Rules, req.Settings.Rules[0])
			}
			resp, err := svc.Compute(context.Background(), req, Options{Explain: true})
			if err != nil {
				t.Fatal(err)
			}
			checkChaos(t, resp, n, tt.wantTags, tt.onError == OnErrorSkip)
			if got := obs.timeouts.Load(); got > tt.maxTimeouts || got == 0 {
				t.Errorf("%d calls stopped at their deadline (of %d calls), want 1 to %d", got, obs.calls.Load(), tt.maxTimeouts)
			}
			t.Logf("%d calls, %d stopped at their deadline", obs.calls.Load(), obs.timeouts.Load())
			if tt.isolatedText != "" {
				isolated := 0
				for _, it := range resp.Items {
					if it.Error != nil && strings.Contains(it.Error.Detail, tt.isolatedText) {
						isolated++
					}
				}
				if isolated == 0 {
					t.Errorf("no item says %q: %+v", tt.isolatedText, resp.Items[0].Error)
				}
			}
			if tt.stages > 1 {
				// Stages past the request's budget are not run.
				last := resp.Items[0].Trace[tt.stages]
				if last.Error == nil || !strings.Contains(last.Error.Detail, "not run") || !last.Skipped {
					t.Errorf("the last stage's trace %+v, want it skipped, not run", last)
				}
				skipped := 0
				for _, w := range resp.Warnings {
					if w.Code == "rule_skipped" {
						skipped++
					}
				}
				if skipped != tt.stages {
					t.Errorf("%d rule_skipped warnings for %d stages: %+v", skipped, tt.stages, resp.Warnings)
				}
			}
		})
	}
}

// TestBudgets: plugin calls wait in their class's budget, and only they:
// with every interactive slot taken, the default rule still computes, a
// sync compute runs in its own budget, and an interactive compute with a
// plugin waits until a slot is freed.
func TestBudgets(t *testing.T) {
	svc := chainService(t, 0, 4096)
	interactive, sync := budget.New(1), budget.New(1)
	svc.WithBudgets(interactive, sync)
	ctx := context.Background()
	hold, err := interactive.Acquire(ctx, "someone else")
	if err != nil {
		t.Fatal(err)
	}
	plain := chaosRequest(3, nil, "")
	plain.Settings.Rules = nil
	if _, err := svc.Compute(ctx, plain, Options{Tenant: "a"}); err != nil {
		t.Fatalf("the default rule alone: %v", err)
	}
	resp, err := svc.Compute(ctx, chaosRequest(3, nil, ""), Options{Tenant: "a", Class: Sync})
	if err != nil {
		t.Fatalf("a sync compute: %v", err)
	}
	checkChaos(t, resp, 3, nil, false)
	done := make(chan error, 1)
	go func() {
		resp, err := svc.Compute(ctx, chaosRequest(3, nil, ""), Options{Tenant: "a"})
		if err == nil {
			checkChaos(t, resp, 3, nil, false)
		}
		done <- err
	}()
	for interactive.Stats().Waiting == 0 {
		runtime.Gosched()
	}
	select {
	case err := <-done:
		t.Fatalf("an interactive compute with a plugin ran with the budget taken: %v", err)
	default:
	}
	hold()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestChainNotesBounded: a plugin's notes are kept up to 16 and 1 KiB per
// item and stage, and up to the service's bound per response; the stages
// cut say so, and a warning counts them. The default rule's notes are not
// bounded.
func TestChainNotesBounded(t *testing.T) {
	svc := chainService(t, 0, 4096)
	tags := map[int][]string{0: {"notes"}, 1: {"bignotes"}}
	resp, err := svc.Compute(context.Background(), chaosRequest(3, tags, ""), Options{Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	checkChaos(t, resp, 3, tags, false)
	stage := func(i int) Stage { return resp.Items[i].Trace[1] }
	if st := stage(0); !st.NotesTruncated || len(st.Item) != maxItemNotes {
		t.Errorf("item 0: %d notes kept, truncated %v; want %d, true", len(st.Item), st.NotesTruncated, maxItemNotes)
	}
	if st := stage(1); !st.NotesTruncated || noteSize(st.Item) > maxItemNoteBytes || len(st.Item) < 8 {
		t.Errorf("item 1: %d notes of %d bytes kept, truncated %v; want about 1 KiB, true", len(st.Item), noteSize(st.Item), st.NotesTruncated)
	}
	if st := stage(2); st.NotesTruncated || len(st.Item) != 0 || resp.Items[2].Trace[0].NotesTruncated {
		t.Errorf("item 2: %+v, want no notes and nothing truncated", st)
	}
	var warned []Warning
	for _, w := range resp.Warnings {
		if w.Code == "notes_truncated" {
			warned = append(warned, w)
		}
	}
	if len(warned) != 1 || warned[0].Field != "/settings/rules/0" || !strings.Contains(warned[0].Message, "for 2 items") {
		t.Errorf("warnings %+v, want one notes_truncated for 2 items", resp.Warnings)
	}

	// The bound per response.
	svc.maxNoteBytes = 3000
	const n = 10
	tags = map[int][]string{}
	for i := range n {
		tags[i] = []string{"bignotes"}
	}
	resp, err = svc.Compute(context.Background(), chaosRequest(n, tags, ""), Options{Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	total, empty := 0, 0
	for i := range n {
		st := resp.Items[i].Trace[1]
		total += noteSize(st.Item)
		if len(st.Item) == 0 {
			empty++
		}
		if !st.NotesTruncated {
			t.Errorf("item %d not truncated", i)
		}
	}
	if total > svc.maxNoteBytes || empty < n/2 {
		t.Errorf("%d bytes of notes kept, %d items without; want at most %d bytes, most items without", total, empty, svc.maxNoteBytes)
	}
}

// hasText reports whether got contains want. An empty want, which every
// text contains, fails the test: a table row must say what it expects.
func hasText(tb testing.TB, got, want string) bool {
	tb.Helper()
	if want == "" {
		tb.Fatalf("the test expects an empty text, which any answer contains: fill in what %q must say", got)
	}
	return strings.Contains(got, want)
}
