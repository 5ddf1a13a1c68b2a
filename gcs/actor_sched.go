package gcs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/lease"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// The actor scheduler, Ray's GCS actor scheduler, for actors registered
// with a creation spec ("managed" actors):
//
//  1. RegisterActor persists the spec with the record (one synced batch)
//     and the actor starts in PENDING_CREATION.
//  2. The scheduler asks a raylet for a worker lease (the owner's raylet
//     while its node is alive, else a random alive node) through the lease
//     client an owner uses for a task (core/lease), which follows
//     spillback replies. The grant is persisted (the lease of the
//     incarnation being created or running).
//  3. It pushes the creation task to the leased worker; on success the
//     actor is ALIVE at that worker, persisted and published. A
//     constructor that raises, or a placement no node can ever fit, makes
//     the actor DEAD. A system failure before ALIVE (the worker or node
//     died, the push was refused) creates the same incarnation again
//     elsewhere without counting a restart.
//  4. Failures of an ALIVE actor: the worker's raylet reports LeaseFailed
//     (the worker restarted), the worker answers a periodic ActorPing with
//     NotFound, or its node is declared dead. The actor goes RESTARTING
//     (a new incarnation, NumRestarts+1) and is placed again, or DEAD once
//     MaxRestarts is exhausted.
//  5. Owner death: every ownerCheckTicks ticks the scheduler asks the
//     owner of each actor that is not detached whether it still owns it
//     (OwnerCheck, answered from the owner's incarnation and table). An
//     answer of no (the owner process restarted, or dropped the actor)
//     makes the actor DEAD. An owner that does not answer keeps its
//     actors: it may only be unreachable.
//  6. After a GCS restart, actors in PENDING_CREATION or RESTARTING are
//     placed again from the persisted spec (a lease persisted for an
//     abandoned creation is given back and its worker told to exit); an
//     ALIVE actor keeps its persisted lease and is verified by the next
//     ping.
//
// The scheduler holds every lease it was granted; raylets' LeaseChecks are
// answered from its placements.

// actorSched is the persisted scheduling record of a managed actor.
type actorSched struct {
	_msgpack struct{} `msgpack:",omitempty"`
	Spec     ActorSpec
	// Lease is the worker lease of the incarnation being created or
	// running, persisted when granted: a restarted GCS answers the
	// raylet's lease checks for it, verifies an ALIVE actor through it,
	// and gives back the lease of a creation it abandoned.
	Lease *actorLease
}

// actorLease is a worker lease held by the scheduler.
type actorLease struct {
	_msgpack struct{} `msgpack:",omitempty"`
	Raylet   core.Addr
	ID       uint64
	Node     core.NodeID
	Worker   core.Addr
	WorkerID core.WorkerID
	// Inc is the incarnation the lease was granted for.
	Inc int64
}

type placePhase uint8

const (
	placeWaiting placePhase = iota // nothing in flight; a timer tries again
	placeLeasing                   // lease requested from raylet
	placePushing                   // lease granted, creation task pushed
	placeAlive                     // the incarnation runs
)

var placePhaseNames = [...]string{"waiting", "leasing", "pushing", "alive"}

// placement is the in-memory state of one incarnation of a managed actor
// that is not DEAD. A new incarnation gets a new placement; gen
// invalidates the callbacks of abandoned attempts of this one.
type placement struct {
	id      core.ActorID
	inc     int64
	phase   placePhase
	gen     uint64
	req     *lease.Request // the lease request in flight (phase leasing)
	lease   *actorLease    // once granted
	call    rpc.CallID     // the creation task's push (phase pushing)
	hasCall bool
	timer   core.Timer

	pinging, ownerChecking bool
	// infeasible is why no alive node can host the actor now, as a
	// raylet reported it (LeaseInfeasible), since infeasibleSince; ""
	// otherwise. Memory only: a restarted GCS hears it again.
	infeasible lease.Infeasible
}

