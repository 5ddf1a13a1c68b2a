package gcs

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Placement groups (Ray's GcsPlacementGroupManager and scheduler). The
// group table is persisted like the actor table, in the same synced
// batches as the dedup record of the request that changed it. The GCS
// decides where each bundle goes and reserves the bundles atomically:
//
//  1. CreatePlacementGroup persists the group PENDING.
//  2. The scheduler picks a node per bundle from the nodes' available
//     resources (heartbeats) by the group's strategy and sends
//     PrepareBundles to every chosen raylet (phase one).
//  3. Once every raylet prepared its bundles, the decision is persisted
//     (CREATED, with each bundle's node) and CommitBundles is sent to
//     each (phase two), resent until the raylet answers or its node is
//     declared dead. If any prepare fails or its node dies, the prepared
//     bundles are returned (ReturnBundles) and the scheduler tries again
//     later: nothing is committed without the decision.
//  4. A node that dies takes its bundles with it: the group goes
//     RESCHEDULING (persisted) and the scheduler places those bundles
//     again, then CREATED.
//  5. RemovePlacementGroup persists REMOVED (also while PENDING) and
//     returns every bundle reserved for the group.
//  6. Raylets report the bundles they hold in their heartbeats and are
//     told to give back any the GCS's decisions do not account for: a
//     removed group's, or a phase one this GCS abandoned by restarting.
//
// A group no set of alive nodes could ever hold (by their totals) stays
// PENDING with the reason, as Ray's infeasible groups do, and is placed
// when a node that fits joins.

// PlacementGroupState is the life-cycle state of a placement group.
type PlacementGroupState uint8

// Placement group states, as Ray names them.
const (
	PlacementPending PlacementGroupState = iota + 1
	PlacementCreated
	PlacementRescheduling
	PlacementRemoved
)

var placementStateNames = [...]string{PlacementPending: "PENDING", PlacementCreated: "CREATED", PlacementRescheduling: "RESCHEDULING", PlacementRemoved: "REMOVED"}

func (s PlacementGroupState) String() string {
	if s >= PlacementPending && s <= PlacementRemoved {
		return placementStateNames[s]
	}
	return fmt.Sprintf("PlacementGroupState(%d)", uint8(s))
}

// PlacementGroupInfo is the GCS's record of one placement group.
type PlacementGroupInfo struct {
	_msgpack  struct{} `msgpack:",omitempty"`
	ID        core.PlacementGroupID
	Namespace string
	Name      string // "" for an unnamed group
	Strategy  proto.PlacementStrategy
	Bundles   []core.Resources
	// Nodes holds, per bundle, the node it is committed on; the zero
	// NodeID while it is not placed.
	Nodes    []core.NodeID
	State    PlacementGroupState
	Detached bool
	// Owner is the process that created it (a non-detached group is
	// removed with its job).
	Owner core.Addr
	// Reason says why a PENDING or RESCHEDULING group waits (empty once
	// placed); Infeasible that no set of alive nodes could ever hold it.
	// Both are kept up to date in memory, and written with the record's
	// other changes.
	Reason     string
	Infeasible bool
	Version    int64
}

// Fits reports whether bundle index of p (-1: some bundle) reserves
// enough for a task or actor that needs need.
func (p *PlacementGroupInfo) Fits(index int32, need core.Resources) bool {
	for i, b := range p.Bundles {
		if (index < 0 || int32(i) == index) && need.FitsIn(b) {
			return true
		}
	}
	return false
}

// Raylets returns, per bundle, the raylet address of its node ("" while
// not placed), from the node table n.
func (p *PlacementGroupInfo) raylets(s *Server) []core.Addr {
	out := make([]core.Addr, len(p.Nodes))
	for i, id := range p.Nodes {
		if n := s.nodes[id]; n != nil && !id.IsNil() {
			out[i] = n.info.Addr
		}
	}
	return out
}

// CreatePlacementGroup creates a group (PENDING). Creating one with an
// ID that exists answers with its record; a Name taken by a group that
// is not REMOVED in the Namespace fails with Conflict. Reply:
// PlacementGroups holds the record without its bundles and nodes (the
// caller has the bundles; GetPlacementGroup reads the whole record).
type CreatePlacementGroup struct {
	Hdr   Hdr
	Group PlacementGroupInfo
}

// RemovePlacementGroup removes a group, PENDING or not, and returns its
// bundles. Removing a removed group is a no-op. Reply: PlacementGroups,
// the record without its bundles and nodes.
type RemovePlacementGroup struct {
	Hdr Hdr
	ID  core.PlacementGroupID
}

// GetPlacementGroup reads a group by ID or, with a zero ID, by
// (Namespace, Name) among the groups not REMOVED. Reply:
// PlacementGroups holds it, and Raylets its bundles' raylets.
//
// With Hold, a long poll: while the group is PENDING or RESCHEDULING the
// server holds the reply until it is CREATED or REMOVED, or Hold passes
// (at most Config.PollTimeout), so that a waiter learns at once without
// polling.
//
// With Brief, the reply holds the record without its bundles and nodes,
// and no Raylets: what a waiter for the group's state reads, at a cost
// that does not grow with the bundles.
type GetPlacementGroup struct {
	Hdr       Hdr
	ID        core.PlacementGroupID
	Namespace string
	Name      string
	Hold      time.Duration
	Brief     bool `msgpack:",omitempty"`
}

// RemovedGroupsMax is how many removed groups the table keeps (their
// records answer reads and removes); older ones are forgotten.
const RemovedGroupsMax = 1000

// HoldMax bounds GetPlacementGroup.Hold.
const HoldMax = time.Minute

// ListPlacementGroups lists every group, sorted by id. Reply:
// PlacementGroups.
type ListPlacementGroups struct {
	Hdr Hdr
}

// Validate implements core.Validator.
func (m *CreatePlacementGroup) Validate() error {
	if err := m.Hdr.validate(); err != nil {
		return err
	}
	g := &m.Group
	switch {
	case g.ID == core.PlacementGroupID{}:
		return errors.New("placement group without an id")
	case len(g.Bundles) == 0 || len(g.Bundles) > proto.BundlesMax:
		return fmt.Errorf("placement group of %d bundles: want 1 to %d", len(g.Bundles), proto.BundlesMax)
	case !g.Strategy.Valid():
		return fmt.Errorf("placement strategy %v", g.Strategy)
	case len(g.Name) > NameSizeMax || len(g.Owner) > AddrSizeMax:
		return fmt.Errorf("name of %d bytes or owner of %d bytes, limits %d and %d", len(g.Name), len(g.Owner), NameSizeMax, AddrSizeMax)
	}
	if err := validateNamespace(g.Namespace); err != nil {
		return err
	}
	for i, b := range g.Bundles {
		if !b.Valid() || b.AnyNegative() || b.IsEmpty() {
			return fmt.Errorf("bundle %d: resources %v: want at least one, none negative", i, b)
		}
	}
	return nil
}

// Validate implements core.Validator.
func (m *RemovePlacementGroup) Validate() error { return m.Hdr.validate() }

// Validate implements core.Validator.
func (m *GetPlacementGroup) Validate() error {
	if err := m.Hdr.validate(); err != nil {
		return err
	}
	if m.ID == (core.PlacementGroupID{}) && m.Name == "" {
		return errors.New("neither an id nor a name")
	}
	if len(m.Name) > NameSizeMax {
		return fmt.Errorf("name of %d bytes, limit %d", len(m.Name), NameSizeMax)
	}
	if m.Hold < 0 || m.Hold > HoldMax {
		return fmt.Errorf("hold %v, want 0 to %v", m.Hold, HoldMax)
	}
	return validateNamespace(m.Namespace)
}

// Validate implements core.Validator.
func (m *ListPlacementGroups) Validate() error { return m.Hdr.validate() }

func (*CreatePlacementGroup) MsgType() core.MsgType { return msgCreatePlacementGroup }
func (*RemovePlacementGroup) MsgType() core.MsgType { return msgRemovePlacementGroup }
func (*GetPlacementGroup) MsgType() core.MsgType    { return msgGetPlacementGroup }
func (*ListPlacementGroups) MsgType() core.MsgType  { return msgListPlacementGroups }

func (m *CreatePlacementGroup) header() Hdr { return m.Hdr }
func (m *RemovePlacementGroup) header() Hdr { return m.Hdr }
func (m *GetPlacementGroup) header() Hdr    { return m.Hdr }
func (m *ListPlacementGroups) header() Hdr  { return m.Hdr }

func (m *CreatePlacementGroup) withHeader(h Hdr) request { c := *m; c.Hdr = h; return &c }
func (m *RemovePlacementGroup) withHeader(h Hdr) request { c := *m; c.Hdr = h; return &c }
func (m *GetPlacementGroup) withHeader(h Hdr) request    { c := *m; c.Hdr = h; return &c }
func (m *ListPlacementGroups) withHeader(h Hdr) request  { c := *m; c.Hdr = h; return &c }

func init() {
	reg := func(t core.MsgType, name string, f func() core.Message) { core.RegisterMessage(t, 1, "gcs."+name, f) }
	reg(msgCreatePlacementGroup, "CreatePlacementGroup", func() core.Message { return new(CreatePlacementGroup) })
	reg(msgRemovePlacementGroup, "RemovePlacementGroup", func() core.Message { return new(RemovePlacementGroup) })
	reg(msgGetPlacementGroup, "GetPlacementGroup", func() core.Message { return new(GetPlacementGroup) })
	reg(msgListPlacementGroups, "ListPlacementGroups", func() core.Message { return new(ListPlacementGroups) })
}

func placementKey(id core.PlacementGroupID) []byte {
	return append([]byte{tablePlacement}, id[:]...)
}

// --- the table ---

// PlacementGroups returns every group, sorted by id.
func (s *Server) PlacementGroups() []PlacementGroupInfo {
	out := make([]PlacementGroupInfo, 0, len(s.pgOrder))
	for _, id := range s.pgOrder {
		out = append(out, s.pgs[id])
	}
	return out
}

// putPlacement writes a group's record and installs it once committed.
func (s *Server) putPlacement(t *txn, p PlacementGroupInfo) {
	t.set(placementKey(p.ID), encode(&p))
	t.then(func() {
		old, had := s.pgs[p.ID]
		if !had {
			s.pgOrder = insertSorted(s.pgOrder, p.ID, cmpGroup)
		}
		if had && old.Name != "" && old.State != PlacementRemoved && !(s.cfg.Bug == BugPGNameNotFreed && p.State == PlacementRemoved) {
			delete(s.pgNamed, actorName{old.Namespace, old.Name})
		}
		if p.Name != "" && p.State != PlacementRemoved {
			s.pgNamed[actorName{p.Namespace, p.Name}] = p.ID
		}
		s.pgs[p.ID] = p
		if p.State == PlacementCreated || p.State == PlacementRemoved {
			s.answerHeld(p.ID)
		}
	})
}

// heldGet is a GetPlacementGroup with Hold waiting for its group to be
// created or removed.
type heldGet struct {
	from  core.Addr
	hdr   Hdr
	brief bool
	timer core.Timer
}

// holdGet answers m, from from, now or, while its group waits to be
// placed and m asks to, when the group is decided or the hold ends.
// A resend of a held request (same client and seq) replaces it.
func (s *Server) holdGet(from core.Addr, m *GetPlacementGroup) {
	r := s.getPlacementGroup(m)
	if m.Hold <= 0 || r.Code != rpc.CodeOK {
		s.reply(from, m.Hdr, r)
		return
	}
	p := r.PlacementGroups[0]
	if p.State != PlacementPending && p.State != PlacementRescheduling {
		s.reply(from, m.Hdr, r)
		return
	}
	held := s.pgHeld[p.ID]
	for _, h := range held {
		if h.hdr.Client == m.Hdr.Client && h.hdr.Seq == m.Hdr.Seq {
			h.from = from
			return
		}
	}
	h := &heldGet{from: from, hdr: m.Hdr, brief: m.Brief}
	id := p.ID
	h.timer = s.env.AfterFunc(min(m.Hold, s.cfg.PollTimeout), func() {
		if s.stopped {
			return
		}
		hs := s.pgHeld[id]
		if i := slices.Index(hs, h); i >= 0 {
			s.pgHeld[id] = slices.Delete(hs, i, i+1)
			if len(s.pgHeld[id]) == 0 {
				delete(s.pgHeld, id)
			}
			s.reply(h.from, h.hdr, s.getPlacementGroup(&GetPlacementGroup{ID: id, Brief: h.brief}))
		}
	})
	s.pgHeld[id] = append(held, h)
}

// answerHeld answers every held read of group id with its record now.
func (s *Server) answerHeld(id core.PlacementGroupID) {
	held := s.pgHeld[id]
	delete(s.pgHeld, id)
	for _, h := range held {
		h.timer.Stop()
		s.reply(h.from, h.hdr, s.getPlacementGroup(&GetPlacementGroup{ID: id, Brief: h.brief}))
	}
}

func (s *Server) createPlacementGroup(t *txn, m *CreatePlacementGroup) Reply {
	if p, ok := s.pgs[m.Group.ID]; ok {
		return Reply{PlacementGroups: []PlacementGroupInfo{p.brief()}}
	}
	g := m.Group
	if g.Name != "" {
		if other, ok := s.pgNamed[actorName{g.Namespace, g.Name}]; ok {
			return fail(rpc.CodeConflict, "a placement group named %q exists in namespace %q: %v", g.Name, g.Namespace, other)
		}
	}
	g.State = PlacementPending
	g.Nodes = make([]core.NodeID, len(g.Bundles))
	g.Version = 1
	g.Reason, g.Infeasible = "", false
	s.putPlacement(t, g)
	t.then(func() { s.placeGroup(g.ID) })
	return Reply{PlacementGroups: []PlacementGroupInfo{g.brief()}}
}

func (s *Server) removePlacementGroup(t *txn, m *RemovePlacementGroup) Reply {
	p, ok := s.pgs[m.ID]
	if !ok {
		return fail(rpc.CodeNotFound, "no placement group %v", m.ID)
	}
	if p.State == PlacementRemoved {
		return Reply{PlacementGroups: []PlacementGroupInfo{p.brief()}}
	}
	return Reply{PlacementGroups: []PlacementGroupInfo{s.removeGroup(t, p, "").brief()}}
}

// brief is p without its bundles and nodes, for the replies that need
// not carry them (a group's record grows with its bundles).
func (p PlacementGroupInfo) brief() PlacementGroupInfo {
	p.Bundles, p.Nodes = nil, nil
	return p
}

// removeGroup marks p REMOVED in t (why, if not empty, becomes its
// Reason) and, once t is applied, abandons its placement and returns its
// bundles to their raylets.
func (s *Server) removeGroup(t *txn, p PlacementGroupInfo, why string) PlacementGroupInfo {
	nodes := p.Nodes // not changed in place: a record's nodes are replaced, never written
	p.State = PlacementRemoved
	p.Nodes = make([]core.NodeID, len(p.Bundles))
	p.Reason, p.Infeasible = why, false
	p.Version++
	s.putPlacement(t, p)
	t.then(func() {
		s.pgRemoved = append(s.pgRemoved, p.ID)
		if len(s.pgRemoved) > RemovedGroupsMax && !s.pgTrimming {
			s.pgTrimming = true
			s.env.AfterFunc(0, s.trimRemoved)
		}
		delete(s.pgWarned, p.ID)
		s.abandonAttempt(p.ID, "the group was removed")
		s.returnPlaced(p.ID, nodes)
	})
	return p
}

func (s *Server) getPlacementGroup(m *GetPlacementGroup) Reply {
	id := m.ID
	if id == (core.PlacementGroupID{}) {
		var ok bool
		if id, ok = s.pgNamed[actorName{m.Namespace, m.Name}]; !ok {
			return fail(rpc.CodeNotFound, "no placement group named %q in namespace %q", m.Name, m.Namespace)
		}
	}
	p, ok := s.pgs[id]
	if !ok {
		return fail(rpc.CodeNotFound, "no placement group %v", id)
	}
	if m.Brief {
		return Reply{PlacementGroups: []PlacementGroupInfo{p.brief()}}
	}
	return Reply{PlacementGroups: []PlacementGroupInfo{p}, Raylets: p.raylets(s)}
}

// --- the scheduler ---

// pgAttempt is one two-phase reservation in flight for a group.
type pgAttempt struct {
	id  core.PlacementGroupID
	gen uint64
	// nodes holds, per bundle of the group, its node in this attempt;
	// the zero NodeID for a bundle it does not place.
	nodes []core.NodeID
	// waiting counts prepares not answered yet; prepared lists the nodes
	// that prepared their bundles.
	waiting  int
	prepared []core.NodeID
	failed   string
}

// Scheduler timing of placement groups.
const (
	// pgRetry is how soon a group that could not be placed is tried
	// again (also whenever a node registers).
	pgRetry = 500 * time.Millisecond
	// pgRPCTimeout bounds one raylet's answer to a prepare.
	pgRPCTimeout = 5 * time.Second
	// pgCommitRetry is the pause between resends of a commit or return.
	pgCommitRetry = 500 * time.Millisecond
)

// startPlacement places the groups waiting after recovery and resends
// the commits of placed ones (a raylet that already committed answers
// at once; one whose node died is handled by the node's death).
func (s *Server) startPlacement() {
	for _, id := range s.pgOrder {
		p := s.pgs[id]
		switch p.State {
		case PlacementPending, PlacementRescheduling:
			s.placeGroup(id)
		}
		if p.State != PlacementRemoved {
			s.commitPlaced(p)
		}
	}
}

// placeGroup starts a reservation of the group's unplaced bundles unless
// one runs or it needs none.
func (s *Server) placeGroup(id core.PlacementGroupID) {
	p, ok := s.pgs[id]
	if !ok || s.stopped || s.pgAttempts[id] != nil || (p.State != PlacementPending && p.State != PlacementRescheduling) {
		return
	}
	todo := make([]int32, 0, len(p.Nodes))
	for i, n := range p.Nodes {
		if n.IsNil() {
			todo = append(todo, int32(i))
		}
	}
	if len(todo) == 0 {
		return
	}
	choice, reason, infeasible := s.chooseNodes(p, todo)
	if choice == nil {
		p.Reason, p.Infeasible = reason, infeasible
		s.pgs[id] = p
		s.warnInfeasible(p)
		s.armPGRetry()
		return
	}
	delete(s.pgWarned, id)
	s.pgGen++
	a := &pgAttempt{id: id, gen: s.pgGen, nodes: choice}
	s.pgAttempts[id] = a
	order, per := byNode(choice, todo)
	a.waiting = len(order)
	for k, n := range order {
		specs := make([]proto.BundleSpec, len(per[k]))
		for j, i := range per[k] {
			specs[j] = proto.BundleSpec{Group: id, Index: i, Resources: p.Bundles[i]}
		}
		s.cli.Call(s.nodes[n].info.Addr, &proto.PrepareBundles{Node: n, Bundles: specs}, rpc.Options{Timeout: pgRPCTimeout}, func(_ core.Message, err error) {
			s.onPrepared(a, n, err)
		})
	}
}

// byNode groups the bundles idx (every bundle when idx is nil) by their
// node in nodes, the nodes in order of first use; bundles whose node is
// the zero NodeID are left out.
func byNode(nodes []core.NodeID, idx []int32) (order []core.NodeID, per [][]int32) {
	var places nodePlaces
	add := func(i int32) {
		if nodes[i].IsNil() {
			return
		}
		k, fresh := places.place(nodes[i])
		if fresh {
			per = append(per, nil)
		}
		per[k] = append(per[k], i)
	}
	if idx == nil {
		for i := range nodes {
			add(int32(i))
		}
	} else {
		for _, i := range idx {
			add(i)
		}
	}
	return places.order, per
}

// onPrepared records one node's answer to a prepare.
func (s *Server) onPrepared(a *pgAttempt, n core.NodeID, err error) {
	if s.pgAttempts[a.id] != a {
		// Abandoned: whatever this node prepared goes back.
		if err == nil {
			s.returnBundles(a.id, n, a.indexesOn(n))
		}
		return
	}
	a.waiting--
	if err != nil {
		if a.failed == "" {
			a.failed = fmt.Sprintf("node %v: %v", n, err)
		}
	} else {
		a.prepared = append(a.prepared, n)
	}
	if a.waiting > 0 {
		return
	}
	p := s.pgs[a.id]
	if a.failed != "" && s.cfg.Bug == BugCommitFailedPrepare && p.State != PlacementRemoved {
		a.failed = "" // the planted bug: decide as if it had prepared
	}
	if a.failed != "" || p.State == PlacementRemoved {
		delete(s.pgAttempts, a.id)
		for _, pn := range a.prepared {
			s.returnBundles(a.id, pn, a.indexesOn(pn))
		}
		p.Reason = "reserving its bundles failed, retrying: " + a.failed
		s.pgs[a.id] = p
		s.armPGRetry()
		return
	}
	for _, n := range a.prepared {
		if s.nodes[n] == nil || s.nodes[n].info.State == NodeDead {
			// Died after preparing: do it again elsewhere.
			delete(s.pgAttempts, a.id)
			for _, pn := range a.prepared {
				s.returnBundles(a.id, pn, a.indexesOn(pn))
			}
			s.armPGRetry()
			return
		}
	}
	// Every node prepared: the decision is made durable, then committed.
	next := p
	next.Nodes = slices.Clone(p.Nodes)
	for i, n := range a.nodes {
		if !n.IsNil() {
			next.Nodes[i] = n
		}
	}
	next.State = PlacementCreated
	next.Reason, next.Infeasible = "", false
	next.Version++
	t := s.newTxn()
	s.putPlacement(t, next)
	s.commit(t)
	delete(s.pgAttempts, a.id)
	s.pgStats.created++
	s.commitPlaced(next)
}

// indexesOn lists the bundles of the attempt on node n, in order.
func (a *pgAttempt) indexesOn(n core.NodeID) []int32 {
	var out []int32
	for i, x := range a.nodes {
		if x == n {
			out = append(out, int32(i))
		}
	}
	return out
}

// commitPlaced sends the commit of every placed bundle of p to its node,
// resent until it answers; a node that lost the bundle (NotFound) makes
// it unplaced again.
func (s *Server) commitPlaced(p PlacementGroupInfo) {
	order, per := byNode(p.Nodes, nil)
	for k, n := range order {
		s.sendCommit(p.ID, p.Version, n, per[k])
	}
}

func (s *Server) sendCommit(id core.PlacementGroupID, version int64, n core.NodeID, idx []int32) {
	node := s.nodes[n]
	if node == nil || node.info.State == NodeDead {
		return // the node's death moves the bundles
	}
	s.cli.Call(node.info.Addr, &proto.CommitBundles{Node: n, Group: id, Indexes: idx}, rpc.Options{Timeout: pgRPCTimeout}, func(_ core.Message, err error) {
		p, ok := s.pgs[id]
		if !ok || p.Version != version || p.State == PlacementRemoved {
			return // moved on; a newer decision sends its own
		}
		var re *rpc.Error
		switch {
		case err == nil:
		case errors.As(err, &re) && re.Code == rpc.CodeNotFound:
			// The raylet does not hold them (it restarted): place them
			// again.
			s.unplace(id, func(i int, x core.NodeID) bool { return x == n }, fmt.Sprintf("node %v lost its bundles", n))
		default:
			s.env.AfterFunc(pgCommitRetry, func() { s.sendCommit(id, version, n, idx) })
		}
	})
}

// returnBundles gives back the bundles idx of group id on node n (all of
// the group's there when idx is empty), resent until the raylet answers
// or its node is dead.
func (s *Server) returnBundles(id core.PlacementGroupID, n core.NodeID, idx []int32) {
	node := s.nodes[n]
	if node == nil || node.info.State == NodeDead {
		return
	}
	s.cli.Call(node.info.Addr, &proto.ReturnBundles{Node: n, Group: id, Indexes: idx}, rpc.Options{Timeout: pgRPCTimeout}, func(_ core.Message, err error) {
		if err != nil && !s.stopped {
			s.env.AfterFunc(pgCommitRetry, func() { s.returnBundles(id, n, idx) })
		}
	})
}

// returnPlaced returns the placed bundles of a removed group.
func (s *Server) returnPlaced(id core.PlacementGroupID, nodes []core.NodeID) {
	order, _ := byNode(nodes, nil)
	for _, n := range order {
		s.returnBundles(id, n, nil)
	}
}

// abandonAttempt drops the reservation in flight for id: prepares still
// out return their bundles when answered, those prepared return now.
func (s *Server) abandonAttempt(id core.PlacementGroupID, why string) {
	a := s.pgAttempts[id]
	if a == nil {
		return
	}
	delete(s.pgAttempts, id)
	for _, n := range a.prepared {
		s.returnBundles(id, n, a.indexesOn(n))
	}
}

// unplace makes the bundles of group id that match unplaced again
// (persisted, the group RESCHEDULING) and places them.
func (s *Server) unplace(id core.PlacementGroupID, match func(i int, n core.NodeID) bool, why string) {
	p, ok := s.pgs[id]
	if !ok || p.State == PlacementRemoved {
		return
	}
	next := p
	next.Nodes = slices.Clone(p.Nodes)
	changed := false
	for i, n := range next.Nodes {
		if !n.IsNil() && match(i, n) {
			next.Nodes[i] = core.NodeID{}
			changed = true
		}
	}
	if !changed {
		return
	}
	if next.State == PlacementCreated {
		next.State = PlacementRescheduling
	}
	next.Reason = why
	next.Version++
	t := s.newTxn()
	s.putPlacement(t, next)
	s.commit(t)
	s.pgStats.rescheduled++
	s.placeGroup(id)
}

// onNodeDeadPlacement moves the bundles of a node declared dead, and
// abandons the reservations in flight that counted on it.
func (s *Server) onNodeDeadPlacement(node core.NodeID) {
	for _, id := range s.pgOrder {
		if a := s.pgAttempts[id]; a != nil && slices.Contains(a.nodes, node) {
			s.abandonAttempt(id, fmt.Sprintf("node %v died", node))
			s.armPGRetry()
		}
		s.unplace(id, func(_ int, n core.NodeID) bool { return n == node }, fmt.Sprintf("node %v died", node))
	}
}

// armPGRetry schedules another pass over the waiting groups.
func (s *Server) armPGRetry() {
	if s.pgTimer != nil || s.stopped || !s.pgWaiting() {
		return
	}
	s.pgTimer = s.env.AfterFunc(pgRetry, func() {
		s.pgTimer = nil
		if s.stopped {
			return
		}
		defer s.flushPolls()
		s.placeWaiting()
	})
}

// pgWaiting reports whether a group waits for bundles with no
// reservation in flight.
func (s *Server) pgWaiting() bool {
	for _, id := range s.pgOrder {
		if st := s.pgs[id].State; (st == PlacementPending || st == PlacementRescheduling) && s.pgAttempts[id] == nil {
			return true
		}
	}
	return false
}

// placeWaiting tries every group that waits for its bundles.
func (s *Server) placeWaiting() {
	for _, id := range s.pgOrder {
		s.placeGroup(id)
	}
}

// reconcileBundles answers a raylet's report of the bundles it holds
// with those it must give back: bundles of groups that are removed or
// unknown, or that no decision or reservation in flight places there.
func (s *Server) reconcileBundles(node core.NodeID, held []proto.BundleState) []proto.BundleState {
	var drop []proto.BundleState
	for _, b := range held {
		p, ok := s.pgs[b.Group]
		keep := ok && p.State != PlacementRemoved && int(b.Index) < len(p.Nodes) && p.Nodes[b.Index] == node
		if !keep && ok && p.State != PlacementRemoved {
			if a := s.pgAttempts[b.Group]; a != nil && b.Index >= 0 && int(b.Index) < len(a.nodes) && a.nodes[b.Index] == node {
				keep = true
			}
		}
		if !keep {
			drop = append(drop, b)
		}
	}
	return drop
}

// chooseNodes picks a node for each bundle of todo by the group's
// strategy, from the alive nodes' available resources: per bundle of
// the group its node, the zero NodeID for those not in todo. It returns
// nil and why when it cannot now; infeasible when no alive nodes could
// ever hold the bundles, whatever they run.
func (s *Server) chooseNodes(p PlacementGroupInfo, todo []int32) ([]core.NodeID, string, bool) {
	var nodes []*pgCand
	for _, id := range s.nodeOrder {
		n := s.nodes[id]
		if n.info.State != NodeAlive {
			continue
		}
		nodes = append(nodes, &pgCand{id: id, avail: n.info.Available, tot: n.info.Resources, holds: slices.Contains(p.Nodes, id)})
	}
	if len(nodes) == 0 {
		return nil, "no alive node", true
	}
	placed := slices.ContainsFunc(p.Nodes, func(n core.NodeID) bool { return !n.IsNil() })
	fits := func(use func(*pgCand) core.Resources) []core.NodeID {
		for _, c := range nodes {
			c.left, c.owned, c.used = use(c), false, c.holds
		}
		out := make([]core.NodeID, len(p.Bundles))
		switch p.Strategy {
		case proto.PlacementStrictPack:
			sum := core.Sum(len(todo), func(k int) core.Resources { return p.Bundles[todo[k]] })
			for _, c := range nodes {
				// Every bundle on one node: the one that holds the
				// placed ones, if any.
				if (!placed || c.used) && sum.FitsIn(c.left) {
					for _, i := range todo {
						out[i] = c.id
					}
					return out
				}
			}
			return nil
		case proto.PlacementStrictSpread, proto.PlacementSpread:
			for _, i := range todo {
				var pick *pgCand
				for _, c := range nodes { // a node without a bundle of the group
					if !c.used && p.Bundles[i].FitsIn(c.left) {
						pick = c
						break
					}
				}
				for _, c := range nodes { // SPREAD only: else any node it fits
					if pick == nil && p.Strategy == proto.PlacementSpread && p.Bundles[i].FitsIn(c.left) {
						pick = c
					}
				}
				if pick == nil {
					return nil
				}
				pick.used = true
				pick.take(p.Bundles[i])
				out[i] = pick.id
			}
			return out
		default: // PACK: fill the node that holds most of the group, then the next
			order := slices.Clone(nodes)
			slices.SortStableFunc(order, func(a, b *pgCand) int {
				switch {
				case a.used && !b.used:
					return -1
				case b.used && !a.used:
					return 1
				}
				return 0
			})
			for _, i := range todo {
				var pick *pgCand
				for _, c := range order {
					if p.Bundles[i].FitsIn(c.left) {
						pick = c
						break
					}
				}
				if pick == nil {
					return nil
				}
				// The node picked comes first for the next bundles.
				if k := slices.Index(order, pick); k > 0 {
					order = append([]*pgCand{pick}, slices.Delete(order, k, k+1)...)
				}
				pick.take(p.Bundles[i])
				out[i] = pick.id
			}
			return out
		}
	}
	if out := fits(func(c *pgCand) core.Resources { return c.avail }); out != nil {
		return out, "", false
	}
	if fits(func(c *pgCand) core.Resources { return c.tot }) == nil {
		need := core.Sum(len(todo), func(k int) core.Resources { return p.Bundles[todo[k]] })
		return nil, fmt.Sprintf("infeasible: no set of alive nodes can hold bundles %v (%v in all) with strategy %v", bundlesOf(p, todo), need, p.Strategy), true
	}
	return nil, "waiting for resources: the alive nodes' available resources do not fit the bundles now", false
}

// pgCand is an alive node as chooseNodes considers it.
type pgCand struct {
	id         core.NodeID
	avail, tot core.Resources
	holds      bool // holds a placed bundle of the group
	// In one pass of chooseNodes: left is what the node has left after
	// the bundles given to it (owned: a copy of the pass's own, changed
	// in place); used that it holds a bundle of the group, placed or
	// given.
	left        core.Resources
	owned, used bool
}

// take gives c bundle b, which fits in c.left. It subtracts in place, on
// the pass's own copy: every resource b names is in c.left (it fits), so
// no entry is added, and one that reaches zero stays as a zero, which
// reads as the absent one does (FitsIn, Get).
func (c *pgCand) take(b core.Resources) {
	if !c.owned {
		c.left, c.owned = slices.Clone(c.left), true
	}
	at := make([]int, 0, 4) // the place in c.left of each resource of b
	j := 0
	for _, x := range b {
		for j < len(c.left) && c.left[j].Name < x.Name {
			j++
		}
		if j == len(c.left) || c.left[j].Name != x.Name {
			c.left = c.left.Sub(b) // not a fit after all: subtract as ever
			return
		}
		at = append(at, j)
	}
	for k, x := range b {
		c.left[at[k]].Amount -= x.Amount
	}
}

func bundlesOf(p PlacementGroupInfo, idx []int32) []core.Resources {
	out := make([]core.Resources, 0, len(idx))
	for _, i := range idx {
		out = append(out, p.Bundles[i])
	}
	return out
}

// warnInfeasible tells the owner of p, which no set of alive nodes could
// hold, and the GCS's log: when it becomes infeasible and every
// proto.InfeasibleRepeat while it stays so.
func (s *Server) warnInfeasible(p PlacementGroupInfo) {
	if !p.Infeasible {
		delete(s.pgWarned, p.ID)
		return
	}
	if at, ok := s.pgWarned[p.ID]; ok && s.env.Now().Sub(at) < proto.InfeasibleRepeat {
		return
	}
	s.pgWarned[p.ID] = s.env.Now()
	s.log.Warn("gcs: no set of alive nodes can hold a placement group: it waits for nodes to join", "group", p.ID, "name", p.Name, "reason", p.Reason)
	if p.Owner != "" {
		s.cli.Call(p.Owner, &proto.GroupInfeasible{Group: p.ID, Name: p.Name, Reason: p.Reason}, rpc.Options{Timeout: pgRPCTimeout}, func(core.Message, error) {})
	}
}

// trimRemoved forgets the oldest removed groups beyond RemovedGroupsMax,
// in one synced batch, so that the table does not grow for ever: a read
// or remove of a forgotten group is NotFound.
func (s *Server) trimRemoved() {
	s.pgTrimming = false
	n := len(s.pgRemoved) - RemovedGroupsMax
	if s.stopped || n <= 0 {
		return
	}
	drop := slices.Clone(s.pgRemoved[:n])
	t := s.newTxn()
	for _, id := range drop {
		t.del(placementKey(id))
	}
	t.then(func() {
		s.pgRemoved = slices.Delete(s.pgRemoved, 0, n)
		for _, id := range drop {
			delete(s.pgs, id)
			delete(s.pgWarned, id)
			if i, ok := slices.BinarySearchFunc(s.pgOrder, id, cmpGroup); ok {
				s.pgOrder = slices.Delete(s.pgOrder, i, i+1)
			}
		}
	})
	s.commit(t)
}
