//go:build race

package engine_test

// raceSlowdown stretches the time limits of tests that let a guest work
// for a while: under the race detector a worker process (this test binary)
// runs several times slower.
const raceSlowdown = 6
