package store

// SetPruneBatch sets how many rows one DELETE of a prune removes, until
// restore.
func SetPruneBatch(n int) (restore func()) {
	old := pruneBatch
	pruneBatch = n
	return func() { pruneBatch = old }
}
