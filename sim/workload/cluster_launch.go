package workload

import (
	"fmt"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/raylet"
	"github.com/grayrt/gray/sim"
)

// Launched workers in the launch workload (the cluster workload with
// launch set): every other driver's job has a (pretend) staged binary, so its tasks and actors run on workers the
// raylets launch, as stock grayd hosts do. simLauncher models the host's
// launcher: a start latency, launches that fail, and exits reported to
// the raylet; the nemesis crashes launched workers like any process.

// simBinary is the staged binary of the drivers that have one.
var simBinary = strings.Repeat("5e", 32)

// binaryOf returns the binary driver idx's job runs: in the launch
// workload, every other driver's.
func (c *cluster) binaryOf(idx int) string {
	if c.launch && idx%2 == 1 {
		return simBinary
	}
	return ""
}

// launchFailPct is the share of launches that fail to start.
const launchFailPct = 5

// simLauncher is one raylet incarnation's launcher.
type simLauncher struct {
	cl     *cluster
	raylet core.Addr
	host   string
	r      *raylet.Raylet // the incarnation it serves
}

// Launch implements raylet.Launcher.
func (l *simLauncher) Launch(token, binary string, job core.JobID) {
	w := l.cl.w
	rnd := w.Rand("launch:" + token)
	delay := time.Duration(20+rnd.IntN(280)) * time.Millisecond
	w.Sometimes("worker launched")
	if rnd.IntN(100) < launchFailPct {
		w.Schedule(delay, "launch fails "+token, func() {
			l.onRaylet("launch failed "+token, func(r *raylet.Raylet) {
				w.Sometimes("worker launch failed")
				r.LaunchFailed(token, "simulated: the worker process failed to start", false)
			})
		})
		return
	}
	addr := core.Addr(fmt.Sprintf("%s/L%s", l.raylet, token))
	w.Spawn(addr, sim.ProcOptions{Crashable: true, Host: l.host, Parent: l.raylet}, delay, func() core.Process {
		return l.cl.newWorker(addr, process.WorkerConfig{Raylet: l.raylet, Binary: binary, Launch: token, Job: job})
	}, func(why string) {
		l.onRaylet("worker exited "+token, func(r *raylet.Raylet) {
			w.Sometimes("launched worker exited")
			r.WorkerExited(token, why)
		})
	})
}

// onRaylet runs f on the raylet incarnation this launcher serves, if it
// still runs.
func (l *simLauncher) onRaylet(label string, f func(*raylet.Raylet)) {
	l.cl.w.Do(l.raylet, label, func() {
		if r, ok := l.cl.w.Process(l.raylet).(*raylet.Raylet); ok && r == l.r {
			f(r)
		}
	})
}
