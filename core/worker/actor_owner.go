package worker

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// ActorOptions are the options of CreateActor.
type ActorOptions struct {
	// Name makes the actor named within Namespace: get-or-create in the
	// GCS. An empty Name makes an anonymous actor.
	Name, Namespace string
	// GetIfExists returns a handle to the live actor already holding Name
	// instead of failing with ErrActorNameTaken.
	GetIfExists bool
	// MaxRestarts bounds restarts after the actor's worker or node dies:
	// 0 (the default) never restarts, -1 restarts forever.
	MaxRestarts int
	// MaxTaskRetries bounds how often this handle resends a call that was
	// in flight when the actor died: 0 (the default) fails such calls with
	// ActorDied, -1 resends forever.
	MaxTaskRetries int
	// Resources are held by the actor for its lifetime; nil means none
	// (Ray's actors hold 0 CPU once placed).
	Resources core.Resources
	// Strategy places the actor.
	Strategy proto.Strategy
}

// ActorHandle names an actor. Handles are plain values: pass them to other
// processes freely; each process calls through its own core worker.
type ActorHandle struct {
	ID core.ActorID
	// Owner is the creator's address, "" when the handle came from a name
	// lookup (the GCS does not record owners).
	Owner core.Addr
	// MaxTaskRetries is applied by the process that calls through the
	// handle (see ActorOptions.MaxTaskRetries).
	MaxTaskRetries int
}

// Actor errors.
var (
	// ErrActorNameTaken: a named CreateActor without GetIfExists found the
	// name held by a live actor.
	ErrActorNameTaken = errors.New("worker: actor name already taken; pass GetIfExists to get a handle to the existing actor, or choose another name")
	// ErrNoGCS: the core worker was configured without a GCS client.
	ErrNoGCS = errors.New("worker: actors need a GCS client (Config.GCS)")
)

// ownedActor is an actor this worker created. The owner drives its
// lifecycle in the GCS (PENDING_CREATION → ALIVE → RESTARTING → ALIVE … →
// DEAD) and holds its lease.
type ownedActor struct {
	id    core.ActorID
	class string
	args  []proto.Arg
	opts  ActorOptions

	// incarnation is the restart count of the incarnation being created or
	// running (the GCS's NumRestarts).
	incarnation int64
	creating    *pendingTask // the creation task in flight, if any
	alive       bool         // the current incarnation runs (and the GCS knows it)
	failed      bool         // the current incarnation's worker died
	dead        bool
	killed      bool // KillActor(noRestart) was asked: never restart

	// The lease of the running incarnation.
	raylet  core.Addr
	leaseID uint64
	node    core.NodeID
	addr    core.Addr
	pinging uint64 // the lease whose worker is being pinged
}

// gcsRetryDelay spaces out retries of GCS calls whose outcome is unknown.
const gcsRetryDelay = time.Second

// CreateActor creates an actor of class with constructor args and calls
// done with its handle once the GCS has registered it (the constructor
// runs afterwards; calls made meanwhile wait for it). A named actor is
// get-or-create: see ActorOptions.GetIfExists.
//
// Placement is owner-driven: this worker leases a worker for the creation
// task through its raylet, like a normal task, and keeps the lease for the
// actor's lifetime (Ray's GCS actor scheduler does the leasing instead).
func (w *Worker) CreateActor(class string, args []proto.Arg, opts ActorOptions, done func(ActorHandle, error)) {
	if w.cfg.GCS == nil {
		w.env.AfterFunc(0, func() { done(ActorHandle{}, ErrNoGCS) })
		return
	}
	if opts.Resources == nil {
		opts.Resources = core.Resources{}
	}
	w.actorCounter++
	id := core.NewActorID(w.cfg.Job, w.parent, w.actorCounter)
	w.registerActor(id, class, args, opts, 0, done)
}

// registerAttempts bounds retries of a registration whose outcome is
// unknown (the GCS is down or unreachable).
const registerAttempts = 30

