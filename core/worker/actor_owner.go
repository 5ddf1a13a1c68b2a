package worker

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// InfeasibleWait bounds how long the actor waits to be placed while
	// no alive node can host it: 0 until one joins, negative fails its
	// creation at once (gcs.ActorSpec.InfeasibleWait).
	InfeasibleWait time.Duration
	// Resources are held by the actor for its lifetime; nil means none
	// (Ray's actors hold 0 CPU once placed). PlacementResources, when
	// set, is what placing it needs instead (it must contain Resources).
	Resources, PlacementResources core.Resources
	// Strategy places the actor.
	Strategy proto.Strategy
	// Detached actors outlive their owner (Ray's lifetime="detached");
	// others die when the GCS finds their owner gone.
	Detached bool
	// MaxConcurrency is how many calls the actor runs at once (at most
	// proto.ActorConcurrencyMax); 0 and 1 mean one at a time.
	MaxConcurrency int
	// ConcurrencyGroups are named groups of the actor's methods with
	// limits of their own (Ray's concurrency groups): a call made with
	// CallOptions.ConcurrencyGroup runs in its group, apart from the
	// others; other calls share MaxConcurrency.
	ConcurrencyGroups map[string]int
	// UnackedReplies: see proto.TaskSpec.UnackedReplies.
	UnackedReplies bool
}

// ActorHandle names an actor. Handles are plain values: pass them to other
// processes freely; each process calls through its own core worker.
type ActorHandle struct {
	ID core.ActorID
	// Owner is the creator's address, "" when the handle came from a name
	// lookup.
	Owner core.Addr
	// MaxTaskRetries is applied by the process that calls through the
	// handle (see ActorOptions.MaxTaskRetries).
	MaxTaskRetries int
	// Ref is the actor's handle object (core.ActorHandleObjectID) as the
	// handle's holder references it: CreateActor and HandleRef give it
	// with one local reference, which the holder releases (Release) when
	// the handle goes away. The zero Ref for a handle that counts
	// nothing (a detached actor's, one whose owner is gone).
	Ref proto.ObjectRef
}

// Actor errors.
var (
	// ErrActorNameTaken: a named CreateActor without GetIfExists found the
	// name held by a live actor.
	ErrActorNameTaken = errors.New("worker: actor name already taken; pass GetIfExists to get a handle to the existing actor, or choose another name")
	// ErrNoGCS: the core worker was configured without a GCS client.
	ErrNoGCS = errors.New("worker: actors need a GCS client (Config.GCS)")
)

// ownedActor is an actor this worker created. The GCS places, restarts
// and kills it; the owner keeps the objects its constructor arguments
// reference alive until it is DEAD, answers the GCS's OwnerCheck, and may
// kill it.
type ownedActor struct {
	id   core.ActorID
	args []proto.Arg
	// inc is the highest incarnation seen, for Stats.ActorRestarts.
	inc int64
	// pendingWarned is when the owner last warned that no node can host
	// the actor (zero: not since it last could be placed).
	pendingWarned time.Time
	// detached actors outlive their handles and their owner.
	detached bool
}

// pendingWarnEvery spaces out the owner's warnings about an actor that
// waits for a node that can host it.
const pendingWarnEvery = 2 * time.Minute

// gcsRetryDelay spaces out retries of GCS calls whose outcome is unknown.
const gcsRetryDelay = time.Second

// CreateActor creates an actor of class with constructor args and calls
// done with its handle once the GCS has registered it (the constructor
// runs afterwards; calls made meanwhile wait for it). A named actor is
// get-or-create: see ActorOptions.GetIfExists.
//
// Placement is the GCS's, as in Ray: the registration carries the
// creation spec, and the GCS's actor scheduler leases a worker from a
// raylet (this worker's raylet first), runs the constructor there,
// restarts the actor after failures while MaxRestarts allows, and lets it
// die with its owner unless it is Detached. This worker holds no lease
// for it.
func (w *Worker) CreateActor(class string, args []proto.Arg, opts ActorOptions, done func(ActorHandle, error)) {
	w.createActor(w.cfg.Job, w.parent, w.cfg.Binary, class, args, opts, done)
}

