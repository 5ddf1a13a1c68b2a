package gray

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
)

// Placement groups (Ray's placement groups): a group reserves bundles of
// resources on the cluster's nodes, atomically (all or none), for a gang
// of tasks and actors scheduled into it with WithPlacementGroup.

// PlacementStrategy is how a group's bundles spread over nodes.
type PlacementStrategy string

// Placement strategies, as in Ray.
const (
	// Pack puts the bundles on as few nodes as possible (the default).
	Pack PlacementStrategy = "PACK"
	// Spread puts the bundles on distinct nodes where it can.
	Spread PlacementStrategy = "SPREAD"
	// StrictPack puts every bundle on one node.
	StrictPack PlacementStrategy = "STRICT_PACK"
	// StrictSpread puts each bundle on a node of its own.
	StrictSpread PlacementStrategy = "STRICT_SPREAD"
)

// PlacementGroup is a handle on a placement group. It is a plain value:
// it may be passed to tasks and actors (inside values too).
type PlacementGroup struct {
	// ID names the group ("pg:" and hex digits).
	ID string
	// Bundles is the number of the group's bundles.
	Bundles int
}

// PlacementGroupInfo describes a group (PlacementGroupState).
type PlacementGroupInfo struct {
	ID        string
	Name      string
	Namespace string
	Strategy  PlacementStrategy
	// State is PENDING, CREATED, RESCHEDULING (a node holding some of
	// its bundles died; they are being placed again) or REMOVED.
	State   string
	Bundles []map[string]float64
	// Nodes holds each bundle's node ("" while it is not placed).
	Nodes    []string
	Detached bool
	// Reason says why a PENDING or RESCHEDULING group waits; Infeasible
	// that no set of alive nodes could ever hold it (it waits for nodes
	// to join).
	Reason     string
	Infeasible bool
}

// WithPlacementStrategy sets a placement group's strategy (default Pack).
func WithPlacementStrategy(s PlacementStrategy) Option {
	return func(c *callConfig) { c.placementStrategy = s }
}

// WithPlacementGroup schedules a task or actor into bundle of g (-1: any
// of its bundles): it runs on the node that holds the bundle, on the
// bundle's resources, once the group is created; it fails with
// ErrGroupRemoved if the group is removed first, and a running one fails
// when it is removed.
func WithPlacementGroup(g *PlacementGroup, bundle int) Option {
	return func(c *callConfig) { c.group, c.groupBundle = g, bundle }
}

// WithCaptureChildTasks, next to WithPlacementGroup, schedules the
// tasks and actors that the task or actor submits without a strategy of
// their own (no WithSpread, WithNodeAffinity, WithLabelSelector or
// WithPlacementGroup) into the same group, on any of its bundles, and
// theirs in turn (Ray's placement_group_capture_child_tasks). An actor
// captures what its constructor submits.
func WithCaptureChildTasks() Option {
	return func(c *callConfig) { c.captureChildren = true }
}

