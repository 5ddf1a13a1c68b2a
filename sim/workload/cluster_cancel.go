package workload

import (
	"errors"
	"fmt"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
)

// Cancellation in the cluster workload. Every round a driver submits
// slow(ms) — or, every other round, slowparent(ms), whose body submits a
// slow(ms) child it owns — and cancels it soon after, well before the
// body could finish, with force every fourth round and without recursion
// every sixth.
//
// Invariants: the Get of a cancelled task fails with Cancelled (it was
// still pending when cancelled, so nothing else is allowed); the child of
// an interrupted slowparent yields its value or, when the cancel was
// recursive, Cancelled — nothing else. The workload's liveness check
// (the cluster goes idle) covers leases: an interrupted body must give its
// worker and CPU back, and so must a worker that exited on a forced
// cancel.

// slowTaskMs is how long slow bodies run unless interrupted; drivers
// cancel within cancelDelayMsMax of submitting, far less.
const (
	slowTaskMs       = 2_000
	cancelDelayMsMax = 300
)

// slowBody is a running slow or slowparent body: end finishes it, once.
type slowBody struct {
	timer core.Timer
	end   func(interrupted bool)
}

// slow runs a body that finishes after ms of virtual time, or at once
// with an error when its task is interrupted; onEnd (may be nil) runs
// first.
func (w *simWorker) slow(spec *proto.TaskSpec, args [][]byte, onEnd func(interrupted bool), done func([][]byte, *proto.TaskError)) {
	ms, err := asI64(args[0])
	if err != nil || ms < 0 || ms > 60_000 {
		done(nil, proto.NewError(proto.KindTaskFailed, "", "%s: bad duration", spec.Function))
		return
	}
	id := spec.TaskID
	b := &slowBody{}
	b.end = func(interrupted bool) {
		if w.slowBodies[id] != b {
			return
		}
		delete(w.slowBodies, id)
		b.timer.Stop()
		if onEnd != nil {
			onEnd(interrupted)
		}
		if interrupted {
			done(nil, proto.NewError(proto.KindTaskFailed, "", "interrupted"))
			return
		}
		done([][]byte{i64(ms)}, nil)
	}
	w.slowBodies[id] = b
	b.timer = w.env.AfterFunc(time.Duration(ms)*time.Millisecond, func() { b.end(false) })
}

// slowParent submits slow(ms) as its child, then runs like slow. When it
// ends it checks its child: the child's value, or Cancelled if the
// parent was cancelled recursively.
func (w *simWorker) slowParent(spec *proto.TaskSpec, args [][]byte, done func([][]byte, *proto.TaskError)) {
	if len(args) != 1 {
		done(nil, proto.NewError(proto.KindTaskFailed, "", "slowparent takes 1 argument, got %d", len(args)))
		return
	}
	ms, _ := asI64(args[0])
	child, err := w.cw.SubmitNested(spec, "slow", []proto.Arg{{Value: args[0]}}, worker.TaskOptions{MaxRetries: -1})
	if err != nil {
		done(nil, proto.NewError(proto.KindTaskFailed, "", "slowparent: submit: %v", err))
		return
	}
	self := w.env.Self()
	w.slow(spec, args, func(interrupted bool) {
		w.cw.Get(child[0], func(v []byte, err error) {
			w.cw.Release(child[0])
			switch {
			case errors.Is(err, proto.ErrCancelled):
				w.cl.w.Sometimes("child of a cancelled task cancelled")
			case err != nil:
				w.cl.w.Fail("invariant", fmt.Sprintf("%s: child of %s (interrupted %v) failed with %v, want its value or Cancelled", self, spec.Describe(), interrupted, err))
			default:
				if got, _ := asI64(v); got != ms {
					w.cl.w.Fail("invariant", fmt.Sprintf("%s: child of %s = %d, want %d", self, spec.Describe(), got, ms))
				}
			}
		})
	}, done)
}

// Interrupt implements worker.Interrupter.
func (w *simWorker) Interrupt(task core.TaskID) {
	if b := w.slowBodies[task]; b != nil {
		w.cl.w.Sometimes("running task interrupted")
		b.end(true)
	}
}

// cancelRound submits this round's slow task and cancels it; finish runs
// once its Get failed with Cancelled as it must.
func (d *driver) cancelRound(finish func()) {
	fn := "slow"
	if d.round%2 == 0 {
		fn = "slowparent"
	}
	r := d.submit(fn, []proto.Arg{val(slowTaskMs)}, worker.TaskOptions{})
	opts := worker.CancelOptions{Force: d.round%4 == 3, NoRecursive: d.round%6 == 0}
	d.env.AfterFunc(time.Duration(d.env.Rand().IntN(cancelDelayMsMax))*time.Millisecond, func() {
		if err := d.cw.Cancel(r, opts); err != nil {
			d.fail("cancel %s: %v", fn, err)
			return
		}
		d.cw.Get(r, func(_ []byte, err error) {
			if !errors.Is(err, proto.ErrCancelled) {
				d.fail("get of %s cancelled while pending (%+v): %v, want Cancelled", fn, opts, err)
				return
			}
			d.cl.w.Sometimes("task cancelled")
			if opts.Force {
				d.cl.w.Sometimes("task cancelled with force")
			}
			finish()
		})
	})
}
