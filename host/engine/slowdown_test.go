package engine_test

import "github.com/syncrules/syncrules/host/internal/slowtest"

// Deadlines of these tests that a busy machine could hit by accident are
// stretched (see package slowtest): slowdown by both factors, busySlowdown
// only by SYNCRULES_TEST_SLOWDOWN (where the engine already stretches for
// the race detector, or the race detector would hide what is measured),
// raceSlowdown only under the race detector.
var (
	slowdown     = slowtest.Factor
	busySlowdown = slowtest.Busy
)

const raceSlowdown = slowtest.Race
