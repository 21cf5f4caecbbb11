//go:build !unix

package sync

import (
	"errors"
	"os"
)

// lockFile cannot lock here: the queue then leaves jobs of a stopped
// process to River's rescuer.
func lockFile(string) (*os.File, error) {
	return nil, errors.ErrUnsupported
}
