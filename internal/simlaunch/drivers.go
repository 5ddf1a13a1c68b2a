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

// Drivers of submitted jobs (raylet.DriverLauncher), as grayd's launcher
// runs them: the job's program (Programs, by its name, spec.Args[0])
// runs as a driver process of the raylet's host that registers its job
// under the submission; its return ends the process (exit status 0, or
// 1 with the error), a crash kills it. A stop cancels the program's ctx
// (SIGTERM) and kills the process once the grace passed (SIGKILL).

var _ raylet.DriverLauncher = (*Launcher)(nil)

// simDriver is a driver process this launcher started.
type simDriver struct {
	addr core.Addr
	proc *process.Driver
	done bool  // the program returned
	err  error // what it returned
}

// StartDriver implements raylet.DriverLauncher.
func (l *Launcher) StartDriver(spec proto.DriverSpec) {
	w := l.W
	id := spec.ID
	if _, ok := l.drivers[id]; ok {
		return
	}
	rnd := w.Rand("driver:" + string(l.Raylet) + ":" + id)
	delay := time.Duration(20+rnd.IntN(280)) * time.Millisecond
	var main func(ctx context.Context) error
	if l.Programs != nil {
		main = l.Programs(spec)
	}
	if main == nil {
		w.Schedule(delay, "driver exec fails "+id, func() {
			l.onRaylet("driver exec failed "+id, func(r *raylet.Raylet) {
				r.DriverExited(id, 0, false, fmt.Sprintf("exec: this simulated host has no program %q", spec.Args[0]))
			})
		})
		return
	}
	if l.drivers == nil {
		l.drivers = map[string]*simDriver{}
	}
	// The GCS gives a job to one node (incarnation) only, so the
	// address is new.
	d := &simDriver{addr: core.Addr(fmt.Sprintf("%s/D-%s", l.Raylet, id))}
	l.drivers[id] = d
	w.Sometimes("submitted job's driver started")
	w.Spawn(d.addr, sim.ProcOptions{Crashable: true, Host: l.Host, Parent: l.Raylet}, delay, func() core.Process {
		d.proc = process.NewDriver(process.DriverConfig{GCS: l.gcs(), Raylet: l.Raylet, Submission: id, Main: main,
			Done: func(err error) {
				d.done, d.err = true, err
				// The program returned: the process exits.
				panic(core.FailStop{Reason: "the driver program returned"})
			}})
		return d.proc
	}, func(why string) {
		delete(l.drivers, id)
		l.onRaylet("driver exited "+id, func(r *raylet.Raylet) {
			switch {
			case d.done && d.err == nil:
				r.DriverExited(id, 0, true, "")
			case d.done:
				r.DriverExited(id, 1, true, "the driver program failed: "+d.err.Error())
			default:
				r.DriverExited(id, -1, false, "the driver process died: "+why)
			}
		})
	})
	w.Schedule(delay, "driver started "+id, func() {
		if w.Process(d.addr) != nil && !d.done {
			l.onRaylet("driver started "+id, func(r *raylet.Raylet) { r.DriverStarted(id) })
		}
	})
}

// StopDriver implements raylet.DriverLauncher.
func (l *Launcher) StopDriver(id string, grace time.Duration) {
	d, ok := l.drivers[id]
	if !ok {
		return
	}
	w := l.W
	if grace <= 0 {
		w.Crash(d.addr, "killed: stopped with no grace")
		return
	}
	w.Do(d.addr, "SIGTERM "+id, func() { d.proc.Stop() })
	w.Schedule(grace, "SIGKILL "+id, func() { w.Crash(d.addr, "killed: its stop grace passed") })
}
