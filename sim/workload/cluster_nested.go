package workload

import (
	"context"
	"errors"
	"fmt"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/process"
)

// References and actor handles inside values, under faults.
//
// Every even round each driver runs nest(x): its body puts three small
// values and a large one (plasma) and returns their Refs inside a
// nestBox, so the worker that ran it (W) owns objects only the box
// reaches once the body returned (W pins them for the box). The driver
// gets the box, reads every value and hands the box, inside an
// argument, to sumNest, a task spread over the nodes that reads them too
// (a borrower of a borrower's value). Each read must give the exact
// value while W lives; once W died (a fault killed it or its node) only
// ErrOwnerDied or ErrObjectLost, never a value that is not W's or an
// error of another kind. Every fourth round the workload crashes W on
// purpose once the driver read the box, and the driver reads it again. The driver releases every Ref at the end of the
// round; the campaign's end-of-run checks (every store drained, every
// core worker's table consistent in invariant builds) then show that
// nothing leaked.
//
// nest also creates a counter actor inside the task and returns its
// handle in the box: the driver calls square(x) on it (x*x, or
// ErrActorDied, which is how it ends when W died) and kills it, not being
// its owner. Handles also travel in actorRound: squareVia(handle inside a struct) calls
// the anonymous counter through the handle a task was given, and every
// other round killVia kills it through a handle, from a task.

// nestBox is nest(x)'s result.
type nestBox struct {
	X     int64
	Small []gray.Ref[int64]
	Big   gray.Ref[[]byte] // zero when the store had no room for it
	// Run names the attempt that made the box (cluster.nestRuns).
	Run int
	// Actor is a counter nest created (nil if its registration failed,
	// documented): owned by W, it dies with W.
	Actor *gray.ActorHandle[counter]
	// ActorErr is why creating it failed.
	ActorErr string
}

// nestRun is one run of nest's body: the worker that owns what it put.
type nestRun struct {
	addr core.Addr
	proc core.Process
	node core.NodeID
}

// nestSum is sumNest's result: the sum of the values it read, or that a
// read failed because their owner died.
type nestSum struct {
	Sum  int64
	Lost string // the documented error a read returned, if any
}

func nestSmall(x int64, i int) int64 { return x*100 + int64(i) }

func nestBig(x int64) []byte { return bigBytes(x*13, putObjectBytes) }

var (
	nestTask = gray.Task1("workload.nest", func(ctx context.Context, x int64) (nestBox, error) {
		cl, c := clusterOf(ctx), process.CallerFrom(ctx)
		if cl == nil || c == nil {
			return nestBox{}, errors.New("nest runs in the cluster workload only")
		}
		self := c.Env.Self()
		box := nestBox{X: x, Run: len(cl.nestRuns)}
		run := nestRun{addr: self, proc: cl.w.Process(self)}
		if pw, ok := run.proc.(*process.Worker); ok {
			run.node = pw.Node()
		}
		cl.nestRuns = append(cl.nestRuns, run)
		for i := range 3 {
			box.Small = append(box.Small, gray.Put(ctx, nestSmall(x, i)))
		}
		if a, err := counterClass.New(ctx, gray.V(x)); err == nil {
			box.Actor = a
		} else {
			box.ActorErr = err.Error()
			if !cl.w.Faults().Any() || !(errors.Is(err, gcs.ErrTimeout) || errors.Is(err, gcs.ErrUnavailable)) {
				return box, fmt.Errorf("nest(%d): create an actor inside the task: %w", x, err)
			}
			cl.w.Sometimes("actor registration failed")
		}
		big := gray.Put(ctx, nestBig(x))
		if big.ID() != "" {
			box.Big = big
		} else {
			cl.w.Sometimes("nested put did not fit")
		}
		return box, nil
	})
	// sumNest reads every value of a box it was given inside an argument.
	sumNestTask = gray.Task1("workload.sumNest", func(ctx context.Context, arg struct{ Box nestBox }) (nestSum, error) {
		cl := clusterOf(ctx)
		if cl == nil {
			return nestSum{}, errors.New("sumNest runs in the cluster workload only")
		}
		var s nestSum
		var err error
		s.Sum, err = cl.readBoxRetrying(ctx, arg.Box)
		switch lost := documentedLoss(err); {
		case errors.Is(err, errReadSkipped):
			s.Lost = "skipped"
		case lost != "":
			s.Lost = lost
		case storeFullExplained(err):
			s.Lost = "store full"
		case err != nil:
			return s, err
		}
		return s, nil
	})
)

