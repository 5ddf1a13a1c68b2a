//go:build !linux

package gray

import "os/exec"

// setPdeathsig: other systems have no parent-death signal; a worker whose
// node is gone exits when its registrations keep failing.
func setPdeathsig(*exec.Cmd) {}
