package workload

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
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

// actorExecuted checks the invariants when a worker is about to run an
// actor's constructor or one of its calls, and records the host.
func (c *cluster) actorExecuted(w *simWorker, spec *proto.TaskSpec, creation bool) {
	if creation {
		if spec.ActorIncarnation > 0 {
			c.w.Sometimes("actor restarted")
		}
		return
	}
	id, inc, ok := w.cw.HostedActor()
	if !ok || id != spec.ActorID || inc != spec.ActorIncarnation {
		c.w.Fail("invariant", fmt.Sprintf("%s executed a call for %v incarnation %d while hosting %v incarnation %d (ok=%v)", w.env.Self(), spec.ActorID, spec.ActorIncarnation, id, inc, ok))
		return
	}
	self := actorHost{addr: w.env.Self(), wid: w.id, node: w.node, inc: inc}
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
// id no longer runs it: the process is down or restarted, it dropped the
// actor, or its node was declared dead.
func (c *cluster) hostGone(id core.ActorID, h actorHost) bool {
	sw, ok := c.w.Process(h.addr).(*simWorker)
	if !ok || sw.id != h.wid || sw.exited {
		return true
	}
	if aid, inc, ok := sw.cw.HostedActor(); !ok || aid != id || inc != h.inc {
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
	if g, ok := c.w.Process("gcs").(*gcs.Server); ok {
		if info, ok := g.Node(n); ok && info.State == gcs.NodeDead {
			c.deadNodes[n] = true
			return true
		}
	}
	return false
}

// incrResult decodes Counter.incr's (incarnation, count).
func incrResult(b []byte) (inc, count int64, err error) {
	if len(b) != 16 {
		return 0, 0, fmt.Errorf("incr returned %d bytes, want 16", len(b))
	}
	return int64(binary.LittleEndian.Uint64(b[:8])), int64(binary.LittleEndian.Uint64(b[8:])), nil
}

// counterSeen identifies one incarnation of a Counter.
type counterSeen struct {
	id  core.ActorID
	inc int64
}

// checkIncr checks that a driver's incr results on one actor, in call
// order, never go back within an incarnation: calls run in the caller's
// order, so one incarnation's counts strictly increase. (Across
// incarnations nothing is ordered: a call retried after a restart runs
// again in the new incarnation, Ray's at-least-once actor-task retry,
// possibly after later calls already ran in the old one.)
func (d *driver) checkIncr(id core.ActorID, what string, v []byte) bool {
	inc, count, err := incrResult(v)
	if err != nil {
		d.fail("%s: %v", what, err)
		return false
	}
	k := counterSeen{id, inc}
	if last, ok := d.seen[k]; ok && count <= last {
		d.fail("%s = count %d in incarnation %d after count %d in the same incarnation: calls ran out of order", what, count, inc, last)
		return false
	}
	d.seen[k] = count
	return true
}

// actorRound creates (or gets) this round's actors, calls them, kills
// some, and calls finish once per started check. It returns how many
// checks it started.
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
func (d *driver) actorRound(x int64, finish func()) int {
	checks := 0
	named := func(name, ns string, max int, kill bool) {
		checks++
		d.cw.CreateActor("Counter", []proto.Arg{val(0)}, worker.ActorOptions{Name: name, Namespace: ns, GetIfExists: true, MaxRestarts: max, MaxTaskRetries: max, Resources: actorResources}, func(h worker.ActorHandle, err error) {
			if err != nil {
				if errors.Is(err, worker.ErrActorNameTaken) {
					d.fail("create %s with GetIfExists: %v", name, err)
					return
				}
				// Documented: registration fails when the GCS stays
				// unreachable for the whole retry budget.
				d.cl.w.Sometimes("actor registration failed")
				finish()
				return
			}
			a, err1 := d.cw.CallActor(h, "incr", nil, worker.CallOptions{})
			b, err2 := d.cw.CallActor(h, "square", []proto.Arg{val(x)}, worker.CallOptions{})
			c, err3 := d.cw.CallActor(h, "incr", nil, worker.CallOptions{})
			if err := errors.Join(err1, err2, err3); err != nil {
				d.fail("call %s: %v", name, err)
				return
			}
			d.refs = append(d.refs, a[0], b[0], c[0])
			if kill && d.round%3 == 0 {
				// Only the owner may kill; this driver owns its counter
				// unless a restart ran out (never: restarts are unlimited).
				if err := d.cw.KillActor(h, false); err != nil {
					d.fail("kill %s: %v", name, err)
					return
				}
			}
			// Check once all three arrived, in call order.
			pending := 3
			var results [3][]byte
			done := func(i int, what string) func([]byte, error) {
				return func(v []byte, err error) {
					if err != nil {
						d.fail("%s on %s: %v", what, name, err)
						return
					}
					results[i] = v
					pending--
					if pending > 0 {
						return
					}
					if !d.checkIncr(h.ID, name+".incr", results[0]) {
						return
					}
					if got, _ := asI64(results[1]); got != x*x {
						d.fail("%s.square(%d) = %d, want %d", name, x, got, x*x)
						return
					}
					if !d.checkIncr(h.ID, name+".incr", results[2]) {
						return
					}
					d.cl.w.Sometimes("actor call answered")
					finish()
				}
			}
			d.cw.Get(a[0], done(0, "incr"))
			d.cw.Get(b[0], done(1, "square"))
			d.cw.Get(c[0], done(2, "incr"))
		})
	}
	named(fmt.Sprintf("counter-%d", d.idx+1), "", -1, true)
	named("shared", "cluster", -1, false)

	checks++
	d.cw.CreateActor("Counter", []proto.Arg{val(x)}, worker.ActorOptions{MaxRestarts: 1, Resources: actorResources}, func(h worker.ActorHandle, err error) {
		if err != nil {
			d.cl.w.Sometimes("actor registration failed")
			finish()
			return
		}
		refs := make([]proto.ObjectRef, 0, 2)
		for i := range 2 {
			r, err := d.cw.CallActor(h, "square", []proto.Arg{val(x + int64(i))}, worker.CallOptions{})
			if err != nil {
				d.fail("call anonymous actor: %v", err)
				return
			}
			refs = append(refs, r[0])
		}
		d.refs = append(d.refs, refs...)
		left := len(refs)
		for i, r := range refs {
			want := (x + int64(i)) * (x + int64(i))
			d.cw.Get(r, func(v []byte, err error) {
				switch {
				case errors.Is(err, proto.ErrActorDied):
					d.cl.w.Sometimes("actor call failed: actor died")
				case err != nil:
					d.fail("anonymous square: %v", err)
					return
				default:
					if got, _ := asI64(v); got != want {
						d.fail("anonymous square = %d, want %d", got, want)
						return
					}
				}
				left--
				if left == 0 {
					if err := d.cw.KillActor(h, true); err == nil {
						d.cl.w.Sometimes("actor killed")
					}
					finish()
				}
			})
		}
	})
	return checks
}