// CreateActorNested creates an actor from inside the running task or
// actor call parent (Ray lets any task create actors): this worker owns
// it and, unless it is Detached, it dies with this worker, and with the
// parent's job (an actor call names the job of the actor it runs on).
// Its workers run the parent's job binary, as nested tasks do.
func (w *Worker) CreateActorNested(parent *proto.TaskSpec, class string, args []proto.Arg, opts ActorOptions, done func(ActorHandle, error)) {
	job := parent.Job
	if job.IsNil() && !parent.ActorID.IsNil() {
		job = parent.ActorID.Job()
	}
	binary := parent.Binary
	if binary == "" {
		binary = w.cfg.Binary
	}
	base := core.NewTaskID(job, parent.TaskID, uint64(parent.Attempt))
	w.createActor(job, base, binary, class, args, opts, done)
}

// createActor creates an actor of job whose id derives from base (the
// creating driver's or task's id) and the worker's counter.
func (w *Worker) createActor(job core.JobID, base core.TaskID, binary, class string, args []proto.Arg, opts ActorOptions, done func(ActorHandle, error)) {
	if w.cfg.GCS == nil {
		w.env.AfterFunc(0, func() { done(ActorHandle{}, ErrNoGCS) })
		return
	}
	if opts.Resources == nil {
		opts.Resources = core.Resources{}
	}
	if opts.MaxConcurrency < 0 || opts.MaxConcurrency > proto.ActorConcurrencyMax {
		err := fmt.Errorf("worker: actor %s: max concurrency %d, want 1..%d", class, opts.MaxConcurrency, proto.ActorConcurrencyMax)
		w.env.AfterFunc(0, func() { done(ActorHandle{}, err) })
		return
	}
	if job.IsNil() {
		err := fmt.Errorf("worker: actor %s: no job to create it for (a worker creates actors from inside a task or an actor call)", class)
		w.env.AfterFunc(0, func() { done(ActorHandle{}, err) })
		return
	}
	groups := make([]proto.ConcurrencyGroup, 0, len(opts.ConcurrencyGroups))
	for name, limit := range opts.ConcurrencyGroups { //gray:unordered sorted below
		groups = append(groups, proto.ConcurrencyGroup{Name: name, Limit: uint32(max(min(limit, proto.ActorConcurrencyMax+1), 0))})
	}
	slices.SortFunc(groups, func(a, b proto.ConcurrencyGroup) int { return strings.Compare(a.Name, b.Name) })
	if err := proto.ValidateConcurrencyGroups(groups); err != nil {
		err = fmt.Errorf("worker: actor %s: %w", class, err)
		w.env.AfterFunc(0, func() { done(ActorHandle{}, err) })
		return
	}
	if len(groups) == 0 {
		groups = nil
	}
	w.actorCounter++
	id := core.NewActorID(job, base, w.actorCounter)
	spec := gcs.ActorSpec{
		Class: class, Args: args, Resources: opts.Resources, PlacementResources: opts.PlacementResources, Strategy: opts.Strategy,
		Owner: w.self, OwnerID: w.incarnation, OwnerRaylet: w.cfg.Raylet, Detached: opts.Detached,
		Binary: binary, MaxConcurrency: uint32(opts.MaxConcurrency), ConcurrencyGroups: groups,
		InfeasibleWait: int64(opts.InfeasibleWait), UnackedReplies: opts.UnackedReplies,
	}
	// Own it before asking: the GCS may check ownership (OwnerCheck) as
	// soon as the registration commits, before its reply arrives here.
	a := &ownedActor{id: id, args: args, detached: opts.Detached}
	w.owned[id] = a
	for r := range argRefs(args) {
		w.holdArg(r)
	}
	w.registerActor(a, spec, opts, 0, done)
}

// registerAttempts bounds retries of a registration whose outcome is
// unknown (the GCS is down or unreachable).
const registerAttempts = 30

