package raylet

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	"github.com/grayrt/gray/core"
)

// DefaultSpreadThreshold is the hybrid policy's utilization threshold when
// Policy.SpreadThreshold is zero, as in Ray (scheduler_spread_threshold).
const DefaultSpreadThreshold = 0.5

// NodesMax bounds the cluster view one decision considers. Decide is linear
// in the number of nodes; a view beyond this bound means the caller lost
// track of dead nodes, and Decide panics.
const NodesMax = 1 << 16

// NodeView is one node as the scheduler sees it.
type NodeView struct {
	// ID names the node.
	ID core.NodeID
	// Total is the node's capacity; Available is the unleased part of it.
	Total, Available core.Resources
	// Alive is false once the GCS declared the node dead.
	Alive bool
	// Draining nodes finish their work but take no new work.
	Draining bool
	// Labels are the node's labels, for label selectors.
	Labels core.Labels
}

// StrategyKind selects a scheduling policy.
type StrategyKind uint8

// Scheduling strategies, as in Ray's scheduling_strategy option.
const (
	// StrategyDefault is Ray's hybrid policy: pack onto the local node until
	// it is SpreadThreshold utilized, then spread to the least utilized
	// node.
	StrategyDefault StrategyKind = iota
	// StrategySpread places work on the available nodes in round-robin
	// order.
	StrategySpread
	// StrategyNodeAffinity places work on Strategy.Node; see Strategy.Soft.
	StrategyNodeAffinity
)

// String returns the strategy's name.
func (k StrategyKind) String() string {
	switch k {
	case StrategyDefault:
		return "DEFAULT"
	case StrategySpread:
		return "SPREAD"
	case StrategyNodeAffinity:
		return "NODE_AFFINITY"
	}
	return fmt.Sprintf("StrategyKind(%d)", uint8(k))
}

// Strategy is a task's or actor's scheduling strategy.
type Strategy struct {
	// Kind selects the policy.
	Kind StrategyKind
	// Node is the target of StrategyNodeAffinity.
	Node core.NodeID
	// Soft makes node affinity a preference: if the target is dead,
	// draining, too small or busy, the hybrid policy decides instead.
	// Without Soft the work runs on the target or nowhere.
	Soft bool
	// Labels restricts every policy to the nodes whose labels match;
	// when no alive node matches, the work is infeasible.
	Labels core.Selector
}

// Outcome is the kind of a scheduling decision.
type Outcome uint8

// Outcomes of Decide.
const (
	// Place: run the work on Decision.Node now; it has the resources.
	Place Outcome = iota
	// Wait: some alive node could run the work, but none (allowed) has the
	// resources now. Keep it queued and decide again when resources change.
	// Decision.Node names where it should queue.
	Wait
	// Infeasible: no alive node could ever run the work (or a hard affinity
	// target is dead, draining or too small). Report it to the owner rather
	// than queue it forever; Decision.Reason says why.
	Infeasible
)