// Scheduler timing.
const (
	// schedTickPeriod is how often ALIVE actors' workers are pinged.
	schedTickPeriod = time.Second
	// ownerCheckTicks: owners are asked every this many ticks.
	ownerCheckTicks = 2
	// actorLeaseTimeout bounds one raylet's answer to a lease request; it
	// is then given back and the actor placed again.
	actorLeaseTimeout = 30 * time.Second
	// placeRetryMax bounds the random pause before another attempt.
	placeRetryMax = time.Second
	// killSends is how often a KillActor (one-way) is sent to a worker.
	killSends = 3
)

func (s *Server) managed(id core.ActorID) bool { return s.scheds[id] != nil }

// putSched writes a managed actor's scheduling record.
func (s *Server) putSched(t *txn, id core.ActorID, sc actorSched) {
	t.set(schedKey(id), encode(&sc))
	t.then(func() { c := sc; s.scheds[id] = &c })
}

// startScheduler sets up the scheduler after recovery: ALIVE actors keep
// their lease, others are placed again.
func (s *Server) startScheduler() {
	s.cli = rpc.NewClient(s.env)
	s.srv = rpc.NewServer(s.env)
	s.srv.Register((&proto.LeaseCheck{}).MsgType(), s.handleLeaseCheck)
	s.srv.Register((&proto.LeaseInfeasible{}).MsgType(), s.handleLeaseInfeasible)
	s.places = map[core.ActorID]*placement{}
	s.leases = lease.NewClient(s.env, s.cli)
	for _, id := range s.actorOrder {
		sc := s.scheds[id]
		if sc == nil {
			continue
		}
		a := s.actors[id]
		l := sc.Lease
		switch {
		case a.State == ActorAlive && l != nil && l.Inc == a.NumRestarts && l.Worker == a.Addr:
			s.places[id] = &placement{id: id, inc: a.NumRestarts, phase: placeAlive, lease: l}
			s.armSchedTick()
		case a.State == ActorAlive:
			// Cannot happen (ALIVE is written with its lease); recover by
			// counting a failure.
			t := s.newTxn()
			s.putActor(t, restartOrKill(a, "no lease recorded for the running incarnation"))
			s.commit(t)
		default:
			if l != nil {
				// A creation abandoned by the crash, or a dead actor's
				// lease not yet given back: give it back (again).
				s.releaseLease(id, l)
				if a.State == ActorDead {
					t := s.newTxn()
					s.putSched(t, id, actorSched{Spec: sc.Spec})
					s.commit(t)
				}
			}
			if a.State == ActorPendingCreation || a.State == ActorRestarting {
				s.reconcile(a)
			}
		}
	}
}

// armSchedTick starts the periodic tick unless it runs; it runs while
// there are placements (so a GCS without managed actors has no timer).
func (s *Server) armSchedTick() {
	if s.schedTimer == nil {
		s.schedTimer = s.env.AfterFunc(schedTickPeriod, s.schedTick)
	}
}

// receiveScheduler consumes the scheduler's messages: rpc replies,
// raylets' lease checks and LeaseFailed notices.
func (s *Server) receiveScheduler(from core.Addr, m core.Message) bool {
	if lf, ok := m.(*proto.LeaseFailed); ok {
		s.onLeaseFailed(from, lf)
		return true
	}
	return s.cli.Handle(from, m) || s.srv.Handle(from, m)
}

// reconcile makes the placements follow a managed actor's committed
// record. It runs after every change of the record.
func (s *Server) reconcile(a ActorInfo) {
	p := s.places[a.ID]
	switch a.State {
	case ActorDead:
		if p != nil {
			s.dropPlacement(p)
			delete(s.places, a.ID)
		}
	case ActorPendingCreation, ActorRestarting:
		if p != nil && p.inc == a.NumRestarts && p.phase != placeAlive {
			return // already creating this incarnation
		}
		if p != nil {
			s.dropPlacement(p)
		}
		p = &placement{id: a.ID, inc: a.NumRestarts}
		s.places[a.ID] = p
		s.armSchedTick()
		s.place(p)
	}
}

