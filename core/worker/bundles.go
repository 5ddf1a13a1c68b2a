package worker

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// Tasks in placement groups (proto.Strategy.Bundle). The owner asks the
// GCS where the group's bundles are and sends the lease request to the
// raylet of the bundle (for any bundle, one on its own node if the group
// has one there, else the first placed). While the group waits for its
// bundles the task waits with it, asking again now and then; a raylet
// that no longer holds the bundle (it moved: its node died and the GCS
// placed it again) sends the owner back to the GCS; a removed group
// fails its tasks with ErrGroupRemoved.

// groupView is what this owner knows of a placement group.
type groupView struct {
	info    gcs.PlacementGroupInfo
	raylets []core.Addr
	known   bool
	asking  bool
	waiters []func(*groupView, error)
}

// Asking the GCS about a group that waits for its bundles: the GCS
// holds such a read up to groupHold, answering as soon as the group is
// created or removed; after a read the GCS did not answer, the owner
// asks again in groupPoll.
const (
	groupHold = 2 * time.Second
	groupPoll = 200 * time.Millisecond
)

// bundleRaylet returns the raylet to ask for a lease in t's bundle, or
// false when the owner must first learn where the bundle is: it then
// asks the GCS and calls requestLease for t again (or fails t).
func (w *Worker) bundleRaylet(t *pendingTask) (core.Addr, bool) {
	ref := t.spec.Strategy.Bundle
	if g := w.groups[ref.Group]; g != nil && g.known && g.info.State != gcs.PlacementRemoved && g.info.Fits(ref.Index, t.spec.Resources) {
		if to := g.raylet(ref.Index, w.cfg.Node); to != "" {
			return to, true
		}
	}
	gen := t.leaseGen
	w.askGroup(ref.Group, func(g *groupView, err error) {
		if w.tasks[t.spec.TaskID] != t || t.phase != phaseLeasing || t.leaseGen != gen {
			return
		}
		var re *rpc.Error
		switch {
		case errors.As(err, &re) && re.Code == rpc.CodeNotFound:
			w.failTask(t, proto.NewError(proto.KindTaskFailed, t.spec.Describe(), "placement group %v does not exist", ref.Group))
		case err == nil && g.info.State == gcs.PlacementRemoved:
			w.failTask(t, proto.NewError(proto.KindGroupRemoved, t.spec.Describe(), "placement group %v was removed", ref.Group))
		case err == nil && ref.Index >= int32(len(g.info.Bundles)):
			w.failTask(t, proto.NewError(proto.KindTaskFailed, t.spec.Describe(), "placement group %v has %d bundles, no bundle %d", ref.Group, len(g.info.Bundles), ref.Index))
		case err == nil && !g.info.Fits(ref.Index, t.spec.Resources):
			w.failTask(t, proto.NewError(proto.KindInfeasible, t.spec.Describe(), "needs %v, which %s of placement group %v cannot hold (it reserves %v)",
				t.spec.Resources, bundleName(ref.Index), ref.Group, g.info.Bundles))
		case err == nil && g.raylet(ref.Index, w.cfg.Node) != "":
			w.requestLease(t, w.cfg.Raylet)
		case err == nil:
			// Not placed yet: ask again, the GCS answering when it is
			// (or groupHold passes).
			w.forgetGroup(ref.Group)
			w.askGroupHeld(ref.Group, func(*groupView, error) {
				if w.tasks[t.spec.TaskID] == t && t.phase == phaseLeasing && t.leaseGen == gen {
					w.requestLease(t, w.cfg.Raylet)
				}
			})
		default:
			// The GCS did not answer: ask again after a pause.
			w.env.AfterFunc(groupPoll, func() {
				if w.tasks[t.spec.TaskID] == t && t.phase == phaseLeasing && t.leaseGen == gen {
					w.forgetGroup(ref.Group)
					w.requestLease(t, w.cfg.Raylet)
				}
			})
		}
	})
	return "", false
}

func bundleName(index int32) string {
	if index < 0 {
		return "no bundle"
	}
	return fmt.Sprintf("bundle %d", index)
}

// raylet returns the raylet of bundle index (-1: the best placed one
// for a task of node), or "".
func (g *groupView) raylet(index int32, node core.NodeID) core.Addr {
	if index >= 0 {
		if int(index) < len(g.raylets) {
			return g.raylets[index]
		}
		return ""
	}
	first := core.Addr("")
	for i, r := range g.raylets {
		if r == "" {
			continue
		}
		if !node.IsNil() && g.info.Nodes[i] == node {
			return r
		}
		if first == "" {
			first = r
		}
	}
	return first
}

// askGroup reads a group from the GCS (one read in flight per group)
// and calls done with the view, updated, and the read's error.
func (w *Worker) askGroup(id core.PlacementGroupID, done func(*groupView, error)) {
	w.askGroupFor(id, 0, done)
}

// askGroupHeld is askGroup with a long poll: the GCS answers once the
// group is created or removed, or after groupHold.
func (w *Worker) askGroupHeld(id core.PlacementGroupID, done func(*groupView, error)) {
	w.askGroupFor(id, groupHold, done)
}

