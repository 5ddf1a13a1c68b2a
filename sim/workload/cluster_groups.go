package workload

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/raylet"
)

// Placement groups under faults.
//
// Every other round each driver creates a group named after it and the
// round, of 2 or 3 bundles of 1 CPU, with a strategy drawn from the
// four, and waits for it (bounded: nodes die, partitions hide them):
//
//   - once CREATED, the group's record must obey its strategy (STRICT_PACK
//     on one node, STRICT_SPREAD on distinct ones), and every bundle
//     placed on an alive node must be reserved there (prepared, or
//     committed once the commit arrived): a decision never names a node
//     that did not prepare its bundle (the pg-commit-failed-prepare
//     variant, whose GCS commits after a failed prepare, is caught here);
//   - a task runs in each bundle (retried forever: it must complete) and
//     reports its node, which must be the bundle's while the group did
//     not move;
//   - the group is removed (retried until the GCS answers, also when
//     its creation's answer was lost: it is found by name), after which
//     a task into it fails with ErrGroupRemoved.
//
// When the run ends every raylet must hold no bundle and the nodes'
// resources must be back to full (idle): a bundle that outlived its
// group's removal, or a phase one the GCS abandoned, would hold them.

// variantCommitFailedPrepare runs the GCS with
// gcs.BugCommitFailedPrepare.
const variantCommitFailedPrepare = "pg-commit-failed-prepare"

// groupMember is an actor placed in a bundle; where tells its node.
type groupMember struct{}

var (
	groupMemberClass = gray.Actor("workload.GroupMember", func(context.Context) (*groupMember, error) { return &groupMember{}, nil })
	groupMemberWhere = gray.Method0("where", func(_ *groupMember, ctx context.Context) (gray.RuntimeContext, error) {
		return gray.GetRuntimeContext(ctx)
	})
)

var groupStrategies = []gray.PlacementStrategy{gray.Pack, gray.Spread, gray.StrictPack, gray.StrictSpread}

func (d *driver) groupRound(ctx context.Context) error {
	w := d.cl.w
	name := fmt.Sprintf("%s-r%d", d.addr, d.round)
	strategy := groupStrategies[d.rnd.IntN(len(groupStrategies))]
	bundles := make([]map[string]float64, 2+d.rnd.IntN(2))
	for i := range bundles {
		bundles[i] = map[string]float64{"CPU": 1}
	}
	d.step = "group: create"
	g, err := gray.CreatePlacementGroup(ctx, bundles, gray.WithPlacementStrategy(strategy), gray.WithName(name))
	if err != nil {
		// The GCS did not answer: the group may exist all the same.
		w.Sometimes("placement group creation unanswered")
		return d.removeGroup(ctx, nil, name)
	}
	d.step = "group: wait"
	ok, err := g.Wait(ctx, 3*time.Second)
	if err != nil && !errors.Is(err, gcs.ErrTimeout) {
		return fmt.Errorf("placement group %s: wait: %w", name, err)
	}
	if ok {
		w.Sometimes("placement group created")
		if err := d.useGroup(ctx, g, strategy); err != nil {
			return err
		}
	} else {
		w.Sometimes("placement group still pending after 3s")
	}
	return d.removeGroup(ctx, g, name)
}

