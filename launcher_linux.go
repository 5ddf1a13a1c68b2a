package gray

import (
	"os/exec"
	"syscall"
)

// setPdeathsig makes the kernel kill a worker when its node process dies,
// however it dies (kill -9 included).
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
