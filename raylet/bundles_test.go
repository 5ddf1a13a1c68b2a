package raylet_test

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/gcs"
)

// TestBundleReservation: a raylet's side of the two-phase reservation of
// placement group bundles (nodeRes is 2 CPUs). Phase one reserves all
// the bundles asked or none; a resent prepare changes nothing; commit
// needs a prepared bundle; returning gives the resources back, and a
// group's bundles can be returned all at once. A bundle the GCS does not
// account for (no group of its decides it) is given back after the next
// heartbeat (heartbeats every 10 s here). A prepare meant for another
// incarnation of the node (a raylet restarted at its address) is refused.
func TestBundleReservation(t *testing.T) {
	g1 := core.NewPlacementGroupID(core.JobID{1}, rand.New(rand.NewPCG(1, 1)))
	g2 := core.NewPlacementGroupID(core.JobID{2}, rand.New(rand.NewPCG(1, 2)))
	cpu := func(n int) core.Resources { return core.MustResources(core.CPU, n) }
	code := func(err error) rpc.Code {
		var re *rpc.Error
		if errors.As(err, &re) {
			return re.Code
		}
		return rpc.CodeOK
	}
	runScenarioOn(t, &world{heartbeat: 10 * time.Second}, func(h *world) {
		h.addOwner("gcs-test", "", newOwner(1))
		var node core.NodeID
		want := func(step string, m core.Message, c rpc.Code) {
			h.on("gcs-test", func(o *owner) {
				o.cli.Call("raylet-1", m, rpc.Options{}, func(_ core.Message, err error) {
					if code(err) != c {
						h.t.Errorf("%s: %v, want code %v", step, err, c)
					}
				})
			})
		}
		available := func(want core.Resources) {
			h.t.Helper()
			r := h.raylet("raylet-1")
			if r.Available().Get(core.CPU) != want.Get(core.CPU) {
				h.t.Errorf("available %v, want %v (bundles %+v)", r.Available(), want, r.Bundles())
			}
			if err := r.CheckInvariants(); err != nil {
				h.t.Error(err)
			}
		}
		h.at(time.Second, func() {
			node = h.node("raylet-1")
			// 3 CPUs do not fit 2: nothing is reserved.
			want("prepare for another incarnation", &proto.PrepareBundles{Node: core.NodeID{9}, Bundles: []proto.BundleSpec{{Group: g1, Index: 0, Resources: cpu(1)}}}, rpc.CodeFailedPrecondition)
			want("prepare too much", &proto.PrepareBundles{Node: node, Bundles: []proto.BundleSpec{{Group: g1, Index: 0, Resources: cpu(2)}, {Group: g1, Index: 1, Resources: cpu(1)}}}, rpc.CodeUnavailable)
		})
		h.at(2*time.Second, func() {
			available(cpu(2))
			want("prepare", &proto.PrepareBundles{Node: node, Bundles: []proto.BundleSpec{{Group: g1, Index: 0, Resources: cpu(1)}}}, rpc.CodeOK)
			want("prepare again", &proto.PrepareBundles{Node: node, Bundles: []proto.BundleSpec{{Group: g1, Index: 0, Resources: cpu(1)}}}, rpc.CodeOK)
			want("prepare other resources", &proto.PrepareBundles{Node: node, Bundles: []proto.BundleSpec{{Group: g1, Index: 0, Resources: cpu(2)}}}, rpc.CodeConflict)
			want("commit unprepared", &proto.CommitBundles{Node: node, Group: g1, Indexes: []int32{0, 1}}, rpc.CodeNotFound)
		})
		h.at(3*time.Second, func() {
			available(cpu(1))
			if b := h.raylet("raylet-1").Bundles(); len(b) != 1 || b[0].Committed {
				t.Errorf("bundles after a refused commit: %+v, want g1[0] prepared", b)
			}
			want("commit", &proto.CommitBundles{Node: node, Group: g1, Indexes: []int32{0}}, rpc.CodeOK)
			want("prepare another group", &proto.PrepareBundles{Node: node, Bundles: []proto.BundleSpec{{Group: g2, Index: 0, Resources: cpu(1)}}}, rpc.CodeOK)
		})
		h.at(4*time.Second, func() {
			available(core.Resources{})
			if b := h.raylet("raylet-1").Bundles(); len(b) != 2 {
				t.Errorf("bundles: %+v, want two", b)
			}
			want("return g1", &proto.ReturnBundles{Node: node, Group: g1}, rpc.CodeOK)
			want("return g2[0]", &proto.ReturnBundles{Node: node, Group: g2, Indexes: []int32{0}}, rpc.CodeOK)
			want("return again", &proto.ReturnBundles{Node: node, Group: g2, Indexes: []int32{0}}, rpc.CodeOK)
		})
		h.at(5*time.Second, func() {
			available(cpu(2))
			if b := h.raylet("raylet-1").Bundles(); len(b) != 0 {
				t.Errorf("bundles after returning them: %+v", b)
			}
			want("prepare a bundle of no group", &proto.PrepareBundles{Node: node, Bundles: []proto.BundleSpec{{Group: g2, Index: 3, Resources: cpu(1)}}}, rpc.CodeOK)
		})
		h.at(6*time.Second, func() { available(cpu(1)) })
		h.at(12*time.Second, func() {
			available(cpu(2))
			if b := h.raylet("raylet-1").Bundles(); len(b) != 0 {
				t.Errorf("a bundle the GCS does not account for outlived a heartbeat: %+v", b)
			}
			h.end()
		})
	})
}