// CreatePlacementGroup creates a placement group of bundles (each a
// resource map, such as {"CPU": 2, "GPU": 1}) and returns at once: the
// GCS reserves the bundles (Ready and Wait tell when). Options:
// WithPlacementStrategy, WithName and WithNamespace (a name taken by a
// group not removed fails), WithDetached (the group outlives its
// creator's job). A group no alive nodes can hold waits for nodes to
// join; PlacementGroupState says why.
func CreatePlacementGroup(ctx context.Context, bundles []map[string]float64, opts ...Option) (*PlacementGroup, error) {
	cfg := newCallConfig(opts)
	if err := cfg.onlyGroupOptions(); err != nil {
		return nil, err
	}
	strategy := proto.PlacementPack
	if cfg.placementStrategy != "" {
		s, err := proto.ParsePlacementStrategy(string(cfg.placementStrategy))
		if err != nil {
			return nil, fmt.Errorf("gray: CreatePlacementGroup: %w", err)
		}
		strategy = s
	}
	if len(bundles) == 0 || len(bundles) > proto.BundlesMax {
		return nil, fmt.Errorf("gray: CreatePlacementGroup: %d bundles, want 1 to %d", len(bundles), proto.BundlesMax)
	}
	res := make([]core.Resources, len(bundles))
	for i, b := range bundles {
		if i > 0 && maps.Equal(b, bundles[i-1]) {
			res[i] = res[i-1] // a group's bundles are mostly alike: one set for a run of them
			continue
		}
		r, err := toResources(b)
		if err != nil {
			return nil, fmt.Errorf("gray: CreatePlacementGroup: bundle %d: %w", i, err)
		}
		if r.IsEmpty() {
			return nil, fmt.Errorf("gray: CreatePlacementGroup: bundle %d reserves nothing; give it at least one resource", i)
		}
		res[i] = r
	}
	cl, err := callerFor(ctx)
	if err != nil {
		return nil, err
	}
	info, err := do(ctx, cl, func(w *worker.Worker, reply func(gcs.PlacementGroupInfo, error)) {
		g := gcs.PlacementGroupInfo{ID: w.NewPlacementGroupID(), Name: cfg.name, Namespace: cfg.namespace,
			Strategy: strategy, Bundles: res, Detached: cfg.detached, Owner: w.Addr()}
		cl.GCS().CreatePlacementGroup(g, func(r gcs.Reply, err error) {
			if err != nil {
				reply(gcs.PlacementGroupInfo{}, fmt.Errorf("gray: CreatePlacementGroup: %w", err))
				return
			}
			reply(r.PlacementGroups[0], nil)
		})
	})
	if err != nil {
		return nil, err
	}
	return &PlacementGroup{ID: info.ID.String(), Bundles: len(res)}, nil
}

// readyTask runs in a group's bundle once the group is created (Ray's
// pg.ready() is such a task too).
var readyTask = Task0("gray.placementGroupReady", func(context.Context) (bool, error) { return true, nil })

// Ready returns a Ref that becomes ready (true) once the group is
// created, so that it can be waited on with Get or Wait next to other
// refs; it fails with ErrGroupRemoved if the group is removed first.
func (g *PlacementGroup) Ready(ctx context.Context) Ref[bool] {
	return readyTask.Options(WithPlacementGroup(g, -1), WithCPUs(0), WithMaxRetries(-1)).Remote(ctx)
}

// Wait waits until the group is created (true), timeout passed (false;
// a negative timeout waits for ever) or ctx ends; a removed group is
// ErrGroupRemoved.
func (g *PlacementGroup) Wait(ctx context.Context, timeout time.Duration) (bool, error) {
	id, err := parseGroupID(g)
	if err != nil {
		return false, err
	}
	cl, err := callerFor(ctx)
	if err != nil {
		return false, err
	}
	type result struct {
		ok  bool
		err error
	}
	r, err := do(ctx, cl, func(w *worker.Worker, reply func(result, error)) {
		w.WaitPlacementGroup(id, timeout, func(ok bool, err error) { reply(result{ok, err}, nil) })
	})
	if err != nil {
		return false, err
	}
	if r.err != nil {
		return false, fmt.Errorf("gray: placement group %s: %w", g.ID, r.err)
	}
	return r.ok, nil
}

// RemovePlacementGroup removes a group, created or still pending: its
// bundles' resources go back to their nodes, and the tasks and actors
// running in it fail (ErrGroupRemoved for those not started).
func RemovePlacementGroup(ctx context.Context, g *PlacementGroup) error {
	id, err := parseGroupID(g)
	if err != nil {
		return err
	}
	cl, err := callerFor(ctx)
	if err != nil {
		return err
	}
	_, err = do(ctx, cl, func(w *worker.Worker, reply func(struct{}, error)) {
		cl.GCS().RemovePlacementGroup(id, func(_ gcs.Reply, err error) {
			if err != nil {
				err = fmt.Errorf("gray: RemovePlacementGroup %s: %w", g.ID, err)
			} else {
				w.GroupRemoved(id)
			}
			reply(struct{}{}, err)
		})
	})
	return err
}