// splitTask(x) has three returns (Ray's num_returns): small, large
// (plasma) and small; each is an object of its own.
var splitTask = gray.Task1N("workload.split", 3, func(_ context.Context, x int64) ([][]byte, error) {
	return splitParts(x), nil
})

func splitParts(x int64) [][]byte {
	return [][]byte{bigBytes(x*17, 64), bigBytes(x*17+1, bigObjectBytes), bigBytes(x*17+2, 64)}
}

// splitRound runs split(x), releases its first return at once, reads the
// large one through sum (a task given that return alone) and the last
// one from the driver; it returns the check of sum's result.
func (d *driver) splitRound(ctx context.Context, x int64, rs *roundRefs) (func() error, error) {
	parts := splitTask.Options(retried, gray.WithSpread()).Remote(ctx, gray.V(x))
	for _, p := range parts {
		rs.add(p)
	}
	if len(parts) != 3 {
		return nil, fmt.Errorf("split(%d) gave %d refs, want 3", x, len(parts))
	}
	parts[0].Release()
	want := splitParts(x)
	s := sumTask.Options(retried).Remote(ctx, parts[1])
	rs.add(s)
	switch last, err := parts[2].Get(ctx); {
	case storeFullExplained(err):
		// Return 2 did not fit next to the pinned data: the task
		// failed, every return with it.
		d.cl.w.Sometimes("object store full")
	case err != nil:
		return nil, fmt.Errorf("get split(%d) return 3: %w", x, err)
	case checksum(last) != checksum(want[2]) || len(last) != len(want[2]):
		return nil, fmt.Errorf("split(%d) return 3 has %d bytes, checksum %d; want %d, %d", x, len(last), checksum(last), len(want[2]), checksum(want[2]))
	}
	return func() error {
		switch got, err := s.Get(ctx); {
		case storeFullExplained(err):
			d.cl.w.Sometimes("object store full")
		case err != nil:
			return fmt.Errorf("sum(split(%d) return 2): %w", x, err)
		case got != checksum(want[1]):
			return fmt.Errorf("sum(split(%d) return 2) = %d, want %d", x, got, checksum(want[1]))
		default:
			d.cl.w.Sometimes("task with several returns read return by return")
		}
		return nil
	}, nil
}

// handleArg carries an actor handle inside a struct to a task.
type handleArg struct {
	H *gray.ActorHandle[counter]
	X int64
}

// viaResult is squareVia's result: the square, or that the actor died.
type viaResult struct {
	V    int64
	Died bool
}

var (
	// squareVia calls square(X) on the actor whose handle it was given.
	squareViaTask = gray.Task1("workload.squareVia", func(ctx context.Context, a handleArg) (viaResult, error) {
		v, err := squareMethod.Remote(ctx, a.H, gray.V(a.X)).Get(ctx)
		if errors.Is(err, gray.ErrActorDied) {
			return viaResult{Died: true}, nil
		}
		return viaResult{V: v}, err
	})
	// killVia kills the actor whose handle it was given, for good.
	killViaTask = gray.Task1("workload.killVia", func(ctx context.Context, a handleArg) (bool, error) {
		return true, a.H.Kill(ctx, true)
	})
)

// documentedLoss returns the name of err when it is one of the errors a
// read of a dead owner's object may return, else "".
func documentedLoss(err error) string {
	switch {
	case errors.Is(err, gray.ErrOwnerDied):
		return "owner died"
	case errors.Is(err, gray.ErrObjectLost):
		return "object lost"
	}
	return ""
}

