package workload

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/process"
)

// Actor invariants of the cluster workload.
//
// "An actor never has two live incarnations", precisely: whenever a worker
// executes a call of actor A addressed to incarnation k,
//
//  1. the worker hosts incarnation k of A (no call runs in an incarnation
//     other than the one it addressed);
//  2. every other worker that executed calls of A as incarnation j <= k
//     has exited (crashed, fail-stopped, or dropped A) or its node has been
//     declared dead by the GCS;
//  3. if another worker executed calls of A as an incarnation j > k, this
//     worker's node has been declared dead (a partitioned zombie of a dead
//     node is the only way an old incarnation can still run, as in Ray).
//
// Workers that ran a constructor but never a call (an abandoned creation)
// are not incarnations anyone could reach, so they are not counted.

type actorHost struct {
	addr core.Addr
	wid  core.WorkerID
	node core.NodeID
	inc  int64
}

// actorCalled checks the invariants when worker pw at addr, of node, is
// about to run one of an actor's calls, and records the host.
func (c *cluster) actorCalled(pw *process.Worker, addr core.Addr, node core.NodeID, spec *proto.TaskSpec) {
	id, inc, ok := pw.CoreWorker().HostedActor()
	if !ok || id != spec.ActorID || inc != spec.ActorIncarnation {
		c.w.Fail("invariant", fmt.Sprintf("%s executed a call for %v incarnation %d while hosting %v incarnation %d (ok=%v)", addr, spec.ActorID, spec.ActorIncarnation, id, inc, ok))
		return
	}
	self := actorHost{addr: addr, wid: pw.ID(), node: node, inc: inc}
	hosts := c.hosts[id]
	known := false
	for _, h := range hosts {
		if h.addr == self.addr && h.wid == self.wid {
			known = known || h.inc == inc
			continue
		}
		switch {
		case h.inc <= inc && !c.hostGone(id, h):
			c.w.Fail("invariant", fmt.Sprintf("actor %v: incarnation %d runs on %s (%v) while incarnation %d still runs on %s (%v, node %v not declared dead)", id, inc, self.addr, self.wid, h.inc, h.addr, h.wid, h.node))
			return
		case h.inc > inc && !c.nodeDead(self.node):
			c.w.Fail("invariant", fmt.Sprintf("actor %v: old incarnation %d ran a call on %s after incarnation %d ran on %s, and its node %v is not declared dead", id, inc, self.addr, h.inc, h.addr, self.node))
			return
		}
	}
	if !known {
		c.hosts[id] = append(hosts, self)
	}
}

// hostGone reports whether the worker that hosted incarnation h of actor
// id no longer runs it: the process is down or restarted (a worker that
// exits fail-stops at once), it dropped the actor, or its node was
// declared dead.
func (c *cluster) hostGone(id core.ActorID, h actorHost) bool {
	pw, ok := c.w.Process(h.addr).(*process.Worker)
	if !ok || pw.ID() != h.wid {
		return true
	}
	if aid, inc, ok := pw.CoreWorker().HostedActor(); !ok || aid != id || inc != h.inc {
		return true
	}
	return c.nodeDead(h.node)
}

// nodeDead reports whether the GCS declared node dead. Deaths are final,
// so they are cached for when the GCS is down.
func (c *cluster) nodeDead(n core.NodeID) bool {
	if c.deadNodes[n] {
		return true
	}
	if g, ok := c.gcsServer(); ok {
		if info, ok := g.Node(n); ok && info.State == gcs.NodeDead {
			c.deadNodes[n] = true
			return true
		}
	}
	// The GCS may be down now (a crash, a stop for disk corruption)
	// after it published the death: a driver that heard it knows
	// (cluster seed 1795).
	for _, d := range c.drv {
		if cw := d.proc.CoreWorker(); cw != nil && cw.KnowsDead(n) {
			c.deadNodes[n] = true
			return true
		}
	}
	return false
}

// counter is the workload's actor class "workload.Counter": a count set
// by its constructor, Counter(start). incr adds 1 and returns the
// incarnation that ran it with the new count; square(x) returns x*x.
//
// incr's results are checkable across restarts: within one incarnation a
// caller sees its counts strictly increase (calls run in order, a restart
// runs the constructor again).
type counter struct{ n int64 }

