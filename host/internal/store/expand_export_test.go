package store

// SetExpandChunk sets how many items a SQLite expansion marks pending per
// transaction, and returns what restores it.
func SetExpandChunk(n int) (restore func()) {
	old := expandChunk
	expandChunk = n
	return func() { expandChunk = old }
}
