package httpapi

import (
	"fmt"
	"testing"
	"time"
)

// TestLimitersStayBounded checks the per-token limiters: never more than
// their bound, and the buckets dropped first are the refilled ones, whose
// loss changes nothing.
func TestLimitersStayBounded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newLimiters(1, 2, 100)
	for i := range 1000 {
		l.wait(fmt.Sprint("token", i), now)
		if len(l.m) > 100 {
			t.Fatalf("%d limiters, bound 100", len(l.m))
		}
	}

	l = newLimiters(1, 2, 3)
	l.wait("b", now)
	l.wait("c", now)
	later := now.Add(time.Hour) // b and c have refilled
	for range 2 {
		if d := l.wait("a", later); d != 0 {
			t.Fatalf("a waits %s within its burst", d)
		}
	}
	l.wait("d", later) // the map is full: b and c go
	for key, want := range map[string]bool{"a": true, "b": false, "c": false, "d": true} {
		if _, ok := l.m[key]; ok != want {
			t.Errorf("limiter %s kept: %v, want %v", key, ok, want)
		}
	}
	if d := l.wait("a", later); d != time.Second {
		t.Errorf("a, its burst spent, waits %s, want 1s", d)
	}
}