// dropPlacement abandons p's attempt: its calls and timers stop, a queued
// lease request is cancelled, and a granted lease is given back with its
// worker told to exit (it may run the constructor or the incarnation).
func (s *Server) dropPlacement(p *placement) {
	p.gen++
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if p.req != nil {
		p.req.Cancel()
		p.req = nil
	}
	if p.hasCall {
		p.hasCall = false
		s.cli.Cancel(p.call)
	}
	if p.lease != nil {
		s.releaseLease(p.id, p.lease)
	}
	p.lease, p.phase = nil, placeWaiting
}

// releaseLease gives a granted lease back without reusing its worker and
// tells the worker to exit if it hosts the lease's incarnation for this
// lease. The kill names the lease because it is resent for a while to the
// worker's address: when the incarnation is created again (retryCreation)
// on a process restarted at that address, the kill must pass it by.
func (s *Server) releaseLease(id core.ActorID, l *actorLease) {
	s.leases.Return(l.Raylet, l.ID, true)
	s.sendKill(l.Worker, id, l.Inc, l.ID, true, 0)
}

// sendKill sends KillActor for the incarnation inc of id created under
// lease to the worker at addr, killSends times (it is one-way).
func (s *Server) sendKill(addr core.Addr, id core.ActorID, inc int64, lease uint64, noRestart bool, n int) {
	if s.stopped {
		return
	}
	s.env.Send(addr, &proto.KillActor{ActorID: id, Incarnation: inc, LeaseID: lease, NoRestart: noRestart})
	if n+1 < killSends {
		s.env.AfterFunc(500*time.Millisecond, func() { s.sendKill(addr, id, inc, lease, noRestart, n+1) })
	}
}

// killWorker makes the worker of a managed actor's running incarnation
// exit (KillActor without no_restart): the scheduler then learns of the
// death like of any other and restarts the actor.
func (s *Server) killWorker(id core.ActorID) {
	if p := s.places[id]; p != nil && p.phase == placeAlive && p.lease != nil {
		s.sendKill(p.lease.Worker, id, p.inc, p.lease.ID, false, 0)
	}
}

// place starts an attempt: a lease request to the chosen raylet, or a
// pause when no node is alive.
func (s *Server) place(p *placement) {
	if b := s.scheds[p.id].Spec.Strategy.Bundle; b != nil {
		// In a placement group: at the raylet of its bundle, once placed.
		need := s.scheds[p.id].Spec.Resources
		g, ok := s.pgs[b.Group]
		switch {
		case !ok:
			s.creationFailed(p, fmt.Sprintf("placement group %v does not exist", b.Group))
		case g.State == PlacementRemoved:
			s.creationFailed(p, fmt.Sprintf("placement group %v was removed", b.Group))
		case b.Index >= int32(len(g.Bundles)):
			s.creationFailed(p, fmt.Sprintf("placement group %v has %d bundles, no bundle %d", b.Group, len(g.Bundles), b.Index))
		case !g.Fits(b.Index, need):
			s.creationFailed(p, fmt.Sprintf("%sthe actor needs %v, which no bundle of placement group %v it may use can hold (they reserve %v)", InfeasibleCause, need, b.Group, g.Bundles))
		default:
			if raylet := s.bundleRaylet(g, b.Index, need); raylet != "" {
				s.requestLease(p, raylet)
				return
			}
			s.retryLater(p)
		}
		return
	}
	raylet := s.pickRaylet(p.id)
	if raylet == "" {
		s.retryLater(p)
		return
	}
	s.requestLease(p, raylet)
}

