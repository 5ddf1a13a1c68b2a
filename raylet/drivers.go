package raylet

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// Supervised drivers of submitted jobs (gcs/submissions.go): the GCS
// asks this raylet to run a job's driver (proto.StartDriver); the raylet
// has its host start it (DriverLauncher), reports the start and the exit
// to the GCS (gcs.UpdateJobSubmission, resent by the GCS client until
// answered) and has the host stop it on request (proto.StopDriver). A
// report the GCS refuses (the job is another node's, or already over)
// makes the raylet stop the driver: only the node the GCS chose runs it.

// DriverLauncher is the part of a Launcher that runs drivers. Calls are
// on the raylet's loop and must not block; the host reports back on the
// loop with DriverStarted and DriverExited.
type DriverLauncher interface {
	// StartDriver starts the driver of spec (fetching its binary and
	// working directory first).
	StartDriver(spec proto.DriverSpec)
	// StopDriver stops it: a polite request (SIGTERM), then a kill once
	// grace passed. A driver not running is ignored.
	StopDriver(id string, grace time.Duration)
}

// driverRun is a driver this raylet runs or ran.
type driverRun struct {
	spec     proto.DriverSpec
	started  bool // the host reported the start
	exited   bool // the host reported the exit
	stopping bool // a stop was asked for
	// reported: the GCS acknowledged the end, and the record may go.
	reported bool
	// The end, as reported.
	exitState gcs.SubmissionState
	exitCode  int32
	exitOK    bool
	exitMsg   string
}

// driversKeptMax bounds the ended drivers remembered (to answer a
// resent StartDriver without running the driver again).
const driversKeptMax = 1000

func (r *Raylet) driverLauncher() DriverLauncher {
	dl, _ := r.cfg.Launcher.(DriverLauncher)
	return dl
}

// handleStartDriver runs a submitted job's driver once.
func (r *Raylet) handleStartDriver(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	sd := m.(*proto.StartDriver)
	if sd.Node != r.node {
		reply(nil, rpc.Errorf(rpc.CodeNotFound, "job %s was placed on node %v: this is node %v (a later incarnation at its address)", sd.Spec.ID, sd.Node, r.node))
		return
	}
	if d, ok := r.drivers[sd.Spec.ID]; ok {
		// A resend: the driver runs or ran; the GCS has not seen the
		// report (its client gave up during an outage): report again.
		reply(&proto.Ack{}, nil)
		switch {
		case d.exited:
			r.reportDriverEnd(d)
		case d.started:
			r.reportDriver(d, gcs.SubmissionRunning, 0, false, "")
		}
		return
	}
	d := &driverRun{spec: sd.Spec}
	r.drivers[sd.Spec.ID] = d
	r.driverOrder = append(r.driverOrder, sd.Spec.ID)
	r.trimDrivers()
	reply(&proto.Ack{}, nil)
	dl := r.driverLauncher()
	if dl == nil {
		d.exited = true
		r.reportDriver(d, gcs.SubmissionFailed, 0, false, "this node cannot run drivers (its host has no driver launcher)")
		return
	}
	r.stats.DriversStarted++
	r.env.Log().Info("starting a submitted job's driver", "job", sd.Spec.ID, "binary", short(sd.Spec.Binary))
	dl.StartDriver(sd.Spec)
}

// handleStopDriver stops a driver this raylet runs.
func (r *Raylet) handleStopDriver(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	sd := m.(*proto.StopDriver)
	d, ok := r.drivers[sd.ID]
	if sd.Node != r.node || !ok {
		reply(nil, rpc.Errorf(rpc.CodeNotFound, "no driver of job %s on node %v", sd.ID, r.node))
		return
	}
	reply(&proto.Ack{}, nil)
	if d.exited {
		r.reportDriverEnd(d) // the GCS has not seen the end yet
		return
	}
	if !d.stopping {
		d.stopping = true
		r.env.Log().Info("stopping a submitted job's driver", "job", sd.ID, "grace", sd.Grace)
	}
	if dl := r.driverLauncher(); dl != nil {
		dl.StopDriver(sd.ID, sd.Grace)
	}
}

