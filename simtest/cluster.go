package simtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/internal/simlaunch"
	"github.com/grayrt/gray/internal/stuck"
	"github.com/grayrt/gray/raylet"
	"github.com/grayrt/gray/sim"
)

// Cluster is the shape of a simulated cluster: the GCS on a crashable
// disk, Nodes raylets each with a plasma store, max(CPUsPerNode, 2)
// worker processes, and a launcher that starts more on demand (one per
// actor, as on grayd hosts and gray.Init's embedded cluster), up to
// MaxWorkersPerNode. Zero fields take the defaults.
type Cluster struct {
	// Nodes is the number of nodes; default 3.
	Nodes int
	// CPUsPerNode is each node's CPU resource; default 2.
	CPUsPerNode int
	// MaxWorkersPerNode bounds each node's worker processes; the node
	// hosts that many actors less max(CPUsPerNode, 2) (kept for tasks).
	// Default max(CPUsPerNode, 2) + 4.
	MaxWorkersPerNode int
	// ObjectStoreBytes is each node's plasma capacity; default 64 MiB.
	ObjectStoreBytes int64
}

func (c *Cluster) setDefaults() {
	if c.Nodes <= 0 {
		c.Nodes = 3
	}
	if c.CPUsPerNode <= 0 {
		c.CPUsPerNode = 2
	}
	if c.MaxWorkersPerNode <= 0 {
		c.MaxWorkersPerNode = max(c.CPUsPerNode, 2) + 4
	}
	if c.ObjectStoreBytes <= 0 {
		c.ObjectStoreBytes = 64 << 20
	}
}

// nodeTimeout is the GCS's node timeout in simulated clusters: short, so
// that partitions declare nodes dead (and fence them) within the fault
// phase.
const nodeTimeout = 3 * time.Second

// Errors a driver may see when faults are injected: the documented ways a
// task, actor call or object fails because of a process, node or message
// fault. Any other error fails the seed, and so does any error at all in
// a run without faults or in a round that started after healing.
var documented = []error{gray.ErrWorkerDied, gray.ErrNodeDied, gray.ErrActorDied, gray.ErrObjectLost, gray.ErrOwnerDied}

// Documented reports whether err is one of the errors a driver may see
// under faults (worker died, node died, actor died, object lost, owner
// died).
func Documented(err error) bool {
	for _, d := range documented {
		if errors.Is(err, d) {
			return true
		}
	}
	return false
}

// workload runs a driver program on a simulated cluster: once, or round
// after round (Repeat) until the fault phase ends and once more after.
// Each round is a new driver process with a job of its own, as each run
// of a program is; it exits when the program returns.
type workload struct {
	cl     Cluster
	main   func(context.Context) error
	repeat bool

	w       *sim.World
	round   int
	running *process.Driver
	// started is when the current round started; healedRound is set for
	// a round that started after healing.
	healedRound bool
	finished    bool
}

func (wl *workload) Setup(w *sim.World) error {
	wl.w = w
	wl.cl.setDefaults()
	w.AddProcess("gcs", sim.ProcOptions{Crashable: true, Disk: true}, func() core.Process {
		return gcs.NewServer(gcs.Config{NodeTimeout: nodeTimeout, HealthCheckPeriod: 500 * time.Millisecond})
	})
	res := core.MustResources(core.CPU, wl.cl.CPUsPerNode)
	workers := max(wl.cl.CPUsPerNode, 2)
	for i := range wl.cl.Nodes {
		addr := core.Addr(fmt.Sprintf("raylet-%d", i+1))
		host := fmt.Sprintf("node-%d", i+1)
		w.AddProcess(addr, sim.ProcOptions{Crashable: true, Host: host}, func() core.Process {
			l := &simlaunch.Launcher{W: w, Raylet: addr, Host: host}
			return l.Serve(raylet.New(raylet.Config{GCS: "gcs", Resources: res, ObjectStoreBytes: wl.cl.ObjectStoreBytes,
				Launcher: l, WorkerPoolMax: workers, MaxWorkers: wl.cl.MaxWorkersPerNode}))
		})
		for j := range workers {
			w.AddProcess(core.Addr(fmt.Sprintf("%s/w%d", addr, j+1)), sim.ProcOptions{Crashable: true, Host: host, Parent: addr}, func() core.Process {
				return process.NewWorker(process.WorkerConfig{Raylet: addr, GCS: "gcs"})
			})
		}
	}
	wl.nextRound()
	return nil
}

// nextRound starts the driver program on a new driver process on the
// first node's host. Drivers are not crashed by the crash fault: the
// objects they own would die with them (the owner-died path is reached
// through workers that own the results of nested tasks).
func (wl *workload) nextRound() {
	wl.round++
	wl.healedRound = wl.w.Healed()
	addr := core.Addr(fmt.Sprintf("driver-%d", wl.round))
	var d *process.Driver
	d = process.NewDriver(process.DriverConfig{GCS: "gcs", Raylet: "raylet-1", Main: wl.main, Done: func(err error) { wl.roundDone(d, err) }})
	wl.running = d
	wl.w.Spawn(addr, sim.ProcOptions{Host: "node-1"}, 0, func() core.Process { return d }, func(string) {})
}

// roundDone checks a round's result, starts the next round or finishes,
// and makes the driver process exit.
func (wl *workload) roundDone(d *process.Driver, err error) {
	w := wl.w
	switch {
	case err == nil:
	case !w.Faults().Any():
		w.Fail("driver", fmt.Sprintf("round %d: the driver returned an error in a run without faults: %v", wl.round, err))
	case wl.healedRound:
		w.Fail("driver", fmt.Sprintf("round %d, started after healing: the driver returned an error: %v", wl.round, err))
	case !Documented(err):
		w.Fail("driver", fmt.Sprintf("round %d: the driver returned an error that no fault explains (not worker, node or actor died, object lost or owner died): %v", wl.round, err))
	default:
		w.Sometimes("driver saw a documented error")
	}
	if wl.repeat && !wl.healedRound {
		w.Schedule(0, "next round", wl.nextRound)
	} else {
		wl.finished = true
	}
	panic(core.FailStop{Reason: "the driver program returned"})
}

func (wl *workload) Done() bool { return wl.finished }

func (wl *workload) Pending() string {
	if wl.running == nil {
		return "no driver started"
	}
	driver := stuck.Driver{Addr: core.Addr(fmt.Sprintf("driver-%d", wl.round)), What: fmt.Sprintf("(round %d, its program has not returned)", wl.round)}
	return stuck.Report(wl.w, []stuck.Driver{driver}, nil, stuck.LinesMax)
}

func (wl *workload) Check(*sim.World) (string, string) { return "", "" }
