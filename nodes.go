package gray

import (
	"context"
	"errors"
	"fmt"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
)

// NodeInfo is one node of the cluster, as Nodes returns it (Ray's
// ray.nodes()).
type NodeInfo struct {
	// ID names the node: "node:" and its id's hex digits, as
	// GetRuntimeContext gives it and WithNodeAffinity takes it (the state
	// API's node_id is the same hex digits).
	ID string
	// State is ALIVE, DRAINING or DEAD.
	State string
	// Alive is State != DEAD.
	Alive bool
	// Address is the node's raylet address.
	Address string
	// Labels are the node's labels (grayd --labels, NodeOptions.Labels,
	// WithNodeLabels).
	Labels map[string]string
	// Resources is the node's total capacity; Available the part not in
	// use when the node last reported it.
	Resources, Available map[string]float64
	// DeathCause says why a dead node died.
	DeathCause string
	// Demand is the work queued at the node's raylet when it last
	// reported (about once a second), by resource shape: what waits for
	// resources, and what waits because no node can run it (Infeasible).
	Demand []Demand
}

// Demand is Count tasks or actors of one resource shape queued at a
// node; Infeasible ones wait for a node that can run them (Reason says
// why none can), as `ray status` shows pending and infeasible demand.
// Actors that wait for a worker process because the node hosts its
// maximum (WithMaxWorkersPerNode, grayd --max-workers) are feasible with
// a Reason that says so. An actor's shape includes the gray_actor_slot
// it takes, and 1 CPU when it asked for no resources (needed to place
// it, not held).
type Demand struct {
	Resources  map[string]float64
	Count      int
	Infeasible bool
	Reason     string
}

// Nodes lists every node of the cluster, dead ones included, sorted by
// id. Like GetActor it asks the GCS again while it does not answer,
// until ctx is done.
func Nodes(ctx context.Context) ([]NodeInfo, error) {
	cl, err := callerFor(ctx)
	if err != nil {
		return nil, err
	}
	var infos []gcs.NodeInfo
	for {
		infos, err = do(ctx, cl, func(_ *worker.Worker, reply func([]gcs.NodeInfo, error)) {
			cl.GCS().GetNodes(func(r gcs.Reply, err error) {
				if err != nil {
					reply(nil, fmt.Errorf("gray: list nodes: %w", err))
					return
				}
				reply(r.Nodes, nil)
			})
		})
		if !errors.Is(err, gcs.ErrTimeout) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]NodeInfo, len(infos))
	for i, n := range infos {
		out[i] = NodeInfo{ID: nodeString(n.ID), State: n.State.String(), Alive: n.State != gcs.NodeDead, Address: string(n.Addr),
			Labels: n.Labels.Map(), Resources: resourceMap(n.Resources), Available: resourceMap(n.Available), DeathCause: n.DeathCause}
		for _, d := range n.Demand {
			out[i].Demand = append(out[i].Demand, Demand{Resources: resourceMap(d.Resources), Count: int(d.Count), Infeasible: d.Infeasible, Reason: d.Reason})
		}
	}
	return out, nil
}

func resourceMap(r core.Resources) map[string]float64 {
	m := make(map[string]float64, len(r))
	for _, e := range r {
		m[e.Name] = float64(e.Amount) / core.QuantityScale
	}
	return m
}

// nodeString is a node id as the API gives it (core.NodeID.Full).
func nodeString(n core.NodeID) string { return n.Full() }

// parseNodeID reads a node id as nodeString writes it, with or without
// the "node:" prefix (the state API's node_id has none).
func parseNodeID(s string) (core.NodeID, error) {
	n, err := core.ParseNodeID(s)
	if err != nil {
		return n, fmt.Errorf("%w (as Nodes and GetRuntimeContext give it)", err)
	}
	if n.IsNil() {
		return n, fmt.Errorf("node id %q: the zero id names no node", s)
	}
	return n, nil
}
