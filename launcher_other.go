//go:build !linux

package gray

import (
	"errors"
	"os/exec"
)

// setPdeathsig: other systems have no parent-death signal; a worker whose
// node is gone exits when its registrations keep failing.
func setPdeathsig(*exec.Cmd) {}

// residentBytes is not implemented here: the worker memory limit is
// Linux-only.
func residentBytes(int) (int64, error) { return 0, errors.New("no /proc") }

// hostMemoryBytes is unknown here: the default worker cap applies.
func hostMemoryBytes() int64 { return 0 }
