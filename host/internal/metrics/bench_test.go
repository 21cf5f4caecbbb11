package metrics

import (
	"net/http"
	"testing"
	"time"

	"github.com/syncrules/syncrules/host/engine"
)

// BenchmarkCalled measures the engine's per-call cost: a successful
// sandboxed call of a module whose series exist.
func BenchmarkCalled(b *testing.B) {
	m := New(nil)
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			m.Called("stock@1", engine.RunSandboxed, "", time.Duration(i&1023)*time.Microsecond)
		}
	})
	// The same three updates through WithLabelValues, as Called would make
	// them without its cache.
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			m.calls.WithLabelValues("stock@1", engine.RunSandboxed, "ok").Inc()
			m.callSeconds.WithLabelValues("stock@1", engine.RunSandboxed).Observe((time.Duration(i&1023) * time.Microsecond).Seconds())
		}
	})
	b.Run("uncached-failure", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			m.calls.WithLabelValues("stock@1", engine.RunSandboxed, "trap").Inc()
			m.errors.WithLabelValues("stock@1", "trap").Inc()
			m.callSeconds.WithLabelValues("stock@1", engine.RunSandboxed).Observe((time.Duration(i&1023) * time.Microsecond).Seconds())
		}
	})
	b.Run("cached-failure", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			m.Called("stock@1", engine.RunSandboxed, engine.KindTrap, time.Duration(i&1023)*time.Microsecond)
		}
	})
	// Every goroutine on the same series: the contended case.
	b.Run("cached-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				m.Called("stock@1", engine.RunSandboxed, "", time.Duration(i&1023)*time.Microsecond)
			}
		})
	})
	b.Run("uncached-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				m.calls.WithLabelValues("stock@1", engine.RunSandboxed, "ok").Inc()
				m.callSeconds.WithLabelValues("stock@1", engine.RunSandboxed).Observe((time.Duration(i&1023) * time.Microsecond).Seconds())
			}
		})
	})
}

func BenchmarkWaited(b *testing.B) {
	m := New(nil)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Waited("stock@1", time.Duration(i&1023)*time.Microsecond)
	}
}

func BenchmarkObserveHTTP(b *testing.B) {
	m := New(nil)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.ObserveHTTP("/v1/plugins/:name", http.MethodPost, 200, time.Duration(i&1023)*time.Microsecond)
	}
}