// readBox reads every value box holds, checks each against what nest
// put, and adds it (the big value as its checksum) with add. It returns
// the first read's error.
func (c *cluster) readBox(ctx context.Context, box nestBox, add func(int64)) error {
	for i, r := range box.Small {
		if err := c.mayRead(box); err != nil {
			return err
		}
		v, err := r.Get(ctx)
		if err != nil {
			return err
		}
		if want := nestSmall(box.X, i); v != want {
			c.w.Fail("invariant", fmt.Sprintf("nested Ref %d of nest(%d) reads %d, want %d", i, box.X, v, want))
			return fmt.Errorf("wrong value")
		}
		add(v)
	}
	if box.Big.ID() == "" {
		return nil
	}
	if err := c.mayRead(box); err != nil {
		return err
	}
	b, err := box.Big.Get(ctx)
	if err != nil {
		return err
	}
	if want := nestBig(box.X); len(b) != len(want) || checksum(b) != checksum(want) {
		c.w.Fail("invariant", fmt.Sprintf("nested big Ref of nest(%d) reads %d bytes (checksum %d), want %d", box.X, len(b), checksum(b), len(want)))
		return fmt.Errorf("wrong value")
	}
	add(checksum(b))
	return nil
}

// errReadSkipped: a read of a dead owner's object was skipped, since it
// may wait the owner timeout (30 s) and the run's liveness budget is
// nearly spent (as the owner-death round does, see ownerReadMax).
var errReadSkipped = errors.New("read of a dead owner's object skipped: liveness budget spent")

// mayRead returns errReadSkipped when box's owner is gone and too little
// of the liveness budget is left for a read that waits for it.
func (c *cluster) mayRead(box nestBox) error {
	if c.ownerGone(box) && c.livenessLeft() < ownerReadMax {
		c.w.Sometimes("dead-owner read skipped: liveness budget spent")
		return errReadSkipped
	}
	return nil
}

// readBoxRetrying is readBox, read again (at most readBoxAttempts times)
// while a read fails with ErrObjectLost although the owner lives: a
// reader cut off from every copy by a partition gets ObjectLost once its
// pulls fail for about 10 s (noted in issue 17's closing note), and the
// object is there once the partition heals. The sum covers the last
// attempt only.
func (c *cluster) readBoxRetrying(ctx context.Context, box nestBox) (int64, error) {
	for attempt := 1; ; attempt++ {
		sum := int64(0)
		err := c.readBox(ctx, box, func(v int64) { sum += v })
		if !errors.Is(err, gray.ErrObjectLost) || c.ownerGone(box) || attempt == readBoxAttempts || c.livenessLeft() < 2*ownerReadMax {
			return sum, err
		}
		c.w.Sometimes("nested read of a live owner's object retried after ObjectLost")
	}
}

const readBoxAttempts = 4

// boxSum is what readBox adds up for a complete box.
func boxSum(box nestBox) int64 {
	s := int64(0)
	for i := range box.Small {
		s += nestSmall(box.X, i)
	}
	if box.Big.ID() != "" {
		s += checksum(nestBig(box.X))
	}
	return s
}

// ownerGone reports whether the worker that made box is dead: the process
// at its address is down or another incarnation, or the GCS declared its
// node dead (its objects there are gone even if a paused or cut-off
// raylet has not told the worker to exit yet).
func (c *cluster) ownerGone(box nestBox) bool {
	if box.Run < 0 || box.Run >= len(c.nestRuns) {
		return true
	}
	r := c.nestRuns[box.Run]
	return c.w.Process(r.addr) != r.proc || (!r.node.IsNil() && c.nodeDead(r.node))
}

// checkBoxRead checks the outcome of reading a box (by who): the values
// while their owner lives, the documented errors once it died.
func (c *cluster) checkBoxRead(who string, box nestBox, err error) error {
	switch lost := documentedLoss(err); {
	case err == nil:
		c.w.Sometimes("nested Refs read")
		return nil
	case errors.Is(err, errReadSkipped):
		return nil
	case lost != "" && c.ownerGone(box):
		c.w.Sometimes("nested Refs of a dead owner: " + lost)
		return nil
	case storeFullExplained(err):
		c.w.Sometimes("object store full")
		return nil
	}
	return fmt.Errorf("%s reading the Refs nest(%d) returned (owner %s, dead %v): %w", who, box.X, c.nestRuns[box.Run].addr, c.ownerGone(box), err)
}

