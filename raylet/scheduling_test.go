package raylet

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
)

// nid returns a test node id; nid(i) < nid(j) for i < j.
func nid(i int) core.NodeID { return core.NodeID{0: byte(i >> 8), 1: byte(i)} }

// cpus returns an alive node i with total CPUs, of which used are leased.
func cpus(i, total int, used string) NodeView {
	t := core.MustResources(core.CPU, total)
	return NodeView{ID: nid(i), Total: t, Available: t.Sub(core.MustResources(core.CPU, used)), Alive: true}
}

func dead(n NodeView) NodeView     { n.Alive = false; return n }
func draining(n NodeView) NodeView { n.Draining = true; return n }

var (
	cpu1 = core.MustResources(core.CPU, 1)
	cpu8 = core.MustResources(core.CPU, 8)
)

type decideCase struct {
	name     string
	local    int
	nodes    []NodeView
	demand   core.Resources
	strategy Strategy
	want     Outcome
	wantNode int      // for Place and Wait
	reason   []string // substrings of the reason
}

func runDecideCases(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Policy
			in := slices.Clone(tc.nodes)
			d := p.Decide(nid(tc.local), tc.nodes, tc.demand, tc.strategy)
			if d.Outcome != tc.want {
				t.Fatalf("Decide(%v) = %v, want %v", tc.demand, d, tc.want)
			}
			if tc.want != Infeasible && d.Node != nid(tc.wantNode) {
				t.Errorf("Decide(%v) = %v, want node %v", tc.demand, d, nid(tc.wantNode))
			}
			if tc.want == Infeasible && !d.Node.IsNil() {
				t.Errorf("Infeasible decision names node %v, want none", d.Node)
			}
			for _, r := range tc.reason {
				if !strings.Contains(d.Reason, r) {
					t.Errorf("reason %q does not mention %q", d.Reason, r)
				}
			}
			if !slices.EqualFunc(in, tc.nodes, func(a, b NodeView) bool {
				return a.ID == b.ID && a.Total.Equal(b.Total) && a.Available.Equal(b.Available) && a.Alive == b.Alive && a.Draining == b.Draining
			}) {
				t.Error("Decide modified its input")
			}
		})
	}
}

