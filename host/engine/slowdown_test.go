package engine_test

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// slowdownEnv names a whole number that stretches the tests' deadlines
// further, for a machine known to be slow or busy (a shared CI runner).
const slowdownEnv = "SYNCRULES_TEST_SLOWDOWN"

// busySlowdown is SYNCRULES_TEST_SLOWDOWN, 1 if unset.
var busySlowdown = envSlowdown()

// slowdown stretches every deadline of these tests that a busy machine
// could hit by accident: raceSlowdown under the race detector, times
// busySlowdown. A deadline meant to expire is stretched too where calls
// that must not expire share it: only its cost grows, not what the test
// asserts.
var slowdown = raceSlowdown * busySlowdown

func envSlowdown() time.Duration {
	v := os.Getenv(slowdownEnv)
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		panic(fmt.Sprintf("%s=%q: want a whole number of 1 or more", slowdownEnv, v))
	}
	return time.Duration(n)
}