func (w *Worker) registerActor(a *ownedActor, spec gcs.ActorSpec, opts ActorOptions, attempt int, done func(ActorHandle, error)) {
	id := a.id
	w.cfg.GCS.CreateActor(id, opts.Namespace, opts.Name, int64(opts.MaxRestarts), spec, func(rep gcs.Reply, err error) {
		if err != nil {
			var ge *rpc.Error
			if errors.As(err, &ge) || attempt+1 >= registerAttempts {
				w.disown(a)
				done(ActorHandle{}, fmt.Errorf("worker: register actor %s: %w", spec.Class, err))
				return
			}
			// Registration is idempotent per id: ask again.
			w.env.AfterFunc(gcsRetryDelay, func() { w.registerActor(a, spec, opts, attempt+1, done) })
			return
		}
		if rep.ActorID != id {
			w.disown(a)
			if !opts.GetIfExists {
				done(ActorHandle{}, fmt.Errorf("%w: %q in namespace %q is %v", ErrActorNameTaken, opts.Name, opts.Namespace, rep.ActorID))
				return
			}
			h := ActorHandle{ID: rep.ActorID, MaxTaskRetries: opts.MaxTaskRetries}
			if len(rep.Actors) == 0 {
				done(h, nil)
				return
			}
			w.applyActorInfo(rep.Actors[0])
			w.BorrowHandle(rep.Actors[0], opts.MaxTaskRetries, func(h ActorHandle) { done(h, nil) })
			return
		}
		w.stats.ActorsCreated++
		w.view(id, opts.MaxTaskRetries)
		h := ActorHandle{ID: id, Owner: w.self, MaxTaskRetries: opts.MaxTaskRetries}
		if !opts.Detached && w.owned[id] == a {
			h.Ref = w.ownHandleObject(id)
		}
		if len(rep.Actors) > 0 {
			w.ownerObserve(a, rep.Actors[0])
		}
		w.watchOwned(a)
		done(h, nil)
	})
}

// ownHandleObject registers the handle object of actor id, which this
// worker owns, with the creator's handle's local reference, and returns
// its reference (zero when the table is full: the handle then counts
// nothing, and the actor lives until killed or its owner dies).
func (w *Worker) ownHandleObject(id core.ActorID) proto.ObjectRef {
	hid := core.ActorHandleObjectID(id)
	e, err := w.refs.addOwned(hid, nil)
	if err != nil {
		return proto.ObjectRef{}
	}
	e.state = objReady
	e.local++
	return proto.ObjectRef{ID: hid, Owner: w.self, OwnerID: w.incarnation}
}

// handlesGone is called when the handle object of actor id, which this
// worker owns, went out of scope: no handle to the actor is left in any
// process, inside any value or in a pending call. A non-detached actor
// is then killed for good, as Ray ends an actor whose handles all went
// out of scope (its name is free again).
func (w *Worker) handlesGone(id core.ActorID) {
	a := w.owned[id]
	if a == nil || a.detached {
		return
	}
	w.stats.ActorsOutOfScope++
	w.killActor(id, a, true, HandlesGoneCause, 0, func(error) {})
}

// HandlesGoneCause is the death cause of an actor killed because its
// handles all went out of scope.
const HandlesGoneCause = "all its handles went out of scope (no process holds one; Ray's out-of-scope actor termination)"

