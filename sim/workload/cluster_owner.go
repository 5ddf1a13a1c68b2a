package workload

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/internal/process"
)

// Owner death that survivors see. Every other round each driver runs
// ownerDies(x) on some worker W: its body submits big(x*11) (so W owns the
// 200 KiB result), reads it, and hands it to lateRead, a task spread over
// the nodes, which borrows it. The borrower and the driver read the object
// while W lives — they must get its exact contents — and then the
// workload crashes W on purpose (sim.World.Crash, counted as "owner
// crashed on purpose": the workload's own action, in runs without faults
// too). Both read again: they must get ErrOwnerDied, or ErrObjectLost
// when the copies went first, never a value. ownerDies is retried after
// its worker's death and returns x at once the second time.
//
// gray cannot carry references inside values yet (issue 17), so the
// borrower publishes the reference it was given (its task's argument) in
// the workload's state, and the driver takes it from there through the
// process layer, as a value that carried it would hand it over.

// ownerDeath is the state of one round's ownerDies task, shared by its
// body, the borrower's body and the driver (coroutines of one world, run
// one at a time).
type ownerDeath struct {
	seed, want int64 // the child's seed and its checksum
	// owner is the worker that owns the child once it read it, and
	// ownerProc its incarnation (the process World.Process returned).
	owner     core.Addr
	ownerProc core.Process
	// ref is the child's reference, published by the borrower.
	ref                      proto.ObjectRef
	published                bool
	borrowerRead, driverRead bool
	// skipped: the child did not fit (ObjectStoreFull); nothing to read.
	skipped bool
}

// ownerIsDead reports whether od's owner is dead: the process at its
// address is down or another incarnation.
func (c *cluster) ownerIsDead(od *ownerDeath) bool {
	return od.owner != "" && c.w.Process(od.owner) != od.ownerProc
}

// pollStep is how often bodies and drivers look at an ownerDeath.
const pollStep = 50 * time.Millisecond

// waitFor pauses in pollStep steps until cond holds or max passed, and
// reports whether cond holds.
func waitFor(ctx context.Context, max time.Duration, cond func() bool) (bool, error) {
	for t := time.Duration(0); !cond(); t += pollStep {
		if t >= max {
			return false, nil
		}
		if err := pause(ctx, pollStep); err != nil {
			return false, err
		}
	}
	return true, nil
}

// checkDeadOwnerRead checks a read (by who) of od's object made after its
// owner died.
func (c *cluster) checkDeadOwnerRead(who string, od *ownerDeath, err error) error {
	switch {
	case err == nil:
		return fmt.Errorf("%s read %v after its owner %s died, want ErrOwnerDied or ErrObjectLost", who, od.ref.ID, od.owner)
	case errors.Is(err, gray.ErrOwnerDied):
		return nil
	case errors.Is(err, gray.ErrObjectLost):
		c.w.Sometimes("dead owner's object lost")
		return nil
	}
	return fmt.Errorf("%s read %v after its owner %s died: %w, want ErrOwnerDied or ErrObjectLost", who, od.ref.ID, od.owner, err)
}

// checkLiveOwnerRead checks a read (by who) of od's object that returned
// data or err: the exact contents while the owner lives; after its death
// the documented errors too.
func (c *cluster) checkLiveOwnerRead(who string, od *ownerDeath, data []byte, err error) error {
	if err == nil {
		var v []byte
		if uerr := msgpack.Unmarshal(data, &v); uerr != nil || checksum(v) != od.want || len(v) != bigObjectBytes {
			return fmt.Errorf("%s read %v of live owner %s as %d bytes (%v), want the %d of big(%d)", who, od.ref.ID, od.owner, len(v), uerr, bigObjectBytes, od.seed)
		}
		return nil
	}
	if c.ownerIsDead(od) {
		return c.checkDeadOwnerRead(who, od, err)
	}
	if storeFullExplained(err) {
		// Its copies were lost and the owner's rebuild did not fit next
		// to the pinned data of the node it ran on.
		c.w.Sometimes("object store full")
		return nil
	}
	return fmt.Errorf("%s read %v of live owner %s: %w", who, od.ref.ID, od.owner, err)
}