func (w *Worker) registerActor(id core.ActorID, class string, args []proto.Arg, opts ActorOptions, attempt int, done func(ActorHandle, error)) {
	w.cfg.GCS.RegisterActor(id, opts.Namespace, opts.Name, int64(opts.MaxRestarts), func(rep gcs.Reply, err error) {
		if err != nil {
			var ge *gcs.Error
			if errors.As(err, &ge) || attempt+1 >= registerAttempts {
				done(ActorHandle{}, fmt.Errorf("worker: register actor %s: %w", class, err))
				return
			}
			// Registration is idempotent per id: ask again.
			w.env.AfterFunc(gcsRetryDelay, func() { w.registerActor(id, class, args, opts, attempt+1, done) })
			return
		}
		if rep.ActorID != id {
			if !opts.GetIfExists {
				done(ActorHandle{}, fmt.Errorf("%w: %q in namespace %q is %v", ErrActorNameTaken, opts.Name, opts.Namespace, rep.ActorID))
				return
			}
			if len(rep.Actors) > 0 {
				w.applyActorInfo(rep.Actors[0])
			}
			done(ActorHandle{ID: rep.ActorID, MaxTaskRetries: opts.MaxTaskRetries}, nil)
			return
		}
		if _, ok := w.owned[id]; !ok {
			w.stats.ActorsCreated++
			a := &ownedActor{id: id, class: class, args: args, opts: opts}
			w.owned[id] = a
			for _, arg := range args {
				if arg.Ref != nil {
					w.holdArg(*arg.Ref)
				}
			}
			w.view(id, opts.MaxTaskRetries)
			if len(rep.Actors) > 0 {
				w.ownerStep(a, rep.Actors[0])
			} else {
				w.ownerSync(a)
			}
		}
		done(ActorHandle{ID: id, Owner: w.self, MaxTaskRetries: opts.MaxTaskRetries}, nil)
	})
}

// holdArg keeps a constructor argument alive for the actor's lifetime:
// every restart runs the constructor with it again.
func (w *Worker) holdArg(r proto.ObjectRef) {
	e := w.refs.get(r.ID)
	if e == nil {
		var err error
		if e, err = w.refs.addBorrowed(r.ID, r.Owner); err != nil {
			return
		}
	}
	e.submitted++
}

// ownerSync re-reads the actor's record and acts on it; used after a GCS
// call whose outcome is unknown or refused.
func (w *Worker) ownerSync(a *ownedActor) {
	w.cfg.GCS.GetActor(a.id, func(rep gcs.Reply, err error) {
		if err != nil || len(rep.Actors) == 0 {
			w.env.AfterFunc(gcsRetryDelay, func() { w.ownerSync(a) })
			return
		}
		w.ownerStep(a, rep.Actors[0])
	})
}

// ownerUpdate moves the actor to state in the GCS and continues with the
// resulting record; on any failure it re-reads the record instead.
func (w *Worker) ownerUpdate(a *ownedActor, state gcs.ActorState, node core.NodeID, addr core.Addr, cause string) {
	w.cfg.GCS.UpdateActor(a.id, state, node, addr, cause, func(rep gcs.Reply, err error) {
		if err != nil || len(rep.Actors) == 0 {
			w.env.AfterFunc(gcsRetryDelay, func() { w.ownerSync(a) })
			return
		}
		w.ownerStep(a, rep.Actors[0])
	})
}

// ownerStep is the owner's state machine: given the GCS's record of the
// actor, take the next step towards running the latest incarnation (or
// towards DEAD).
func (w *Worker) ownerStep(a *ownedActor, info gcs.ActorInfo) {
	if w.owned[a.id] != a || a.dead {
		return
	}
	w.applyActorInfo(info)
	switch info.State {
	case gcs.ActorDependenciesUnready:
		w.ownerUpdate(a, gcs.ActorPendingCreation, core.NodeID{}, "", "")
	case gcs.ActorPendingCreation, gcs.ActorRestarting:
		if a.killed {
			w.ownerUpdate(a, gcs.ActorDead, core.NodeID{}, "", "killed by its owner")
			return
		}
		if a.creating != nil && a.incarnation == info.NumRestarts {
			return // already creating this incarnation
		}
		if a.alive || a.leaseID != 0 {
			w.dropActorLease(a)
		}
		a.incarnation = info.NumRestarts
		a.failed = false
		if info.NumRestarts > 0 {
			w.stats.ActorRestarts++
		}
		w.startCreation(a)
	case gcs.ActorAlive:
		switch {
		case info.NumRestarts != a.incarnation:
			// A record older than what we know; re-read.
			w.env.AfterFunc(gcsRetryDelay, func() { w.ownerSync(a) })
		case a.failed || a.killed:
			// The running incarnation's worker died (or is being killed):
			// count a restart, or die once restarts are exhausted.
			w.ownerUpdate(a, gcs.ActorRestarting, core.NodeID{}, "", "")
		case !a.alive && a.creating == nil && a.leaseID != 0 && info.Addr == a.addr:
			a.alive = true // our ALIVE update landed though its reply was lost
			w.pingActor(a, a.leaseID)
		case a.creating == nil && info.Addr != a.addr:
			// ALIVE at a worker whose lease we no longer hold (a late
			// ALIVE update of an abandoned creation): count it failed.
			a.failed = true
			w.ownerUpdate(a, gcs.ActorRestarting, core.NodeID{}, "", "")
		}
	case gcs.ActorDead:
		a.dead = true
		w.dropActorLease(a)
		if a.creating != nil {
			t := a.creating
			a.creating = nil
			if w.tasks[t.spec.TaskID] == t {
				delete(w.tasks, t.spec.TaskID)
				w.cancelTask(t)
				w.releaseArgs(&t.spec)
			}
		}
		delete(w.owned, a.id)
		for _, arg := range a.args {
			if arg.Ref != nil {
				if e := w.refs.get(arg.Ref.ID); e != nil {
					e.submitted--
					w.maybeFree(e)
				}
			}
		}
	}
}