// nestedRound runs nest(x), reads the box and has sumNest read it; it
// returns the check of sumNest's result. Every Ref goes into rs.
func (d *driver) nestedRound(ctx context.Context, x int64, rs *roundRefs) (func() error, error) {
	cl := d.cl
	nb := nestTask.Options(retried).Remote(ctx, gray.V(x))
	rs.add(nb)
	box, err := nb.Get(ctx)
	if err != nil {
		return nil, fmt.Errorf("get nest(%d): %w", x, err)
	}
	for _, r := range box.Small {
		rs.add(r)
	}
	rs.add(box.Big)
	sum := sumNestTask.Options(retried, gray.WithSpread()).Remote(ctx, gray.V(struct{ Box nestBox }{box}))
	rs.add(sum)
	if cl.ownerGone(box) && cl.livenessLeft() < ownerReadMax {
		cl.w.Sometimes("dead-owner read skipped: liveness budget spent")
	} else {
		got, err := cl.readBoxRetrying(ctx, box)
		if err := cl.checkBoxRead(string(d.addr), box, err); err != nil {
			return nil, err
		}
		if err == nil && got != boxSum(box) {
			return nil, fmt.Errorf("nest(%d) values sum to %d, want %d", x, got, boxSum(box))
		}
	}
	if d.round%4 != 0 && len(box.Small) > 1 {
		// One Ref goes before the others (the box's Refs are borrowed
		// under one wait): its owner hears of it in a RefsRemoved once
		// sumNest no longer holds it either.
		box.Small[0].Release()
	}
	if d.round%4 == 0 && !cl.ownerGone(box) {
		// The owner dies on purpose: sumNest and the driver's second
		// read see the values or the documented errors, never others.
		r := cl.nestRuns[box.Run]
		cl.w.Schedule(0, "workload: crash the owner of nested Refs "+string(r.addr), func() {
			if cl.w.Process(r.addr) == r.proc {
				cl.w.Sometimes("owner of nested Refs crashed on purpose")
				cl.w.Crash(r.addr, "workload: a worker that owns Refs inside a returned value dies on purpose")
			}
		})
		if err := pause(ctx, pollStep); err != nil {
			return nil, err
		}
		if cl.livenessLeft() < ownerReadMax {
			cl.w.Sometimes("dead-owner read skipped: liveness budget spent")
		} else {
			_, err := cl.readBoxRetrying(ctx, box)
			if err := cl.checkBoxRead(string(d.addr), box, err); err != nil {
				return nil, err
			}
		}
	}
	if box.Actor != nil {
		// The actor nest created: square(x), then the driver (not its
		// owner) kills it, so that it does not hold an actor slot.
		switch v, err := squareMethod.Remote(ctx, box.Actor, gray.V(x)).Get(ctx); {
		case errors.Is(err, gray.ErrActorDied) && cl.ownerGone(box):
			cl.w.Sometimes("actor died with the task worker that owned it")
		case errors.Is(err, gray.ErrActorDied):
			cl.w.Sometimes("actor call failed: actor died")
		case err != nil:
			return nil, fmt.Errorf("square on the actor nest(%d) created: %w", x, err)
		case v != x*x:
			return nil, fmt.Errorf("square(%d) on the actor nest created = %d", x, v)
		default:
			cl.w.Sometimes("actor created inside a task called by the driver")
		}
		if err := box.Actor.Kill(ctx, true); err == nil {
			cl.w.Sometimes("actor created inside a task killed by the driver")
		}
	}
	return func() error {
		s, err := sum.Get(ctx)
		if err != nil {
			return fmt.Errorf("get sumNest(nest(%d)): %w", x, err)
		}
		switch s.Lost {
		case "store full":
			cl.w.Sometimes("object store full")
			return nil
		case "skipped":
			return nil
		}
		if s.Lost != "" {
			if !cl.ownerGone(box) {
				return fmt.Errorf("sumNest(nest(%d)) read %q while the owner %s lives", x, s.Lost, cl.nestRuns[box.Run].addr)
			}
			cl.w.Sometimes("nested Refs of a dead owner seen by a borrower's borrower")
			return nil
		}
		if s.Sum != boxSum(box) {
			return fmt.Errorf("sumNest(nest(%d)) = %d, want %d", x, s.Sum, boxSum(box))
		}
		cl.w.Sometimes("nested Refs read by a task given them inside an argument")
		return nil
	}, nil
}