// bundleRaylet returns the raylet of bundle index of g (-1: the first
// placed that can hold need), or "" while it is not placed.
func (s *Server) bundleRaylet(g PlacementGroupInfo, index int32, need core.Resources) core.Addr {
	for i, r := range g.raylets(s) {
		if r != "" && (index < 0 && need.FitsIn(g.Bundles[i]) || int32(i) == index) {
			return r
		}
	}
	return ""
}

// retryLater places p again after a random pause.
func (s *Server) retryLater(p *placement) {
	p.phase = placeWaiting
	gen := p.gen
	pause := time.Duration(100+s.env.Rand().IntN(int(placeRetryMax/time.Millisecond)-100)) * time.Millisecond
	p.timer = s.env.AfterFunc(pause, func() {
		if s.stopped || s.places[p.id] != p || p.gen != gen {
			return
		}
		defer s.flushPolls()
		p.timer = nil
		s.place(p)
	})
}

// pickRaylet returns the owner's raylet while a live node has that
// address, else the raylet of a random live node ("" if none).
func (s *Server) pickRaylet(id core.ActorID) core.Addr {
	want := s.scheds[id].Spec.OwnerRaylet
	var alive []core.Addr
	for _, nid := range s.nodeOrder {
		n := s.nodes[nid].info
		if n.State != NodeAlive {
			continue
		}
		if want != "" && n.Addr == want {
			return want
		}
		alive = append(alive, n.Addr)
	}
	if len(alive) == 0 {
		return ""
	}
	return alive[s.env.Rand().IntN(len(alive))]
}

// creationSpec is the creation task of p's incarnation.
func (s *Server) creationSpec(p *placement) proto.TaskSpec {
	sp := s.scheds[p.id].Spec
	res := sp.Resources
	if res == nil {
		res = core.Resources{}
	}
	return proto.TaskSpec{
		TaskID:             core.ActorCreationTaskID(p.id),
		Job:                p.id.Job(),
		Function:           sp.Class,
		Args:               sp.Args,
		Resources:          res,
		PlacementResources: sp.PlacementResources,
		Strategy:           sp.Strategy,
		Owner:              sp.Owner,
		Binary:             sp.Binary,
		ActorID:            p.id,
		ActorCreation:      true,
		ActorIncarnation:   p.inc,
		MaxConcurrency:     sp.MaxConcurrency,
		UnackedReplies:     sp.UnackedReplies,
		ConcurrencyGroups:  sp.ConcurrencyGroups,
		// An actor no alive node can host waits in a raylet's
		// infeasible queue (handleLeaseInfeasible), within its bound.
		InfeasibleWait: sp.InfeasibleWait,
	}
}

// InfeasibleCause begins the death cause of an actor whose creation
// failed because no node could host it.
const InfeasibleCause = "creation failed, infeasible: "

// handleLeaseInfeasible hears from a raylet that an actor's creation
// lease request waits because no alive node can host the actor (or, with
// Feasible, that one joined). The GCS warns, shows the reason in the
// actor's record (PendingReason: gray list actors, the owner's log), and
// fails the creation once the actor's InfeasibleWait is over.
func (s *Server) handleLeaseInfeasible(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	q := m.(*proto.LeaseInfeasible)
	reply(&proto.Ack{}, nil)
	var p *placement
	for _, id := range s.sortedPlacements() {
		if x := s.places[id]; x.req != nil && x.req.ID() == q.LeaseID {
			p = x
			break
		}
	}
	if p == nil {
		return
	}
	started, waited, ended := p.infeasible.Report(q, s.env.Now())
	if q.Feasible {
		if ended {
			s.log.Info("gcs: a node that can host a waiting actor is in the cluster now", "actor", p.id, "waited", waited.String())
		}
		return
	}
	sp := s.scheds[p.id].Spec
	wait := time.Duration(sp.InfeasibleWait)
	s.log.Warn("gcs: no node can host an actor now: it waits for one", "actor", p.id, "class", sp.Class, "reason", q.Reason, "waits", lease.WaitBound(wait, "host"))
	if !started || wait <= 0 {
		return
	}
	// The bound counts from the first report: lease requests made again
	// (actorLeaseTimeout) report again and keep Since.
	since := p.infeasible.Since
	s.env.AfterFunc(wait, func() {
		if s.stopped || s.places[p.id] != p || !p.infeasible.Due(since) {
			return
		}
		defer s.flushPolls()
		if p.req != nil {
			p.req.Cancel() // drops the queued request
			p.req = nil
		}
		s.creationFailed(p, fmt.Sprintf("%s%s; no node could host it for %v", InfeasibleCause, p.infeasible.Reason, wait))
	})
}