// useGroup checks a created group's record and runs a task in each of
// its bundles.
func (d *driver) useGroup(ctx context.Context, g *gray.PlacementGroup, strategy gray.PlacementStrategy) error {
	w := d.cl.w
	before, err := gray.PlacementGroupState(ctx, g)
	if err != nil {
		return nil // the GCS did not answer: nothing to check
	}
	if before.State == "CREATED" {
		if err := d.cl.checkGroup(before); err != nil {
			return err
		}
	}
	d.step = "group: tasks"
	refs := make([]gray.Ref[gray.RuntimeContext], g.Bundles)
	for b := range refs {
		refs[b] = whereTask.Options(gray.WithPlacementGroup(g, b), gray.WithMaxRetries(-1)).Remote(ctx)
	}
	ran := make([]string, len(refs))
	for b, r := range refs {
		rc, err := r.Get(ctx)
		r.Release()
		if err != nil {
			return fmt.Errorf("task in bundle %d of %s: %w", b, g.ID, err)
		}
		ran[b] = rc.NodeID
	}
	after, err := gray.PlacementGroupState(ctx, g)
	if err != nil || after.State != "CREATED" || before.State != "CREATED" || fmt.Sprint(after.Nodes) != fmt.Sprint(before.Nodes) {
		w.Sometimes("placement group moved while its tasks ran")
		return nil
	}
	for b, node := range ran {
		if node == before.Nodes[b] {
			continue
		}
		// A node the GCS declared dead runs what it granted until it
		// hears (its bundles went elsewhere meanwhile), as for any task.
		dead, ok := nodeDead(ctx, node)
		if !ok {
			return nil
		}
		if !dead {
			return fmt.Errorf("a task in bundle %d of %s ran on %s, but the bundle is on %s", b, g.ID, node, before.Nodes[b])
		}
		w.Sometimes("task ran in a bundle on a node already declared dead")
		return nil
	}
	w.Sometimes("task ran in its placement group bundle")
	// An actor in the last bundle runs on its node.
	d.step = "group: actor"
	last := g.Bundles - 1
	a, err := groupMemberClass.New(ctx, gray.WithPlacementGroup(g, last), gray.WithMaxRestarts(-1), gray.WithMaxTaskRetries(-1))
	if err != nil {
		return fmt.Errorf("actor in bundle %d of %s: %w", last, g.ID, err)
	}
	ar := groupMemberWhere.Remote(ctx, a)
	defer ar.Release()
	defer a.Release()
	// The actor's process is the node's: at the node's worker cap (its
	// actor slots held by the workload's long-lived actors) it waits, as
	// any actor does there. Give up on it after a while.
	if ready, _, err := gray.Wait(ctx, []gray.Ref[gray.RuntimeContext]{ar}, 1, 5*time.Second); err != nil || len(ready) == 0 {
		if err := a.Kill(ctx, true); err != nil {
			return nil
		}
		w.Sometimes("actor in a bundle waited for an actor slot of its node")
		return nil
	}
	rc, err := ar.Get(ctx)
	if err != nil {
		return fmt.Errorf("actor in bundle %d of %s: call: %w", last, g.ID, err)
	}
	if rc.NodeID != before.Nodes[last] {
		dead, ok := nodeDead(ctx, before.Nodes[last])
		if dead {
			w.Sometimes("actor in a bundle restarted where the bundle went after its node died")
		}
		if !ok || dead || groupMoved(ctx, g, before) {
			return nil
		}
		return fmt.Errorf("an actor in bundle %d of %s runs on %s, but the bundle is on %s", last, g.ID, rc.NodeID, before.Nodes[last])
	}
	w.Sometimes("actor ran in its placement group bundle")
	// A task that captures its children: its child runs on a node of
	// the group.
	d.step = "group: captured child"
	r := childWhereTask.Options(gray.WithPlacementGroup(g, -1), gray.WithCaptureChildTasks(), gray.WithMaxRetries(-1)).Remote(ctx)
	defer r.Release()
	node, err := r.Get(ctx)
	if err != nil {
		return fmt.Errorf("captured child task in %s: %w", g.ID, err)
	}
	if !slices.Contains(before.Nodes, node) {
		// A dead node's raylet may have granted it before it heard.
		if dead, ok := nodeDead(ctx, node); !ok || dead || groupMoved(ctx, g, before) {
			return nil
		}
		return fmt.Errorf("a child task captured by group %s ran on %s, not a node of the group %v", g.ID, node, before.Nodes)
	}
	w.Sometimes("captured child task ran in its parent's placement group")
	return nil
}

// nodeDead reports whether the GCS holds node dead; ok is false when it
// did not answer.
func nodeDead(ctx context.Context, node string) (dead, ok bool) {
	nodes, err := gray.Nodes(ctx)
	if err != nil {
		return false, false
	}
	for _, n := range nodes {
		if n.ID == node {
			return !n.Alive, true
		}
	}
	return false, true
}

// groupMoved reports whether g's bundles are no longer where before
// placed them (or the GCS did not answer).
func groupMoved(ctx context.Context, g *gray.PlacementGroup, before gray.PlacementGroupInfo) bool {
	now, err := gray.PlacementGroupState(ctx, g)
	return err != nil || fmt.Sprint(now.Nodes) != fmt.Sprint(before.Nodes)
}

