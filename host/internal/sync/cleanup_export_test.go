package sync

import "time"

// SetCleanup sets the cleanup's clock and a hook told of each run, until
// restore.
func SetCleanup(now func() time.Time, hook func(Cleaned)) (restore func()) {
	oldNow, oldHook := cleanupNow, cleanedHook
	cleanupNow, cleanedHook = now, hook
	return func() { cleanupNow, cleanedHook = oldNow, oldHook }
}