// withPending fills in the PendingReason of the actors in rep (copies
// made for the reply) that wait for a node that can host them.
func (s *Server) withPending(rep Reply) Reply {
	for i, a := range rep.Actors {
		if p := s.places[a.ID]; p != nil && p.infeasible.Waiting() && a.State != ActorAlive && a.State != ActorDead {
			rep.Actors[i].PendingReason = p.infeasible.Reason
		}
	}
	return rep
}

// requestLease asks raylet for a lease for p's creation task. A lease
// granted on a node that is dead or unknown here is given back by the
// lease client (ErrDeadNode) and the incarnation created again elsewhere;
// a timeout, a refusal or a dropped request places the actor anew after a
// pause.
func (s *Server) requestLease(p *placement, raylet core.Addr) {
	p.phase = placeLeasing
	gen := p.gen
	opts := lease.Options{Timeout: actorLeaseTimeout, NodeDead: func(id core.NodeID) bool {
		n := s.nodes[id]
		return n == nil || n.info.State == NodeDead
	}}
	var req *lease.Request
	req = s.leases.Request(s.creationSpec(p), raylet, opts, func(l lease.Lease, err error) {
		if s.stopped {
			return
		}
		defer s.flushPolls()
		if s.places[p.id] != p || p.gen != gen || p.req != req {
			// Stale: a lease granted anyway must go back.
			if err == nil {
				s.leases.Return(l.Raylet, l.ID, false)
			}
			return
		}
		p.req = nil
		switch {
		case err == nil:
			s.granted(p, l)
		case errors.Is(err, lease.ErrInfeasible):
			s.creationFailed(p, InfeasibleCause+err.Error())
		case errors.Is(err, lease.ErrDeadNode):
			s.retryCreation(p, err.Error())
		default:
			s.retryLater(p)
		}
	})
	p.req = req
}

// granted persists the lease and pushes the creation task.
func (s *Server) granted(p *placement, l lease.Lease) {
	p.infeasible.Clear()
	p.lease = &actorLease{Raylet: l.Raylet, ID: l.ID, Node: l.Node, Worker: l.Worker, WorkerID: l.WorkerID, Inc: p.inc}
	p.phase = placePushing
	sc := *s.scheds[p.id]
	sc.Lease = p.lease
	t := s.newTxn()
	s.putSched(t, p.id, sc)
	s.commit(t)
	s.push(p)
}

func (s *Server) push(p *placement) {
	l := p.lease
	gen := p.gen
	req := &proto.PushTask{Spec: s.creationSpec(p), LeaseID: l.ID, Node: l.Node, Worker: l.WorkerID}
	p.hasCall = true
	p.call = s.cli.Call(l.Worker, req, rpc.Options{Timeout: -1}, func(m core.Message, err error) {
		if s.stopped || s.places[p.id] != p || p.gen != gen {
			return
		}
		defer s.flushPolls()
		p.hasCall = false
		if err != nil {
			if errors.Is(err, rpc.ErrCancelled) {
				return
			}
			s.retryCreation(p, "creation task refused: "+err.Error())
			return
		}
		r := m.(*proto.PushTaskReply)
		switch {
		case r.Error == nil:
			s.created(p)
		case r.Error.Retriable(false):
			s.retryCreation(p, r.Error.Error())
		default:
			s.creationFailed(p, "creation failed: "+r.Error.Error())
		}
	})
}