// DriverStarted is the host's report that the driver of job id runs.
func (r *Raylet) DriverStarted(id string) {
	d, ok := r.drivers[id]
	if !ok || d.started || d.exited {
		return
	}
	d.started = true
	r.reportDriver(d, gcs.SubmissionRunning, 0, false, "")
}

// DriverExited is the host's report that the driver of job id ended:
// with exit status code when exited, killed by a signal otherwise;
// message says why when it did not succeed (a failed start too).
func (r *Raylet) DriverExited(id string, code int32, exited bool, message string) {
	d, ok := r.drivers[id]
	if !ok || d.exited {
		return
	}
	d.exited = true
	r.stats.DriversEnded++
	state := gcs.SubmissionSucceeded
	switch {
	case d.stopping:
		state = gcs.SubmissionStopped
		if message == "" {
			message = "stopped"
		}
	case !exited || code != 0:
		state = gcs.SubmissionFailed
		if message == "" {
			message = fmt.Sprintf("the driver exited with status %d", code)
			if !exited {
				message = "the driver was killed"
			}
		}
	}
	d.exitState, d.exitCode, d.exitOK, d.exitMsg = state, code, exited, message
	r.reportDriverEnd(d)
}

// reportDriverEnd (re)sends a driver's end to the GCS.
func (r *Raylet) reportDriverEnd(d *driverRun) {
	if !d.reported {
		r.reportDriver(d, d.exitState, d.exitCode, d.exitOK, d.exitMsg)
	}
}

// reportDriver tells the GCS about a driver. A refusal means the driver
// must not run here (any more): it is stopped.
func (r *Raylet) reportDriver(d *driverRun, state gcs.SubmissionState, code int32, exited bool, msg string) {
	if len(msg) > gcs.SubmissionMessageMax {
		msg = msg[:gcs.SubmissionMessageMax]
	}
	node := r.node
	r.gcs.UpdateJobSubmission(gcs.UpdateJobSubmission{ID: d.spec.ID, Node: node, State: state, ExitCode: code, Exited: exited, Message: msg}, func(_ gcs.Reply, err error) {
		if r.node != node {
			return
		}
		var re *rpc.Error
		switch {
		case err == nil:
			if state.Terminal() {
				d.reported = true
			}
		case errors.As(err, &re) && (re.Code == rpc.CodeFailedPrecondition || re.Code == rpc.CodeNotFound):
			d.reported = true
			if !d.exited {
				r.env.Log().Warn("stopping a driver the GCS does not expect here", "job", d.spec.ID, "err", err)
				d.stopping = true
				if dl := r.driverLauncher(); dl != nil {
					dl.StopDriver(d.spec.ID, 0)
				}
			}
		default:
			// The GCS client gave up (a long outage): the GCS resends
			// StartDriver or StopDriver, and that brings the report again.
			r.env.Log().Warn("reporting a driver to the GCS", "job", d.spec.ID, "state", state, "err", err)
		}
	})
}

// trimDrivers forgets the oldest ended and reported drivers beyond
// driversKeptMax.
func (r *Raylet) trimDrivers() {
	for len(r.driverOrder) > driversKeptMax {
		i := slices.IndexFunc(r.driverOrder, func(id string) bool { d := r.drivers[id]; return d.exited && d.reported })
		if i < 0 {
			return
		}
		delete(r.drivers, r.driverOrder[i])
		r.driverOrder = slices.Delete(r.driverOrder, i, i+1)
	}
}

// Drivers lists the submitted jobs whose drivers run here (not ended),
// sorted.
func (r *Raylet) Drivers() []string {
	var out []string
	for _, id := range r.driverOrder {
		if d := r.drivers[id]; !d.exited {
			out = append(out, id)
		}
	}
	return out
}
