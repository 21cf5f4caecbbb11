// Package slowtest stretches the deadlines of tests that a busy or slow
// machine could hit by accident, so that a test fails on what it asserts,
// never on the machine it ran on:
//
//	cfg.CallTimeout = 200 * time.Millisecond * slowtest.Factor
//
// A deadline meant to expire is stretched too where calls that must not
// expire share it: only its cost grows, not what the test asserts.
package slowtest

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Env names a whole number that stretches deadlines further, for a
// machine known to be slow or busy (a shared CI runner).
const Env = "SYNCRULES_TEST_SLOWDOWN"

var (
	// Busy is SYNCRULES_TEST_SLOWDOWN, 1 if unset.
	Busy = fromEnv()
	// Factor stretches a deadline: Race times Busy.
	Factor = Race * Busy
)

func fromEnv() time.Duration {
	v := os.Getenv(Env)
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		panic(fmt.Sprintf("%s=%q: want a whole number of 1 or more", Env, v))
	}
	return time.Duration(n)
}
