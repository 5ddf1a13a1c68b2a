package workload

import (
	"errors"
	"fmt"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/linearizability"
)

// Placement groups in the gcs workload: clients create, remove and read
// named groups of one namespace, and the history is checked against
// linearizability.GroupModel. Only the table's semantics are under test:
// every group asks for more CPUs than any fake raylet has, so the GCS
// finds it infeasible and never sends a raylet a prepare (the fake
// raylets do not hold bundles). Groups are detached, so that a client's
// finished job never removes them behind the history's back.

// groupNamespace is the namespace of the workload's groups.
const groupNamespace = "pg"

const (
	// gcsGroupNames is small so that creates of one name conflict and
	// race removes often.
	gcsGroupNames = 2
	// gcsGroupIDsMax bounds the group ids kept per name for removes.
	gcsGroupIDsMax = 8
)

// groupCPUs is more than a fake raylet's 4 CPUs: every group is
// infeasible and stays PENDING.
const groupCPUs = 64

func groupName(n int) string { return fmt.Sprintf("pg%d", n) }

// groupOp issues one random placement-group operation: create (40%),
// remove (25%) or get by name (35%).
func (c *gcsClient) groupOp() {
	r := c.env.Rand()
	n := r.IntN(gcsGroupNames)
	name := groupName(n)
	switch x := r.IntN(100); {
	case x < 40:
		c.createGroup(n)
	case x < 65:
		ids := c.g.groupIDs[n]
		if len(ids) == 0 {
			c.createGroup(n)
			return
		}
		// Mostly a group that may hold the name, to race creates and
		// reads; else any, which removes again or finds nothing.
		var maybe []int
		for i, t := range ids {
			if t.maybeCreated {
				maybe = append(maybe, i)
			}
		}
		i := r.IntN(len(ids))
		if len(maybe) > 0 && r.IntN(4) != 0 {
			i = maybe[r.IntN(len(maybe))]
		}
		c.removeGroup(name, ids[i].id)
	default:
		c.op = "get group " + name
		c.getGroup(name, func(bool) { c.done() })
	}
}

// triedGroup is a group a client tried to create.
type triedGroup struct {
	id core.PlacementGroupID
	// maybeCreated is set once the create succeeded or timed out.
	maybeCreated bool
}

// createGroup creates a new group named groupName(n) and remembers its id
// for removes, whatever the outcome: a remove of a group whose create
// conflicted must find nothing, one whose create timed out may or may not.
func (c *gcsClient) createGroup(n int) {
	name := groupName(n)
	// The id's job is the client's; detached groups ignore it.
	id := core.NewPlacementGroupID(core.JobIDFromInt(uint32(1000+c.idx)), c.env.Rand())
	ids := append(c.g.groupIDs[n], triedGroup{id: id})
	if len(ids) > gcsGroupIDsMax {
		ids = ids[len(ids)-gcsGroupIDsMax:]
	}
	c.g.groupIDs[n] = ids
	in := linearizability.GroupInput{Op: linearizability.GroupCreate, Namespace: groupNamespace, Name: name, ID: id.String()}
	c.op = "create group " + name
	op := c.g.groups.Call(c.idx, in, c.g.now())
	c.cli.CreatePlacementGroup(gcs.PlacementGroupInfo{
		ID: id, Namespace: groupNamespace, Name: name, Strategy: proto.PlacementPack,
		Bundles: []core.Resources{core.MustResources(core.CPU, groupCPUs)}, Detached: true, Owner: c.addr,
	}, func(_ gcs.Reply, err error) {
		out := linearizability.GroupOutput{}
		if errors.Is(err, gcs.ErrConflict) {
			c.g.w.Sometimes("placement group name conflict")
			out.Conflict, err = true, nil
		}
		if err == nil && !out.Conflict || errors.Is(err, gcs.ErrTimeout) {
			for i := range c.g.groupIDs[n] {
				if c.g.groupIDs[n][i].id == id {
					c.g.groupIDs[n][i].maybeCreated = true
				}
			}
		}
		c.finish(c.g.groups, op, out, err)
	})
}

// removeGroup removes group id, recorded under the name it was created
// with.
func (c *gcsClient) removeGroup(name string, id core.PlacementGroupID) {
	in := linearizability.GroupInput{Op: linearizability.GroupRemove, Namespace: groupNamespace, Name: name, ID: id.String()}
	c.op = "remove group " + name
	op := c.g.groups.Call(c.idx, in, c.g.now())
	c.cli.RemovePlacementGroup(id, func(_ gcs.Reply, err error) {
		out := linearizability.GroupOutput{Found: true}
		switch {
		case err == nil:
			c.g.w.Sometimes("placement group removed")
		case errors.Is(err, gcs.ErrNotFound):
			c.g.w.Sometimes("placement group remove not found")
			out.Found, err = false, nil // a definite "no such group"
		}
		c.finish(c.g.groups, op, out, err)
	})
}

// getGroup reads the group named name and records it; then reports
// whether the outcome is known. It does not call done: the caller
// continues.
func (c *gcsClient) getGroup(name string, then func(known bool)) {
	in := linearizability.GroupInput{Op: linearizability.GroupGet, Namespace: groupNamespace, Name: name}
	op := c.g.groups.Call(c.idx, in, c.g.now())
	c.cli.GetNamedPlacementGroup(groupNamespace, name, func(rep gcs.Reply, err error) {
		out := linearizability.GroupOutput{}
		if err == nil && len(rep.PlacementGroups) == 1 {
			// The id the GCS answered with, whatever the record's state:
			// a REMOVED group found by name is a violation to catch.
			out.Found, out.ID = true, rep.PlacementGroups[0].ID.String()
		} else if err == nil {
			c.g.violations = append(c.g.violations, fmt.Sprintf("get placement group %q answered with %d groups, want 1", name, len(rep.PlacementGroups)))
			c.g.groups.Unknown(op) // a read that proves nothing
			then(false)
			return
		}
		if errors.Is(err, gcs.ErrNotFound) {
			err = nil // a definite "no group holds the name"
		}
		c.record(c.g.groups, op, out, err)
		then(err == nil)
	})
}
