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
// hanging ones cost little.
const chainCallTimeout = 200 * time.Millisecond
