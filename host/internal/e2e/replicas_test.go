package e2e_test

import (
	"testing"

	"github.com/syncrules/syncrules/host/internal/store/storetest"
)

// TestReplicas: two servers on one PostgreSQL database, as two replicas
// behind a load balancer that spreads Shopify's webhooks over both: every
// job runs (none is left waiting, none discarded) and the end-to-end
// property holds as it does on one server.
func TestReplicas(t *testing.T) {
	for _, s := range checkProperty(t, storetest.FreshPostgres(t), "replica-a", "replica-b") {
		if s.webhooks.Load() == 0 {
			t.Errorf("%s received no webhook: the replicas did not share the work", s.name)
		}
	}
}
