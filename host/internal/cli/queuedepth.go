package cli

import (
	"context"

	"github.com/syncrules/syncrules/host/internal/metrics"
	"github.com/syncrules/syncrules/host/internal/sync"
)

// queueDepth reads the sync queue's depth for the metrics' scrapes.
func queueDepth(q *sync.Queue) func(ctx context.Context) (metrics.QueueDepth, error) {
	return func(ctx context.Context) (metrics.QueueDepth, error) {
		st, err := q.Stats(ctx)
		if err != nil {
			return metrics.QueueDepth{}, err
		}
		d := metrics.QueueDepth{ByState: st.ByState, ByQueue: make(map[string]map[string]int, len(st.ByQueue))}
		for name, qs := range st.ByQueue {
			d.ByQueue[name] = map[string]int{"available": qs.Available, "running": qs.Running}
		}
		return d, nil
	}
}
