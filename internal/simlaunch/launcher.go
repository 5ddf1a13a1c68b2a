// Package simlaunch is a simulated host's worker launcher
// (raylet.Launcher): what grayd's launcher does on a real host (start a
// worker process of the node's own program or of a staged job binary,
// report a failed start or an exit to the raylet), on the simulator's
// clock, with a start latency and launches that fail. The simulated
// clusters of the workloads and of package simtest use it.
package simlaunch

import (
	"context"
	"fmt"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/raylet"
	"github.com/grayrt/gray/sim"
)

// Launcher serves one raylet incarnation: make it with the raylet's
// address and host, and call Serve with the incarnation.
type Launcher struct {
	W      *sim.World
	Raylet core.Addr
	Host   string
	// FailPct is the share (in percent) of launches that fail to start.
	FailPct int
	// NewWorker returns the process of a launched worker at addr; nil
	// starts a plain process.Worker.
	NewWorker func(addr core.Addr, cfg process.WorkerConfig) core.Process
	// Programs returns the driver program a submitted job runs (by its
	// spec), nil for none: that start fails as an exec would.
	Programs func(spec proto.DriverSpec) func(ctx context.Context) error
	// GCS is the GCS address launched processes get (gcs.SplitAddr: one
	// address or replicas joined by commas); "" means "gcs".
	GCS core.Addr

	r       *raylet.Raylet
	drivers map[string]*simDriver // running drivers by submission id
}

func (l *Launcher) gcs() core.Addr {
	if l.GCS == "" {
		return "gcs"
	}
	return l.GCS
}

// Serve sets the raylet incarnation the launcher reports to and returns
// it.
func (l *Launcher) Serve(r *raylet.Raylet) *raylet.Raylet {
	l.r = r
	return r
}

// Launch implements raylet.Launcher: the worker starts after 20–300 ms
// (or fails to, FailPct of the time) as a crashable process of the
// raylet's host, whose exit is reported to the raylet.
func (l *Launcher) Launch(token, binary string, job core.JobID) {
	w := l.W
	rnd := w.Rand("launch:" + token)
	delay := time.Duration(20+rnd.IntN(280)) * time.Millisecond
	w.Sometimes("worker launched")
	if rnd.IntN(100) < l.FailPct {
		w.Schedule(delay, "launch fails "+token, func() {
			l.onRaylet("launch failed "+token, func(r *raylet.Raylet) {
				w.Sometimes("worker launch failed")
				r.LaunchFailed(token, "simulated: the worker process failed to start", false)
			})
		})
		return
	}
	addr := core.Addr(fmt.Sprintf("%s/L%s", l.Raylet, token))
	cfg := process.WorkerConfig{Raylet: l.Raylet, GCS: l.gcs(), Binary: binary, Launch: token, Job: job}
	w.Spawn(addr, sim.ProcOptions{Crashable: true, Host: l.Host, Parent: l.Raylet}, delay, func() core.Process {
		if l.NewWorker != nil {
			return l.NewWorker(addr, cfg)
		}
		return process.NewWorker(cfg)
	}, func(why string) {
		l.onRaylet("worker exited "+token, func(r *raylet.Raylet) {
			w.Sometimes("launched worker exited")
			r.WorkerExited(token, why)
		})
	})
}

// onRaylet runs f on the raylet incarnation this launcher serves, if it
// still runs.
func (l *Launcher) onRaylet(label string, f func(*raylet.Raylet)) {
	l.W.Do(l.Raylet, label, func() {
		if r, ok := l.W.Process(l.Raylet).(*raylet.Raylet); ok && r == l.r {
			f(r)
		}
	})
}
