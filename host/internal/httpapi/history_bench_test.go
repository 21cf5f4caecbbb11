package httpapi_test

import (
	"context"
	"fmt"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/syncrules/syncrules/host/internal/compute"
	"github.com/syncrules/syncrules/host/internal/shop"
)

// BenchmarkSyncExplain measures what explaining costs one sync batch
// (shop.SyncBatch items): the compute with and without explain, and with
// explain the encoding of each item's trace the history stores; with the
// default rule alone and with a plugin after it. RATIONALE.md, "Why does
// every sync compute explain?", records the figures.
func BenchmarkSyncExplain(b *testing.B) {
	ph := newPluginHost(b, pluginHostConfig{})
	ph.install(b, "buffer", "1.0.0", "buffer")
	s := newServer(b, loadRule(b), serverConfig{plugins: ph})
	for _, chain := range []struct {
		name  string
		rules []compute.Rule
	}{
		{"default", nil},
		{"default+buffer", []compute.Rule{{Plugin: "buffer", Version: "1.0.0", Params: []byte(`{"units":1}`)}}},
	} {
		for _, explain := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/explain=%v", chain.name, explain), func(b *testing.B) {
				req, err := compute.DecodeRequest(benchRequest(shop.SyncBatch))
				if err != nil {
					b.Fatal(err)
				}
				req.Settings.Rules = chain.rules
				opt := compute.Options{Explain: explain, Tenant: "shop:bench", Class: compute.Sync}
				var traceBytes int
				for b.Loop() {
					resp, err := s.service.Compute(context.Background(), req, opt)
					if err != nil {
						b.Fatal(err)
					}
					if !explain {
						continue
					}
					traceBytes = 0
					for _, it := range resp.Items {
						t, err := jsonv2.Marshal(it.Trace)
						if err != nil {
							b.Fatal(err)
						}
						traceBytes += len(t)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*shop.SyncBatch), "ns/item")
				b.ReportMetric(float64(traceBytes)/shop.SyncBatch, "trace-bytes/item")
			})
		}
	}
}