var (
	// ownerDiesTask(x) makes its worker the owner of a large object that
	// a borrower and the driver read, then has the workload crash the
	// worker (see above). It returns x.
	ownerDiesTask = gray.Task1("workload.ownerDies", func(ctx context.Context, x int64) (int64, error) {
		cl, c := clusterOf(ctx), process.CallerFrom(ctx)
		if cl == nil || c == nil || cl.ownerDeaths[x] == nil {
			return 0, errors.New("ownerDies runs in the cluster workload only")
		}
		od := cl.ownerDeaths[x]
		if od.owner != "" || od.skipped {
			// A retry: the first attempt's worker claimed the round and
			// died (on purpose or not; its readers see that death), or
			// still runs it as a zombie of a node declared dead.
			return x, nil
		}
		// Claim the round before the first wait: a retry that started
		// while this attempt waited must not run it too (two owners,
		// and readers checked against the wrong one: launch seeds 1203,
		// 1467).
		self := c.Env.Self()
		od.owner, od.ownerProc = self, cl.w.Process(self)
		child := bigTask.Options(retried).Remote(ctx, gray.V(od.seed), gray.V(int64(bigObjectBytes)))
		defer child.Release()
		data, err := child.Get(ctx)
		switch {
		case storeFullExplained(err):
			od.skipped = true
			cl.w.Sometimes("object store full")
			return x, nil
		case err != nil:
			return 0, fmt.Errorf("ownerDies: get its child: %w", err)
		case checksum(data) != od.want:
			return 0, fmt.Errorf("ownerDies: child big(%d) has checksum %d, want %d", od.seed, checksum(data), od.want)
		}
		lr := lateReadTask.Options(retried, gray.WithSpread()).Remote(ctx, child, gray.V(x))
		defer lr.Release()
		// The readers read while this worker lives; bounded, so that a
		// borrower that never ran (its node died) does not hold it up.
		if _, err := waitFor(ctx, 10*time.Second, func() bool { return od.borrowerRead && od.driverRead }); err != nil {
			return 0, err
		}
		cl.w.Schedule(0, "workload: crash the owner "+string(self), func() {
			if cl.w.Process(self) == od.ownerProc {
				cl.w.Sometimes("owner crashed on purpose")
				cl.w.Crash(self, "workload: a worker that owns a borrowed object dies on purpose")
			}
		})
		// The crash ends the body; a worker crashed by a fault
		// meanwhile never gets here.
		if err := pause(ctx, time.Minute); err != nil {
			return 0, err
		}
		return x, nil
	})

	// lateReadTask(data, x) borrows ownerDies' object: it checks the
	// value it was given, keeps the reference (through the process layer:
	// gray resolves a Ref argument before the body runs), publishes it for
	// the driver, waits for the owner's death and reads again.
	lateReadTask = gray.Task2("workload.lateRead", func(ctx context.Context, data []byte, x int64) (int64, error) {
		cl, c := clusterOf(ctx), process.CallerFrom(ctx)
		if cl == nil || c == nil || cl.ownerDeaths[x] == nil || c.Parent == nil || len(c.Parent.Args) != 2 || c.Parent.Args[0].Ref == nil {
			return 0, errors.New("lateRead runs in the cluster workload only, with a reference argument")
		}
		od, ref, self := cl.ownerDeaths[x], *c.Parent.Args[0].Ref, c.Env.Self()
		if checksum(data) != od.want || len(data) != bigObjectBytes {
			cl.w.Fail("invariant", fmt.Sprintf("%s: borrowed %v of live owner %s as %d bytes with checksum %d, want big(%d)", self, ref.ID, ref.Owner, len(data), checksum(data), od.seed))
			return 0, nil
		}
		if _, err := process.Do(ctx, c, func(cw *worker.Worker, reply func(struct{}, error)) { reply(struct{}{}, cw.AddLocalRef(ref)) }); err != nil {
			return 0, err
		}
		defer c.Post(func(cw *worker.Worker) { cw.Release(ref) })
		od.ref, od.published, od.borrowerRead = ref, true, true
		if dead, err := waitFor(ctx, 20*time.Second, func() bool { return cl.ownerIsDead(od) }); err != nil || !dead {
			return 1, err
		}
		_, err := process.Do(ctx, c, func(cw *worker.Worker, reply func([]byte, error)) { cw.Get(ref, reply) })
		if errors.Is(err, core.ErrStopped) {
			// This worker is going away (its process stopped: a task
			// whose owner died may be stopped with it); it reads nothing.
			return 0, err
		}
		if err := cl.checkDeadOwnerRead(string(self), od, err); err != nil {
			cl.w.Fail("invariant", err.Error())
			return 0, nil
		}
		cl.w.Sometimes("owner death seen by a borrower")
		return 1, nil
	})
)

