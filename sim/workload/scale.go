package workload

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/internal/simlaunch"
	"github.com/grayrt/gray/internal/stuck"
	"github.com/grayrt/gray/raylet"
	"github.com/grayrt/gray/sim"
)

// The scale workload is the cluster workload's opposite: one shape of
// work, in bulk, on many nodes. N nodes (a raylet with plasma and one
// worker process each; the raylet launches more on demand) and a few
// drivers, which between them submit a set number of small tasks in
// waves and create a set number of actors in waves, calling each once,
// under whatever faults the run injects. It exists to measure how far
// the simulator and the control plane scale (docs/performance.md,
// "Scale"): its per-node state is kept small (one prestarted worker, a
// 1 MiB store, no per-task records in the workload) so that 1,000 nodes
// fit in a few GiB.
//
// Invariants: every task's result is exactly what it computes (tasks
// retry system failures forever); every actor call's result is exact
// (restarts and call retries unlimited); a node declared dead starts no
// task once its raylet knows (as in the cluster workload).
// Liveness: after healing every driver finishes all its waves, and the
// cluster goes idle (every raylet's resources are free again but the
// slots of the actors the GCS has alive).

func init() {
	sim.RegisterWorkload("scale", "many nodes, few drivers: a set number of small tasks and of actors called once, in waves (--nodes, --tasks, --actors)", nil, newScale)
}

const (
	scaleNodesDefault   = 20
	scaleDriversDefault = 4
	scaleTasksDefault   = 2_000
	scaleActorsDefault  = 200
	// scaleNodesMax and the like bound a run's size so that a typo fails
	// at once instead of exhausting memory.
	scaleNodesMax   = 5_000
	scaleDriversMax = 100
	scaleTasksMax   = 10_000_000
	scaleActorsMax  = 1_000_000
	// scaleTaskWave is how many tasks a driver has out at once, and
	// scaleActorWave how many actors it holds at most at once: the waves
	// bound the live objects and worker processes of the run, however
	// many tasks and actors it has in all. (actorWave bounds the latter
	// further by the cluster's actor slots.)
	scaleTaskWave  = 1_000
	scaleActorWave = 50
	// A node has 2 CPUs and starts with one worker; the raylet launches
	// up to scaleTaskWorkersMax task workers and scaleMaxWorkers in all,
	// the rest actor slots.
	scaleCPUsPerNode    = 2
	scaleTaskWorkersMax = 2
	scaleActorSlots     = 4
	scaleMaxWorkers     = scaleTaskWorkersMax + scaleActorSlots
)

// actorWave is how many actors each driver holds at once: at most half
// the cluster's actor slots in all, so that the drivers' waves fit with
// room for dead nodes. A wave holds its actors until all its calls
// answered: waves that together need more slots than the cluster has
// would wait for each other forever.
func (s *scale) actorWave() int {
	return max(1, min(scaleActorWave, s.nodes*scaleActorSlots/(2*s.drivers)))
}

type scale struct {
	nodes, drivers, tasks, actors int
	w                             *sim.World
	raylets                       []core.Addr
	drv                           []*scaleDriver
	// fencedAt records when each node's raylet learned the node was
	// declared dead (see cluster.fencedAt).
	fencedAt map[core.NodeID]time.Duration
	// executed counts task bodies run, retries included.
	executed int64
	// idleAt is when Done checks the cluster's idleness next.
	idleAt time.Duration
}

// scaleDriver is one driver of the scale workload.
type scaleDriver struct {
	s    *scale
	idx  int
	addr core.Addr
	proc *process.Driver
	// tasks and actors are this driver's shares of the run's.
	tasks, actors int
	// Written by main, read by Done and Pending.
	tasksDone, actorsDone int
	step                  string
	finished              bool
}