// incrResult is what incr returns: the incarnation that ran it and the
// actor it ran on (from its runtime context) and the new count.
type incrResult struct {
	Inc, Count int64
	Actor      string
}

var (
	counterClass = gray.Actor1("workload.Counter", func(_ context.Context, start int64) (*counter, error) {
		return &counter{n: start}, nil
	})
	incrMethod = gray.Method0("incr", func(c *counter, ctx context.Context) (incrResult, error) {
		rc, err := gray.GetRuntimeContext(ctx)
		if err != nil {
			return incrResult{}, err
		}
		c.n++
		return incrResult{Inc: int64(rc.ActorRestarts), Count: c.n, Actor: rc.ActorID}, nil
	})
	// squareMethod counts its runs per call (cluster.callRuns), so that
	// the workload can tell at-most-once from at-least-once.
	squareMethod = gray.Method1("square", func(_ *counter, ctx context.Context, x int64) (int64, error) {
		if cl, c := clusterOf(ctx), process.CallerFrom(ctx); cl != nil && c != nil && c.Parent != nil {
			cl.callRuns[c.Parent.TaskID]++
		}
		return x * x, nil
	})
	// powersMethod streams x, x², x³ (a generator method: a function of
	// its argument, so that a retried call yields the same values).
	powersMethod = gray.MethodGenerator1("powers", func(_ *counter, _ context.Context, x int64, yield func(int64) error) error {
		p := x
		for range 3 {
			if err := yield(p); err != nil {
				return err
			}
			p *= x
		}
		return nil
	})
)

// reentrant is an actor that calls itself: outer(name, x) looks its own
// actor up by name inside the method and returns inner(x)+1 = 2x+1
// through that handle, which needs a second call slot. Its default group
// has one slot (max concurrency 1); outer runs in the concurrency group
// "outer" (limit 4), and inner in the default group for odd x and in the
// group "inner" (limit 2) for even x. Either way it completes only if
// each group's calls run apart from the others'; with one slot for all
// it would wait forever.
type reentrant struct{}

var (
	reentrantClass = gray.Actor("workload.Reentrant", func(context.Context) (*reentrant, error) { return &reentrant{}, nil })
	reentrantInner = gray.Method1("inner", func(_ *reentrant, _ context.Context, x int64) (int64, error) { return 2 * x, nil })
	reentrantOuter *gray.ActorMethod2[reentrant, string, int64, int64]
)

func init() {
	reentrantOuter = gray.Method2("outer", func(_ *reentrant, ctx context.Context, self string, x int64) (int64, error) {
		h, err := gray.GetActor[reentrant](ctx, self, gray.WithMaxTaskRetries(-1))
		if err != nil {
			return 0, err
		}
		inner := reentrantInner
		if x%2 == 0 {
			inner = inner.InGroup("inner")
		}
		y, err := inner.Remote(ctx, h, gray.V(x)).Get(ctx)
		return y + 1, err
	}).InGroup("outer")
}

// counterSeen identifies one incarnation of a Counter.
type counterSeen struct {
	id  string
	inc int64
}

// checkIncr checks that a driver's incr results on one actor, in call
// order, never go back within an incarnation: calls run in the caller's
// order, so one incarnation's counts strictly increase. (Across
// incarnations nothing is ordered: a call retried after a restart runs
// again in the new incarnation, Ray's at-least-once actor-task retry,
// possibly after later calls already ran in the old one.)
func (d *driver) checkIncr(id, what string, r incrResult) error {
	if r.Actor != id {
		return fmt.Errorf("%s ran on actor %q (its runtime context), want %s", what, r.Actor, id)
	}
	k := counterSeen{id, r.Inc}
	if last, ok := d.seen[k]; ok && r.Count <= last {
		return fmt.Errorf("%s = count %d in incarnation %d after count %d in the same incarnation: calls ran out of order", what, r.Count, r.Inc, last)
	}
	d.seen[k] = r.Count
	return nil
}