// BorrowHandle makes the handle of a process that found the actor of
// info by name (GetActor, GetIfExists): it borrows the actor's handle
// object from its owner (AddRefs), so that the actor lives while this
// handle does, and done gets the handle with its Ref. A detached actor's
// handle, or one whose owner is gone (the actor is dying), counts
// nothing.
func (w *Worker) BorrowHandle(info gcs.ActorInfo, maxTaskRetries int, done func(ActorHandle)) {
	h := ActorHandle{ID: info.ID, MaxTaskRetries: maxTaskRetries}
	if info.Detached || info.Owner == "" || info.State == gcs.ActorDead {
		done(h)
		return
	}
	ref := proto.ObjectRef{ID: core.ActorHandleObjectID(info.ID), Owner: info.Owner, OwnerID: info.OwnerID}
	w.AddRefs([]proto.ObjectRef{ref}, func(errs []error) {
		if errs[0] == nil {
			h.Ref = ref
		}
		done(h)
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

// disown forgets an owned actor (it is DEAD, or was never registered)
// and releases its constructor arguments.
func (w *Worker) disown(a *ownedActor) {
	if w.owned[a.id] != a {
		return
	}
	delete(w.owned, a.id)
	for r := range argRefs(a.args) {
		if e := w.refs.get(r.ID); e != nil {
			w.unsubmit(e, nil)
		}
	}
}

// ownerObserve applies a record of an owned actor.
func (w *Worker) ownerObserve(a *ownedActor, info gcs.ActorInfo) {
	w.applyActorInfo(info)
	if info.NumRestarts > a.inc {
		w.stats.ActorRestarts += info.NumRestarts - a.inc
		a.inc = info.NumRestarts
	}
	if info.State == gcs.ActorDead {
		w.disown(a)
	}
	switch now := w.env.Now(); {
	case info.PendingReason == "":
		a.pendingWarned = time.Time{}
	case a.pendingWarned.IsZero() || now.Sub(a.pendingWarned) >= pendingWarnEvery:
		// Ray's pending actor, made loud: gray status lists it too.
		a.pendingWarned = now
		w.stats.InfeasibleWaits++
		w.env.Log().Warn("no node can host an actor now: it waits for one", "actor", a.id.String(), "reason", info.PendingReason)
	}
}

// watchOwned re-reads an owned actor's record every actorPollPeriod until
// it is DEAD, so that its arguments are released then.
func (w *Worker) watchOwned(a *ownedActor) {
	w.env.AfterFunc(actorPollPeriod, func() {
		if w.owned[a.id] != a {
			return
		}
		w.cfg.GCS.GetActor(a.id, func(rep gcs.Reply, err error) {
			if w.owned[a.id] != a {
				return
			}
			if err == nil && len(rep.Actors) > 0 {
				w.ownerObserve(a, rep.Actors[0])
			}
			w.watchOwned(a)
		})
	})
}

// handleOwnerCheck tells the GCS whether this worker (this incarnation of
// it) owns an actor.
func (w *Worker) handleOwnerCheck(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	c := m.(*proto.OwnerCheck)
	reply(&proto.OwnerCheckReply{Owns: c.OwnerID == w.incarnation && w.owned[c.ActorID] != nil}, nil)
}

// KillActor kills the actor through the GCS: with noRestart it is DEAD
// for good (its calls fail with ActorDied); otherwise its worker exits and
// the GCS restarts it as after any failure. Any worker with a handle may
// kill it. The kill is asked in the background, again while its outcome
// is unknown.
func (w *Worker) KillActor(h ActorHandle, noRestart bool) error {
	w.killActor(h.ID, w.owned[h.ID], noRestart, "", 0, func(error) {})
	return nil
}

// KillActorThen is KillActor that calls done once the GCS has taken the
// kill: with noRestart the actor is then DEAD, and this worker's later
// calls to it fail with ActorDied at once. done gets an error when the
// kill could not be asked (the GCS stayed unreachable, or refused it).
func (w *Worker) KillActorThen(h ActorHandle, noRestart bool, done func(error)) {
	w.killActor(h.ID, w.owned[h.ID], noRestart, "", 0, done)
}

// killActor asks the GCS to kill actor id, which this worker owns (a) or
// only calls (a nil: a handle passed to it or looked up by name). With a
// cause it is killed for good, cause recorded as its death cause, and
// asked again while the outcome is unknown for as long as this worker
// owns a (the owner ending an actor whose handles are gone); otherwise it
// is asked again registerAttempts times.
func (w *Worker) killActor(id core.ActorID, a *ownedActor, noRestart bool, cause string, attempt int, done func(error)) {
	cb := func(rep gcs.Reply, err error) {
		if err != nil {
			var ge *rpc.Error
			if !errors.As(err, &ge) && (cause != "" || attempt+1 < registerAttempts) {
				w.env.AfterFunc(gcsRetryDelay, func() {
					if cause == "" || w.owned[id] == a {
						w.killActor(id, a, noRestart, cause, attempt+1, done)
					}
				})
				return
			}
			done(fmt.Errorf("worker: kill %v: %w", id, err))
			return
		}
		if len(rep.Actors) > 0 {
			if a != nil && w.owned[id] == a {
				w.ownerObserve(a, rep.Actors[0])
			} else {
				w.applyActorInfo(rep.Actors[0])
			}
		}
		done(nil)
	}
	if cause != "" {
		w.cfg.GCS.KillActorCause(id, cause, cb)
		return
	}
	w.cfg.GCS.KillActor(id, noRestart, cb)
}

// OwnedActors returns the number of live actors this worker owns.
func (w *Worker) OwnedActors() int { return len(w.owned) }
