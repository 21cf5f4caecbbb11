package sdktest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/syncrules/syncrules/host/engine"
	"github.com/syncrules/syncrules/sdk/sdktest"
)

// hostileDir is a rule that publishes batches unchanged, as nothing does
// natively, but never returns for an item "spin" and exhausts its memory
// for an item "hoard".
const hostileDir = "testdata/hostile"

// batchOf is a batch of n items whose last one has the id last.
func batchOf(n int, last string) sdktest.Batch {
	b := sdktest.Batch{
		Locations:  []sdktest.Location{{ID: "A", Active: true}},
		Warehouses: []sdktest.Warehouse{{ID: "alpha", Active: true, Default: true}},
		Mappings:   []sdktest.Mapping{{Location: "*", Warehouse: "alpha"}},
		Items:      make([]sdktest.Item, n),
	}
	for i := range b.Items {
		b.Items[i] = sdktest.Item{ID: fmt.Sprintf("v-%d", i), Available: map[string]int64{"A": 10}, Quantities: map[string]int64{"alpha": int64(i)}}
	}
	b.Items[n-1].ID = last
	return b
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as a real test's does.
type fatalRecorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// checkFails runs Check with a recorder and returns whether it failed the
// test, and why.
func checkFails(t *testing.T, b sdktest.Batch) (failed bool, msg string) {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sdktest.Check(rec, nothing, hostileDir, b)
	}()
	<-done
	return rec.failed, rec.msg
}

// wantWhere is where the server runs a batch of n items by default.
func wantWhere(n int) string {
	if engine.WorkersSupported() && n >= engine.SandboxDefaults().Worker.MinItems {
		return engine.RunWorker
	}
	return engine.RunSandboxed
}

// TestCheckRunsAsTheServer: a rule within the limits passes, and a batch
// runs where the server would run it: in process, or from 256 items on in
// a worker process.
func TestCheckRunsAsTheServer(t *testing.T) {
	for _, n := range []int{1, 255, 256, 1000} {
		t.Run(fmt.Sprintf("batch of %d", n), func(t *testing.T) {
			b := batchOf(n, "last")
			where := wantWhere(n)
			before := sdktest.CallsIn(where)
			res, err := sdktest.Check(t, nothing, hostileDir, b)
			if err != nil {
				t.Fatalf("Check() error = %v", err)
			}
			if got := res.Items[n-1].Quantities["alpha"]; got != int64(n-1) {
				t.Errorf("the last item's alpha = %d, want %d, unchanged", got, n-1)
			}
			if got := sdktest.CallsIn(where) - before; got != 1 {
				t.Errorf("Check ran %d calls %s, want 1", got, where)
			}
		})
	}
}

// TestCheckFailsPastServerLimits: a rule the server would stop fails Check,
// whichever way the server runs the batch, with a message naming the limit
// it broke.
func TestCheckFailsPastServerLimits(t *testing.T) {
	tests := []struct {
		name     string
		b        sdktest.Batch
		wantMsgs []string
	}{
		{name: "deadline of one item", b: batchOf(1, "spin"),
			wantMsgs: []string{"time limit of 100.01ms for 1 item", "sandbox.call_timeout 100ms + sandbox.item_timeout 10µs per item"}},
		{name: "deadline of a big batch", b: batchOf(300, "spin"),
			wantMsgs: []string{"time limit of 103ms for 300 items", "sandbox.call_timeout"}},
		{name: "memory of one item", b: batchOf(1, "hoard"),
			wantMsgs: []string{"more than the server's 64 MiB of memory (sandbox.max_memory_mib) for 1 item"}},
		{name: "memory of a big batch", b: batchOf(300, "hoard"),
			wantMsgs: []string{"more than the server's 64 MiB of memory (sandbox.max_memory_mib) for 300 items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			where := wantWhere(len(tt.b.Items))
			before := sdktest.CallsIn(where)
			failed, msg := checkFails(t, tt.b)
			t.Log(msg)
			if !failed {
				t.Fatalf("Check passed a rule the server would stop")
			}
			for _, want := range tt.wantMsgs {
				if !strings.Contains(msg, want) {
					t.Errorf("Check failed with %q, want it to say %q", msg, want)
				}
			}
			if got := sdktest.CallsIn(where) - before; got != 1 {
				t.Errorf("Check ran %d calls %s, want 1", got, where)
			}
		})
	}
}