// cancelTask stops a task's lease request or push.
func (w *Worker) cancelTask(t *pendingTask) {
	switch t.phase {
	case phaseLeasing:
		w.cli.Cancel(t.leaseCall)
		w.returnLease(t.raylet, t.leaseID, false)
	case phaseRunning:
		w.cli.Cancel(t.pushCall)
		w.returnLease(t.raylet, t.leaseID, true)
	}
}

// dropActorLease gives back the lease of the current incarnation and asks
// its raylet not to reuse the worker.
func (w *Worker) dropActorLease(a *ownedActor) {
	if a.leaseID != 0 {
		w.returnLease(a.raylet, a.leaseID, true)
	}
	if a.addr != "" {
		// The worker may still run the incarnation (a lost reply, a
		// refused ALIVE update): make sure it exits.
		w.sendKill(a.addr, a.id, a.incarnation, true, 0)
	}
	a.alive, a.leaseID, a.raylet, a.addr, a.node = false, 0, "", "", core.NodeID{}
}

// startCreation leases a worker and runs the constructor there, as a task
// that retries system failures forever (they do not count as restarts:
// the incarnation never ran).
func (w *Worker) startCreation(a *ownedActor) {
	spec := proto.TaskSpec{
		TaskID:           core.ActorCreationTaskID(a.id),
		Job:              w.cfg.Job,
		Function:         a.class,
		Args:             a.args,
		Resources:        a.opts.Resources,
		Strategy:         a.opts.Strategy,
		MaxRetries:       -1,
		Owner:            w.self,
		Binary:           w.cfg.Binary,
		ActorID:          a.id,
		ActorCreation:    true,
		ActorIncarnation: a.incarnation,
	}
	for _, arg := range a.args {
		if arg.Ref != nil {
			if e := w.refs.get(arg.Ref.ID); e != nil {
				e.submitted++ // released when the creation task ends
			}
		}
	}
	if old, ok := w.tasks[spec.TaskID]; ok {
		delete(w.tasks, spec.TaskID)
		w.cancelTask(old)
		w.releaseArgs(&old.spec)
	}
	t := &pendingTask{spec: spec, retries: -1, actor: a}
	a.creating = t
	w.tasks[spec.TaskID] = t
	w.resolve(t)
}

// actorCreated records a successful constructor and tells the GCS that
// the incarnation is ALIVE at the leased worker.
func (w *Worker) actorCreated(a *ownedActor, raylet core.Addr, leaseID uint64, lease *proto.LeaseReply) {
	if a.creating != nil {
		w.releaseArgs(&a.creating.spec)
	}
	a.creating = nil
	if w.owned[a.id] != a || a.dead {
		w.returnLease(raylet, leaseID, true)
		return
	}
	a.raylet, a.leaseID, a.node, a.addr = raylet, leaseID, lease.Node, lease.Worker
	w.cfg.GCS.UpdateActor(a.id, gcs.ActorAlive, lease.Node, lease.Worker, "", func(rep gcs.Reply, err error) {
		if w.owned[a.id] != a || a.leaseID != leaseID {
			return
		}
		if err != nil || len(rep.Actors) == 0 {
			var ge *gcs.Error
			if errors.As(err, &ge) {
				// Refused (its node was declared dead meanwhile): this
				// worker will not host the incarnation; create it again.
				w.dropActorLease(a)
			}
			w.env.AfterFunc(gcsRetryDelay, func() { w.ownerSync(a) })
			return
		}
		a.alive = true
		w.pingActor(a, leaseID)
		w.ownerStep(a, rep.Actors[0])
	})
}