func TestHybrid(t *testing.T) {
	mem := func(n NodeView, total, used int64) NodeView {
		m := core.MustResources(core.Memory, core.Quantity(total*core.QuantityScale))
		n.Total = n.Total.Add(m)
		n.Available = n.Available.Add(m).Sub(core.MustResources(core.Memory, core.Quantity(used*core.QuantityScale)))
		return n
	}
	gpu := func(n NodeView) NodeView {
		g := core.MustResources(core.GPU, 1)
		n.Total, n.Available = n.Total.Add(g), n.Available.Add(g)
		return n
	}
	runDecideCases(t, []decideCase{
		{name: "local first below the threshold", local: 2,
			nodes:  []NodeView{cpus(1, 4, "0"), cpus(2, 4, "0"), cpus(3, 4, "0")},
			demand: cpu1, want: Place, wantNode: 2, reason: []string{"local"}},
		{name: "local still below the threshold after placing", local: 2,
			nodes:  []NodeView{cpus(1, 4, "0"), cpus(2, 4, "0.9")},
			demand: cpu1, want: Place, wantNode: 2},
		{name: "spill to the least utilized at the threshold", local: 2,
			nodes:  []NodeView{cpus(1, 4, "2"), cpus(2, 4, "1"), cpus(3, 4, "0"), cpus(4, 4, "1")},
			demand: cpu1, want: Place, wantNode: 3, reason: []string{"least utilized"}},
		{name: "ties go to the lowest node id", local: 9,
			nodes:  []NodeView{cpus(1, 4, "3"), cpus(3, 8, "2"), cpus(4, 4, "1"), cpus(9, 2, "1")},
			demand: cpu1, want: Place, wantNode: 3},
		{name: "a saturated local node keeps work it can run best", local: 2,
			nodes:  []NodeView{cpus(1, 4, "3"), cpus(2, 4, "2"), cpus(3, 4, "3")},
			demand: cpu1, want: Place, wantNode: 2, reason: []string{"least utilized"}},
		{name: "ties with the local node go to it", local: 3,
			nodes:  []NodeView{cpus(1, 4, "2"), cpus(3, 4, "2")},
			demand: cpu1, want: Place, wantNode: 3},
		{name: "full local node spills", local: 1,
			nodes:  []NodeView{cpus(1, 4, "4"), cpus(2, 4, "3.5"), cpus(3, 4, "3")},
			demand: cpu1, want: Place, wantNode: 3},
		{name: "local absent from the view", local: 7,
			nodes:  []NodeView{cpus(1, 4, "1"), cpus(2, 4, "0")},
			demand: cpu1, want: Place, wantNode: 2},
		{name: "utilization counts every resource kind", local: 1,
			nodes:  []NodeView{mem(cpus(1, 4, "0"), 10, 8), mem(cpus(2, 4, "2"), 10, 0)},
			demand: cpu1, want: Place, wantNode: 2},
		{name: "custom resource only on one node", local: 1,
			nodes:  []NodeView{cpus(1, 4, "0"), gpu(cpus(2, 4, "0")), cpus(3, 4, "0")},
			demand: core.MustResources(core.GPU, 1, core.CPU, 1), want: Place, wantNode: 2},
		{name: "zero demand fits a node with nothing available", local: 1,
			nodes:  []NodeView{cpus(1, 4, "4")},
			demand: nil, want: Place, wantNode: 1},
		{name: "zero demand fits a node without resources", local: 1,
			nodes:  []NodeView{{ID: nid(1), Alive: true}},
			demand: nil, want: Place, wantNode: 1},
		{name: "wait on the local node if it is feasible", local: 2,
			nodes:  []NodeView{cpus(1, 4, "4"), cpus(2, 4, "4")},
			demand: cpu1, want: Wait, wantNode: 2, reason: []string{"{CPU: 1}", "local"}},
		{name: "wait on the first feasible node otherwise", local: 1,
			nodes:  []NodeView{cpus(1, 2, "0"), cpus(2, 1, "0"), cpus(3, 8, "8"), cpus(4, 8, "8")},
			demand: core.MustResources(core.CPU, 4), want: Wait, wantNode: 3},
		{name: "infeasible names the demand and the largest node", local: 1,
			nodes:  []NodeView{cpus(1, 2, "0"), cpus(2, 4, "4"), cpus(3, 1, "0")},
			demand: cpu8, want: Infeasible, reason: []string{"{CPU: 8}", nid(2).String(), "{CPU: 4}", "add a node"}},
		{name: "dead and draining nodes get no work", local: 1,
			nodes:  []NodeView{cpus(1, 4, "4"), dead(cpus(2, 4, "0")), draining(cpus(3, 4, "0")), cpus(4, 4, "4")},
			demand: cpu1, want: Wait, wantNode: 1},
		{name: "dead local node", local: 1,
			nodes:  []NodeView{dead(cpus(1, 4, "0")), cpus(2, 4, "4")},
			demand: cpu1, want: Wait, wantNode: 2},
		{name: "only dead or draining nodes could fit", local: 1,
			nodes:  []NodeView{cpus(1, 4, "0"), dead(cpus(2, 8, "0")), draining(cpus(3, 8, "0"))},
			demand: cpu8, want: Infeasible, reason: []string{"{CPU: 8}", nid(1).String(), "2 dead or draining"}},
		{name: "empty view", local: 1, nodes: nil, demand: cpu1, want: Infeasible, reason: []string{"no alive node"}},
	})
}

func TestHybridThreshold(t *testing.T) {
	// Local node 2 would be at 0.5 after placing one CPU, node 1 at 0.25.
	nodes := []NodeView{cpus(1, 4, "0"), cpus(2, 4, "1")}
	for _, tc := range []struct {
		threshold float64
		want      core.NodeID
	}{
		{0, nid(1)},   // default 0.5: the local node would not stay below it
		{0.5, nid(1)}, // the same, explicitly
		{0.5001, nid(2)},
		{1e-9, nid(1)}, // near zero: always the least utilized
		{1.5, nid(2)},  // above 1: pack the local node whenever it has room
	} {
		p := Policy{SpreadThreshold: tc.threshold}
		if d := p.Decide(nid(2), nodes, cpu1, Strategy{}); d.Outcome != Place || d.Node != tc.want {
			t.Errorf("threshold %v: Decide = %v, want place on %v", tc.threshold, d, tc.want)
		}
	}
}

