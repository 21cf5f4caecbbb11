package sync

import "time"

// SetMaxTurn sets how long a shop's job keeps calling SyncShop before it
// yields, until restore.
func SetMaxTurn(d time.Duration) (restore func()) {
	old := maxTurn
	maxTurn = d
	return func() { maxTurn = old }
}