func newScale(opts sim.Options) (sim.Workload, error) {
	s := &scale{nodes: opts.Nodes, drivers: opts.Clients, tasks: opts.Tasks, actors: opts.Actors}
	if s.nodes == 0 {
		s.nodes = scaleNodesDefault
	}
	if s.drivers == 0 {
		s.drivers = scaleDriversDefault
	}
	if s.tasks == 0 {
		s.tasks = scaleTasksDefault
	}
	if s.actors == 0 {
		s.actors = scaleActorsDefault
	}
	switch {
	case s.nodes < 1 || s.nodes > scaleNodesMax:
		return nil, fmt.Errorf("scale: %d nodes, want 1..%d", s.nodes, scaleNodesMax)
	case s.drivers < 1 || s.drivers > scaleDriversMax || s.drivers > s.nodes:
		return nil, fmt.Errorf("scale: %d clients, want 1..%d and at most one per node", s.drivers, scaleDriversMax)
	case s.tasks < 0 || s.tasks > scaleTasksMax:
		return nil, fmt.Errorf("scale: %d tasks, want 0..%d", s.tasks, scaleTasksMax)
	case s.actors < 0 || s.actors > scaleActorsMax:
		return nil, fmt.Errorf("scale: %d actors, want 0..%d", s.actors, scaleActorsMax)
	}
	return s, nil
}

// Size implements sim.Sizer.
func (s *scale) Size() sim.Options {
	return sim.Options{Nodes: s.nodes, Clients: s.drivers, Tasks: s.tasks, Actors: s.actors}
}

// Budgets implements sim.Budgeter: a run's events grow with its nodes
// (heartbeats, health checks and resource reports over the run) and its
// work; its waves may take longer than the default minute after healing.
func (s *scale) Budgets() (int64, time.Duration) {
	events := int64(20_000_000) + int64(s.nodes)*100_000 + int64(s.tasks)*200 + int64(s.actors)*2_000
	live := sim.DefaultLivenessBound + time.Duration(s.tasks/s.drivers)*time.Millisecond + time.Duration(s.actors/s.drivers)*20*time.Millisecond
	return events, live
}

func (s *scale) Setup(w *sim.World) error {
	s.w = w
	s.fencedAt = map[core.NodeID]time.Duration{}
	w.AddProcess("gcs", sim.ProcOptions{Crashable: true, Disk: true}, func() core.Process {
		return gcs.NewServer(gcs.Config{NodeTimeout: 3 * time.Second, HealthCheckPeriod: 500 * time.Millisecond})
	})
	res := core.MustResources(core.CPU, scaleCPUsPerNode, core.Memory, 1<<30)
	for i := range s.nodes {
		addr := core.Addr(fmt.Sprintf("raylet-%d", i+1))
		host := fmt.Sprintf("node-%d", i+1)
		s.raylets = append(s.raylets, addr)
		w.AddProcess(addr, sim.ProcOptions{Crashable: true, Host: host}, func() core.Process {
			l := &simlaunch.Launcher{W: w, Raylet: addr, Host: host,
				NewWorker: func(a core.Addr, cfg process.WorkerConfig) core.Process { return s.newWorker(a, cfg) }}
			return l.Serve(raylet.New(raylet.Config{GCS: "gcs", Resources: res, ObjectStoreBytes: clusterStoreBytes,
				OnFence:  func(n core.NodeID) { s.fencedAt[n] = s.w.Now(); s.w.Sometimes("node fenced") },
				Launcher: l, WorkerPoolMax: scaleTaskWorkersMax, MaxWorkers: scaleMaxWorkers, IdleWorkerTimeout: 5 * time.Second}))
		})
		waddr := core.Addr(fmt.Sprintf("%s/w1", addr))
		w.AddProcess(waddr, sim.ProcOptions{Crashable: true, Host: host, Parent: addr}, func() core.Process {
			return s.newWorker(waddr, process.WorkerConfig{Raylet: addr})
		})
	}
	for i := range s.drivers {
		d := &scaleDriver{s: s, idx: i, addr: core.Addr(fmt.Sprintf("driver-%d", i+1)),
			tasks: share(s.tasks, s.drivers, i), actors: share(s.actors, s.drivers, i)}
		// Drivers sit on nodes spread over the cluster, and never crash
		// (their objects would die with them).
		node := i * s.nodes / s.drivers
		d.proc = process.NewDriver(process.DriverConfig{GCS: "gcs", Raylet: s.raylets[node], Main: d.main, Done: d.done})
		s.drv = append(s.drv, d)
		w.AddProcess(d.addr, sim.ProcOptions{Host: fmt.Sprintf("node-%d", node+1)}, func() core.Process { return d.proc })
	}
	return nil
}

