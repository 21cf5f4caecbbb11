package httpapi_test

import "github.com/syncrules/syncrules/host/internal/slowtest"

// Deadlines of these tests that a busy machine could hit by accident are
// stretched (see package slowtest); deadlines that only a stalled client
// reaches are not.
var slowdown = slowtest.Factor
