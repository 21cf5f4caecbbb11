package cli

import (
	"io"
	"time"
)

// ForceNotices makes every command say what it is doing after after, as
// it does on a terminal, until the test ends.
func ForceNotices(after time.Duration) (restore func()) {
	oldAfter, oldTerminal := slowAfter, isTerminal
	slowAfter, isTerminal = after, func(io.Writer) bool { return true }
	return func() { slowAfter, isTerminal = oldAfter, oldTerminal }
}