// String returns the outcome's name.
func (o Outcome) String() string {
	switch o {
	case Place:
		return "PLACE"
	case Wait:
		return "WAIT"
	case Infeasible:
		return "INFEASIBLE"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Decision is the result of Decide.
type Decision struct {
	// Outcome says whether to place, wait or give up.
	Outcome Outcome
	// Node is where to run (Place) or queue (Wait) the work; it is the zero
	// NodeID for Infeasible.
	Node core.NodeID
	// Reason explains the decision in one line, for traces and, for
	// Infeasible, for the error the owner reports to the user.
	Reason string
}

// String formats d on one line.
func (d Decision) String() string {
	if d.Outcome == Infeasible {
		return fmt.Sprintf("%v: %s", d.Outcome, d.Reason)
	}
	return fmt.Sprintf("%v %v: %s", d.Outcome, d.Node, d.Reason)
}

// Policy makes scheduling decisions. Its only state is the spread cursor, so
// a given sequence of Decide calls always yields the same decisions. The
// zero value is ready to use with DefaultSpreadThreshold. A Policy is not
// safe for concurrent use.
type Policy struct {
	// SpreadThreshold is the critical resource utilization (0 to 1) below
	// which the hybrid policy keeps work on the local node. Zero means
	// DefaultSpreadThreshold; a value above 1 packs onto the local node
	// whenever it has room. Negative values and NaN are programmer errors.
	SpreadThreshold float64
	// Terse leaves Reason empty on Wait decisions: a raylet re-decides
	// every queued request on every event and never reads those reasons,
	// whose formatting was a third of a busy raylet's CPU.
	Terse bool

	// spreadLast is the node that StrategySpread chose last; the next
	// spread decision starts after it in NodeID order. spreadStarted
	// tells whether it is set.
	spreadLast    core.NodeID
	spreadStarted bool
}

// Reasons of Place decisions: constants, so that the common case of Decide
// does not allocate.
const (
	reasonLocal    = "hybrid: local node below the spread threshold"
	reasonLeast    = "hybrid: least utilized available node"
	reasonSpread   = "spread: next available node in round-robin order"
	reasonAffinity = "node affinity: target node has the resources"
)

// Decide chooses where demand should run under strategy s, given the
// cluster view nodes and the id of the deciding (local) node.
//
// nodes may come in any order: Decide works on them in NodeID order (it
// checks, and sorts a copy only if they are not sorted already), so equal
// views give equal decisions. nodes must not hold a NodeID twice or more
// than NodesMax entries; Decide panics otherwise. It does not modify nodes.
// Dead and draining nodes never receive work; the local node may be absent
// from nodes, in which case it gets no preference.
//
// Hybrid (StrategyDefault), after Ray's hybrid policy: a node is feasible if
// demand fits its Total and available if demand fits its Available. The
// utilization of a node is its critical resource utilization after placing
// the demand: the maximum, over the resource kinds in its Total, of
// (Total − Available + demand) / Total. The local node wins while it is
// available and its utilization stays below SpreadThreshold. Otherwise the
// available node with the lowest utilization wins; ties go to the local
// node, then to the lowest NodeID. If no node is available but some is
// feasible, the work waits: on the local node if it is feasible, else on
// the first feasible node. If none is feasible, the work is infeasible and
// the reason names the demand and the largest node.
//
// Spread: the first available node after the one chosen last, in NodeID
// order, wrapping around; otherwise wait or infeasible as for hybrid. Only
// a Place advances the round robin.
//
// Node affinity: with a hard affinity (Soft false) the target is placed on
// if it has the resources, waited for if it could fit the demand, and
// otherwise the work is infeasible with a reason saying whether the target
// is dead (or unknown), draining, or too small. With Soft, the target is
// placed on if it has the resources, and the hybrid policy decides
// otherwise.
//
// The empty demand (an actor with 0 CPU) fits every alive node that is not
// draining, busy or not.
func (p *Policy) Decide(local core.NodeID, nodes []NodeView, demand core.Resources, s Strategy) Decision {
	threshold := p.threshold()
	nodes = sortedView(nodes)
	if len(s.Labels) > 0 {
		matching := make([]NodeView, 0, len(nodes))
		for _, n := range nodes {
			if s.Labels.Matches(n.Labels) {
				matching = append(matching, n)
			}
		}
		if s.Kind == StrategyNodeAffinity && find(matching, s.Node) < 0 && find(nodes, s.Node) >= 0 && nodes[find(nodes, s.Node)].Alive {
			why := fmt.Sprintf("node affinity: node %v does not match label selector %v", s.Node, s.Labels)
			if !s.Soft {
				return Decision{Outcome: Infeasible, Reason: why}
			}
		}
		if !anyAlive(matching) {
			return Decision{Outcome: Infeasible, Reason: fmt.Sprintf("no alive node has labels matching %v", s.Labels)}
		}
		nodes = matching
	}
	switch s.Kind {
	case StrategyDefault:
		return hybrid(local, nodes, demand, threshold, p.Terse)
	case StrategySpread:
		return p.spread(local, nodes, demand)
	case StrategyNodeAffinity:
		return affinity(local, nodes, demand, s, threshold)
	}
	panic(fmt.Sprintf("raylet: Decide: unknown strategy kind %d", uint8(s.Kind)))
}

// threshold returns the effective spread threshold.
func (p *Policy) threshold() float64 {
	t := p.SpreadThreshold
	if math.IsNaN(t) || t < 0 {
		panic(fmt.Sprintf("raylet: Policy.SpreadThreshold = %v; it must be zero (default) or positive", t))
	}
	if t == 0 {
		return DefaultSpreadThreshold
	}
	return t
}

func compareNodeIDs(a, b core.NodeID) int { return bytes.Compare(a[:], b[:]) }

// sortedView returns nodes in strictly increasing NodeID order: nodes itself
// if already sorted, else a sorted copy. It panics on duplicates or more
// than NodesMax nodes, which are programmer errors in the caller's view.
func sortedView(nodes []NodeView) []NodeView {
	if len(nodes) > NodesMax {
		panic(fmt.Sprintf("raylet: Decide: %d nodes in the view, limit %d", len(nodes), NodesMax))
	}
	if strictlyIncreasing(nodes) {
		return nodes
	}
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b NodeView) int { return compareNodeIDs(a.ID, b.ID) })
	if !strictlyIncreasing(nodes) {
		panic("raylet: Decide: a node appears twice in the view")
	}
	return nodes
}