// registrationFailed accepts a failed actor creation only where it is
// documented: faults were injected and the GCS stayed unreachable for the
// registration's whole retry budget (a timeout or unavailable). Without
// faults, or with any other error, the creation failing is a failure.
func (d *driver) registrationFailed(what string, err error) error {
	if !d.cl.w.Faults().Any() || !(errors.Is(err, gcs.ErrTimeout) || errors.Is(err, gcs.ErrUnavailable)) {
		return fmt.Errorf("create actor %s: %w", what, err)
	}
	d.cl.w.Sometimes("actor registration failed")
	return nil
}

// actorRound creates (or gets) this round's actors and calls them, kills
// some, and returns the function that checks their results:
//
//   - "counter-<driver>" (named, get-if-exists, restarts and call retries
//     unlimited): incr twice and square(x); every result must arrive and
//     be exact (square) or in order (incr). Every third round the driver
//     kills it with no_restart=false, so it restarts.
//   - "shared" (named in namespace "cluster", get-if-exists, created by
//     whichever driver is first, unlimited): incr and square from both
//     drivers; same checks.
//   - an anonymous Counter (1 restart, no call retries): square(x) twice;
//     each result is x*x or ActorDied (documented: the actor died with the
//     call in flight and max_task_retries is 0, or its restarts ran out);
//     then killed for good.
func (d *driver) actorRound(ctx context.Context, x int64, rs *roundRefs) (check func() error, err error) {
	var checks []func() error
	named := func(name, ns string, kill bool) error {
		h, err := counterClass.New(ctx, gray.V(int64(0)), gray.WithName(name), gray.WithNamespace(ns), gray.WithGetIfExists(),
			gray.WithMaxRestarts(-1), gray.WithMaxTaskRetries(-1))
		if errors.Is(err, gray.ErrActorNameTaken) {
			return fmt.Errorf("create %s with GetIfExists: %w", name, err)
		}
		if err != nil {
			if err := d.registrationFailed(name, err); err != nil {
				return err
			}
			return nil
		}
		a := incrMethod.Remote(ctx, h)
		b := squareMethod.Remote(ctx, h, gray.V(x))
		pw := powersMethod.Remote(ctx, h, gray.V(x))
		c := incrMethod.Remote(ctx, h)
		rs.add(a)
		rs.add(b)
		rs.add(c)
		if kill && d.round%3 == 0 {
			// Only the owner may kill; this driver owns its counter
			// unless a restart ran out (never: restarts are unlimited).
			if err := h.Kill(ctx, false); err != nil {
				if !errors.Is(err, gcs.ErrTimeout) || !d.cl.w.Faults().Any() {
					return fmt.Errorf("kill %s: %w", name, err)
				}
				// Documented: the GCS stayed unreachable for the kill's
				// whole retry budget.
				d.cl.w.Sometimes("actor kill timed out")
			}
		}
		checks = append(checks, func() error {
			// In call order.
			ra, err := a.Get(ctx)
			if err != nil {
				return fmt.Errorf("incr on %s: %w", name, err)
			}
			rb, err := b.Get(ctx)
			if err != nil {
				return fmt.Errorf("square on %s: %w", name, err)
			}
			rc, err := c.Get(ctx)
			if err != nil {
				return fmt.Errorf("incr on %s: %w", name, err)
			}
			if err := d.checkIncr(h.ID(), name+".incr", ra); err != nil {
				return err
			}
			if rb != x*x {
				return fmt.Errorf("%s.square(%d) = %d, want %d", name, x, rb, x*x)
			}
			if err := checkPowers(ctx, pw, x); err != nil {
				return fmt.Errorf("%s.powers(%d): %w", name, x, err)
			}
			d.cl.w.Sometimes("actor generator method read to its end")
			if err := d.checkIncr(h.ID(), name+".incr", rc); err != nil {
				return err
			}
			d.cl.w.Sometimes("actor call answered")
			return nil
		})
		return nil
	}
	if err := named(fmt.Sprintf("counter-%d", d.idx+1), "", true); err != nil {
		return nil, err
	}
	if err := named("shared", "cluster", false); err != nil {
		return nil, err
	}
	if c, err := d.reentrantRound(ctx, x, rs); err != nil {
		return nil, err
	} else if c != nil {
		checks = append(checks, c)
	}
	if d.round%4 == 2 {
		if err := d.ackedRepliesRound(ctx, x); err != nil {
			return nil, err
		}
	}

	// Every other round its replies go unacknowledged (Ray's way): the
	// at-most-once check below holds either way.
	opts := []gray.Option{gray.WithMaxRestarts(1)}
	if d.round%2 == 1 {
		opts = append(opts, gray.WithUnackedReplies())
	}
	h, err := counterClass.New(ctx, gray.V(x), opts...)
	if err != nil {
		if err := d.registrationFailed("anonymous counter", err); err != nil {
			return nil, err
		}
	} else {
		var squares [2]gray.Ref[int64]
		var cancelled gray.Ref[int64]
		for i := range squares {
			squares[i] = squareMethod.Remote(ctx, h, gray.V(x+int64(i)))
			rs.add(squares[i])
			if i == 0 {
				// A call cancelled between the two: dropped (unsent, or
				// queued at the actor) or already answered; the second
				// square must still come, in order.
				cancelled = squareMethod.Remote(ctx, h, gray.V(x+5))
				rs.add(cancelled)
				if err := gray.Cancel(ctx, cancelled); err != nil {
					return nil, fmt.Errorf("cancel an actor call: %w", err)
				}
			}
		}
		checks = append(checks, func() error {
			switch got, err := cancelled.Get(ctx); {
			case errors.Is(err, gray.ErrCancelled):
				d.cl.w.Sometimes("actor call cancelled")
			case errors.Is(err, gray.ErrActorDied):
				d.cl.w.Sometimes("actor call failed: actor died")
			case err != nil:
				return fmt.Errorf("cancelled square: %w", err)
			case got != (x+5)*(x+5):
				return fmt.Errorf("cancelled square(%d) = %d, want %d or ErrCancelled", x+5, got, (x+5)*(x+5))
			}
			return nil
		})
		// A task calls it through the handle it was given inside an
		// argument (cluster_nested.go).
		via := squareViaTask.Options(retried, gray.WithSpread()).Remote(ctx, gray.V(handleArg{H: h, X: x + 2}))
		rs.add(via)
		checks = append(checks, func() error {
			switch got, err := via.Get(ctx); {
			case err != nil:
				return fmt.Errorf("squareVia: %w", err)
			case got.Died:
				d.cl.w.Sometimes("actor call through a passed handle failed: actor died")
			case got.V != (x+2)*(x+2):
				return fmt.Errorf("squareVia(%d) = %d, want %d", x+2, got.V, (x+2)*(x+2))
			default:
				d.cl.w.Sometimes("actor called through a handle passed to a task")
			}
			return nil
		})
		checks = append(checks, func() error {
			for i, r := range squares {
				want := (x + int64(i)) * (x + int64(i))
				// No task retries: a call runs at most once, and one that
				// ran may still fail with ErrActorDied (its reply died
				// with the actor's process).
				runs := d.cl.runsOf(r.ID())
				if runs > 1 {
					return fmt.Errorf("anonymous square(%d) ran %d times on an actor without task retries: want at most once", x+int64(i), runs)
				}
				switch got, err := r.Get(ctx); {
				case errors.Is(err, gray.ErrActorDied):
					d.cl.w.Sometimes("actor call failed: actor died")
					if d.cl.runsOf(r.ID()) == 1 {
						d.cl.w.Sometimes("actor call ran but its reply died with the actor")
					}
				case err != nil:
					return fmt.Errorf("anonymous square: %w", err)
				case got != want:
					return fmt.Errorf("anonymous square = %d, want %d", got, want)
				}
			}
			// It may be dead already (restarts exhausted): then there is
			// nothing to kill. Every other round a task kills it through
			// the handle it was given.
			if d.round%2 == 0 {
				k := killViaTask.Options(retried).Remote(ctx, gray.V(handleArg{H: h}))
				defer k.Release()
				if _, err := k.Get(ctx); err == nil {
					d.cl.w.Sometimes("actor killed by a task through a passed handle")
				}
				return nil
			}
			if err := h.Kill(ctx, true); err == nil {
				d.cl.w.Sometimes("actor killed")
			}
			return nil
		})
	}
	if c, err := d.scopedRound(ctx, x, rs); err != nil {
		return nil, err
	} else if c != nil {
		checks = append(checks, c)
	}
	return func() error {
		for _, c := range checks {
			if err := c(); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// scopedRound creates "scoped-<driver>-<round>" (restarts and call
// retries unlimited), passes its handle to a task that calls it, and
// releases its own: the actor must answer the task, and once the task is
// done no handle is left, so the driver's (owner's) core worker kills it
// and the name goes free. The check waits for that; it returns the
// check.
func (d *driver) scopedRound(ctx context.Context, x int64, rs *roundRefs) (func() error, error) {
	name := fmt.Sprintf("scoped-%d-%d", d.idx+1, d.round)
	h, err := counterClass.New(ctx, gray.V(int64(0)), gray.WithName(name), gray.WithMaxRestarts(-1), gray.WithMaxTaskRetries(-1))
	if err != nil {
		return nil, d.registrationFailed(name, err)
	}
	via := squareViaTask.Options(retried).Remote(ctx, gray.V(handleArg{H: h, X: x}))
	rs.add(via)
	h.Release()
	return func() error {
		switch got, err := via.Get(ctx); {
		case err != nil:
			return fmt.Errorf("squareVia on %s: %w", name, err)
		case got.Died:
			return fmt.Errorf("squareVia on %s: the actor died while the task held a handle (restarts unlimited)", name)
		case got.V != x*x:
			return fmt.Errorf("squareVia on %s = %d, want %d", name, got.V, x*x)
		}
		via.Release()
		for {
			p, err := gray.GetActor[counter](ctx, name)
			if errors.Is(err, gray.ErrActorNotFound) {
				d.cl.w.Sometimes("actor ended when its handles went out of scope")
				return nil
			}
			if err != nil {
				return fmt.Errorf("look up %s: %w", name, err)
			}
			p.Release() // the probe holds it only for a moment
			if err := pause(ctx, 200*time.Millisecond); err != nil {
				return err
			}
		}
	}, nil
}

// reentrantRound calls this driver's "reentrant-<driver>" actor (named,
// get-if-exists, concurrency groups, restarts and call retries
// unlimited): outer(name, x) must come back as exactly 2x+1, whatever
// died meanwhile. It returns the check, or nil when the creation failed
// in a documented way.
func (d *driver) reentrantRound(ctx context.Context, x int64, rs *roundRefs) (func() error, error) {
	name := fmt.Sprintf("reentrant-%d", d.idx+1)
	h, err := reentrantClass.New(ctx, gray.WithName(name), gray.WithGetIfExists(), gray.WithMaxConcurrency(1),
		gray.WithConcurrencyGroups(map[string]int{"outer": 4, "inner": 2}), gray.WithMaxRestarts(-1), gray.WithMaxTaskRetries(-1))
	if err != nil {
		return nil, d.registrationFailed(name, err)
	}
	o := reentrantOuter.Remote(ctx, h, gray.V(name), gray.V(x))
	rs.add(o)
	return func() error {
		got, err := o.Get(ctx)
		if err != nil {
			return fmt.Errorf("%s.outer(%d): %w", name, x, err)
		}
		if got != 2*x+1 {
			return fmt.Errorf("%s.outer(%d) = %d, want %d", name, x, got, 2*x+1)
		}
		d.cl.w.Sometimes("concurrent actor called itself")
		if x%2 == 0 {
			d.cl.w.Sometimes("actor called itself in another concurrency group")
		} else {
			d.cl.w.Sometimes("actor in a concurrency group called its default group")
		}
		return nil
	}, nil
}

// checkPowers reads the stream of powers(x) to its end and closes it.
func checkPowers(ctx context.Context, s *gray.Stream[int64], x int64) error {
	defer s.Close()
	want := x
	for i := 0; ; i++ {
		r, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			if i != 3 {
				return fmt.Errorf("ended after %d values, want 3", i)
			}
			return nil
		}
		if err != nil {
			return err
		}
		v, err := r.Get(ctx)
		r.Release()
		if err != nil || v != want || i >= 3 {
			return fmt.Errorf("value %d = %d, %v; want %d", i, v, err, want)
		}
		want *= x
	}
}

// crashSelfMethod kills its actor's process right after it returns (the
// crash is the event after the call's), and records whether a fault
// touched the process since the virtual time since: the calls before it
// must have been answered, since a sequential actor starts a call only
// once its caller acknowledged the previous reply.
var crashSelfMethod = gray.Method1("crashSelf", func(_ *counter, ctx context.Context, since int64) (int64, error) {
	cl, c := clusterOf(ctx), process.CallerFrom(ctx)
	rc, err := gray.GetRuntimeContext(ctx)
	if cl == nil || c == nil || err != nil {
		return 0, errors.New("crashSelf runs in the cluster workload only")
	}
	self := c.Env.Self()
	cl.crashedSelf[rc.ActorID] = selfCrash{addr: self, disturbed: cl.w.Disturbed(self, time.Duration(since))}
	cl.w.Schedule(0, "workload: an actor call kills its own process "+string(self), func() {
		cl.w.Crash(self, "workload: an actor call kills its own process")
	})
	return 0, nil
})

// slowMethod takes 20 ms, so that the calls sent after it queue at the
// actor and run back to back.
var slowMethod = gray.Method0("slow", func(_ *counter, ctx context.Context) (int64, error) {
	return 0, pause(ctx, 20*time.Millisecond)
})

// selfCrash is what crashSelf recorded.
type selfCrash struct {
	addr      core.Addr
	disturbed bool
}

// ackedRepliesRound sends a slow call, four square calls and then
// crashSelf to a new counter with acknowledged replies and no restarts
// (the calls queue behind the slow one and run back to back). Every square ran
// before crashSelf started; the reply of each must reach the driver,
// unless a fault other than the crash kept the driver from the actor
// (then the actor stops waiting for acks after a while). Messages still
// inside the crashing process are lost (Faults.SendHold), so without the
// acks a square's reply dies with it.
func (d *driver) ackedRepliesRound(ctx context.Context, x int64) error {
	cl := d.cl
	since := cl.w.Now()
	h, err := counterClass.New(ctx, gray.V(x), gray.WithMaxRestarts(0))
	if err != nil {
		return d.registrationFailed("acked counter", err)
	}
	slow := slowMethod.Remote(ctx, h)
	defer slow.Release()
	squares := make([]gray.Ref[int64], 4)
	for i := range squares {
		squares[i] = squareMethod.Remote(ctx, h, gray.V(x+int64(i)))
	}
	crash := crashSelfMethod.Remote(ctx, h, gray.V(int64(since)))
	defer crash.Release()
	_, crashErr := crash.Get(ctx)
	sc, crashed := cl.crashedSelf[h.ID()]
	for i, r := range squares {
		got, err := r.Get(ctx)
		r.Release()
		want := (x + int64(i)) * (x + int64(i))
		switch {
		case err == nil && got == want:
			continue
		case err == nil:
			return fmt.Errorf("acked square(%d) = %d, want %d", x+int64(i), got, want)
		case !errors.Is(err, gray.ErrActorDied):
			return fmt.Errorf("acked square(%d): %w", x+int64(i), err)
		}
		if cl.runsOf(r.ID()) == 0 || !crashed {
			continue // it never ran, or the actor died before crashSelf ran
		}
		if sc.disturbed || cl.w.Disturbed(d.addr, since) {
			cl.w.Sometimes("acked reply lost to a crash while a fault cut the caller off")
			continue
		}
		return fmt.Errorf("square(%d) ran on %s and was answered ErrActorDied when the next call crashed the actor (crashSelf: %v): an acknowledged reply was lost", x+int64(i), sc.addr, crashErr)
	}
	if crashed {
		cl.w.Sometimes("actor crashed by its call after acknowledged replies")
	}
	return nil
}

// runsOf returns how often the actor call whose return has the object id
// ref (as Ref.ID gives it) ran.
func (c *cluster) runsOf(ref string) int {
	var id core.ObjectID
	b, err := hex.DecodeString(strings.TrimPrefix(ref, "obj:"))
	if err != nil || len(b) != len(id) {
		return 0
	}
	copy(id[:], b)
	return c.callRuns[id.Task()]
}