// ownerDeathRound is the driver's part of a round's ownerDies(x): it
// reads the object while its owner lives and again after its death, then
// gets ownerDies' result.
func (d *driver) ownerDeathRound(ctx context.Context, x int64, own gray.Ref[int64]) error {
	cl := d.cl
	od := cl.ownerDeaths[x]
	defer func() { od.driverRead = true }() // never hold the owner up
	// Until the borrower published the reference, or there will be
	// none: the child did not fit, or its owner died first.
	if ok, err := waitFor(ctx, 20*time.Second, func() bool { return od.published || od.skipped || cl.ownerIsDead(od) }); err != nil {
		return err
	} else if ok && od.published {
		if err := d.readOwned(ctx, od); err != nil {
			return err
		}
	}
	if got, err := own.Get(ctx); err != nil {
		return fmt.Errorf("get ownerDies(%d): %w", x, err)
	} else if got != x {
		return fmt.Errorf("ownerDies(%d) = %d, want %d", x, got, x)
	}
	return nil
}

// readOwned reads od's object from the driver while its owner lives,
// then after its death.
func (d *driver) readOwned(ctx context.Context, od *ownerDeath) error {
	cl, c, ref := d.cl, d.proc.Caller(), od.ref
	if cl.ownerIsDead(od) && cl.livenessLeft() < ownerReadMax {
		// Too late to read from a dead owner (see ownerReadMax).
		cl.w.Sometimes("dead-owner read skipped: liveness budget spent")
		return nil
	}
	if _, err := process.Do(ctx, c, func(cw *worker.Worker, reply func(struct{}, error)) { reply(struct{}{}, cw.AddLocalRef(ref)) }); err != nil {
		return err
	}
	defer c.Post(func(cw *worker.Worker) { cw.Release(ref) })
	get := func() ([]byte, error) {
		return process.Do(ctx, c, func(cw *worker.Worker, reply func([]byte, error)) { cw.Get(ref, reply) })
	}
	data, err := get()
	if err := cl.checkLiveOwnerRead(string(d.addr), od, data, err); err != nil {
		return err
	}
	od.driverRead = true
	if err != nil {
		// The owner died before the read answered, or the object did
		// not fit (checked above): a second read would see the same,
		// after as long (an owner that is never restarted, a launched
		// worker, answers nothing for the owner timeout, 30 s).
		if cl.ownerIsDead(od) {
			cl.w.Sometimes("owner death seen by the driver")
		}
		return nil
	}
	if dead, err := waitFor(ctx, 20*time.Second, func() bool { return cl.ownerIsDead(od) }); err != nil || !dead {
		return err
	}
	if cl.livenessLeft() < ownerReadMax {
		cl.w.Sometimes("dead-owner read skipped: liveness budget spent")
		return nil
	}
	_, err = get()
	if err := cl.checkDeadOwnerRead(string(d.addr), od, err); err != nil {
		return err
	}
	cl.w.Sometimes("owner death seen by the driver")
	return nil
}

// ownerReadMax bounds a read of an object whose owner died: the core
// worker's default owner timeout (30 s) and a margin. The run must end
// within its liveness bound, so a round delayed by faults (launch seed
// 145: a lost object pulled for half a minute) skips such a read rather
// than fail liveness on the workload's own wait.
const ownerReadMax = 40 * time.Second

// livenessLeft is the simulated time left before the run's liveness
// deadline (the fault phase plus the liveness bound).
func (c *cluster) livenessLeft() time.Duration {
	cfg := c.w.Config()
	return cfg.FaultPhase + cfg.LivenessBound - c.w.Now()
}
