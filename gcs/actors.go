package gcs

import (
	"fmt"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
)

// Actors: registration with get-or-create names, the state machine, restart
// accounting and name release.

func (s *Server) registerActor(t *txn, m *RegisterActor) Reply {
	if a, ok := s.actors[m.Actor]; ok {
		switch {
		case a.State == ActorDead:
			return fail(rpc.CodeFailedPrecondition, "actor %v is dead (%s); register a new actor id", a.ID, a.DeathCause)
		case a.Job != m.Job || a.Namespace != m.Namespace || a.Name != m.Name || a.MaxRestarts != m.MaxRestarts || (m.Spec != nil) != s.managed(a.ID):
			return fail(rpc.CodeConflict, "actor %v is already registered with different fields", a.ID)
		}
		return Reply{ActorID: a.ID, Actors: []ActorInfo{a}}
	}
	if m.Name != "" {
		if id, ok := s.named[actorName{m.Namespace, m.Name}]; ok {
			return Reply{ActorID: id, Actors: []ActorInfo{s.actors[id]}}
		}
	}
	info := ActorInfo{
		ID: m.Actor, Job: m.Job, Namespace: m.Namespace, Name: m.Name,
		MaxRestarts: m.MaxRestarts, State: ActorDependenciesUnready, Version: 1,
	}
	if m.Spec != nil {
		info.Owner, info.OwnerID, info.Detached = m.Spec.Owner, m.Spec.OwnerID, m.Spec.Detached
		// The owner resolved nothing for us to wait for: the raylet pulls
		// referenced arguments before it grants the lease (and waits for
		// their owner to have them), so the actor is ready to place.
		info.State = ActorPendingCreation
		s.putSched(t, info.ID, actorSched{Spec: *m.Spec})
	}
	s.putActor(t, info)
	return Reply{ActorID: info.ID, Created: true, Actors: []ActorInfo{info}}
}

// validTransition reports whether UpdateActor may move an actor from one
// state to another. DEAD is final; RESTARTING comes only from ALIVE and
// ends in ALIVE (or DEAD).
func validTransition(from, to ActorState) bool {
	if from == ActorDead {
		return false
	}
	switch to {
	case ActorPendingCreation:
		return from == ActorDependenciesUnready
	case ActorAlive:
		return from == ActorPendingCreation || from == ActorRestarting
	case ActorRestarting:
		return from == ActorAlive
	case ActorDead:
		return true
	}
	return false
}

func (s *Server) updateActor(t *txn, m *UpdateActor) Reply {
	a, ok := s.actors[m.Actor]
	if !ok {
		return fail(rpc.CodeNotFound, "unknown actor %v", m.Actor)
	}
	if a.State == ActorDead {
		return fail(rpc.CodeFailedPrecondition, "actor %v is dead (%s); DEAD is final", a.ID, a.DeathCause)
	}
	if s.managed(a.ID) {
		return fail(rpc.CodeFailedPrecondition, "actor %v is managed by the GCS's actor scheduler; use KillActor", a.ID)
	}
	if !validTransition(a.State, m.State) {
		return fail(rpc.CodeFailedPrecondition, "actor %v cannot go from %v to %v", a.ID, a.State, m.State)
	}
	next := a
	switch m.State {
	case ActorPendingCreation:
		next.State = ActorPendingCreation
	case ActorAlive:
		n := s.nodes[m.Node]
		if n == nil {
			return fail(rpc.CodeNotFound, "actor %v: unknown node %v", a.ID, m.Node)
		}
		if n.info.State == NodeDead {
			return fail(rpc.CodeFailedPrecondition, "actor %v: node %v is dead (%s)", a.ID, m.Node, n.info.DeathCause)
		}
		next.State, next.Node, next.Addr = ActorAlive, m.Node, m.Addr
	case ActorRestarting:
		next = restartOrKill(a, "actor failed")
	case ActorDead:
		next.State, next.Node, next.Addr = ActorDead, core.NodeID{}, ""
		next.DeathCause = m.DeathCause
		if next.DeathCause == "" {
			next.DeathCause = "killed"
		}
	}
	next.Version = a.Version + 1
	s.putActor(t, next)
	return Reply{Actors: []ActorInfo{next}}
}

// restartOrKill returns a after a failure: RESTARTING with one more restart
// counted, or DEAD once MaxRestarts is exhausted.
func restartOrKill(a ActorInfo, cause string) ActorInfo {
	a.Node, a.Addr = core.NodeID{}, ""
	a.Version++
	if a.MaxRestarts >= 0 && a.NumRestarts >= a.MaxRestarts {
		a.State = ActorDead
		a.DeathCause = fmt.Sprintf("%s; max_restarts=%d exhausted", cause, a.MaxRestarts)
		return a
	}
	a.State = ActorRestarting
	a.NumRestarts++
	return a
}

// putActor writes an actor's record and, once committed, installs it,
// binds or releases its name, and publishes it.
func (s *Server) putActor(t *txn, info ActorInfo) {
	t.set(actorKey(info.ID), encode(&info))
	t.then(func() {
		old, existed := s.actors[info.ID]
		if existed && (old.State == ActorDead || info.NumRestarts < old.NumRestarts || info.Version <= old.Version) {
			panic(fmt.Sprintf("gcs: invalid actor update %v -> %v", old, info))
		}
		if !existed {
			s.actorOrder = insertSorted(s.actorOrder, info.ID, cmpActor)
		}
		s.actors[info.ID] = info
		if info.Name != "" {
			k := actorName{info.Namespace, info.Name}
			switch {
			case info.State == ActorDead && s.named[k] == info.ID:
				delete(s.named, k)
			case info.State != ActorDead && !existed:
				if other, taken := s.named[k]; taken {
					panic(fmt.Sprintf("gcs: name %q/%q of %v already held by %v", info.Namespace, info.Name, info.ID, other))
				}
				s.named[k] = info.ID
			}
		}
		pub := info
		s.publish(PubMessage{Channel: ChannelActor, Actor: &pub})
		if s.managed(info.ID) {
			s.reconcile(info)
		}
	})
}

// killActor kills an actor: DEAD with NoRestart, else (for a managed
// actor) its worker is told to exit and the scheduler restarts it.
func (s *Server) killActor(t *txn, m *KillActor) Reply {
	a, ok := s.actors[m.Actor]
	switch {
	case !ok:
		return fail(rpc.CodeNotFound, "unknown actor %v", m.Actor)
	case a.State == ActorDead:
		return Reply{Actors: []ActorInfo{a}}
	case m.NoRestart:
		next := a
		next.State, next.Node, next.Addr = ActorDead, core.NodeID{}, ""
		next.DeathCause = "killed by KillActor(no_restart)"
		if m.Cause != "" {
			next.DeathCause = m.Cause
		}
		next.Version = a.Version + 1
		s.putActor(t, next)
		return Reply{Actors: []ActorInfo{next}}
	}
	id := a.ID
	t.then(func() { s.killWorker(id) })
	return Reply{Actors: []ActorInfo{a}}
}

func (s *Server) getActor(m *GetActor) Reply {
	a, ok := s.actors[m.Actor]
	if !ok {
		return fail(rpc.CodeNotFound, "unknown actor %v", m.Actor)
	}
	return Reply{Actors: []ActorInfo{a}}
}

func (s *Server) getNamedActor(m *GetNamedActor) Reply {
	id, ok := s.named[actorName{m.Namespace, m.Name}]
	if !ok {
		return fail(rpc.CodeNotFound, "no live actor named %q in namespace %q", m.Name, m.Namespace)
	}
	return Reply{Actors: []ActorInfo{s.actors[id]}}
}
