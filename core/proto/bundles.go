package proto

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
)

// Placement groups (Ray's placement groups): a group reserves bundles of
// resources on nodes for a gang of tasks and actors. The GCS decides
// where each bundle goes and reserves them atomically in two phases:
// PrepareBundles on every chosen raylet, then CommitBundles once all
// prepared (or ReturnBundles to roll back). A task or actor scheduled
// into a group (Strategy.Bundle) runs on a lease granted from a
// committed bundle's resources, not from the node's.

// PlacementStrategy is how a group's bundles are spread over nodes.
type PlacementStrategy uint8

// Placement strategies, as in Ray.
const (
	// PlacementPack puts bundles on as few nodes as possible.
	PlacementPack PlacementStrategy = iota
	// PlacementSpread puts bundles on distinct nodes where it can.
	PlacementSpread
	// PlacementStrictPack puts every bundle on one node.
	PlacementStrictPack
	// PlacementStrictSpread puts each bundle on a node of its own.
	PlacementStrictSpread
)

var placementNames = [...]string{"PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"}

func (s PlacementStrategy) String() string {
	if int(s) < len(placementNames) {
		return placementNames[s]
	}
	return fmt.Sprintf("PlacementStrategy(%d)", uint8(s))
}

// Valid reports whether s is one of the strategies above.
func (s PlacementStrategy) Valid() bool { return int(s) < len(placementNames) }

// ParsePlacementStrategy reads a strategy by its Ray name.
func ParsePlacementStrategy(name string) (PlacementStrategy, error) {
	for i, n := range placementNames {
		if strings.EqualFold(name, n) {
			return PlacementStrategy(i), nil
		}
	}
	return 0, fmt.Errorf("placement strategy %q: want one of %s", name, strings.Join(placementNames[:], ", "))
}

// Bundle bounds.
const (
	// BundlesMax bounds the bundles of one group.
	BundlesMax = 1000
)

// BundleRef names a bundle of a group; Index -1 means any of its bundles.
type BundleRef struct {
	Group core.PlacementGroupID `msgpack:"g"`
	Index int32                 `msgpack:"i"`
	// Capture: the tasks and actors this one submits without a strategy
	// of their own go into the same group, any bundle (Ray's
	// placement_group_capture_child_tasks), and capture theirs in turn.
	Capture bool `msgpack:"c,omitempty"`
}

// Captured returns the strategy of a task or actor with strategy s
// submitted by one running with parent: the parent's group when it
// captures its children and s is the default, else s.
func Captured(s Strategy, parent *TaskSpec) Strategy {
	if parent == nil || parent.Strategy.Bundle == nil || !parent.Strategy.Bundle.Capture ||
		s.Kind != StrategyDefault || s.Bundle != nil || len(s.Labels) > 0 {
		return s
	}
	s.Bundle = &BundleRef{Group: parent.Strategy.Bundle.Group, Index: -1, Capture: true}
	return s
}

// BundleSpec is one bundle to reserve on a node.
type BundleSpec struct {
	Group     core.PlacementGroupID `msgpack:"g"`
	Index     int32                 `msgpack:"i"`
	Resources core.Resources        `msgpack:"r"`
}

func (b *BundleSpec) validate() error {
	switch {
	case b.Index < 0 || b.Index >= BundlesMax:
		return fmt.Errorf("bundle index %d: want 0 to %d", b.Index, BundlesMax-1)
	case !b.Resources.Valid() || b.Resources.AnyNegative():
		return fmt.Errorf("bundle %d: invalid resources %v", b.Index, b.Resources)
	case b.Resources.IsEmpty():
		return fmt.Errorf("bundle %d: no resources (a bundle reserves at least one)", b.Index)
	}
	return nil
}

// PrepareBundles asks a raylet to reserve bundles out of its available
// resources (phase one): all of them or, with an error, none. Preparing
// a bundle already prepared or committed here with the same resources is
// a no-op. Reply: Ack.
type PrepareBundles struct {
	// Node is the node the GCS means: a raylet restarted at the address
	// of an earlier incarnation (another NodeID) refuses it.
	Node    core.NodeID  `msgpack:"n"`
	Bundles []BundleSpec `msgpack:"b"`
}

// Validate bounds the bundles.
func (p *PrepareBundles) Validate() error {
	if len(p.Bundles) == 0 || len(p.Bundles) > BundlesMax {
		return fmt.Errorf("prepare of %d bundles: want 1 to %d", len(p.Bundles), BundlesMax)
	}
	for i := range p.Bundles {
		if err := p.Bundles[i].validate(); err != nil {
			return err
		}
	}
	return nil
}

// CommitBundles makes prepared bundles of a group usable by its tasks
// (phase two). Committing a committed bundle is a no-op; one never
// prepared here fails with NotFound. Reply: Ack.
type CommitBundles struct {
	Node    core.NodeID           `msgpack:"n"`
	Group   core.PlacementGroupID `msgpack:"g"`
	Indexes []int32               `msgpack:"x"`
}

// Validate bounds the indexes.
func (c *CommitBundles) Validate() error { return validIndexes(c.Indexes, false) }

// ReturnBundles gives back bundles of a group reserved here, prepared
// (a rolled back phase one) or committed (the group was removed, or the
// bundle moved): their resources return to the node, and the leases
// running in them fail. No Indexes means every bundle of the group. A
// bundle not here is ignored. Reply: Ack.
type ReturnBundles struct {
	// Node is the node the GCS means; another incarnation of the raylet
	// ignores it (its bundles are its own).
	Node    core.NodeID           `msgpack:"n"`
	Group   core.PlacementGroupID `msgpack:"g"`
	Indexes []int32               `msgpack:"x,omitempty"`
}

// Validate bounds the indexes.
func (r *ReturnBundles) Validate() error { return validIndexes(r.Indexes, true) }

func validIndexes(x []int32, emptyOK bool) error {
	if len(x) == 0 && !emptyOK {
		return errors.New("no bundle indexes")
	}
	if len(x) > BundlesMax {
		return fmt.Errorf("%d bundle indexes, limit %d", len(x), BundlesMax)
	}
	for _, i := range x {
		if i < 0 || i >= BundlesMax {
			return fmt.Errorf("bundle index %d: want 0 to %d", i, BundlesMax-1)
		}
	}
	return nil
}

// BundleState is one bundle a raylet holds, as its heartbeat reports
// it to the GCS, which answers with the bundles to give back (those of
// a group removed, or of a placement the GCS never decided).
type BundleState struct {
	Group     core.PlacementGroupID `msgpack:"g"`
	Index     int32                 `msgpack:"i"`
	Committed bool                  `msgpack:"c,omitempty"`
}

// GroupInfeasible tells the process that created a placement group that
// no set of alive nodes could ever hold it (their total resources are
// too small): it waits for nodes to join. The GCS sends it when the
// group becomes infeasible and every InfeasibleRepeat while it stays so
// (one-way: the owner may be gone).
type GroupInfeasible struct {
	Group  core.PlacementGroupID `msgpack:"g"`
	Name   string                `msgpack:"n,omitempty"`
	Reason string                `msgpack:"r"`
}

// InfeasibleRepeat is how often an infeasible group's owner is told
// again, as infeasible tasks are warned of again.
const InfeasibleRepeat = 2 * time.Minute