// retryCreation abandons the current attempt of an incarnation that is
// not ALIVE yet and creates it again: the incarnation never ran, so no
// restart is counted.
func (s *Server) retryCreation(p *placement, why string) {
	s.log.Info("gcs: actor creation retried", "actor", p.id, "incarnation", p.inc, "why", why)
	s.dropPlacement(p)
	s.retryLater(p)
}

// creationFailed makes the actor DEAD: its constructor raised, or no node
// can ever fit it.
func (s *Server) creationFailed(p *placement, cause string) {
	a := s.actors[p.id]
	if a.State == ActorDead {
		return
	}
	s.kill(a, cause)
}

// kill persists a's death; reconcile then drops its placement.
func (s *Server) kill(a ActorInfo, cause string) {
	next := a
	next.State, next.Node, next.Addr = ActorDead, core.NodeID{}, ""
	if len(cause) > DeathCauseSizeMax {
		cause = cause[:DeathCauseSizeMax]
	}
	next.DeathCause = cause
	next.Version = a.Version + 1
	t := s.newTxn()
	s.putActor(t, next)
	s.commit(t)
}

// created moves the actor ALIVE at the leased worker.
func (s *Server) created(p *placement) {
	a := s.actors[p.id]
	if (a.State != ActorPendingCreation && a.State != ActorRestarting) || a.NumRestarts != p.inc {
		panic(fmt.Sprintf("gcs: placement of %v incarnation %d outlived its record %v", p.id, p.inc, a))
	}
	l := p.lease
	if n := s.nodes[l.Node]; n == nil || n.info.State == NodeDead {
		s.retryCreation(p, fmt.Sprintf("node %v died", l.Node))
		return
	}
	next := a
	next.State, next.Node, next.Addr = ActorAlive, l.Node, l.Worker
	next.Version = a.Version + 1
	t := s.newTxn()
	t.then(func() { p.phase = placeAlive })
	s.putActor(t, next)
	s.commit(t)
}

// workerFailed handles the death of p's worker.
func (s *Server) workerFailed(p *placement, why string) {
	if p.phase != placeAlive {
		s.retryCreation(p, why)
		return
	}
	a := s.actors[p.id]
	if a.State != ActorAlive || a.NumRestarts != p.inc {
		return
	}
	s.log.Info("gcs: actor worker died", "actor", p.id, "incarnation", p.inc, "why", why)
	t := s.newTxn()
	s.putActor(t, restartOrKill(a, "worker died: "+why))
	s.commit(t)
}

// onLeaseFailed handles a raylet's news that a leased worker died.
func (s *Server) onLeaseFailed(from core.Addr, m *proto.LeaseFailed) {
	for _, id := range s.sortedPlacements() {
		p := s.places[id]
		if p.lease != nil && p.lease.ID == m.LeaseID && p.lease.Raylet == from {
			s.workerFailed(p, m.Reason)
			return
		}
	}
}

// onNodeDead restarts the attempts that were leasing from or creating on
// a node that was just declared dead (ALIVE actors there were moved to
// RESTARTING in the same batch as the node's death).
func (s *Server) onNodeDead(node core.NodeID, raylet core.Addr) {
	for _, id := range s.sortedPlacements() {
		p := s.places[id]
		switch {
		case p.req != nil && p.req.Raylet() == raylet,
			p.phase == placePushing && p.lease != nil && p.lease.Node == node:
			s.retryCreation(p, fmt.Sprintf("node %v died", node))
		}
	}
}

