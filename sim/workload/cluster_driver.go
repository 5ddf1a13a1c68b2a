package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/internal/process"
	"github.com/grayrt/gray/raylet"
)

// driver is one driver of the cluster workload: a process.Driver whose
// program (main) runs rounds of a fixed task DAG, actors and a cancelled
// task against the public API until the world heals, and checks every
// result.
type driver struct {
	cl   *cluster
	idx  int
	addr core.Addr
	proc *process.Driver
	// rnd is the driver program's own PRNG stream, drawn only by main.
	rnd *rand.Rand

	// Written by main (a coroutine of the world, which runs nothing else
	// meanwhile), read by the workload's checks.
	round, rounds int
	step          string
	finished      bool
	// seen is the last Counter.incr count per actor incarnation.
	seen map[counterSeen]int64
	last worker.Stats
	// kept are the large objects of the last rounds, read again every
	// round (cluster_memory.go), oldest first.
	kept []*kept
}

// driverFinished reports whether addr is a driver whose program returned.
func (c *cluster) driverFinished(addr core.Addr) bool {
	for _, d := range c.drv {
		if d.addr == addr {
			return d.finished
		}
	}
	return false
}

// main is the driver program.
func (d *driver) main(ctx context.Context) error {
	if err := pause(ctx, time.Duration(100+d.rnd.IntN(400))*time.Millisecond); err != nil {
		return err
	}
	if d.cl.variant == variantHoldForever && d.idx == 0 {
		if err := d.holdForever(ctx); err != nil {
			return err
		}
	}
	for !d.cl.w.Healed() || d.rounds == 0 {
		d.round++
		if err := d.runRound(ctx); err != nil {
			return fmt.Errorf("round %d: %w", d.round, err)
		}
		if err := d.countPaths(ctx); err != nil {
			return err
		}
		d.rounds++
		d.step = "idle"
		if err := pause(ctx, time.Duration(d.rnd.IntN(50))*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// done gets the driver program's result, on the driver's loop.
func (d *driver) done(err error) {
	if err != nil {
		d.cl.w.Fail("invariant", fmt.Sprintf("%s: %v", d.addr, err))
		return
	}
	d.finished = true
}

// roundRefs collects a round's references, released when it ends: in the
// simulator a Ref lives until Release (no garbage-collector cleanups).
type roundRefs []interface{ Release() }

func (rs *roundRefs) add(r interface{ Release() }) { *rs = append(*rs, r) }

func (rs roundRefs) release() {
	for _, r := range rs {
		r.Release()
	}
}

// runRound submits one round's work and checks its results:
//
//	a = add(x, 5); b = mul(a, 3) spread; c = big(b, 200 KiB); d = sum(c)
//	relay(c); fanout(3, x); p = put(150 KiB); e = sum(p)
//	every third round: add(x, 0), …, add(x, 13), a burst of one class
//
// plus, every third round, a task no node can fit and a task that raises;
// a slow task cancelled soon after (cluster_cancel.go); this round's
// actors (cluster_actors.go); a task with three returns; and, every even
// round, Refs returned and passed inside values (cluster_nested.go). Every task retries system failures forever:
// results must always arrive.
// burstTasks is the size of a round's burst of tasks of one class: more
// than the lease requests a class may have out (10).
const burstTasks = 14

func (d *driver) runRound(ctx context.Context) error {
	var rs roundRefs
	defer rs.release()
	x := int64(d.round*10 + d.idx)
	d.step = "submit"
	// The slow task first: its cancel must follow within
	// cancelDelayMsMax. Submitting takes no simulated time (the driver
	// only registers the task with its core worker), so the DAG runs
	// while the driver waits to cancel; Put and the actors, which wait
	// for other processes, come after the cancel.
	slow := d.submitSlow(ctx, &rs)
	add, mul, big, sum := addTask.Options(retried), mulTask.Options(retried, gray.WithSpread()), bigTask.Options(retried, gray.WithSpread()), sumTask.Options(retried)
	a := add.Remote(ctx, gray.V(x), gray.V(int64(5)))
	b := mul.Remote(ctx, a, gray.V(int64(3)))
	c := big.Remote(ctx, b, gray.V(int64(bigObjectBytes)))
	s := sum.Remote(ctx, c)
	// relay(c) hands the big object on to a task of its own and finishes
	// first: its worker becomes a borrower the driver must wait for.
	rel := relayTask.Options(retried).Remote(ctx, c)
	fan := fanoutTask.Options(retried).Remote(ctx, gray.V(int64(3)), gray.V(x))
	where := whereTask.Options(retried).Remote(ctx)
	rs.add(where)
	// Every other round, from the first: a worker owns an object others
	// read, and dies (cluster_owner.go).
	ownerRound := d.round%2 == 1
	var own gray.Ref[int64]
	if ownerRound {
		d.cl.ownerDeaths[x] = &ownerDeath{seed: x * 11, want: checksum(bigBytes(x*11, bigObjectBytes))}
		own = ownerDiesTask.Options(retried).Remote(ctx, gray.V(x))
		rs.add(own)
	}
	rs.add(a)
	rs.add(b)
	rs.add(s)
	rs.add(rel)
	rs.add(fan)
	// Every third round, a burst of tasks of one class, more than the
	// lease requests a class may have out: most wait in the driver for
	// a request slot or run on a reused lease.
	var burst []gray.Ref[int64]
	if d.round%3 == 2 {
		for i := range int64(burstTasks) {
			burst = append(burst, add.Remote(ctx, gray.V(x), gray.V(i)))
			rs.add(burst[i])
		}
	}
	var gpu, fail, gpuCall gray.Ref[int64]
	odd := d.round%3 == 1
	if odd {
		gpu = add.Options(gray.WithGPUs(1), gray.WithInfeasibleTimeout(2*time.Second)).Remote(ctx, gray.V(int64(1)), gray.V(int64(2)))
		fail = failTask.Options(retried).Remote(ctx)
		rs.add(gpu)
		rs.add(fail)
	}
	d.step = "cancel"
	cancelled, err := d.cancel(ctx, slow)
	if err != nil {
		return err
	}
	if odd {
		// An actor no node can host waits to be placed, within its bound
		// (a registration that failed under faults is skipped). Made
		// after the cancel: its registration may wait out a GCS fault.
		d.step = "create infeasible actor"
		if h, err := counterClass.New(ctx, gray.V(int64(0)), gray.WithGPUs(1), gray.WithInfeasibleTimeout(2*time.Second)); err == nil {
			gpuCall = squareMethod.Remote(ctx, h, gray.V(int64(3)))
			rs.add(gpuCall)
		}
	}
	d.step = "put"
	putData := bigBytes(x*7, putObjectBytes)
	putAddr, putNode := d.putTarget()
	p := gray.Put(ctx, putData)
	e := sum.Remote(ctx, p)
	rs.add(e)
	putKept := &kept{ref: p, sum: checksum(putData), size: len(putData), round: d.round, put: true, what: "put object"}
	d.locatePut(putKept, putAddr, putNode)
	d.step = "read kept"
	if err := d.readKept(ctx, &rs); err != nil {
		return err
	}
	d.step = "actors"
	actors, err := d.actorRound(ctx, x, &rs)
	if err != nil {
		return err
	}
	nested := func() error { return nil }
	if d.round%2 == 0 {
		d.step = "nested refs"
		if nested, err = d.nestedRound(ctx, x, &rs); err != nil {
			return err
		}
	}
	d.step = "split"
	split, err := d.splitRound(ctx, x, &rs)
	if err != nil {
		return err
	}
	d.step = "stream"
	if err := d.streamRound(ctx, x); err != nil {
		return err
	}
	d.step = "placement"
	if err := d.placementRound(ctx); err != nil {
		return err
	}
	if d.round%2 == 0 {
		if err := d.groupRound(ctx); err != nil {
			return err
		}
	}
	if d.idx == 0 && d.round%2 == 1 {
		d.step = "submitted jobs"
		if err := d.jobRound(ctx, x); err != nil {
			return err
		}
	}

	// big's result does not fit when pinned data fills the store of
	// the node it ran on (ObjectStoreFull, checked); then sum and relay,
	// which take it, fail with that error too.
	bigKept := &kept{ref: c, sum: checksum(bigBytes((x+5)*3, bigObjectBytes)), size: bigObjectBytes, round: d.round, what: "big result"}
	bigOK := true
	d.step = "get relay"
	if _, err := rel.Get(ctx); err != nil {
		if !storeFullExplained(err) {
			return fmt.Errorf("get relay: %w", err)
		}
		d.cl.w.Sometimes("object store full")
		bigOK = false
	}
	d.step = "get sum"
	if got, err := s.Get(ctx); err != nil {
		if !storeFullExplained(err) {
			return fmt.Errorf("get sum(big(mul(add(%d,5),3))): %w", x, err)
		}
		d.cl.w.Sometimes("object store full")
		bigOK = false
	} else if got != bigKept.sum {
		return fmt.Errorf("sum = %d, want %d", got, bigKept.sum)
	} else {
		d.cl.w.Sometimes("object through plasma")
	}
	if bigOK {
		d.keep(*bigKept)
	} else {
		c.Release()
	}
	d.step = "get sum(put)"
	putOK := false
	switch got, err := e.Get(ctx); {
	case errors.Is(err, gray.ErrObjectLost) && d.cl.primaryNodeDied(putKept):
		// Documented: an object created by Put lives only in its node's
		// plasma store and cannot be rebuilt once that node is gone
		// (Ray's ObjectLostError for ray.put objects).
		d.cl.w.Sometimes("put object lost with its node")
	case storeFullExplained(err):
		// The Put itself did not fit next to the pinned data.
		d.cl.w.Sometimes("object store full")
	case err != nil:
		return fmt.Errorf("get sum(put) (primary on %s node %v): %w", putKept.primary, putKept.node, err)
	case got != checksum(putData):
		return fmt.Errorf("sum(put) = %d, want %d", got, checksum(putData))
	default:
		putOK = true
	}
	if putOK {
		d.keep(*putKept)
	} else {
		p.Release()
	}
	// Fill the driver's node's store, which evicts the copies the
	// driver pulled to read its kept objects, and read them again: the
	// copies are pulled again from their primaries.
	d.step = "fill store"
	if err := d.fillStore(ctx); err != nil {
		return err
	}
	d.step = "read kept again"
	if err := d.readKeptHere(ctx); err != nil {
		return err
	}
	d.step = "get actors"
	if err := actors(); err != nil {
		return err
	}
	d.step = "get cancelled"
	if err := cancelled(); err != nil {
		return err
	}
	d.step = "get nested"
	if err := nested(); err != nil {
		return err
	}
	d.step = "get split"
	if err := split(); err != nil {
		return err
	}
	if ownerRound {
		d.step = "owner death"
		if err := d.ownerDeathRound(ctx, x, own); err != nil {
			return err
		}
	}
	d.step = "get burst"
	for i, r := range burst {
		if got, err := r.Get(ctx); err != nil {
			return fmt.Errorf("get add(%d, %d) of a burst: %w", x, i, err)
		} else if got != x+int64(i) {
			return fmt.Errorf("add(%d, %d) of a burst = %d", x, i, got)
		}
	}
	d.step = "get fanout"
	if got, err := fan.Get(ctx); err != nil {
		return fmt.Errorf("get fanout(3, %d): %w", x, err)
	} else if got != 4*x+7 {
		return fmt.Errorf("fanout(3, %d) = %d, want %d", x, got, 4*x+7)
	}
	d.step = "get where"
	if err := d.checkWhere(ctx, where); err != nil {
		return err
	}
	if odd {
		d.step = "get infeasible"
		if _, err := gpu.Get(ctx); !errors.Is(err, gray.ErrInfeasible) || !strings.Contains(err.Error(), "no node could run it for 2s") {
			return fmt.Errorf("GPU task on a CPU-only cluster: got %v, want an infeasible error once its 2 s wait is over", err)
		}
		d.cl.w.Sometimes("infeasible task reported")
		if gpuCall != (gray.Ref[int64]{}) {
			if _, err := gpuCall.Get(ctx); !errors.Is(err, gray.ErrActorDied) || !errors.Is(err, gray.ErrInfeasible) || !strings.Contains(err.Error(), "no node could host it for 2s") {
				return fmt.Errorf("call to a GPU actor on a CPU-only cluster: got %v, want ActorDied and Infeasible once its 2 s wait is over", err)
			}
			d.cl.w.Sometimes("infeasible actor reported")
		}
		d.step = "get failing"
		_, err := fail.Get(ctx)
		var te *gray.TaskError
		if !errors.As(err, &te) || te.Kind != proto.KindTaskFailed || !strings.Contains(te.Message, "intentional failure") {
			return fmt.Errorf("failing task: got %v, want its user error", err)
		}
		d.cl.w.Sometimes("user error returned")
	}
	return nil
}

// checkWhere checks a task's runtime context against the driver's own:
// the task ran for the driver's job, as a task, on a worker that knew its
// node; the driver has no task and no worker id.
func (d *driver) checkWhere(ctx context.Context, where gray.Ref[gray.RuntimeContext]) error {
	self, err := gray.GetRuntimeContext(ctx)
	if err != nil {
		return fmt.Errorf("the driver's runtime context: %w", err)
	}
	if !self.IsDriver() || self.WorkerID != "" || self.JobID == "" {
		return fmt.Errorf("the driver's runtime context %+v: want a job, no task and no worker", self)
	}
	rc, err := where.Get(ctx)
	if err != nil {
		return fmt.Errorf("get where: %w", err)
	}
	if rc.IsDriver() || rc.JobID != self.JobID || rc.WorkerID == "" || rc.NodeID == "" || rc.ActorID != "" {
		return fmt.Errorf("a task's runtime context %+v (driver's %+v): want the driver's job, a worker and its node, no actor", rc, self)
	}
	return nil
}

// countPaths turns the core workers' and the raylets' counters into
// sometimes paths, on the driver's loop: the counters are not part of
// the public API.
func (d *driver) countPaths(ctx context.Context) error {
	_, err := process.Do(ctx, d.proc.Caller(), func(cw *worker.Worker, reply func(struct{}, error)) {
		w := d.cl.w
		st := cw.Stats()
		if st.Reconstructed > d.last.Reconstructed {
			w.Sometimes("object rebuilt from lineage")
		}
		if st.ActorCallsRetried > d.last.ActorCallsRetried {
			w.Sometimes("actor call retried")
		}
		if st.Spillbacks > d.last.Spillbacks {
			w.Sometimes("spillback")
		}
		if st.BorrowersAdded > 0 {
			w.Sometimes("borrower registered")
		}
		if st.InfeasibleWaits > 0 {
			w.Sometimes("task waited for a node that could run it")
		}
		if st.StreamItemsDuplicate > 0 {
			w.Sometimes("stream value yielded again by a retry")
		}
		d.last = st
		for _, d := range d.cl.drv {
			if cw := d.proc.CoreWorker(); cw != nil {
				if cw.Stats().BorrowersDropped > 0 {
					w.Sometimes("dead borrower dropped by its owner")
				}

				if cw.Stats().ChunkedPuts > 0 && cw.Stats().ChunkedGets > 0 {
					w.Sometimes("object put and read in chunks")
				}
				if cw.Stats().ChunkedPutRounds > 0 {
					w.Sometimes("chunked put sent again")
				}
			}
		}
		for _, a := range w.Addrs() {
			if pw, ok := w.Process(a).(*process.Worker); ok && pw.CoreWorker().Stats().OwnerDied > 0 {
				// A worker borrowing an object owned by a fanout worker
				// that died got OwnerDied (the borrowing task's result
				// goes to the dead owner; the driver retries the fanout).
				w.Sometimes("owner died")
				break
			}
		}
		// Lease reuse (core/worker/reuse.go), summed over every core
		// worker: drivers and workers alike own tasks.
		var leases worker.Stats
		for _, a := range w.Addrs() {
			// A submitted job's driver has no core worker until it
			// attached.
			if o, ok := w.Process(a).(interface{ CoreWorker() *worker.Worker }); ok && o.CoreWorker() != nil {
				st := o.CoreWorker().Stats()
				leases.LeasesReused += st.LeasesReused
				leases.LeaseQueued += st.LeaseQueued
				leases.TasksPipelined += st.TasksPipelined
				leases.StartedBesideBlocked += st.StartedBesideBlocked
				leases.SharedPuts += st.SharedPuts
				leases.SharedGets += st.SharedGets
				leases.SharedFallbacks += st.SharedFallbacks
				leases.BorrowsEndedEarly += st.BorrowsEndedEarly
			}
		}
		for _, p := range []struct {
			n    int64
			path string
		}{
			{leases.LeasesReused, "task ran on a reused lease"},
			{leases.LeaseQueued, "task waited for a lease request slot of its class"},
			{leases.TasksPipelined, "task pipelined behind another on its lease"},
			{leases.StartedBesideBlocked, "pipelined task started beside a blocked one"},
			{leases.SharedPuts, "object put through shared memory"},
			{leases.SharedGets, "object read through shared memory"},
			{leases.SharedFallbacks, "shared memory unusable: bytes sent in messages"},
			{leases.BorrowsEndedEarly, "borrow ended before the rest of its wait"},
		} {
			if p.n > 0 {
				w.Sometimes(p.path)
			}
		}
		for _, a := range d.cl.raylets {
			if r, ok := w.Process(a).(*raylet.Raylet); ok && r.Stats().Pulls > 0 {
				w.Sometimes("remote pull")
				break
			}
		}
		for _, a := range d.cl.raylets {
			if r, ok := w.Process(a).(*raylet.Raylet); ok {
				st := r.Stats()
				if st.WorkersLaunched > 0 {
					w.Sometimes("worker launched on demand")
				}
				if st.WorkerCapWaits > 0 {
					w.Sometimes("actor waited at the node's worker cap")
				}
				if st.ChunkedPutsAborted > 0 {
					w.Sometimes("chunked put aborted")
				}
			}
		}
		// A task body waiting in Get lent its lease's CPU out (fanout
		// waits for its children), and a lease was granted on a worker
		// whose bodies all waited.
		for _, a := range d.cl.raylets {
			if r, ok := w.Process(a).(*raylet.Raylet); ok {
				if r.Stats().LeasesBlocked > 0 {
					w.Sometimes("blocked body lent its CPU")
				}
				if r.Stats().LeasesStacked > 0 {
					w.Sometimes("lease stacked on a blocked worker")
				}
			}
		}
		d.cl.countMemoryPaths()
		reply(struct{}{}, nil)
	})
	return err
}