// share is driver i's share of n things split over k drivers.
func share(n, k, i int) int {
	q := n / k
	if i < n%k {
		q++
	}
	return q
}

// newWorker returns a worker process at addr whose hook checks every
// task against the node's fencing.
func (s *scale) newWorker(addr core.Addr, cfg process.WorkerConfig) *process.Worker {
	cfg.GCS = "gcs"
	cfg.Hooks = process.WorkerHooks{BeforeRun: func(node core.NodeID, spec *proto.TaskSpec) {
		if spec.ActorCreation || spec.ActorCall {
			return
		}
		if t, ok := s.fencedAt[node]; ok && s.w.Now() > t+fenceNewsMax {
			s.w.Fail("invariant", fmt.Sprintf("%s ran on node %v at %v, after its raylet learned at %v that the node is dead", spec.Describe(), node, s.w.Now(), t))
		}
		s.executed++
		if spec.Attempt > 0 {
			s.w.Sometimes("task retried")
		}
	}}
	return process.NewWorker(cfg)
}

// main is the driver program: task waves and actor waves, alternating,
// until both shares are done.
func (d *scaleDriver) main(ctx context.Context) error {
	for wave := 0; d.tasksDone < d.tasks || d.actorsDone < d.actors; wave++ {
		if n := min(scaleTaskWave, d.tasks-d.tasksDone); n > 0 {
			if err := d.taskWave(ctx, wave, n); err != nil {
				return err
			}
		}
		if n := min(d.s.actorWave(), d.actors-d.actorsDone); n > 0 {
			if err := d.actorWave(ctx, n); err != nil {
				return err
			}
		}
	}
	d.step = "done"
	return nil
}

// taskWave submits n tasks add(base, i), spread over the nodes every
// other wave (a lease per task) and on reused leases the others, and
// checks every result.
func (d *scaleDriver) taskWave(ctx context.Context, wave, n int) error {
	d.step = fmt.Sprintf("task wave %d", wave)
	add := addTask.Options(retried)
	if wave%2 == 1 {
		add = addTask.Options(retried, gray.WithSpread())
	}
	base := int64(d.idx)<<40 + int64(d.tasksDone)
	refs := make([]gray.Ref[int64], n)
	for i := range refs {
		refs[i] = add.Remote(ctx, gray.V(base), gray.V(int64(i)))
	}
	defer func() {
		for _, r := range refs {
			r.Release()
		}
	}()
	got, err := gray.GetAll(ctx, refs)
	if err != nil {
		return fmt.Errorf("%s: %w", d.step, err)
	}
	for i, v := range got {
		if want := base + int64(i); v != want {
			return fmt.Errorf("%s: add(%d, %d) = %d, want %d", d.step, base, i, v, want)
		}
	}
	d.tasksDone += n
	return nil
}