// schedTick pings the workers of ALIVE actors and, every ownerCheckTicks,
// asks owners whether they still own their actors.
func (s *Server) schedTick() {
	if s.stopped {
		return
	}
	defer s.flushPolls()
	s.schedTimer = nil
	s.schedTicks++
	for _, id := range s.sortedPlacements() {
		p := s.places[id]
		switch {
		case p.phase == placeAlive && !p.pinging:
			s.ping(p)
		case p.phase == placePushing && !p.pinging:
			// The creation push waits for its worker's answer without a
			// deadline; a worker that exited for good never gives one.
			s.checkLease(p)
		}
		if s.schedTicks%ownerCheckTicks == 0 && !p.ownerChecking && !s.scheds[id].Spec.Detached {
			s.checkOwner(p)
		}
	}
	if len(s.places) > 0 {
		s.armSchedTick()
	}
}

// ping asks p's worker whether it still hosts the incarnation; NotFound
// means it died (and restarted at its address) or dropped the actor.
func (s *Server) ping(p *placement) {
	p.pinging = true
	gen := p.gen
	s.cli.Call(p.lease.Worker, &proto.ActorPing{ActorID: p.id, Incarnation: p.inc}, rpc.Options{Timeout: schedTickPeriod}, func(_ core.Message, err error) {
		p.pinging = false
		if s.stopped || s.places[p.id] != p || p.gen != gen || p.phase != placeAlive {
			return
		}
		defer s.flushPolls()
		switch {
		case err != nil && rpc.CodeOf(err) == rpc.CodeNotFound:
			s.workerFailed(p, "the worker no longer hosts the actor: "+err.Error())
		case err != nil:
			s.checkLease(p)
		}
	})
}

// checkLease asks the raylet that granted p's lease whether it still
// grants it, after the worker did not answer a ping: a worker that exited
// for good (a launched worker never restarts at its address) never
// answers again, and its raylet's report of the death (LeaseFailed) may
// have been lost. Not granted means the worker died; no answer means
// nothing (the node's death reaches the GCS on its own).
func (s *Server) checkLease(p *placement) {
	if p.lease == nil {
		return
	}
	gen := p.gen
	p.pinging = true
	s.cli.Call(p.lease.Raylet, &proto.LeaseStatus{LeaseID: p.lease.ID}, rpc.Options{Timeout: schedTickPeriod}, func(m core.Message, err error) {
		p.pinging = false
		if err != nil || s.stopped || s.places[p.id] != p || p.gen != gen || (p.phase != placeAlive && p.phase != placePushing) {
			return
		}
		rep := m.(*proto.LeaseStatusReply)
		if !rep.Granted && rep.Node != p.lease.Node && p.lease.Node != (core.NodeID{}) {
			// The raylet restarted as a new node: the lease's worker may
			// still run (paused, or cut off from its new raylet) until
			// the old node is declared dead, which restarts the actor.
			// Restarting it now could run two incarnations at once.
			return
		}
		if !rep.Granted {
			defer s.flushPolls()
			if p.phase == placePushing && p.hasCall {
				s.cli.Cancel(p.call)
				p.hasCall = false
			}
			s.workerFailed(p, "its raylet no longer grants the actor's lease: the worker died")
		}
	})
}

// checkOwner asks the actor's owner whether it still owns the actor.
func (s *Server) checkOwner(p *placement) {
	sp := s.scheds[p.id].Spec
	p.ownerChecking = true
	s.cli.Call(sp.Owner, &proto.OwnerCheck{ActorID: p.id, OwnerID: sp.OwnerID}, rpc.Options{Timeout: ownerCheckTicks * schedTickPeriod}, func(m core.Message, err error) {
		if s.stopped || s.places[p.id] != p {
			p.ownerChecking = false
			return
		}
		if err != nil {
			// No answer: the owner may only be unreachable, or its
			// process exited and nothing listens at its address (a
			// launched worker is not started again there). Its raylet
			// knows which.
			s.askOwnerRaylet(p, sp)
			return
		}
		p.ownerChecking = false
		if m.(*proto.OwnerCheckReply).Owns {
			return
		}
		defer s.flushPolls()
		s.log.Info("gcs: actor owner died", "actor", p.id, "owner", sp.Owner)
		s.kill(s.actors[p.id], fmt.Sprintf("its owner %s died", sp.Owner))
	})
}