// strictlyIncreasing reports whether nodes are sorted by NodeID without
// duplicates.
func strictlyIncreasing(nodes []NodeView) bool {
	for i := 1; i < len(nodes); i++ {
		if compareNodeIDs(nodes[i-1].ID, nodes[i].ID) >= 0 {
			return false
		}
	}
	return true
}

// find returns the index of id in the sorted view, or -1.
func find(nodes []NodeView, id core.NodeID) int {
	i, ok := slices.BinarySearchFunc(nodes, id, func(n NodeView, id core.NodeID) int { return compareNodeIDs(n.ID, id) })
	if !ok {
		return -1
	}
	return i
}

// usable reports whether n may receive new work at all.
func usable(n *NodeView) bool { return n.Alive && !n.Draining }

// feasible reports whether demand could ever run on n.
func feasible(n *NodeView, demand core.Resources) bool {
	return usable(n) && demand.FitsIn(n.Total)
}

// available reports whether demand can run on n now.
func available(n *NodeView, demand core.Resources) bool {
	return feasible(n, demand) && demand.FitsIn(n.Available)
}

// utilization returns n's critical resource utilization after placing
// demand: the maximum over CPU, memory and actor slots in n.Total of
// (used + demand) / total. As Ray's (CalculateCriticalResourceUtilization:
// CPU, memory, object store memory; its actors hold a CPU to be scheduled,
// gray's an actor slot), GPUs and custom resources do not count: a task
// that needs one custom resource a node has one of would otherwise find
// every node "full" and never prefer its local node. Unlike Ray's, the
// demand counts (Ray scores the node before placing it), so a node passes
// the threshold one task earlier. A node without CPU and memory has
// utilization 0.
//
// It walks the three sets, which are sorted by name, side by side instead
// of looking names up, because hybrid decisions compute it for every node.
func utilization(n *NodeView, demand core.Resources) float64 {
	var u float64
	avail, dem := n.Available, demand
	for _, t := range n.Total {
		if t.Name != core.CPU && t.Name != core.Memory && t.Name != core.ActorSlot {
			continue
		}
		for len(avail) > 0 && avail[0].Name < t.Name {
			avail = avail[1:]
		}
		for len(dem) > 0 && dem[0].Name < t.Name {
			dem = dem[1:]
		}
		used := t.Amount
		if len(avail) > 0 && avail[0].Name == t.Name {
			used -= avail[0].Amount
		}
		if len(dem) > 0 && dem[0].Name == t.Name {
			used += dem[0].Amount
		}
		u = max(u, float64(used)/float64(t.Amount))
	}
	return u
}

// hybrid implements StrategyDefault; see Decide.
func hybrid(local core.NodeID, nodes []NodeView, demand core.Resources, threshold float64, terse bool) Decision {
	li := find(nodes, local)
	best, bestU := -1, 0.0
	if li >= 0 && available(&nodes[li], demand) {
		u := utilization(&nodes[li], demand)
		if u < threshold {
			return Decision{Outcome: Place, Node: local, Reason: reasonLocal}
		}
		best, bestU = li, u
	}
	for i := range nodes {
		if i == li || !available(&nodes[i], demand) {
			continue
		}
		if u := utilization(&nodes[i], demand); best < 0 || u < bestU {
			best, bestU = i, u
		}
	}
	if best >= 0 {
		return Decision{Outcome: Place, Node: nodes[best].ID, Reason: reasonLeast}
	}
	return waitOrInfeasible("hybrid", local, li, nodes, demand, terse)
}

// waitOrInfeasible decides for work that no node can run now: wait on the
// local node if it is feasible, else on the first feasible node, else
// report it infeasible.
func waitOrInfeasible(policy string, local core.NodeID, li int, nodes []NodeView, demand core.Resources, terse bool) Decision {
	if li >= 0 && feasible(&nodes[li], demand) {
		d := Decision{Outcome: Wait, Node: local}
		if !terse {
			d.Reason = fmt.Sprintf("%s: no node has %v available now; queued on the local node", policy, demand)
		}
		return d
	}
	for i := range nodes {
		if feasible(&nodes[i], demand) {
			d := Decision{Outcome: Wait, Node: nodes[i].ID}
			if !terse {
				d.Reason = fmt.Sprintf("%s: no node has %v available now; queued for %v", policy, demand, nodes[i].ID)
			}
			return d
		}
	}
	return Decision{Outcome: Infeasible, Reason: infeasibleReason(nodes, demand)}
}

