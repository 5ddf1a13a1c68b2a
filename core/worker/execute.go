package worker

import (
	"errors"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// handlePushTask runs a task pushed by its owner: resolve the arguments,
// execute, store large returns in plasma, answer with the rest inline.
func (w *Worker) handlePushTask(from core.Addr, m core.Message, reply func(core.Message, error)) {
	push := m.(*proto.PushTask)
	spec := push.Spec
	if w.cfg.Node.IsNil() {
		w.cfg.Node = push.Node
	}
	if w.cfg.Executor == nil {
		reply(nil, rpc.Errorf(rpc.CodeInvalid, "%s runs no tasks (a driver)", w.self))
		return
	}
	if !push.Worker.IsNil() && !w.cfg.WorkerID.IsNil() && push.Worker != w.cfg.WorkerID {
		reply(nil, rpc.Errorf(rpc.CodeUnavailable, "%s is %v, not %v the lease was granted for (it restarted)", w.self, w.cfg.WorkerID, push.Worker))
		return
	}
	switch {
	case spec.ActorCreation:
		w.handleActorCreation(&spec, push.LeaseID, reply)
		return
	case spec.ActorCall:
		w.handleActorCall(&spec, reply)
		return
	}
	if w.cancelledRuns[runKey{owner: spec.Owner, task: spec.TaskID, attempt: spec.Attempt}] {
		// Its owner cancelled it before the push arrived.
		reply(w.taskReplyFor(&spec, nil, cancelledError(&spec)), nil)
		return
	}
	run := &runningTask{spec: &spec, holder: from, lease: push.LeaseID}
	w.running[spec.TaskID] = run
	line := leaseLineKey{holder: from, lease: push.LeaseID}
	finish := func(rets []proto.ReturnObject, terr *proto.TaskError) {
		if w.running[spec.TaskID] == run {
			delete(w.running, spec.TaskID)
		}
		// A body that returned while a Get of its was still out (it
		// gave up on ctx) no longer waits: the lease, which its owner
		// may reuse, takes its CPUs back unless another task on it
		// waits (lineChanged).
		blocked := 0
		if run.waits > 0 {
			blocked = -1
		}
		run.waits = 0
		reply(w.taskReplyFor(&spec, rets, terr), nil)
		w.lineChanged(line, -1, blocked)
	}
	w.onLease(line, func() { w.runPushed(&spec, run, finish) })
}

// runPushed resolves the arguments of a pushed normal task and runs it.
func (w *Worker) runPushed(spec *proto.TaskSpec, run *runningTask, finish func([]proto.ReturnObject, *proto.TaskError)) {
	w.resolveArgs(spec, func(args [][]byte, argErr *proto.TaskError) {
		switch {
		case run.cancelled:
			finish(nil, cancelledError(spec))
			return
		case argErr != nil:
			finish(nil, argErr)
			return
		}
		w.stats.Executed++
		run.started = true
		w.cfg.Executor.Execute(spec, args, func(returns [][]byte, terr *proto.TaskError) {
			returns, terr = w.streamReturns(spec, returns, terr)
			if run.cancelled {
				// Interrupted: whatever the body returned, its owner
				// has failed the task; large returns must not reach
				// plasma, where nobody would free them.
				finish(nil, cancelledError(spec))
				return
			}
			if terr == nil && len(returns) != int(spec.NumReturns) {
				terr = proto.NewError(proto.KindTaskFailed, spec.Describe(), "function returned %d values, want %d", len(returns), spec.NumReturns)
			}
			if terr != nil {
				if terr.Task == "" {
					terr.Task = spec.Describe()
				}
				finish(nil, terr)
				return
			}
			w.storeReturns(spec, returns, finish)
		})
	})
}

// leaseLineKey names a lease a worker runs normal tasks on: its holder
// (the owner) and its id.
type leaseLineKey struct {
	holder core.Addr
	lease  uint64
}

// leaseLine is what a worker runs on one lease: the tasks pushed on it
// and waiting their turn, how many run and how many of those wait in
// Get or Wait (their lease lent its CPUs out).
type leaseLine struct {
	queue            []func()
	running, blocked int
	// lent: the raylet was told the lease's CPUs are lent out (every
	// task running on it waits); see syncLent.
	lent bool
}

// onLease runs start when fewer tasks of line run here than wait blocked
// plus one, else after the ones pushed on it before: an owner may push
// several tasks on one lease (pipelining), which hold the lease's
// resources one at a time. A task queued behind one whose body waits in
// Get or Wait starts at once (it may be what the body waits for), on the
// CPUs the blocked one lent out. Leases stacked on a blocked worker have
// ids of their own and run at once.
func (w *Worker) onLease(line leaseLineKey, start func()) {
	if line.lease == 0 {
		start()
		return
	}
	l := w.leaseLines[line]
	if l == nil {
		l = &leaseLine{}
		w.leaseLines[line] = l
	}
	l.queue = append(l.queue, start)
	w.pumpLine(line, l)
}

// pumpLine starts queued tasks of line while it has room.
func (w *Worker) pumpLine(line leaseLineKey, l *leaseLine) {
	for len(l.queue) > 0 && l.running-l.blocked < 1 {
		next := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		if l.blocked > 0 {
			w.stats.StartedBesideBlocked++
		}
		l.running++
		next()
	}
	w.syncLent(line, l)
	if l.running == 0 && len(l.queue) == 0 && w.leaseLines[line] == l {
		delete(w.leaseLines, line)
	}
}

// syncLent tells the raylet when the lease's CPUs are to be lent out
// (every task running on it waits in Get or Wait) or taken back (one
// runs, or none is left: its owner may reuse the lease). It is the
// lease's state, not one body's: a task started behind a waiting one
// uses the CPUs the lease lent out.
func (w *Worker) syncLent(line leaseLineKey, l *leaseLine) {
	if want := l.running > 0 && l.blocked == l.running; want != l.lent {
		l.lent = want
		w.reportBlocked(line.lease, line.holder, want)
	}
}

// lineChanged adds running and blocked to line's counts — a task that
// ended (-1, and -1 blocked if its body was waiting when it did), a body
// that began (+1 blocked) or ended (-1) waiting — and starts what may
// start.
func (w *Worker) lineChanged(line leaseLineKey, running, blocked int) {
	l := w.leaseLines[line]
	if line.lease == 0 || l == nil {
		return
	}
	l.running += running
	l.blocked += blocked
	w.pumpLine(line, l)
}

func cancelledError(spec *proto.TaskSpec) *proto.TaskError {
	return proto.NewError(proto.KindCancelled, spec.Describe(), "cancelled by its owner while running")
}

// resolveArgs fetches the values of spec's arguments and calls done with
// them, or with the first argument's error, once. Get may answer at once
// (an argument this worker owns and has inline): missing counts one more
// until every Get was issued, so done runs after the loop has filled in
// every immediate value, never twice.
func (w *Worker) resolveArgs(spec *proto.TaskSpec, done func([][]byte, *proto.TaskError)) {
	args := make([][]byte, len(spec.Args))
	missing := 1
	var argErr *proto.TaskError
	arrived := func() {
		missing--
		if missing == 0 {
			done(args, argErr)
		}
	}
	for i, a := range spec.Args {
		if a.Ref == nil {
			args[i] = a.Value
			continue
		}
		missing++
		w.Get(*a.Ref, func(data []byte, err error) {
			if err != nil && argErr == nil {
				var te *proto.TaskError
				if errors.As(err, &te) {
					// The task fails as its argument did (the same kind
					// and identity), naming itself and the argument.
					argErr = te.Through(spec.Describe(), i+1)
				} else {
					argErr = proto.NewError(proto.KindObjectLost, spec.Describe(), "argument %d: %v", i, err)
				}
			}
			args[i] = data
			arrived()
		})
	}
	arrived()
}

func (w *Worker) taskReplyFor(spec *proto.TaskSpec, rets []proto.ReturnObject, err *proto.TaskError) *proto.PushTaskReply {
	r := w.taskReply(rets, err)
	r.Borrowed = w.heldArgs(spec)
	return r
}

func (w *Worker) taskReply(rets []proto.ReturnObject, err *proto.TaskError) *proto.PushTaskReply {
	return &proto.PushTaskReply{Returns: rets, Error: err, Node: w.cfg.Node}
}

// storeReturns keeps small returns inline and puts large ones into the
// local plasma store as primary copies on behalf of the owner.
func (w *Worker) storeReturns(spec *proto.TaskSpec, returns [][]byte, done func([]proto.ReturnObject, *proto.TaskError)) {
	ids := spec.ReturnIDs()
	rets := make([]proto.ReturnObject, len(returns))
	pending := 0
	var failed *proto.TaskError
	for i, v := range returns {
		rets[i].ID = ids[i]
		if len(v) <= w.cfg.InlineLimit {
			rets[i].Inline = nonNil(v)
			continue
		}
		pending++
		i, size := i, int64(len(v))
		put := &proto.PutObject{ID: ids[i], Owner: spec.Owner, OwnerID: spec.OwnerID, OwnerNode: spec.OwnerNode, Job: spec.Job, Data: v}
		w.putObject(w.cfg.Raylet, put, func(stored core.NodeID, err error) {
			pending--
			node := w.cfg.Node
			if err != nil && failed == nil {
				failed = proto.NewError(proto.KindObjectStoreFull, spec.Describe(), "storing return %d (%d bytes): %v", i+1, size, err)
			} else if err == nil {
				node = stored
			}
			rets[i].InPlasma, rets[i].Size = true, size
			rets[i].Location = proto.Location{Node: node, Raylet: w.cfg.Raylet}
			if pending == 0 {
				done(rets, failed)
			}
		})
	}
	if pending == 0 {
		done(rets, nil)
	}
}
