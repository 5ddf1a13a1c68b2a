package gray_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/grayrt/gray"
)

var placedTask = gray.Task0("test.placed", gray.GetRuntimeContext)

// placedActor reports where it was placed.
type placedActor struct{}

var (
	placedActorClass = gray.Actor("test.placedActor", func(context.Context) (*placedActor, error) { return &placedActor{}, nil })
	placedMethod     = gray.Method0("where", func(_ *placedActor, ctx context.Context) (gray.RuntimeContext, error) {
		return gray.GetRuntimeContext(ctx)
	})
)

// TestLabelsAndAffinity: nodes carry labels (Nodes lists them); tasks
// and actors with a label selector run only on matching nodes, with
// node affinity on the node named; a selector or a hard affinity no
// alive node satisfies fails with ErrInfeasible and says why.
func TestLabelsAndAffinity(t *testing.T) {
	ctx := start(t, gray.WithNodes(3), gray.WithNodeLabels(
		map[string]string{"zone": "a"},
		map[string]string{"zone": "b"},
		map[string]string{"zone": "b", "gpu": "a100"},
	))
	nodes, err := gray.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 3 {
		t.Fatalf("Nodes = %d nodes, want 3", len(nodes))
	}
	zone := map[string]string{} // node id -> zone
	var gpuNode string
	for _, n := range nodes {
		if !n.Alive || n.Resources["CPU"] <= 0 || !strings.HasPrefix(n.ID, "node:") {
			t.Errorf("node %+v: want alive with CPUs and a node: id", n)
		}
		zone[n.ID] = n.Labels["zone"]
		if n.Labels["gpu"] == "a100" {
			gpuNode = n.ID
		}
	}
	if gpuNode == "" {
		t.Fatalf("no node lists the label gpu=a100: %+v", nodes)
	}
	ranOn := func(opts ...gray.Option) map[string]int {
		t.Helper()
		refs := make([]gray.Ref[gray.RuntimeContext], 12)
		for i := range refs {
			refs[i] = placedTask.Options(opts...).Remote(ctx)
		}
		rcs, err := gray.GetAll(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, rc := range rcs {
			got[rc.NodeID]++
		}
		return got
	}
	for sel, want := range map[string][]string{"b": {"b"}, "!b": {"a"}, "in(a,b)": {"a", "b"}} {
		got := ranOn(gray.WithSpread(), gray.WithLabelSelector(map[string]string{"zone": sel}))
		zones := map[string]bool{}
		for id := range got {
			zones[zone[id]] = true
		}
		for z := range zones {
			if !strings.Contains(strings.Join(want, ","), z) || z == "" {
				t.Errorf("zone=%s: tasks ran in zone %q (nodes %v)", sel, z, got)
			}
		}
		if sel == "b" && len(got) != 2 {
			t.Errorf("zone=b with SPREAD ran on %d nodes (%v), want both zone-b nodes", len(got), got)
		}
	}
	if got := ranOn(gray.WithNodeAffinity(gpuNode, false)); len(got) != 1 || got[gpuNode] != 12 {
		t.Errorf("hard affinity to %s ran on %v", gpuNode, got)
	}
	// The state API's form (no prefix) is accepted too.
	if got := ranOn(gray.WithNodeAffinity(strings.TrimPrefix(gpuNode, "node:"), true)); got[gpuNode] == 0 {
		t.Errorf("soft affinity to an idle %s ran on %v", gpuNode, got)
	}

	a, err := placedActorClass.New(ctx, gray.WithLabelSelector(map[string]string{"gpu": "a100"}))
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := placedMethod.Remote(ctx, a).Get(ctx); err != nil || rc.NodeID != gpuNode {
		t.Errorf("actor with gpu=a100 runs on %q, %v; want %s", rc.NodeID, err, gpuNode)
	}

	_, err = placedTask.Options(gray.WithLabelSelector(map[string]string{"zone": "mars"}), gray.WithInfeasibleTimeout(0)).Remote(ctx).Get(ctx)
	if !errors.Is(err, gray.ErrInfeasible) || !strings.Contains(err.Error(), "zone=mars") {
		t.Errorf("a selector no node matches: %v, want ErrInfeasible naming zone=mars", err)
	}
	unknown := "node:" + strings.Repeat("ab", 28)
	if _, err := placedTask.Options(gray.WithNodeAffinity(unknown, false)).Remote(ctx).Get(ctx); !errors.Is(err, gray.ErrInfeasible) {
		t.Errorf("hard affinity to an unknown node: %v, want ErrInfeasible", err)
	}
	if rc, err := placedTask.Options(gray.WithNodeAffinity(unknown, true)).Remote(ctx).Get(ctx); err != nil || zone[rc.NodeID] == "" {
		t.Errorf("soft affinity to an unknown node: %+v, %v; want it run on a node of the cluster", rc, err)
	}
	for _, bad := range []gray.Option{gray.WithNodeAffinity("node:12", false), gray.WithLabelSelector(map[string]string{"zone": "in(a"}),
		gray.WithLabelSelector(map[string]string{"bad key": "x"})} {
		if _, err := placedTask.Options(bad).Remote(ctx).Get(ctx); err == nil || errors.Is(err, gray.ErrInfeasible) {
			t.Errorf("a malformed option: %v, want a clear error at submission", err)
		}
	}
}

// TestBadNodeLabelsRefused: Init refuses a malformed label, saying which.
func TestBadNodeLabelsRefused(t *testing.T) {
	rt, err := gray.Init(context.Background(), gray.WithNodeLabels(map[string]string{"-bad": "x"}))
	if err == nil {
		rt.Shutdown()
		t.Fatal("Init with the label key -bad succeeded")
	}
	if !strings.Contains(err.Error(), "WithNodeLabels") || !strings.Contains(err.Error(), "-bad") {
		t.Errorf("Init with a bad label: %v", err)
	}
	ctx := start(t) // and the runtime can start afterwards
	if _, err := placedTask.Remote(ctx).Get(ctx); err != nil {
		t.Fatal(err)
	}
}
