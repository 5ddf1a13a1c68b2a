package worker

import (
	"fmt"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Wait calls done once n of refs are ready — their value or their error
// is available, as in Ray's ray.wait — or when timeout passes (negative:
// no timeout), with the ready and the not-ready refs, each in the order
// of refs. Readiness of another owner's object is asked of that owner;
// values are not fetched.
func (w *Worker) Wait(refs []proto.ObjectRef, n int, timeout time.Duration, done func(ready, notReady []proto.ObjectRef)) error {
	if n < 0 || n > len(refs) {
		return fmt.Errorf("worker: wait for %d of %d objects", n, len(refs))
	}
	isReady := make([]bool, len(refs))
	count := 0
	finished := false
	tracked := false // refs are recorded in w.blocked
	var timer core.Timer
	finish := func() {
		if finished {
			return
		}
		finished = true
		if timer != nil {
			timer.Stop()
		}
		if tracked {
			for _, r := range refs {
				w.unblock(r.ID, true)
			}
		}
		var ready, notReady []proto.ObjectRef
		for i, r := range refs {
			if isReady[i] {
				ready = append(ready, r)
			} else {
				notReady = append(notReady, r)
			}
		}
		done(ready, notReady)
	}
	if n == 0 {
		w.env.AfterFunc(0, finish)
		return nil
	}
	for _, r := range refs {
		w.block(r, true)
	}
	tracked = true
	for i, r := range refs {
		w.whenReady(r, func() {
			if finished || isReady[i] {
				return
			}
			isReady[i] = true
			count++
			if count >= n {
				finish()
			}
		})
	}
	if timeout >= 0 && !finished {
		timer = w.env.AfterFunc(timeout, finish)
	}
	return nil
}

// whenReady calls f once ref's value or error is available (it may never
// be called if the owner is unreachable; Wait's timeout covers that).
func (w *Worker) whenReady(ref proto.ObjectRef, f func()) {
	e := w.refs.get(ref.ID)
	if e != nil && e.owner == "" {
		if e.state != objPending {
			w.env.AfterFunc(0, f)
			return
		}
		e.waiters = append(e.waiters, func() { w.whenReady(ref, f) })
		return
	}
	w.cli.Call(ref.Owner, &proto.GetObjectStatus{ID: ref.ID, OwnerID: ref.OwnerID}, rpc.Options{Timeout: -1}, func(core.Message, error) { f() })
}
