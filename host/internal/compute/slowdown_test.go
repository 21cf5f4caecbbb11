package compute

import (
	"time"

	"github.com/syncrules/syncrules/host/internal/slowtest"
)

// Deadlines of these tests that a busy machine could hit by accident are
// stretched (see package slowtest).
var slowdown = slowtest.Factor

// chainCallTimeout is the chain tests' deadline per plugin call before
// slowdown: ample for a call that does not hang, short enough that the
// hanging ones cost little. 200 ms was once too little for a batch that
// follows two traps, with two suites at once on two cores (load 10).
const chainCallTimeout = 500 * time.Millisecond