// infeasibleReason explains why no node fits demand, naming the largest
// alive node: the one that covers the largest share of the demand (sum
// over demanded kinds of min(total/demanded, 1)), ties to the lowest
// NodeID.
func infeasibleReason(nodes []NodeView, demand core.Resources) string {
	best, bestScore, excluded := -1, -1.0, 0
	for i := range nodes {
		n := &nodes[i]
		if !usable(n) {
			excluded++
			continue
		}
		var score float64
		for _, d := range demand {
			score += min(float64(n.Total.Get(d.Name))/float64(d.Amount), 1)
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	var notCounted string
	if excluded > 0 {
		notCounted = fmt.Sprintf(" (%d dead or draining nodes not counted)", excluded)
	}
	if best < 0 {
		return fmt.Sprintf("demand %v cannot be scheduled: no alive node that takes new work%s; add nodes to the cluster", demand, notCounted)
	}
	return fmt.Sprintf("demand %v fits no alive node; the largest is %v with %v%s; add a node with enough resources or lower the demand",
		demand, nodes[best].ID, nodes[best].Total, notCounted)
}

// spread implements StrategySpread; see Decide.
func (p *Policy) spread(local core.NodeID, nodes []NodeView, demand core.Resources) Decision {
	start := 0
	if p.spreadStarted {
		// The first node after the last choice; len(nodes) wraps to 0.
		start, _ = slices.BinarySearchFunc(nodes, p.spreadLast, func(n NodeView, id core.NodeID) int {
			if c := compareNodeIDs(n.ID, id); c != 0 {
				return c
			}
			return -1 // equal counts as before, so the search lands after it
		})
	}
	for k := range nodes {
		i := (start + k) % len(nodes)
		if available(&nodes[i], demand) {
			p.spreadLast, p.spreadStarted = nodes[i].ID, true
			return Decision{Outcome: Place, Node: nodes[i].ID, Reason: reasonSpread}
		}
	}
	return waitOrInfeasible("spread", local, find(nodes, local), nodes, demand, p.Terse)
}

// affinity implements StrategyNodeAffinity; see Decide.
func affinity(local core.NodeID, nodes []NodeView, demand core.Resources, s Strategy, threshold float64) Decision {
	var why string
	switch i := find(nodes, s.Node); {
	case i < 0 && !s.Soft:
		// Not in this raylet's view (yet): a node that just registered
		// is known to the GCS before the view hears of it. The caller
		// bounds the wait (Raylet: unknownNodeWaitMax).
		return Decision{Outcome: Wait, Node: local, Reason: fmt.Sprintf("node affinity: node %v is not known here (yet)", s.Node)}
	case i < 0:
		why = fmt.Sprintf("node affinity: node %v is unknown", s.Node)
	case !nodes[i].Alive:
		why = fmt.Sprintf("node affinity: node %v is dead", s.Node)
	case nodes[i].Draining:
		why = fmt.Sprintf("node affinity: node %v is draining and takes no new work", s.Node)
	case !demand.FitsIn(nodes[i].Total):
		why = fmt.Sprintf("node affinity: node %v cannot fit demand %v (total %v)", s.Node, demand, nodes[i].Total)
	case demand.FitsIn(nodes[i].Available):
		return Decision{Outcome: Place, Node: s.Node, Reason: reasonAffinity}
	case !s.Soft:
		return Decision{Outcome: Wait, Node: s.Node,
			Reason: fmt.Sprintf("node affinity: node %v does not have %v available now", s.Node, demand)}
	default:
		why = fmt.Sprintf("node affinity: node %v does not have %v available now", s.Node, demand)
	}
	if !s.Soft {
		return Decision{Outcome: Infeasible, Reason: why + "; use a soft affinity or another node"}
	}
	d := hybrid(local, nodes, demand, threshold, false)
	d.Reason = why + "; soft, so " + d.Reason
	return d
}

// anyAlive reports whether one of nodes is alive.
func anyAlive(nodes []NodeView) bool {
	for i := range nodes {
		if nodes[i].Alive {
			return true
		}
	}
	return false
}
