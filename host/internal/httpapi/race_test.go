//go:build race

package httpapi_test

// raceSlowdown is part of slowdown, which stretches deadlines in tests:
// the race detector slows the host's side of a call several times.
const raceSlowdown = 6
