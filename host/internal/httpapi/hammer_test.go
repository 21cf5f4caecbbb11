package httpapi_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// versionBook is the hammer's record of the uploaded buffer versions that
// clients may name, oldest first, and of how many requests in flight name
// each.
type versionBook struct {
	mu      sync.Mutex
	changed *sync.Cond // signalled when users or clients change
	keep    bookEntry  // never retired
	live    []bookEntry
	users   map[string]int
	clients int // still picking
}

// bookEntry is an uploaded version. A racy one is deleted without waiting
// for the requests that name it, so they race with the delete.
type bookEntry struct {
	version string
	racy    bool
	retired *atomic.Bool // set when it leaves the book, before its delete
}

// newVersionBook returns a book with a version that is never retired.
func newVersionBook(keep string) *versionBook {
	b := &versionBook{keep: bookEntry{version: keep, retired: new(atomic.Bool)}, users: map[string]int{}}
	b.changed = sync.NewCond(&b.mu)
	return b
}

// pick chooses a live version for a request, which calls done with it once
// answered.
func (b *versionBook) pick(rnd *rand.Rand) bookEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.keep
	if k := rnd.IntN(len(b.live) + 1); k < len(b.live) {
		e = b.live[k]
	}
	b.users[e.version]++
	b.changed.Broadcast()
	return e
}

func (b *versionBook) done(version string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users[version]--
	b.changed.Broadcast()
}

// join and leave count the clients that pick.
func (b *versionBook) join() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clients++
}

func (b *versionBook) leave() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clients--
	b.changed.Broadcast()
}

func (b *versionBook) add(version string, racy bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.live = append(b.live, bookEntry{version: version, racy: racy, retired: new(atomic.Bool)})
}

// retire takes the oldest version out of the book, so that no request
// picks it any more, and returns it when it is to be deleted: a racy one
// as soon as a request in flight names it, so that the delete races with
// that request; another once no request in flight names it.
func (b *versionBook) retire() bookEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.live[0]
	for e.racy && b.users[e.version] == 0 && b.clients > 0 {
		b.changed.Wait()
	}
	b.live = b.live[1:]
	e.retired.Store(true)
	for !e.racy && b.users[e.version] > 0 {
		b.changed.Wait()
	}
	return e
}

// versions returns every version the book has, in order.
func (b *versionBook) versions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	vs := []string{b.keep.version}
	for _, e := range b.live {
		vs = append(vs, e.version)
	}
	return vs
}