// GetPlacementGroup returns the group named name (in the namespace of
// WithNamespace, the only option it uses) that is not removed.
func GetPlacementGroup(ctx context.Context, name string, opts ...Option) (*PlacementGroup, error) {
	cfg := newCallConfig(opts)
	cl, err := callerFor(ctx)
	if err != nil {
		return nil, err
	}
	info, err := do(ctx, cl, func(_ *worker.Worker, reply func(gcs.PlacementGroupInfo, error)) {
		cl.GCS().GetNamedPlacementGroup(cfg.namespace, name, func(r gcs.Reply, err error) {
			if err != nil {
				reply(gcs.PlacementGroupInfo{}, fmt.Errorf("gray: placement group %q in namespace %q: %w", name, cfg.namespace, err))
				return
			}
			reply(r.PlacementGroups[0], nil)
		})
	})
	if err != nil {
		return nil, err
	}
	return &PlacementGroup{ID: info.ID.String(), Bundles: len(info.Bundles)}, nil
}

// PlacementGroupState describes g as the GCS has it now.
func PlacementGroupState(ctx context.Context, g *PlacementGroup) (PlacementGroupInfo, error) {
	id, err := parseGroupID(g)
	if err != nil {
		return PlacementGroupInfo{}, err
	}
	cl, err := callerFor(ctx)
	if err != nil {
		return PlacementGroupInfo{}, err
	}
	info, err := do(ctx, cl, func(_ *worker.Worker, reply func(gcs.PlacementGroupInfo, error)) {
		cl.GCS().GetPlacementGroup(id, func(r gcs.Reply, err error) {
			if err != nil {
				reply(gcs.PlacementGroupInfo{}, fmt.Errorf("gray: placement group %s: %w", g.ID, err))
				return
			}
			reply(r.PlacementGroups[0], nil)
		})
	})
	if err != nil {
		return PlacementGroupInfo{}, err
	}
	return groupInfo(info), nil
}

// PlacementGroups lists every placement group of the cluster, removed
// ones included, sorted by id.
func PlacementGroups(ctx context.Context) ([]PlacementGroupInfo, error) {
	cl, err := callerFor(ctx)
	if err != nil {
		return nil, err
	}
	infos, err := do(ctx, cl, func(_ *worker.Worker, reply func([]gcs.PlacementGroupInfo, error)) {
		cl.GCS().ListPlacementGroups(func(r gcs.Reply, err error) {
			if err != nil {
				err = fmt.Errorf("gray: list placement groups: %w", err)
			}
			reply(r.PlacementGroups, err)
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]PlacementGroupInfo, len(infos))
	for i, p := range infos {
		out[i] = groupInfo(p)
	}
	return out, nil
}

func groupInfo(p gcs.PlacementGroupInfo) PlacementGroupInfo {
	out := PlacementGroupInfo{ID: p.ID.String(), Name: p.Name, Namespace: p.Namespace, Strategy: PlacementStrategy(p.Strategy.String()),
		State: p.State.String(), Detached: p.Detached, Reason: p.Reason, Infeasible: p.Infeasible}
	for _, b := range p.Bundles {
		out.Bundles = append(out.Bundles, resourceMap(b))
	}
	for _, n := range p.Nodes {
		s := ""
		if !n.IsNil() {
			s = nodeString(n)
		}
		out.Nodes = append(out.Nodes, s)
	}
	return out
}

// parseGroupID reads g's ID.
func parseGroupID(g *PlacementGroup) (core.PlacementGroupID, error) {
	var id core.PlacementGroupID
	if g == nil {
		return id, errors.New("gray: nil placement group")
	}
	b, err := hex.DecodeString(strings.TrimPrefix(g.ID, "pg:"))
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("gray: placement group id %q: want pg: and %d hex digits", g.ID, 2*len(id))
	}
	copy(id[:], b)
	return id, nil
}
