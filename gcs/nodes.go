package gcs

import (
	"fmt"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/rpc"
)

// Node membership, heartbeats, health checks and fencing.

func (s *Server) registerNode(t *txn, m *RegisterNode) Reply {
	n := s.nodes[m.Node]
	if n != nil && n.info.State == NodeDead {
		return fail(rpc.CodeFailedPrecondition, "node %v was declared dead (%s); a restarted raylet must register under a new NodeID",
			m.Node, n.info.DeathCause)
	}
	info := NodeInfo{ID: m.Node, Addr: m.Addr, State: NodeAlive, Resources: m.Resources, Available: m.Resources, Labels: m.Labels, Version: 1}
	if n != nil {
		if n.info.Addr == m.Addr && n.info.Resources.Equal(m.Resources) && n.info.Labels.Equal(m.Labels) {
			// A repeated registration: nothing to write, but it proves life.
			id := m.Node
			now := s.env.Now()
			t.then(func() { s.nodes[id].lastHeartbeat = now })
			return Reply{Nodes: []NodeInfo{n.info}}
		}
		info.State = n.info.State
		info.Version = n.info.Version + 1
	}
	s.putNode(t, info)
	t.then(s.armPGRetry) // a group may fit now
	t.then(s.armSubmissionRetry)
	view := ResourceView{Node: info.ID, Total: info.Resources, Available: info.Available}
	t.then(func() { s.publish(PubMessage{Channel: ChannelResources, Resources: &view}) })
	return Reply{Nodes: []NodeInfo{info}}
}

// heartbeat records that a node lives. It changes only memory (the last
// heartbeat time and the reported resources), so it is not deduplicated.
func (s *Server) heartbeat(m *Heartbeat) Reply {
	n := s.nodes[m.Node]
	if n == nil {
		return fail(rpc.CodeNotFound, "unknown node %v; register it first", m.Node)
	}
	if n.info.State == NodeDead {
		return Reply{Dead: true}
	}
	n.lastHeartbeat = s.env.Now()
	if m.HasAvailable {
		n.demand = m.Demand
	}
	if m.HasAvailable && !n.info.Available.Equal(m.Available) {
		n.info.Available = m.Available
		view := ResourceView{Node: n.info.ID, Total: n.info.Resources, Available: m.Available}
		s.publish(PubMessage{Channel: ChannelResources, Resources: &view})
		s.armPGRetry() // room may have come free for a waiting group
	}
	return Reply{DropBundles: s.reconcileBundles(m.Node, m.Bundles)}
}

func (s *Server) drainNode(t *txn, m *DrainNode) Reply {
	n := s.nodes[m.Node]
	switch {
	case n == nil:
		return fail(rpc.CodeNotFound, "unknown node %v", m.Node)
	case n.info.State == NodeDead:
		return fail(rpc.CodeFailedPrecondition, "node %v is dead (%s)", m.Node, n.info.DeathCause)
	case n.info.State == NodeDraining:
		return Reply{Nodes: []NodeInfo{n.info}}
	}
	info := n.info
	info.State = NodeDraining
	info.Version++
	s.putNode(t, info)
	return Reply{Nodes: []NodeInfo{info}}
}

// putNode writes a node's record and, once committed, installs and
// publishes it.
func (s *Server) putNode(t *txn, info NodeInfo) {
	t.set(nodeKey(info.ID), encode(&info))
	now := s.env.Now()
	t.then(func() {
		n := s.nodes[info.ID]
		if n == nil {
			n = &node{lastHeartbeat: now}
			s.nodes[info.ID] = n
			s.nodeOrder = insertSorted(s.nodeOrder, info.ID, cmpNode)
		}
		if n.info.State == NodeDead {
			panic(fmt.Sprintf("gcs: node %v changed after it was declared dead", info.ID))
		}
		n.info = info
		if info.State != NodeDead {
			n.lastHeartbeat = now
		}
		pub := info
		s.publish(PubMessage{Channel: ChannelNode, Node: &pub})
	})
}

// healthCheck declares DEAD every node whose last heartbeat is older than
// NodeTimeout, expires idle sessions and subscribers, and re-arms itself.
func (s *Server) healthCheck() {
	if s.stopped {
		return
	}
	defer s.flushPolls()
	now := s.env.Now()
	s.discountStall(now)
	for _, id := range s.nodeOrder {
		n := s.nodes[id]
		if n.info.State != NodeDead && now.Sub(n.lastHeartbeat) > s.cfg.NodeTimeout {
			s.markNodeDead(id, fmt.Sprintf("no heartbeat for more than %v", s.cfg.NodeTimeout))
		}
	}
	s.expireSessions(now)
	s.expireSubscribers(now)
	s.healthTimer = s.env.AfterFunc(s.cfg.HealthCheckPeriod, s.healthCheck)
}

// discountStall keeps the failure detector from blaming others for the
// server's own stall. Health checks run every HealthCheckPeriod; one that
// runs much later than that means this process did not run for a while
// (SIGSTOP, a VM freeze, swap, a long GC pause), and the heartbeats that
// nodes sent meanwhile are still queued behind this check. So the time
// the server stood still is discounted: every node's, session's and
// subscriber's last sign of life moves forward by the stall, which keeps
// how long each had been silent before it and gives the queued
// heartbeats the chance to arrive. A node that really died is declared
// dead that much later.
func (s *Server) discountStall(now time.Time) {
	last := s.lastHealthCheck
	s.lastHealthCheck = now
	if last.IsZero() || s.cfg.Bug == BugBlameOthers {
		return
	}
	stall := now.Sub(last) - s.cfg.HealthCheckPeriod
	if stall <= s.cfg.HealthCheckPeriod {
		return // on time, or late by less than a period: ordinary load
	}
	s.stalls++
	s.log.Warn("gcs: this process stalled; node, session and subscriber deadlines extended by the stall",
		"stall", stall, "expected_every", s.cfg.HealthCheckPeriod)
	for _, id := range s.nodeOrder {
		s.nodes[id].lastHeartbeat = s.nodes[id].lastHeartbeat.Add(stall)
	}
	for _, se := range s.sessions { //gray:unordered each entry moved alike; no order-dependent effect
		se.lastSeen = se.lastSeen.Add(stall)
	}
	for _, id := range s.subOrder {
		s.subs[id].lastActive = s.subs[id].lastActive.Add(stall)
	}
}

// markNodeDead persists the death of a node and, in the same batch, the
// restart (or death) of every actor that was ALIVE on it.
func (s *Server) markNodeDead(id core.NodeID, cause string) {
	info := s.nodes[id].info
	info.State = NodeDead
	info.DeathCause = cause
	info.Version++
	t := s.newTxn()
	s.putNode(t, info)
	for _, aid := range s.actorOrder {
		a := s.actors[aid]
		if a.State == ActorAlive && a.Node == id {
			s.putActor(t, restartOrKill(a, fmt.Sprintf("node %v died: %s", id, cause)))
		}
	}
	s.commit(t)
	s.onNodeDead(id, info.Addr)
	s.onNodeDeadPlacement(id)
	s.onNodeDeadSubmissions(id, cause)
	s.log.Info("gcs: node declared dead", "node", id, "cause", cause)
}
