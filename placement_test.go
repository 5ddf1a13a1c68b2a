package gray_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grayrt/gray"
)

// TestPlacementGroups: on two nodes of 2 CPUs, a STRICT_SPREAD group of
// two 1-CPU bundles is created on both nodes (Ready, Wait); tasks and an
// actor scheduled into a bundle run on that bundle's node; a STRICT_PACK
// group of 4 CPUs no node can hold waits, infeasible, saying why; a
// named group is found by name; once removed, a group's Wait and new
// tasks fail with ErrGroupRemoved, and its CPUs are free again (a group
// that takes all four CPUs is then created).
func TestPlacementGroups(t *testing.T) {
	var log logBuffer
	ctx := start(t, gray.WithNodes(2), gray.WithCPUsPerNode(2), gray.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	one := map[string]float64{"CPU": 1}
	g, err := gray.CreatePlacementGroup(ctx, []map[string]float64{one, one},
		gray.WithPlacementStrategy(gray.StrictSpread), gray.WithName("gang"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := g.Ready(ctx).Get(ctx); err != nil || !ok {
		t.Fatalf("Ready = %v, %v", ok, err)
	}
	info, err := gray.PlacementGroupState(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != "CREATED" || len(info.Nodes) != 2 || info.Nodes[0] == info.Nodes[1] || info.Nodes[0] == "" {
		t.Fatalf("STRICT_SPREAD group: %+v, want CREATED on two nodes", info)
	}
	for b := range 2 {
		for range 3 {
			rc, err := placedTask.Options(gray.WithPlacementGroup(g, b)).Remote(ctx).Get(ctx)
			if err != nil || rc.NodeID != info.Nodes[b] {
				t.Errorf("a task in bundle %d ran on %s (%v), want %s", b, rc.NodeID, err, info.Nodes[b])
			}
		}
	}
	a, err := placedActorClass.New(ctx, gray.WithPlacementGroup(g, 1))
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := placedMethod.Remote(ctx, a).Get(ctx); err != nil || rc.NodeID != info.Nodes[1] {
		t.Errorf("an actor in bundle 1 runs on %s (%v), want %s", rc.NodeID, err, info.Nodes[1])
	}
	if got, err := gray.GetPlacementGroup(ctx, "gang"); err != nil || got.ID != g.ID {
		t.Errorf("GetPlacementGroup(gang) = %+v, %v; want %s", got, err, g.ID)
	}
	if _, err := gray.CreatePlacementGroup(ctx, []map[string]float64{one}, gray.WithName("gang")); err == nil {
		t.Errorf("a second group named gang was created")
	}
	if _, err := gray.CreatePlacementGroup(ctx, []map[string]float64{one}, gray.WithCPUs(1)); err == nil {
		t.Errorf("CreatePlacementGroup took a task option")
	}
	if _, err := placedTask.Options(gray.WithPlacementGroup(g, 2)).Remote(ctx).Get(ctx); err == nil {
		t.Errorf("a task in bundle 2 of a group of 2 was submitted")
	}
	// More than a bundle reserves: infeasible at once, for tasks and actors.
	if _, err := placedTask.Options(gray.WithPlacementGroup(g, -1), gray.WithCPUs(2)).Remote(ctx).Get(ctx); !errors.Is(err, gray.ErrInfeasible) {
		t.Errorf("a 2-CPU task in a group of 1-CPU bundles: %v, want ErrInfeasible", err)
	}
	if fat, err := placedActorClass.New(ctx, gray.WithPlacementGroup(g, 0), gray.WithCPUs(2)); err == nil {
		if _, err := placedMethod.Remote(ctx, fat).Get(ctx); !errors.Is(err, gray.ErrInfeasible) {
			t.Errorf("a call on a 2-CPU actor in a 1-CPU bundle: %v, want ErrInfeasible", err)
		}
	}

	big := map[string]float64{"CPU": 2}
	pack, err := gray.CreatePlacementGroup(ctx, []map[string]float64{big, big}, gray.WithPlacementStrategy(gray.StrictPack))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := pack.Wait(ctx, 300*time.Millisecond); ok || err != nil {
		t.Fatalf("a STRICT_PACK group of 4 CPUs on 2-CPU nodes: Wait = %v, %v; want not created", ok, err)
	}
	if info, err := gray.PlacementGroupState(ctx, pack); err != nil || info.State != "PENDING" || !info.Infeasible || !strings.Contains(info.Reason, "infeasible") {
		t.Errorf("the 4-CPU STRICT_PACK group: %+v, %v; want PENDING, infeasible, with the reason", info, err)
	}
	// Its creator's log says so (the GCS tells it).
	for deadline := time.Now().Add(time.Minute); !strings.Contains(log.String(), `msg="no set of alive nodes can hold a placement group`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning of the infeasible group in the driver's log:\n%s", log.String())
		}
	}
	if err := gray.RemovePlacementGroup(ctx, pack); err != nil {
		t.Fatal(err)
	}

	// Removed: its CPUs come back.
	if err := gray.RemovePlacementGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Wait(ctx, time.Second); !errors.Is(err, gray.ErrGroupRemoved) {
		t.Errorf("Wait on a removed group = %v, want ErrGroupRemoved", err)
	}
	if _, err := placedTask.Options(gray.WithPlacementGroup(g, 0)).Remote(ctx).Get(ctx); !errors.Is(err, gray.ErrGroupRemoved) {
		t.Errorf("a task in a removed group: %v, want ErrGroupRemoved", err)
	}
	all, err := gray.CreatePlacementGroup(ctx, []map[string]float64{big, big}, gray.WithPlacementStrategy(gray.Spread))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := all.Wait(ctx, -1); !ok || err != nil {
		t.Fatalf("a group of every CPU after the removal: Wait = %v, %v", ok, err)
	}
	groups, err := gray.PlacementGroups(ctx)
	if err != nil || len(groups) != 3 {
		t.Errorf("PlacementGroups = %d groups (%v), want 3", len(groups), err)
	}
	if err := gray.RemovePlacementGroup(ctx, all); err != nil {
		t.Fatal(err)
	}
}

// childNode runs a task without options and returns the node it ran on.
var childNode = gray.Task0("test.childNode", func(ctx context.Context) (string, error) {
	rc, err := placedTask.Remote(ctx).Get(ctx)
	return rc.NodeID, err
})

// TestCaptureChildTasks: on two nodes of 2 CPUs, a group of one 2-CPU
// bundle fills one node. A task in the group that captures its children
// runs its child in the bundle, on that node; without capture the child
// goes to the other node, the only one with a free CPU. The option
// needs WithPlacementGroup.
func TestCaptureChildTasks(t *testing.T) {
	ctx := start(t, gray.WithNodes(2), gray.WithCPUsPerNode(2))
	g, err := gray.CreatePlacementGroup(ctx, []map[string]float64{{"CPU": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := g.Wait(ctx, -1); !ok || err != nil {
		t.Fatalf("Wait = %v, %v", ok, err)
	}
	info, err := gray.PlacementGroupState(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	groupNode := info.Nodes[0]
	captured, err := childNode.Options(gray.WithPlacementGroup(g, 0), gray.WithCaptureChildTasks()).Remote(ctx).Get(ctx)
	if err != nil || captured != groupNode {
		t.Errorf("a captured child ran on %s (%v), want the group's node %s", captured, err, groupNode)
	}
	free, err := childNode.Options(gray.WithPlacementGroup(g, 0)).Remote(ctx).Get(ctx)
	if err != nil || free == groupNode {
		t.Errorf("a child not captured ran on %s (%v), want the other node", free, err)
	}
	if _, err := childNode.Options(gray.WithCaptureChildTasks()).Remote(ctx).Get(ctx); err == nil {
		t.Errorf("WithCaptureChildTasks without a group was accepted")
	}
	if err := gray.RemovePlacementGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
}

// logBuffer is a log destination safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
