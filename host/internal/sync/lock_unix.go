//go:build unix

package sync

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on the file at path, creating it; the
// lock lasts until the file is closed or the process ends, however it
// ends.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errQueueLocked
		}
		return nil, err
	}
	return f, nil
}
