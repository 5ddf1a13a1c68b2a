package sim

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/grayrt/gray/core"
)

// Go work in the simulator: user code that blocks.
//
// Task bodies, actor methods and driver programs are ordinary Go that
// call gray's API and block in it (Ref.Get waits for a result). The API
// reaches its process through Env.Await, the same call on hosts and here.
// Here each piece of Env.Go work runs on a goroutine of its own, but as a
// coroutine of the world: the world hands control to it at an event
// (evStart, evResume) and waits until it blocks in Await ("parks") or
// returns; nothing else runs meanwhile. A park hands the world a function
// to run on the process's loop; the coroutine resumes at the event its
// wake schedules. So the interleaving of user code and components is
// decided by the event order, that is by the seed, and the API code is the
// same in both worlds.
//
// What user code must not do here: start goroutines that call gray (they
// are reported as a failure of kind "determinism"), read the wall clock,
// draw from global randomness or do real IO (the determinism check sees
// the difference), or block outside gray (a channel, a mutex, a sleep:
// the step watchdog reports a hang after Config.StepWallMax).

// DefaultStepWallMax bounds the wall time one coroutine step may take
// before the run fails as a hang. Steps are pure computation between two
// gray calls; a minute is far beyond any legitimate one.
const DefaultStepWallMax = time.Minute

// coroutine is one piece of Env.Go work of one process incarnation.
type coroutine struct {
	id   uint64
	p    *proc
	inc  uint32
	work func() core.Message
	in   chan error    // world → coroutine: start or resume with this error
	out  chan yieldMsg // coroutine → world: parked, returned or panicked
	name string        // what the work is, for hang reports

	started, done, hung bool
	// parked is set while the coroutine waits in Await; parkSeq numbers
	// its parks so that a late wake of an earlier park is ignored; woken
	// says a resume event is pending, with resumeErr.
	parked    bool
	parkSeq   uint64
	woken     bool
	resumeErr error
	ctx       context.Context // of the Await it is parked in
}

type yieldKind uint8

const (
	yieldPark yieldKind = iota + 1
	yieldDone
	yieldPanic
)

// yieldMsg is what a coroutine hands the world when it stops running.
type yieldMsg struct {
	kind  yieldKind
	f     func(wake func()) // park: run on the loop
	msg   core.Message      // done: the work's result
	val   any               // panic: the value
	stack []byte
}

// main is the coroutine's goroutine. It waits for its first step, runs
// the work and reports how it ended.
func (c *coroutine) main() {
	<-c.in
	var y yieldMsg
	func() {
		defer func() {
			if r := recover(); r != nil {
				y = yieldMsg{kind: yieldPanic, val: r, stack: debug.Stack()}
			}
		}()
		y = yieldMsg{kind: yieldDone, msg: c.work()}
	}()
	c.out <- y
}

// goWork implements Env.Go: the coroutine starts at an event of its own,
// so that it never runs inside the callback that started it.
func (e *procEnv) goWork(name string, work func() core.Message) {
	w := e.w
	w.coSeq++
	c := &coroutine{id: w.coSeq, p: e.p, inc: e.inc, work: work, name: name, in: make(chan error), out: make(chan yieldMsg)}
	e.p.cos = append(e.p.cos, c)
	w.push(event{at: w.now, kind: evStart, dst: e.p, inc: e.inc, co: c})
}

// Await implements core.Env for work started with Go (see the top of
// this file).
func (e *procEnv) Await(ctx context.Context, f func(wake func())) error {
	c := e.w.running.Load()
	if c == nil || c.p != e.p {
		e.w.foreignCall(e.p.addr, "Await")
		return errForeign
	}
	if !e.current() || c.inc != e.inc {
		return core.ErrStopped
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); ok {
		e.w.Fail("determinism", fmt.Sprintf("%s: a gray call got a context with a deadline (context.WithTimeout or WithDeadline): deadlines follow the wall clock, which a simulated run does not; bound waits with gray.Wait's timeout or the simulated clock instead", e.p.addr))
		return errForeign
	}
	c.out <- yieldMsg{kind: yieldPark, f: func(wake func()) { c.ctx = ctx; f(wake) }}
	return <-c.in
}

// Post implements core.Env: f runs on the process's loop at an event of
// its own, right after the calling coroutine's step.
func (e *procEnv) Post(f func()) bool {
	c := e.w.running.Load()
	if c == nil || c.p != e.p {
		e.w.foreignCall(e.p.addr, "Post")
		return false
	}
	if !e.current() {
		return false
	}
	e.w.push(event{at: e.w.now, kind: evCall, dst: e.p, inc: e.inc, action: f})
	return true
}

// Lockstep implements core.Lockstep.
func (e *procEnv) Lockstep() bool { return true }

// errForeign is returned to a gray call the simulator cannot serve
// deterministically; the run fails with the reason.
var errForeign = fmt.Errorf("sim: gray call from outside the simulated work (see the run's failure)")

// foreignCall records a call into a process from a goroutine the world
// does not run (a goroutine a body started, a garbage-collector cleanup).
// It may run concurrently with the world, so it only stores the reason;
// the world fails the run at its next event.
func (w *World) foreignCall(addr core.Addr, what string) {
	msg := fmt.Sprintf("%s: %s called from a goroutine the simulator does not run (a goroutine started by a task body, actor method or driver, or a finalizer): in a simulated run only the work itself may call gray, so that the seed decides the interleaving", addr, what)
	w.foreign.CompareAndSwap(nil, &msg)
}