// removeGroup removes the group (g, or the one named name), retrying
// until the GCS answers, then checks that a task into it fails.
func (d *driver) removeGroup(ctx context.Context, g *gray.PlacementGroup, name string) error {
	d.step = "group: remove"
	for {
		if g == nil {
			found, err := gray.GetPlacementGroup(ctx, name)
			switch {
			case err == nil:
				g = found
			case errors.Is(err, gcs.ErrNotFound):
				return nil // never created, or removed
			default:
				if err := pause(ctx, 200*time.Millisecond); err != nil {
					return err
				}
				continue
			}
		}
		err := gray.RemovePlacementGroup(ctx, g)
		if err == nil {
			break
		}
		if err := pause(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	r := whereTask.Options(gray.WithPlacementGroup(g, 0)).Remote(ctx)
	defer r.Release()
	if _, err := r.Get(ctx); !errors.Is(err, gray.ErrGroupRemoved) {
		return fmt.Errorf("a task into removed group %s: %v, want ErrGroupRemoved", g.ID, err)
	}
	d.cl.w.Sometimes("task into a removed placement group failed")
	return nil
}

// checkGroup checks a CREATED group's record against its strategy and
// the raylets: each bundle placed on an alive node is reserved there.
func (c *cluster) checkGroup(p gray.PlacementGroupInfo) error {
	distinct := map[string]bool{}
	for _, n := range p.Nodes {
		distinct[n] = true
	}
	switch {
	case p.Strategy == gray.StrictPack && len(distinct) != 1:
		return fmt.Errorf("STRICT_PACK group %s is CREATED on %d nodes: %v", p.ID, len(distinct), p.Nodes)
	case p.Strategy == gray.StrictSpread && len(distinct) != len(p.Nodes):
		return fmt.Errorf("STRICT_SPREAD group %s is CREATED with bundles sharing nodes: %v", p.ID, p.Nodes)
	}
	for i, n := range p.Nodes {
		r := c.rayletOf(n)
		if r == nil {
			continue // dead, or restarted as another node
		}
		held := false
		for _, b := range r.Bundles() {
			if b.Group.String() == p.ID && int(b.Index) == i {
				held = true
			}
		}
		if !held {
			return fmt.Errorf("placement group %s is CREATED with bundle %d on %s, whose raylet does not hold it (it holds %+v)", p.ID, i, n, r.Bundles())
		}
	}
	return c.committedOnce(p)
}

// committedOnce checks that each bundle of p is committed on at most one
// node the GCS holds alive (a node declared dead may not have heard yet
// that its bundles moved).
func (c *cluster) committedOnce(p gray.PlacementGroupInfo) error {
	g, ok := c.gcsServer()
	if !ok {
		return nil // the GCS is down: it holds nothing alive now
	}
	alive := map[string]bool{}
	for _, n := range g.Nodes() {
		alive[n.ID.Full()] = n.State == gcs.NodeAlive
	}
	holders := map[int32][]string{}
	for _, a := range c.raylets {
		r, ok := c.w.Process(a).(*raylet.Raylet)
		if !ok || r.Fenced() || !alive[r.Node().Full()] {
			continue
		}
		for _, b := range r.Bundles() {
			if b.Committed && b.Group.String() == p.ID {
				holders[b.Index] = append(holders[b.Index], string(a))
			}
		}
	}
	for _, i := range slices.Sorted(maps.Keys(holders)) {
		if hs := holders[i]; len(hs) > 1 {
			return fmt.Errorf("bundle %d of placement group %s is committed on %d alive nodes: %v", i, p.ID, len(hs), hs)
		}
	}
	return nil
}

// rayletOf returns the live raylet of the node named n, or nil.
func (c *cluster) rayletOf(n string) *raylet.Raylet {
	for _, a := range c.raylets {
		if r, ok := c.w.Process(a).(*raylet.Raylet); ok && !r.Fenced() && r.Node().Full() == n {
			return r
		}
	}
	return nil
}

// noBundlesLeft reports a raylet that still holds a bundle ("" if none).
func (c *cluster) noBundlesLeft() string {
	for _, a := range c.raylets {
		if r, ok := c.w.Process(a).(*raylet.Raylet); ok && !r.Fenced() && len(r.Bundles()) > 0 {
			return fmt.Sprintf("%s still holds placement group bundles %+v", a, r.Bundles())
		}
	}
	return ""
}