func TestNodeAffinity(t *testing.T) {
	hard := func(i int) Strategy { return Strategy{Kind: StrategyNodeAffinity, Node: nid(i)} }
	soft := func(i int) Strategy { return Strategy{Kind: StrategyNodeAffinity, Node: nid(i), Soft: true} }
	view := []NodeView{cpus(1, 4, "0"), cpus(2, 4, "4"), dead(cpus(3, 4, "0")), draining(cpus(4, 4, "0")), cpus(5, 2, "0"), cpus(6, 4, "0")}
	runDecideCases(t, []decideCase{
		{name: "hard, available", local: 1, nodes: view, demand: cpu1, strategy: hard(6), want: Place, wantNode: 6},
		{name: "hard, busy waits for the target", local: 1, nodes: view, demand: cpu1, strategy: hard(2), want: Wait, wantNode: 2},
		{name: "hard, dead", local: 1, nodes: view, demand: cpu1, strategy: hard(3), want: Infeasible,
			reason: []string{nid(3).String(), "is dead"}},
		{name: "hard, unknown waits for the view to hear of it", local: 1, nodes: view, demand: cpu1, strategy: hard(9), want: Wait, wantNode: 1,
			reason: []string{nid(9).String(), "not known here"}},
		{name: "hard, draining", local: 1, nodes: view, demand: cpu1, strategy: hard(4), want: Infeasible,
			reason: []string{nid(4).String(), "draining"}},
		{name: "hard, too small", local: 1, nodes: view, demand: core.MustResources(core.CPU, 3), strategy: hard(5), want: Infeasible,
			reason: []string{nid(5).String(), "cannot fit", "{CPU: 3}"}},
		{name: "hard, zero demand on a busy node", local: 1, nodes: view, demand: nil, strategy: hard(2), want: Place, wantNode: 2},
		{name: "soft, available", local: 1, nodes: view, demand: cpu1, strategy: soft(6), want: Place, wantNode: 6},
		{name: "soft, busy falls back to hybrid", local: 1, nodes: view, demand: cpu1, strategy: soft(2), want: Place, wantNode: 1,
			reason: []string{"soft", "hybrid"}},
		{name: "soft, dead falls back to hybrid", local: 6, nodes: view, demand: cpu1, strategy: soft(3), want: Place, wantNode: 6},
		{name: "soft, draining falls back to hybrid", local: 6, nodes: view, demand: cpu1, strategy: soft(4), want: Place, wantNode: 6},
		{name: "soft, too small falls back to hybrid", local: 5, nodes: view, demand: core.MustResources(core.CPU, 3), strategy: soft(5), want: Place, wantNode: 1},
		{name: "soft, infeasible everywhere", local: 1, nodes: view, demand: cpu8, strategy: soft(1), want: Infeasible,
			reason: []string{"{CPU: 8}"}},
	})
}

// TestCustomResourcesDoNotCountAsUtilization: as Ray's hybrid policy,
// only CPU and memory make a node "utilized": a task needing a custom
// resource the local node has one of stays local while the local CPUs
// are free, rather than going to the node with more of it.
func TestCustomResourcesDoNotCountAsUtilization(t *testing.T) {
	node := func(i int, gadgets, gpus int, usedCPU string) NodeView {
		n := cpus(i, 8, usedCPU)
		extra := core.MustResources("gadget", gadgets, core.GPU, gpus)
		n.Total, n.Available = n.Total.Add(extra), n.Available.Add(extra)
		return n
	}
	gadget := core.MustResources(core.CPU, 1, "gadget", 1)
	gpu := core.MustResources(core.CPU, 1, core.GPU, 1)
	runDecideCases(t, []decideCase{
		{name: "custom resource: local while its CPUs are free", local: 1, nodes: []NodeView{node(1, 1, 1, "0"), node(2, 4, 4, "0")},
			demand: gadget, want: Place, wantNode: 1},
		{name: "GPU: local while its CPUs are free", local: 1, nodes: []NodeView{node(1, 1, 1, "0"), node(2, 4, 4, "0")},
			demand: gpu, want: Place, wantNode: 1},
		{name: "past the CPU threshold it spreads", local: 1, nodes: []NodeView{node(1, 1, 1, "6"), node(2, 4, 4, "0")},
			demand: gadget, want: Place, wantNode: 2},
	})
}

