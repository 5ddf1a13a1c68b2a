package workload

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/grayrt/gray"
	"github.com/grayrt/gray/core"
)

// Node labels and node affinity under faults.
//
// Node i of the cluster (from 0) carries the label zone=z(i mod 2), and
// keeps it across raylet restarts (a restarted raylet registers as a new
// node with the same labels). Every round each driver:
//
//   - runs where() with the label selector zone=z(round mod 2) and checks
//     that the node it ran on carries that zone (the GCS's record of the
//     node); it may fail with ErrInfeasible only when, as the raylet saw
//     it, no alive node of the zone was left, and the error says so;
//   - lists the nodes with gray.Nodes, picks an alive one, and runs
//     where() with a hard affinity to it: it runs there, or fails with
//     ErrInfeasible naming the node as dead (a raylet restarted at its
//     address knows before the GCS does; counted apart);
//   - runs where() with a soft affinity to a dead node when the list has
//     one: it must run, somewhere.

// zoneOf is node i's zone label.
func zoneOf(i int) string { return fmt.Sprintf("z%d", i%2) }

func nodeLabels(i int) core.Labels { return core.Labels{{Key: "zone", Value: zoneOf(i)}} }

// nodeZone returns the zone label the GCS recorded for node n ("" if
// unknown or the GCS is down).
func (c *cluster) nodeZone(n core.NodeID) string {
	if g, ok := c.gcsServer(); ok {
		if info, ok := g.Node(n); ok {
			z, _ := info.Labels.Get("zone")
			return z
		}
	}
	return ""
}

// placementRound runs this round's label and affinity checks.
func (d *driver) placementRound(ctx context.Context) error {
	where := whereTask.Options(retried)
	zone := zoneOf(d.round)
	rc, err := where.Options(gray.WithLabelSelector(map[string]string{"zone": zone})).Remote(ctx).Get(ctx)
	switch {
	case errors.Is(err, gray.ErrInfeasible) && strings.Contains(err.Error(), "no alive node has labels matching zone="+zone):
		d.cl.w.Sometimes("label selector infeasible while its nodes were down")
	case err != nil:
		return fmt.Errorf("where() with zone=%s: %w", zone, err)
	default:
		n, perr := parseWhereNode(rc.NodeID)
		if perr != nil {
			return perr
		}
		if z := d.cl.nodeZone(n); z != "" && z != zone {
			return fmt.Errorf("where() with zone=%s ran on %v, which is in zone %s", zone, n, z)
		}
		d.cl.w.Sometimes("task placed by its label selector")
	}

	nodes, err := gray.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("gray.Nodes: %w", err)
	}
	var alive, dead []gray.NodeInfo
	for _, n := range nodes {
		if n.Alive {
			alive = append(alive, n)
		} else {
			dead = append(dead, n)
		}
		if n.Alive && n.Labels["zone"] == "" {
			return fmt.Errorf("gray.Nodes lists %s without its zone label: %+v", n.ID, n)
		}
	}
	if len(alive) > 0 {
		target := alive[d.round%len(alive)]
		tn, err := parseWhereNode(target.ID)
		if err != nil {
			return err
		}
		rc, err := where.Options(gray.WithNodeAffinity(target.ID, false)).Remote(ctx).Get(ctx)
		switch {
		case errors.Is(err, gray.ErrInfeasible) && strings.Contains(err.Error(), "is dead") && d.cl.nodeDead(tn):
			d.cl.w.Sometimes("hard affinity to a node that died")
		case errors.Is(err, gray.ErrInfeasible) && strings.Contains(err.Error(), "is dead"):
			// A raylet restarted at the node's address knows its
			// earlier incarnation dead before the GCS times it out.
			d.cl.w.Sometimes("hard affinity to a node its restarted raylet knew dead")
		case errors.Is(err, gray.ErrInfeasible) && strings.Contains(err.Error(), "draining"):
		case err != nil:
			return fmt.Errorf("where() with affinity to %s: %w", target.ID, err)
		case rc.NodeID != target.ID:
			return fmt.Errorf("where() with a hard affinity to %s ran on %s", target.ID, rc.NodeID)
		default:
			d.cl.w.Sometimes("task placed by a hard node affinity")
		}
	}
	if len(dead) > 0 {
		target := dead[d.round%len(dead)]
		if _, err := where.Options(gray.WithNodeAffinity(target.ID, true)).Remote(ctx).Get(ctx); err != nil {
			return fmt.Errorf("where() with a soft affinity to the dead %s: %w", target.ID, err)
		}
		d.cl.w.Sometimes("soft affinity to a dead node ran elsewhere")
	}
	return nil
}

// parseWhereNode reads a node id as gray's runtime context gives it.
func parseWhereNode(s string) (core.NodeID, error) { return core.ParseNodeID(s) }