// askOwnerRaylet asks the raylet of p's owner, which did not answer an
// OwnerCheck, whether the owner is known dead there (its process exited,
// or another registered at its address); an owner known dead takes its
// actor with it.
func (s *Server) askOwnerRaylet(p *placement, sp ActorSpec) {
	if sp.OwnerRaylet == "" {
		p.ownerChecking = false
		return
	}
	s.cli.Call(sp.OwnerRaylet, &proto.OwnsObjects{Owner: sp.Owner, OwnerID: sp.OwnerID}, rpc.Options{Timeout: ownerCheckTicks * schedTickPeriod}, func(m core.Message, err error) {
		p.ownerChecking = false
		if s.stopped || s.places[p.id] != p || err != nil || !m.(*proto.OwnsObjectsReply).Dead {
			return
		}
		defer s.flushPolls()
		s.log.Info("gcs: actor owner died (its raylet saw its process exit)", "actor", p.id, "owner", sp.Owner)
		s.kill(s.actors[p.id], fmt.Sprintf("its owner %s died", sp.Owner))
	})
}

// handleLeaseCheck tells a raylet whether the scheduler holds a lease
// (requested or granted).
func (s *Server) handleLeaseCheck(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	id := m.(*proto.LeaseCheck).LeaseID
	held := false
	for _, aid := range s.sortedPlacements() {
		if p := s.places[aid]; p.holds(id) {
			held = true
		}
	}
	reply(&proto.LeaseCheckReply{Held: held}, nil)
}

// holds reports whether p's lease request in flight or its lease has id.
func (p *placement) holds(id uint64) bool {
	return (p.req != nil && p.req.ID() == id) || (p.lease != nil && p.lease.ID == id)
}

// leaseAt returns the raylet and id of p's lease request in flight or
// lease ("" and 0 without either).
func (p *placement) leaseAt() (core.Addr, uint64) {
	switch {
	case p.req != nil:
		return p.req.Raylet(), p.req.ID()
	case p.lease != nil:
		return p.lease.Raylet, p.lease.ID
	}
	return "", 0
}

func (s *Server) sortedPlacements() []core.ActorID {
	ids := make([]core.ActorID, 0, len(s.places))
	for id := range s.places { //gray:unordered sorted below
		ids = append(ids, id)
	}
	slices.SortFunc(ids, cmpActor)
	return ids
}

// checkPlacements asserts that placements follow the records: one per
// managed actor that is not DEAD, for its current incarnation, and ALIVE
// placements only for ALIVE actors.
func (s *Server) checkPlacements() error {
	for _, id := range s.sortedPlacements() {
		p := s.places[id]
		a, ok := s.actors[id]
		switch {
		case !ok || !s.managed(id) || a.State == ActorDead:
			return fmt.Errorf("placement of %v, which is not a live managed actor", id)
		case p.inc != a.NumRestarts:
			return fmt.Errorf("placement of %v incarnation %d, record has %d", id, p.inc, a.NumRestarts)
		case (p.phase == placeAlive) != (a.State == ActorAlive):
			return fmt.Errorf("placement of %v is %s, record is %v", id, placePhaseNames[p.phase], a.State)
		}
	}
	return nil
}

// describePlacements lists the placements, for Describe.
func (s *Server) describePlacements(b *strings.Builder) {
	for _, id := range s.sortedPlacements() {
		p := s.places[id]
		raylet, leaseID := p.leaseAt()
		fmt.Fprintf(b, "placement %v inc=%d %s raylet=%s lease=%d", id, p.inc, placePhaseNames[p.phase], raylet, leaseID)
		if p.lease != nil {
			fmt.Fprintf(b, " worker=%s node=%v", p.lease.Worker, p.lease.Node)
		}
		b.WriteByte('\n')
	}
}
