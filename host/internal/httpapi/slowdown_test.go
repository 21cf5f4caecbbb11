package httpapi_test

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// slowdownEnv names a whole number that stretches the tests' deadlines
// further, for a machine known to be slow (a shared CI runner).
const slowdownEnv = "SYNCRULES_TEST_SLOWDOWN"

// slowdown stretches every deadline of these tests that a busy machine
// could hit by accident: raceSlowdown under the race detector, times
// SYNCRULES_TEST_SLOWDOWN. A deadline meant to expire (a hanging plugin's)
// is stretched too: only its cost grows, not what the test asserts.
// Deadlines that only a stalled client reaches are not stretched.
var slowdown = raceSlowdown * envSlowdown()

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