func TestLabelSelectors(t *testing.T) {
	labeled := func(n NodeView, kv ...string) NodeView {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		n.Labels, _ = core.LabelsFrom(m)
		return n
	}
	sel := func(k, v string) core.Selector {
		s, err := core.ParseSelector(map[string]string{k: v})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	view := []NodeView{labeled(cpus(1, 4, "0"), "zone", "a"), labeled(cpus(2, 4, "4"), "zone", "b"), labeled(cpus(3, 4, "2"), "zone", "b", "gpu", "a100"),
		dead(labeled(cpus(4, 4, "0"), "zone", "c")), cpus(5, 4, "0")}
	runDecideCases(t, []decideCase{
		{name: "default among matching nodes, local excluded", local: 1, nodes: view, demand: cpu1, strategy: Strategy{Labels: sel("zone", "b")}, want: Place, wantNode: 3},
		{name: "matching nodes busy: wait on one", local: 1, nodes: view, demand: core.MustResources(core.CPU, 4), strategy: Strategy{Labels: sel("gpu", "a100")}, want: Wait, wantNode: 3},
		{name: "not: the local node lacks the label", local: 5, nodes: view, demand: cpu1, strategy: Strategy{Labels: sel("zone", "!b")}, want: Place, wantNode: 5},
		{name: "in", local: 2, nodes: view, demand: cpu1, strategy: Strategy{Labels: sel("zone", "in(a,c)")}, want: Place, wantNode: 1},
		{name: "only a dead node matches", local: 1, nodes: view, demand: cpu1, strategy: Strategy{Labels: sel("zone", "c")}, want: Infeasible,
			reason: []string{"no alive node", "zone=c"}},
		{name: "no node matches", local: 1, nodes: view, demand: cpu1, strategy: Strategy{Labels: sel("zone", "d")}, want: Infeasible,
			reason: []string{"zone=d"}},
		{name: "spread over matching nodes", local: 1, nodes: view, demand: cpu1, strategy: Strategy{Kind: StrategySpread, Labels: sel("zone", "b")}, want: Place, wantNode: 3},
		{name: "hard affinity to a node the selector excludes", local: 1, nodes: view, demand: cpu1,
			strategy: Strategy{Kind: StrategyNodeAffinity, Node: nid(1), Labels: sel("zone", "b")}, want: Infeasible, reason: []string{"does not match", "zone=b"}},
		{name: "soft affinity to a node the selector excludes", local: 1, nodes: view, demand: cpu1,
			strategy: Strategy{Kind: StrategyNodeAffinity, Node: nid(1), Soft: true, Labels: sel("zone", "b")}, want: Place, wantNode: 3},
	})
}

func TestSpreadRotates(t *testing.T) {
	var p Policy
	spread := Strategy{Kind: StrategySpread}
	decide := func(nodes []NodeView, demand core.Resources) Decision {
		return p.Decide(nid(1), nodes, demand, spread)
	}
	view := []NodeView{cpus(1, 4, "0"), cpus(2, 4, "0"), cpus(3, 4, "0")}
	var got []core.NodeID
	for range 4 {
		got = append(got, decide(view, cpu1).Node)
	}
	if want := []core.NodeID{nid(1), nid(2), nid(3), nid(1)}; !slices.Equal(got, want) {
		t.Fatalf("spread placed on %v, want %v", got, want)
	}
	// Unavailable, dead and draining nodes are skipped.
	view = []NodeView{cpus(1, 4, "0"), cpus(2, 4, "4"), dead(cpus(3, 4, "0")), draining(cpus(4, 4, "0")), cpus(5, 4, "0")}
	if d := decide(view, cpu1); d.Node != nid(5) {
		t.Fatalf("after %v, spread = %v, want %v", nid(1), d, nid(5))
	}
	// The cursor survives the last node leaving the view: continue after it.
	view = []NodeView{cpus(1, 4, "0"), cpus(6, 4, "0"), cpus(7, 4, "0")}
	if d := decide(view, cpu1); d.Node != nid(6) {
		t.Fatalf("after %v left, spread = %v, want %v", nid(5), d, nid(6))
	}
	// Waiting does not advance the round robin.
	busy := []NodeView{cpus(1, 4, "4"), cpus(6, 4, "4"), cpus(7, 4, "4")}
	if d := decide(busy, cpu1); d.Outcome != Wait || d.Node != nid(1) {
		t.Fatalf("spread on a busy cluster = %v, want wait on the local node", d)
	}
	if d := decide(view, cpu1); d.Node != nid(7) {
		t.Fatalf("after a wait, spread = %v, want %v", d, nid(7))
	}
	if d := decide(view, cpu8); d.Outcome != Infeasible || !strings.Contains(d.Reason, "{CPU: 8}") {
		t.Fatalf("spread of an infeasible demand = %v, want infeasible", d)
	}
	if d := decide(nil, cpu1); d.Outcome != Infeasible {
		t.Fatalf("spread on an empty view = %v, want infeasible", d)
	}
}

// TestDecideIgnoresInputOrder shows that Decide is a function of the set of
// nodes: shuffled views give the same decisions, also for the stateful
// spread policy.
func TestDecideIgnoresInputOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	view := make([]NodeView, 20)
	for i := range view {
		view[i] = cpus(i+1, 1+r.IntN(8), "0")
		view[i].Available = view[i].Total.Sub(core.MustResources(core.CPU, core.Quantity(r.Int64N(int64(view[i].Total.Get(core.CPU))+1))))
		view[i].Alive = r.IntN(8) != 0
		view[i].Draining = r.IntN(8) == 0
	}
	strategies := []Strategy{{}, {Kind: StrategySpread}, {Kind: StrategyNodeAffinity, Node: nid(4), Soft: true}}
	demands := []core.Resources{cpu1, core.MustResources(core.CPU, "2.5"), nil, cpu8}
	run := func(nodes []NodeView) []Decision {
		var p Policy
		var out []Decision
		for range 3 {
			for _, s := range strategies {
				for _, d := range demands {
					out = append(out, p.Decide(nid(3), nodes, d, s))
				}
			}
		}
		return out
	}
	want := run(view)
	for range 10 {
		shuffled := slices.Clone(view)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := run(shuffled); !slices.Equal(got, want) {
			t.Fatalf("decisions depend on the order of the view:\n got %v\nwant %v", got, want)
		}
	}
}

