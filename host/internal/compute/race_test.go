//go:build race

package compute

// raceSlowdown stretches deadlines in tests: the race detector slows the
// host's side of a call several times.
const raceSlowdown = 6