// actorPingPeriod is how often an owner checks that its actor's worker
// still hosts the incarnation.
const actorPingPeriod = time.Second

// pingActor probes the worker of the incarnation leased as leaseID until
// that lease ends; a worker that answers that it hosts no such
// incarnation has died (and restarted) or dropped the actor.
func (w *Worker) pingActor(a *ownedActor, leaseID uint64) {
	if a.pinging == leaseID {
		return
	}
	a.pinging = leaseID
	w.pingLoop(a, leaseID)
}

func (w *Worker) pingLoop(a *ownedActor, leaseID uint64) {
	w.env.AfterFunc(actorPingPeriod, func() {
		if w.owned[a.id] != a || a.leaseID != leaseID {
			return
		}
		w.cli.Call(a.addr, &proto.ActorPing{ActorID: a.id, Incarnation: a.incarnation}, rpc.Options{Timeout: actorPingPeriod}, func(_ core.Message, err error) {
			if w.owned[a.id] != a || a.leaseID != leaseID {
				return
			}
			if rpc.CodeOf(err) == rpc.CodeNotFound && err != nil {
				w.actorWorkerFailed(a, "the worker no longer hosts the actor: "+err.Error())
				return
			}
			w.pingLoop(a, leaseID)
		})
	})
}

// actorCreationFailed handles a constructor that failed for good (a user
// error, an infeasible placement): the actor is dead, as in Ray.
func (w *Worker) actorCreationFailed(a *ownedActor, err *proto.TaskError) {
	a.creating = nil
	if w.owned[a.id] != a {
		return
	}
	w.ownerUpdate(a, gcs.ActorDead, core.NodeID{}, "", "creation failed: "+err.Error())
}

// actorLeaseFailed handles the raylet's news that an actor's worker died.
func (w *Worker) actorLeaseFailed(leaseID uint64, why string) {
	for _, id := range w.sortedOwnedIDs() {
		a := w.owned[id]
		if a.leaseID == leaseID && a.leaseID != 0 {
			w.actorWorkerFailed(a, why)
			return
		}
	}
}

// actorNodeDied handles the GCS's news that a node died: actors running
// there restart (the GCS already moved them to RESTARTING or DEAD).
func (w *Worker) actorNodeDied(node core.NodeID) {
	for _, id := range w.sortedOwnedIDs() {
		a := w.owned[id]
		if a.leaseID != 0 && a.node == node {
			w.actorWorkerFailed(a, fmt.Sprintf("node %v died", node))
		}
	}
}

func (w *Worker) actorWorkerFailed(a *ownedActor, why string) {
	w.env.Log().Info("actor worker died", "actor", a.id, "incarnation", a.incarnation, "why", why)
	a.failed = true
	w.dropActorLease(a)
	w.ownerSync(a)
}

// KillActor kills the actor: with noRestart it is DEAD for good (its calls
// fail with ActorDied); otherwise its worker exits and the owner restarts
// it as for any failure. Only the owner may kill an actor here.
func (w *Worker) KillActor(h ActorHandle, noRestart bool) error {
	a := w.owned[h.ID]
	if a == nil {
		return fmt.Errorf("worker: kill %v: not owned by %s (or already dead)", h.ID, w.self)
	}
	if noRestart {
		a.killed = true
		w.dropActorLease(a) // sends the kill
		w.ownerUpdate(a, gcs.ActorDead, core.NodeID{}, "", "killed by its owner")
		return nil
	}
	if a.addr != "" {
		w.sendKill(a.addr, a.id, a.incarnation, false, 0)
	}
	return nil
}

// killSends bounds how often a KillActor message is sent; it is a one-way
// message, and a worker that never gets it only lingers idle.
const killSends = 3

func (w *Worker) sendKill(addr core.Addr, id core.ActorID, inc int64, noRestart bool, n int) {
	w.env.Send(addr, &proto.KillActor{ActorID: id, Incarnation: inc, NoRestart: noRestart})
	if n+1 < killSends {
		w.env.AfterFunc(500*time.Millisecond, func() { w.sendKill(addr, id, inc, noRestart, n+1) })
	}
}

func (w *Worker) sortedOwnedIDs() []core.ActorID {
	ids := make([]core.ActorID, 0, len(w.owned))
	for id := range w.owned { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b core.ActorID) int { return compareBytes(a[:], b[:]) })
	return ids
}

// OwnedActors returns the number of live actors this worker owns.
func (w *Worker) OwnedActors() int { return len(w.owned) }