func TestDecideProgrammerErrorsPanic(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"duplicate node", func() {
			var p Policy
			p.Decide(nid(1), []NodeView{cpus(1, 1, "0"), cpus(1, 1, "0")}, cpu1, Strategy{})
		}},
		{"too many nodes", func() {
			var p Policy
			p.Decide(nid(1), make([]NodeView, NodesMax+1), cpu1, Strategy{})
		}},
		{"negative threshold", func() {
			p := Policy{SpreadThreshold: -1}
			p.Decide(nid(1), nil, cpu1, Strategy{})
		}},
		{"NaN threshold", func() {
			p := Policy{SpreadThreshold: math.NaN()}
			p.Decide(nid(1), nil, cpu1, Strategy{})
		}},
		{"unknown strategy", func() {
			var p Policy
			p.Decide(nid(1), nil, cpu1, Strategy{Kind: 9})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tc.name)
				}
			}()
			tc.f()
		})
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Place.String(), "PLACE"},
		{Wait.String(), "WAIT"},
		{Infeasible.String(), "INFEASIBLE"},
		{Outcome(7).String(), "Outcome(7)"},
		{StrategyDefault.String(), "DEFAULT"},
		{StrategySpread.String(), "SPREAD"},
		{StrategyNodeAffinity.String(), "NODE_AFFINITY"},
		{StrategyKind(7).String(), "StrategyKind(7)"},
		{Decision{Outcome: Infeasible, Reason: "r"}.String(), "INFEASIBLE: r"},
		{Decision{Outcome: Place, Node: nid(1), Reason: "r"}.String(), "PLACE " + nid(1).String() + ": r"},
	} {
		if tc.got != tc.want {
			t.Errorf("String() = %q, want %q", tc.got, tc.want)
		}
	}
}

// BenchmarkDecide decides over a view of 100 nodes: the hybrid policy when
// the local node takes the work, when it must scan for the least utilized
// node, the spread policy, and the hybrid policy on an unsorted view. The
// last case is a one-node cluster with every CPU in use, where a lease
// request waits: the raylet makes this decision for every queued request
// on every event, which dominates `gray bench`'s task cases
// (docs/performance.md).
func BenchmarkDecide(b *testing.B) {
	const n = 100
	view := make([]NodeView, n)
	for i := range view {
		view[i] = cpus(i+1, 16, core.Quantity(int64(i%16)*core.QuantityScale).String())
		// Memory as busy as the CPUs, and an idle GPU.
		view[i].Total = view[i].Total.Add(core.MustResources(core.Memory, 1<<20, core.GPU, 1))
		view[i].Available = view[i].Available.Add(core.MustResources(core.Memory, (16-i%16)<<16, core.GPU, 1))
	}
	shuffled := slices.Clone(view)
	rand.New(rand.NewPCG(1, 1)).Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	full := []NodeView{cpus(1, 2, "2")}
	for _, bc := range []struct {
		name  string
		local int
		nodes []NodeView
		s     Strategy
		want  Outcome
	}{
		{"hybrid-local", 1, view, Strategy{}, Place},
		{"hybrid-scan", 16, view, Strategy{}, Place},
		{"spread", 1, view, Strategy{Kind: StrategySpread}, Place},
		{"hybrid-unsorted", 16, shuffled, Strategy{}, Place},
		{"hybrid-wait", 1, full, Strategy{}, Wait},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var p Policy
			b.ReportAllocs()
			for b.Loop() {
				if d := p.Decide(nid(bc.local), bc.nodes, cpu1, bc.s); d.Outcome != bc.want {
					b.Fatal(d)
				}
			}
		})
	}
}
