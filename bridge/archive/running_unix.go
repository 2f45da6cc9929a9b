//go:build unix

package archive

import (
	"errors"
	"syscall"
)

// running says whether a process with this pid exists.
func running(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
