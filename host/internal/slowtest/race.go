//go:build race

package slowtest

import "time"

// Race is how much slower code runs under the race detector (5 to 10
// times here), 1 without it.
const Race time.Duration = 6