// actorWave creates n actors (restarts and call retries unlimited),
// calls each once, checks the results and releases them, which ends
// them. A creation whose registration failed under faults is tried again.
func (d *scaleDriver) actorWave(ctx context.Context, n int) error {
	d.step = fmt.Sprintf("actor wave at %d", d.actorsDone)
	hs := make([]*gray.ActorHandle[counter], 0, n)
	refs := make([]gray.Ref[int64], 0, n)
	defer func() {
		for _, r := range refs {
			r.Release()
		}
		for _, h := range hs {
			h.Release()
		}
	}()
	for len(hs) < n {
		h, err := counterClass.New(ctx, gray.V(int64(0)), gray.WithSpread(), gray.WithMaxRestarts(-1), gray.WithMaxTaskRetries(-1))
		if err != nil {
			if !d.s.w.Faults().Any() || !(errors.Is(err, gcs.ErrTimeout) || errors.Is(err, gcs.ErrUnavailable)) {
				return fmt.Errorf("%s: create actor: %w", d.step, err)
			}
			d.s.w.Sometimes("actor registration failed")
			if err := pause(ctx, 100*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		hs = append(hs, h)
		refs = append(refs, squareMethod.Remote(ctx, h, gray.V(int64(d.actorsDone+len(hs)))))
	}
	got, err := gray.GetAll(ctx, refs)
	if err != nil {
		return fmt.Errorf("%s: %w", d.step, err)
	}
	for i, v := range got {
		if x := int64(d.actorsDone + i + 1); v != x*x {
			return fmt.Errorf("%s: square(%d) = %d, want %d", d.step, x, v, x*x)
		}
	}
	d.actorsDone += n
	return nil
}

// done gets the driver program's result, on the driver's loop.
func (d *scaleDriver) done(err error) {
	if err != nil {
		d.s.w.Fail("invariant", fmt.Sprintf("%s: %v", d.addr, err))
		return
	}
	d.finished = true
}

func (s *scale) Done() bool {
	for _, d := range s.drv {
		if !d.finished {
			return false
		}
	}
	// The world asks after every event: while the cluster winds down
	// (actors ending, leases given back) the idle check, which walks
	// every node and actor, runs at most once per simulated millisecond.
	if now := s.w.Now(); now < s.idleAt {
		return false
	} else {
		s.idleAt = now + time.Millisecond
	}
	return s.idle() == ""
}

// idle describes why the cluster is not idle ("" when it is), as the
// cluster workload's idle does.
func (s *scale) idle() string {
	g, ok := s.w.Process("gcs").(*gcs.Server)
	if !ok {
		return "the GCS is down"
	}
	// Done asks after every event once healed: with every live raylet
	// wholly free there is nothing to subtract, and listing the GCS's
	// actors (10,000 of them, dead ones included) was a tenth of a run.
	busy := false
	for _, a := range s.raylets {
		if r, ok := s.w.Process(a).(*raylet.Raylet); ok && !r.Fenced() && !r.Available().Equal(r.Total()) {
			busy = true
			break
		}
	}
	if !busy {
		return ""
	}
	actors := map[core.NodeID]int{}
	for _, a := range g.Actors() {
		if a.State == gcs.ActorAlive {
			actors[a.Node]++
		}
	}
	for _, a := range s.raylets {
		r, ok := s.w.Process(a).(*raylet.Raylet)
		if !ok || r.Fenced() {
			continue
		}
		want := r.Total()
		for range actors[r.Node()] {
			want = want.Sub(actorSlot)
		}
		if !r.Available().Equal(want) {
			return fmt.Sprintf("%s has %v available, want %v (total %v less %d live actors)", a, r.Available(), want, r.Total(), actors[r.Node()])
		}
	}
	return ""
}

func (s *scale) Pending() string {
	var drivers []stuck.Driver
	for _, d := range s.drv {
		if !d.finished {
			drivers = append(drivers, stuck.Driver{Addr: d.addr, What: fmt.Sprintf("at %q, %d/%d tasks and %d/%d actors done", d.step, d.tasksDone, d.tasks, d.actorsDone, d.actors)})
		}
	}
	var notes []string
	if why := s.idle(); why != "" {
		notes = append(notes, "not idle: "+why)
	}
	return stuck.Report(s.w, drivers, notes, stuck.LinesMax)
}

func (s *scale) Check(*sim.World) (string, string) {
	for _, d := range s.drv {
		if d.tasksDone != d.tasks || d.actorsDone != d.actors {
			return "liveness", fmt.Sprintf("%s did %d/%d tasks and %d/%d actors", d.addr, d.tasksDone, d.tasks, d.actorsDone, d.actors)
		}
	}
	if s.executed < int64(s.tasks) {
		return "invariant", fmt.Sprintf("%d task bodies ran, fewer than the %d tasks whose results arrived", s.executed, s.tasks)
	}
	return "", ""
}

// SometimesPaths lists the paths a scale campaign should reach.
func (s *scale) SometimesPaths() []string {
	return []string{"task retried", "fault: crash", "node fenced", "worker launched"}
}