// step runs c until it parks, returns or panics. err is what its pending
// Await returns (nil to start it).
func (w *World) step(c *coroutine, err error) {
	p := c.p
	c.parked, c.woken, c.ctx = false, false, nil
	y, ok := w.run(c, err)
	if !ok {
		return
	}
	switch y.kind {
	case yieldPark:
		c.parked = true
		c.parkSeq++
		seq := c.parkSeq
		w.guard(p, func() { y.f(func() { w.wake(c, seq, nil) }) })
	case yieldDone:
		w.ended(c)
		if y.msg == nil {
			w.Fail("invariant", fmt.Sprintf("%s: Go work returned a nil message", p.addr))
			return
		}
		d := time.Duration(50+w.netRand.IntN(950)) * time.Microsecond
		w.push(event{at: w.now + int64(d), kind: evWork, dst: p, inc: c.inc, msg: y.msg})
	case yieldPanic:
		w.ended(c)
		w.guard(p, func() { panic(rethrown{y.val, y.stack}) })
	}
}

// rethrown is a coroutine's panic re-raised on the world's goroutine:
// a core.FailStop crashes the process as usual; anything else fails the
// run with the coroutine's own stack.
type rethrown struct {
	val   any
	stack []byte
}

// run hands control to c and waits, up to StepWallMax of wall time, for
// it to hand it back. On a timeout the run fails as a hang and c is
// abandoned (its goroutine cannot be stopped).
func (w *World) run(c *coroutine, err error) (yieldMsg, bool) {
	w.running.Store(c)
	defer w.running.Store(nil)
	if !c.started {
		c.started = true
		go c.main()
	}
	c.in <- err
	if w.watchdog == nil {
		w.watchdog = time.NewTimer(w.cfg.StepWallMax)
	} else {
		w.watchdog.Reset(w.cfg.StepWallMax)
	}
	select {
	case y := <-c.out:
		w.watchdog.Stop()
		return y, true
	case <-w.watchdog.C:
		c.hung = true
		w.ended(c)
		w.Fail("hang", fmt.Sprintf("%s: Go work %s(a task body, actor method or driver program) ran for %v of wall time without returning or blocking in a gray call: an endless loop, or a block outside gray (a channel, a mutex, time.Sleep, real IO)", c.p.addr, c.label(), w.cfg.StepWallMax))
		return yieldMsg{}, false
	}
}

// label names c for reports: "co#N name ".
func (c *coroutine) label() string {
	if c.name == "" {
		return fmt.Sprintf("co#%d ", c.id)
	}
	return fmt.Sprintf("co#%d %s ", c.id, c.name)
}

// wake schedules c's resumption from its park number seq with err.
func (w *World) wake(c *coroutine, seq uint64, err error) {
	if c.done || !c.parked || c.parkSeq != seq || c.woken {
		return
	}
	c.woken, c.resumeErr = true, err
	w.push(event{at: w.now, kind: evResume, dst: c.p, inc: c.inc, co: c})
}

// ended forgets a coroutine that will not run again.
func (w *World) ended(c *coroutine) {
	c.done = true
	cos := c.p.cos
	for i, x := range cos {
		if x == c {
			c.p.cos = append(cos[:i], cos[i+1:]...)
			break
		}
	}
}

// checkCancelled wakes p's parked coroutines whose context was cancelled
// (by the process's own code, e.g. an interrupted task body), as Await's
// select on ctx.Done does on hosts. It runs after every event of p.
func (w *World) checkCancelled(p *proc) {
	for _, c := range p.cos {
		if c.parked && !c.woken && c.ctx != nil && c.ctx.Err() != nil {
			w.wake(c, c.parkSeq, c.ctx.Err())
		}
	}
}

// unwind ends the coroutines of a process incarnation that stopped: each
// parked one resumes with core.ErrStopped and runs to its end, since its
// later gray calls fail at once. Nothing it does reaches the world.
func (w *World) unwind(p *proc) {
	cos := p.cos
	p.cos = nil
	for _, c := range cos {
		if !c.started || c.done || c.hung {
			continue
		}
		c.parked = false
		for {
			y, ok := w.run(c, core.ErrStopped)
			if !ok {
				break
			}
			if y.kind != yieldPark { // a park cannot happen: Await fails at once
				c.done = true
				break
			}
		}
	}
}

// Holds implements core.SendBarrier: each simulated process stands for
// a process of its own, and with Faults.SendHold a message waits inside
// its sender for a while after Send, lost if the sender crashes first.
func (e *procEnv) Holds(to core.Addr) bool { return to != e.p.addr }

// AfterSent implements core.SendBarrier: f runs once the messages sent
// so far to to have left (Faults.SendHold), at an event of its own even
// when they all left, so that a run explores what can happen between a
// reply and what waits for it (a crash, a kill, another message). A
// crash before then drops f with the process.
func (e *procEnv) AfterSent(to core.Addr, f func()) bool {
	if !e.current() {
		return true // the process is gone: f never runs
	}
	e.w.push(event{at: e.w.net.leftBy(e.w, e.p, to), kind: evCall, dst: e.p, inc: e.inc, action: f})
	return true
}