// TestPluginHammer computes concurrently with chains over the example
// plugins while another goroutine uploads new versions of buffer (the same
// module under new versions) and deletes old ones, and the chains switch
// between the versions that exist. No compute may fail: each answers 200
// with the quantities of a Go oracle of the plugins.
//
// A version is deleted one of two ways, in turn. One is taken out of the
// clients' choice and deleted once no request names it: every request
// naming it must succeed. The other is deleted as soon as a request in
// flight names it, racing with that request and any other: a request that
// acquired the version before the delete must succeed, and one that came
// after gets exactly a 422 at that rule's version. Any other answer (a 500,
// a 503, an item failed with code "closed") is a failure.
func TestPluginHammer(t *testing.T) {
	// Two deletes, one racing; clients enough to keep both CPUs of a small
	// machine busy under the race detector. make soak hammers longer.
	clients, duration, minUploads := 4, time.Second, 4
	if d := soakTime(t); d > 0 {
		clients, duration, minUploads = 8, d, 12
	}
	r := loadRule(t)
	// Batches of 48 items or more run in worker processes, which every
	// upload starts one of.
	h := newPluginHost(t, pluginHostConfig{workerMinItems: 48})
	installExamples(t, h)
	s := newServer(t, r, serverConfig{plugins: h})
	wasm := pluginModule(t, "buffer")
	book := newVersionBook("1.0.0")
	// buffer's first worker process compiles it: let that be done before.
	big := make([]shopItem, 48)
	for i := range big {
		big[i] = shopItem{id: fmt.Sprint(i), a: int64(i)}
	}
	warm := []chainRule{bufferRule("1.0.0", 1)}
	if err := checkChain(s.compute(t, "", chainBody(warm, big)), big, chainWant(warm, big)); err != nil {
		t.Fatal(err)
	}

	var (
		stop                    atomic.Bool
		requests, racyOK, gone  atomic.Int64
		overlapped              atomic.Int64
		workerRequests, explain atomic.Int64
		wg                      sync.WaitGroup
	)
	uploads, deletes := 0, 0
	start := time.Now()
	wg.Add(1)
	go func() { // the uploader
		defer wg.Done()
		defer stop.Store(true)
		deadline := time.Now().Add(duration)
		for i := 1; i <= minUploads || time.Now().Before(deadline); i++ {
			if t.Failed() {
				return
			}
			version := fmt.Sprintf("1.0.%d", i)
			ex, err := s.try(http.MethodPut, versionPath("buffer", version), "application/wasm", bytes.NewReader(wasm))
			if err != nil || ex.status != http.StatusCreated {
				t.Errorf("PUT buffer %s: %d %s %v", version, ex.status, ex.body, err)
				return
			}
			uploads++
			book.add(version, i%2 == 0)
			if len(book.versions()) <= 3 {
				continue
			}
			old := book.retire()
			ex, err = s.try(http.MethodDelete, versionPath("buffer", old.version), "", nil)
			if err != nil || ex.status != http.StatusNoContent {
				t.Errorf("DELETE buffer %s: %d %s %v", old.version, ex.status, ex.body, err)
				return
			}
			deletes++
		}
	}()

	for c := range clients {
		wg.Add(1)
		book.join()
		go func() {
			defer wg.Done()
			defer book.leave()
			rnd := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			for !stop.Load() && !t.Failed() {
				picked := book.pick(rnd)
				err := hammerCompute(s, rnd, picked, &racyOK, &gone, &workerRequests, &explain)
				if picked.racy && picked.retired.Load() {
					overlapped.Add(1) // in flight when its version left the book
				}
				book.done(picked.version)
				requests.Add(1)
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("in %v: %d computes (%d in worker processes, %d explained), %d uploads, %d deletes; %d computes named a version deleted without waiting for them: %d succeeded, %d found it gone, %d were in flight when it was deleted",
		time.Since(start).Round(time.Millisecond), requests.Load(), workerRequests.Load(), explain.Load(), uploads, deletes, racyOK.Load()+gone.Load(), racyOK.Load(), gone.Load(), overlapped.Load())
	if requests.Load() < int64(clients) {
		t.Errorf("%d computes: the clients hardly ran", requests.Load())
	}

	// What is installed is what the book has, and the deleted versions'
	// metrics are gone with them.
	var got pluginVersionsDoc
	decodeStrict(t, s.do(t, http.MethodGet, "/v1/plugins/buffer", "", "").body, &got)
	var installed []string
	for _, v := range got.Versions {
		installed = append(installed, v.Version)
	}
	want := book.versions()
	slices.SortFunc(want, comparePatch)
	if !slices.Equal(installed, want) {
		t.Errorf("installed %q, want %q", installed, want)
	}
	metrics := string(s.do(t, http.MethodGet, "/metrics", "", "").body)
	for i := 1; i <= uploads; i++ {
		v := fmt.Sprintf("1.0.%d", i)
		if slices.Contains(want, v) {
			continue
		}
		if m := `module="buffer@` + v + `"`; strings.Contains(metrics, m) {
			t.Errorf("buffer %s was deleted, but the metrics have it:\n%s", v, grepLines(metrics, m))
		}
	}
}

// comparePatch orders versions 1.0.N by N.
func comparePatch(a, b string) int {
	var x, y int
	fmt.Sscanf(a, "1.0.%d", &x)
	fmt.Sscanf(b, "1.0.%d", &y)
	return x - y
}

// hammerCompute sends one compute with a random chain that names the
// picked buffer version, and checks the answer against the oracle.
func hammerCompute(s *server, rnd *rand.Rand, picked bookEntry, racyOK, gone, workers, explained *atomic.Int64) error {
	tags := []string{"no-tiktok", "limited", "rare", "summer", "Limited "}
	pickedRule := bufferRule(picked.version, rnd.Int64N(20))
	candidates := []chainRule{bufferRule("1.0.0", rnd.Int64N(5))}
	n := 1 + rnd.IntN(8)
	if rnd.IntN(6) == 0 {
		// A worker process's batch. Only buffer's: each plugin's first
		// worker compiles it again, tens of seconds under the race
		// detector.
		n = 48 + rnd.IntN(16)
		workers.Add(1)
	} else {
		for _, name := range examplePlugins() {
			switch name {
			case "cap":
				candidates = append(candidates, capRule(rnd.Int64N(900)))
			case "threshold":
				candidates = append(candidates, thresholdRule(rnd.Int64N(30)))
			case "packsize":
				candidates = append(candidates, packsizeRule(1+rnd.Int64N(12)))
			case "tags":
				candidates = append(candidates, tagsRule([]string{"no-tiktok"}, map[string]int64{"limited": rnd.Int64N(10), "rare": rnd.Int64N(4)}))
			}
		}
	}
	// The picked version and some others, in any order.
	rnd.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	rules := slices.Clone(candidates[:rnd.IntN(len(candidates)+1)])
	at := rnd.IntN(len(rules) + 1)
	rules = slices.Insert(rules, at, pickedRule)
	for i := range rules {
		rules[i].onError = []string{"", "fail", "skip"}[rnd.IntN(3)]
	}
	items := make([]shopItem, n)
	for i := range items {
		items[i] = shopItem{id: fmt.Sprintf("v-%d", i), a: rnd.Int64N(1200) - 100, b: rnd.Int64N(80),
			untracked: rnd.IntN(8) == 0, continueSelling: rnd.IntN(8) == 0}
		for _, tag := range tags {
			if rnd.IntN(4) == 0 {
				items[i].tags = append(items[i].tags, tag)
			}
		}
	}
	query := ""
	if rnd.IntN(4) == 0 {
		query = "?explain=true"
		explained.Add(1)
	}
	req := chainBody(rules, items)
	ex, err := s.try(http.MethodPost, "/v1/compute"+query, "application/json", strings.NewReader(req))
	if err != nil {
		return err
	}
	if picked.racy && ex.status == http.StatusUnprocessableEntity {
		// Deleted before the request acquired it: exactly that, and
		// nothing else, is wrong with the request.
		var p problemDoc
		if err := decodeStrictErr(ex.body, &p); err != nil {
			return err
		}
		field := fmt.Sprintf("/settings/rules/%d/version", at)
		if len(p.Errors) != 1 || p.Errors[0].Field != field || !strings.Contains(p.Errors[0].Detail, fmt.Sprintf(`buffer has no version %q`, picked.version)) {
			return fmt.Errorf("buffer %s, deleted under the request: %s\nwant one error at %s\n%s", picked.version, ex.body, field, req)
		}
		gone.Add(1)
		return nil
	}
	if ex.status != http.StatusOK {
		return fmt.Errorf("status %d, want 200: %s\n%s", ex.status, ex.body, req)
	}
	var resp computeResponse
	if err := decodeStrictErr(ex.body, &resp); err != nil {
		return err
	}
	if err := checkChain(resp, items, chainWant(rules, items)); err != nil {
		return fmt.Errorf("%v\n%s", err, req)
	}
	if query != "" {
		if len(resp.Logs) != len(rules) {
			return fmt.Errorf("%d logs for %d rules: %+v", len(resp.Logs), len(rules), resp.Logs)
		}
		for _, it := range resp.Items {
			if len(it.Trace) != len(rules)+1 {
				return fmt.Errorf("item %s: %d stages for %d rules", it.ID, len(it.Trace), len(rules))
			}
		}
	}
	if picked.racy {
		racyOK.Add(1)
	}
	return nil
}