func (w *Worker) askGroupFor(id core.PlacementGroupID, hold time.Duration, done func(*groupView, error)) {
	g := w.groups[id]
	if g == nil {
		g = &groupView{}
		w.groups[id] = g
	}
	g.waiters = append(g.waiters, done)
	if g.asking {
		return
	}
	g.asking = true
	w.cfg.GCS.WaitPlacementGroup(id, hold, func(rep gcs.Reply, err error) {
		g.asking = false
		if err == nil && len(rep.PlacementGroups) == 1 && len(rep.Raylets) == len(rep.PlacementGroups[0].Nodes) {
			g.info, g.raylets, g.known = rep.PlacementGroups[0], rep.Raylets, true
		} else if err == nil {
			err = errors.New("worker: malformed placement group reply")
		}
		waiters := g.waiters
		g.waiters = nil
		if len(w.groups) > groupsMax {
			w.forgetGroup(id)
		}
		for _, f := range waiters {
			f(g, err)
		}
	})
}

// groupsMax bounds the groups an owner remembers.
const groupsMax = 1024

// forgetGroup drops what the owner knew of a group (a raylet said the
// bundle is not there, or the group waited): the next task asks again.
func (w *Worker) forgetGroup(id core.PlacementGroupID) {
	if g := w.groups[id]; g != nil && !g.asking {
		delete(w.groups, id)
	}
}

// handleGroupInfeasible hears from the GCS that a placement group this
// process created cannot be placed on any set of alive nodes: it warns
// in this process's log (the GCS tells it again every
// proto.InfeasibleRepeat while the group waits), as it does for tasks.
func (w *Worker) handleGroupInfeasible(_ core.Addr, m core.Message, reply func(core.Message, error)) {
	q := m.(*proto.GroupInfeasible)
	reply(&proto.Ack{}, nil)
	w.env.Log().Warn("no set of alive nodes can hold a placement group: it waits for nodes to join",
		"group", q.Group, "name", q.Name, "reason", q.Reason)
}

// forgetGroupsOn drops the views of groups with a bundle on node, which
// died: the GCS places those bundles again elsewhere, and a task into
// one must ask it where rather than go to the dead node's raylet.
func (w *Worker) forgetGroupsOn(node core.NodeID) {
	for id, g := range w.groups { //gray:unordered deleting entries only
		if g.known && slices.Contains(g.info.Nodes, node) {
			w.forgetGroup(id)
		}
	}
}

// NewPlacementGroupID draws the id of a placement group this process
// creates.
func (w *Worker) NewPlacementGroupID() core.PlacementGroupID {
	return core.NewPlacementGroupID(w.cfg.Job, w.env.Rand())
}

// Addr returns this process's address.
func (w *Worker) Addr() core.Addr { return w.self }

// WaitPlacementGroup waits until group id is created (done(true)), is
// removed (done with an error matching proto.ErrGroupRemoved), or
// timeout passes (done(false); negative: no timeout). Its reads of the
// group are long polls (groupHold): it learns of the decision at once.
func (w *Worker) WaitPlacementGroup(id core.PlacementGroupID, timeout time.Duration, done func(bool, error)) {
	deadline := w.env.Now().Add(timeout)
	var ask func()
	ask = func() {
		hold := groupHold
		if timeout >= 0 {
			hold = max(min(hold, deadline.Sub(w.env.Now())), 0)
		}
		w.cfg.GCS.WaitPlacementGroupState(id, hold, func(rep gcs.Reply, err error) {
			switch {
			case err != nil && !errors.Is(err, gcs.ErrTimeout):
				done(false, err)
				return
			case err == nil && len(rep.PlacementGroups) == 1 && rep.PlacementGroups[0].State == gcs.PlacementCreated:
				done(true, nil)
				return
			case err == nil && len(rep.PlacementGroups) == 1 && rep.PlacementGroups[0].State == gcs.PlacementRemoved:
				done(false, proto.NewError(proto.KindGroupRemoved, "", "placement group %v was removed", id))
				return
			case timeout >= 0 && !w.env.Now().Before(deadline):
				done(false, nil)
				return
			}
			if err == nil {
				ask() // the GCS held the read: ask again at once
				return
			}
			pause := groupPoll
			if timeout >= 0 {
				pause = min(pause, deadline.Sub(w.env.Now()))
			}
			w.env.AfterFunc(pause, ask)
		})
	}
	ask()
}

// GroupRemoved records that this process removed group id: its tasks
// submitted from now on learn it from the GCS rather than run in a
// bundle a raylet has not given back yet, so the leases this process
// holds in the group's bundles run no further task (idle ones go back at
// once, busy ones when their tasks end).
func (w *Worker) GroupRemoved(id core.PlacementGroupID) {
	if g := w.groups[id]; g != nil {
		g.info.State = gcs.PlacementRemoved
	}
	for _, lid := range w.keptIDs() {
		if k := w.kept[lid]; k.group == id {
			w.dropKept(k)
			w.leases.Return(k.l.Raylet, k.l.ID, false)
		}
	}
	for _, ll := range w.live { //gray:unordered only flags are set
		if ll.group == id {
			ll.closing = true
		}
	}
}