// TestPlacementGroupLifecycle: the GCS reserves groups' bundles on the
// two raylets (2 CPUs each) by strategy, two-phase; a group that does
// not fit now waits and is placed once a removal frees room; one no
// node could hold is reported infeasible; names are unique among groups
// not removed; a node that dies sends its group back to RESCHEDULING.
func TestPlacementGroupLifecycle(t *testing.T) {
	one := core.MustResources(core.CPU, 1)
	id := func(i uint64) core.PlacementGroupID {
		return core.NewPlacementGroupID(core.JobID{1}, rand.New(rand.NewPCG(7, i)))
	}
	spread, pack, huge := id(1), id(2), id(3)
	runScenario(t, func(h *world) {
		h.addOwner("driver", "", newOwner(1))
		groups := map[core.PlacementGroupID]gcs.PlacementGroupInfo{}
		create := func(g gcs.PlacementGroupInfo, wantErr bool) {
			h.on("driver", func(o *owner) {
				o.gcs.CreatePlacementGroup(g, func(_ gcs.Reply, err error) {
					if (err != nil) != wantErr {
						h.t.Errorf("create %v (%q): %v, want error %v", g.ID, g.Name, err, wantErr)
					}
				})
			})
		}
		list := func() {
			h.on("driver", func(o *owner) {
				o.gcs.ListPlacementGroups(func(rep gcs.Reply, err error) {
					if err != nil {
						h.t.Errorf("list: %v", err)
					}
					for _, p := range rep.PlacementGroups {
						groups[p.ID] = p
					}
				})
			})
		}
		cpus := func(addr core.Addr) core.Quantity { return h.raylet(addr).Available().Get(core.CPU) }
		h.at(time.Second, func() {
			create(gcs.PlacementGroupInfo{ID: spread, Name: "gang", Strategy: proto.PlacementStrictSpread, Bundles: []core.Resources{one, one}}, false)
		})
		h.at(2*time.Second, func() {
			create(gcs.PlacementGroupInfo{ID: pack, Name: "gang", Strategy: proto.PlacementStrictPack, Bundles: []core.Resources{one, one}}, true)
			create(gcs.PlacementGroupInfo{ID: pack, Name: "pack", Strategy: proto.PlacementStrictPack, Bundles: []core.Resources{one, one}}, false)
			create(gcs.PlacementGroupInfo{ID: huge, Strategy: proto.PlacementPack, Bundles: []core.Resources{core.MustResources(core.CPU, 3)}}, false)
			list()
		})
		h.at(3*time.Second, func() {
			s, p, x := groups[spread], groups[pack], groups[huge]
			if s.State != gcs.PlacementCreated || s.Nodes[0] == s.Nodes[1] || s.Nodes[0].IsNil() {
				t.Errorf("STRICT_SPREAD group: %v on %v, want CREATED on two nodes", s.State, s.Nodes)
			}
			if cpus("raylet-1") != core.Units(1) || cpus("raylet-2") != core.Units(1) {
				t.Errorf("available CPUs %v and %v, want 1 each", cpus("raylet-1"), cpus("raylet-2"))
			}
			for _, a := range []core.Addr{"raylet-1", "raylet-2"} {
				if b := h.raylet(a).Bundles(); len(b) != 1 || !b[0].Committed || b[0].Group != spread {
					t.Errorf("%s holds %+v, want one committed bundle of the spread group", a, b)
				}
			}
			if p.State != gcs.PlacementPending {
				t.Errorf("STRICT_PACK group with 1 CPU free per node: %v, want PENDING", p.State)
			}
			if x.State != gcs.PlacementPending {
				t.Errorf("a group of 3 CPUs on 2-CPU nodes: %v, want PENDING", x.State)
			}
			h.on("driver", func(o *owner) {
				o.gcs.GetPlacementGroup(huge, func(rep gcs.Reply, err error) {
					if err != nil || len(rep.PlacementGroups) != 1 || !rep.PlacementGroups[0].Infeasible {
						h.t.Errorf("get the 3-CPU group: %+v, %v; want it infeasible with a reason", rep.PlacementGroups, err)
					}
				})
				o.gcs.RemovePlacementGroup(spread, func(_ gcs.Reply, err error) {
					if err != nil {
						h.t.Errorf("remove: %v", err)
					}
				})
			})
		})
		h.at(5*time.Second, func() {
			list()
			h.on("driver", func(o *owner) {
				o.gcs.GetNamedPlacementGroup("", "gang", func(_ gcs.Reply, err error) {
					if err == nil {
						h.t.Errorf("the removed group's name still resolves")
					}
				})
			})
		})
		h.at(6*time.Second, func() {
			p := groups[pack]
			if groups[spread].State != gcs.PlacementRemoved || p.State != gcs.PlacementCreated || p.Nodes[0] != p.Nodes[1] {
				t.Errorf("after removing the spread group: it is %v; the pack group %v on %v, want REMOVED and CREATED on one node", groups[spread].State, p.State, p.Nodes)
			}
			if cpus("raylet-1")+cpus("raylet-2") != core.Units(2) {
				t.Errorf("available CPUs %v and %v, want 2 in all (the pack group holds the other 2)", cpus("raylet-1"), cpus("raylet-2"))
			}
			// The node with the pack group dies.
			for _, a := range []core.Addr{"raylet-1", "raylet-2"} {
				if h.raylet(a).Node() == p.Nodes[0] {
					h.w.Crash(a, "test")
				}
			}
		})
		h.at(15*time.Second, func() { list() })
		h.at(16*time.Second, func() {
			p := groups[pack]
			if p.State == gcs.PlacementRescheduling && p.Nodes[0].IsNil() && p.Nodes[1].IsNil() {
				h.end()
				return
			}
			if p.State == gcs.PlacementCreated && !p.Nodes[0].IsNil() && p.Nodes[0] == p.Nodes[1] {
				h.end() // moved to the other node (restarted raylets are new nodes)
				return
			}
			t.Errorf("after its node died, the pack group is %v on %v: want RESCHEDULING, or CREATED elsewhere", p.State, p.Nodes)
			h.end()
		})
	})
}
