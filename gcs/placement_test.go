package gcs_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
)

// TestPlacementGroupsEndWithTheirJob: with no node to hold them, groups
// stay PENDING; a PENDING group can be removed; when a job finishes its
// groups are removed, detached ones and other jobs' excepted, and that
// survives a GCS restart.
func TestPlacementGroupsEndWithTheirJob(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	r := rand.New(rand.NewPCG(1, 2))
	job1, job2 := core.JobIDFromInt(1), core.JobIDFromInt(2)
	group := func(job core.JobID, name string, detached bool) gcs.PlacementGroupInfo {
		return gcs.PlacementGroupInfo{ID: core.NewPlacementGroupID(job, r), Name: name, Strategy: proto.PlacementStrictSpread,
			Bundles: []core.Resources{core.MustResources(core.CPU, core.Units(1))}, Detached: detached, Owner: "driver-1"}
	}
	mine, kept, other, early := group(job1, "mine", false), group(job1, "kept", true), group(job2, "other", false), group(job1, "", false)
	h.op(0, "add job 1", func(c *gcs.Client, f cb) { c.AddJob("driver-1", nil, f) })
	h.op(0, "add job 2", func(c *gcs.Client, f cb) { c.AddJob("driver-2", nil, f) })
	for _, g := range []gcs.PlacementGroupInfo{mine, kept, other, early} {
		h.op(0, "create "+g.Name, func(c *gcs.Client, f cb) { c.CreatePlacementGroup(g, f) })
	}
	pending := h.op(0, "get early", func(c *gcs.Client, f cb) { c.GetPlacementGroup(early.ID, f) })
	removed := h.op(0, "remove early while pending", func(c *gcs.Client, f cb) { c.RemovePlacementGroup(early.ID, f) })
	h.op(0, "finish job 1", func(c *gcs.Client, f cb) { c.FinishJob(job1, f) })
	h.crashGCS("restart after the job finished")
	list := h.op(0, "list groups", func(c *gcs.Client, f cb) { c.ListPlacementGroups(f) })
	dup := h.op(0, "create a group named mine again", func(c *gcs.Client, f cb) { c.CreatePlacementGroup(group(job2, "mine", false), f) })
	h.mustPass()
	if !pending.ok() || pending.r.PlacementGroups[0].State != gcs.PlacementPending || !pending.r.PlacementGroups[0].Infeasible {
		t.Errorf("%v, want an infeasible PENDING group (no nodes)", pending)
	}
	if !removed.ok() || removed.r.PlacementGroups[0].State != gcs.PlacementRemoved {
		t.Errorf("%v, want REMOVED", removed)
	}
	if !list.ok() {
		t.Fatalf("%v", list)
	}
	want := map[core.PlacementGroupID]gcs.PlacementGroupState{mine.ID: gcs.PlacementRemoved, kept.ID: gcs.PlacementPending,
		other.ID: gcs.PlacementPending, early.ID: gcs.PlacementRemoved}
	for _, p := range list.r.PlacementGroups {
		if p.State != want[p.ID] {
			t.Errorf("group %q is %v, want %v", p.Name, p.State, want[p.ID])
		}
		if p.ID == mine.ID && p.Reason != "its job finished" {
			t.Errorf("group mine removed with reason %q", p.Reason)
		}
		delete(want, p.ID)
	}
	if len(want) != 0 {
		t.Errorf("groups missing from the list: %v", want)
	}
	// A removed group's name is free again.
	if !dup.ok() {
		t.Errorf("%v, want the name of a removed group reusable", dup)
	}
	if errors.Is(dup.err, gcs.ErrConflict) {
		t.Errorf("name still taken")
	}
}

// TestPlacementGroupHeldRead: a WaitPlacementGroup read of a group that
// waits for nodes is held until the hold passes (and answered PENDING),
// or answered as soon as the group is removed; so is a
// WaitPlacementGroupState read, answered with the record without its
// bundles and nodes, and no raylets.
func TestPlacementGroupHeldRead(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	r := rand.New(rand.NewPCG(3, 4))
	g := gcs.PlacementGroupInfo{ID: core.NewPlacementGroupID(core.JobIDFromInt(1), r), Strategy: proto.PlacementPack,
		Bundles: []core.Resources{core.MustResources(core.CPU, core.Units(1))}, Owner: "driver-1"}
	h.op(0, "create", func(c *gcs.Client, f cb) { c.CreatePlacementGroup(g, f) })
	var heldFor, removedAfter time.Duration
	timed := func(out *time.Duration, call func(c *gcs.Client, f cb)) func(c *gcs.Client, f cb) {
		return func(c *gcs.Client, f cb) {
			start := h.w.Now()
			call(c, func(r gcs.Reply, err error) { *out = time.Duration(h.w.Now() - start); f(r, err) })
		}
	}
	held := h.op(0, "held read", timed(&heldFor, func(c *gcs.Client, f cb) { c.WaitPlacementGroup(g.ID, time.Second, f) }))
	var briefAfter time.Duration
	both := h.concurrent("held reads, then remove", []int{0, 0, 0},
		timed(&removedAfter, func(c *gcs.Client, f cb) { c.WaitPlacementGroup(g.ID, 4*time.Second, f) }),
		timed(&briefAfter, func(c *gcs.Client, f cb) { c.WaitPlacementGroupState(g.ID, 4*time.Second, f) }),
		func(c *gcs.Client, f cb) {
			h.w.Schedule(300*time.Millisecond, "remove", func() { c.RemovePlacementGroup(g.ID, f) })
		})
	h.mustPass()
	if !held.ok() || held.r.PlacementGroups[0].State != gcs.PlacementPending || heldFor < time.Second || heldFor > 2*time.Second {
		t.Errorf("%v after %v, want PENDING after the 1s hold", held, heldFor)
	}
	if p := held.r.PlacementGroups[0]; len(p.Bundles) != 1 || len(p.Nodes) != 1 || len(held.r.Raylets) != 1 {
		t.Errorf("held read: %d bundles, %d nodes, %d raylets, want 1 each", len(p.Bundles), len(p.Nodes), len(held.r.Raylets))
	}
	if !both[0].ok() || both[0].r.PlacementGroups[0].State != gcs.PlacementRemoved || removedAfter > 2*time.Second {
		t.Errorf("%v after %v, want REMOVED as soon as it was removed", both[0], removedAfter)
	}
	if !both[1].ok() || both[1].r.PlacementGroups[0].State != gcs.PlacementRemoved || briefAfter > 2*time.Second {
		t.Errorf("%v after %v, want REMOVED as soon as it was removed", both[1], briefAfter)
	}
	if p := both[1].r.PlacementGroups[0]; p.ID != g.ID || len(p.Bundles) != 0 || len(p.Nodes) != 0 || len(both[1].r.Raylets) != 0 {
		t.Errorf("state read: %v with %d bundles, %d nodes, %d raylets, want %v with none", p.ID, len(p.Bundles), len(p.Nodes), len(both[1].r.Raylets), g.ID)
	}
}

// TestPlacementGroupRecordRoundTrips: the hand-written encoding of a
// group's record gives back every field, through a reply: nodes placed
// or not, shared by bundles or not, interleaved, and equal bundles
// (decoded into one shared slice) next to others.
func TestPlacementGroupRecordRoundTrips(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cpu := core.MustResources(core.CPU, "0.001")
	g := gcs.PlacementGroupInfo{ID: core.NewPlacementGroupID(core.JobIDFromInt(7), r), Namespace: "ns", Name: "gang",
		Strategy: proto.PlacementStrictSpread, State: gcs.PlacementRescheduling, Detached: true, Owner: "driver-1",
		Reason: "why", Infeasible: true, Version: 9,
		Bundles: []core.Resources{core.MustResources(core.CPU, core.Units(1), "GPU", core.Units(2)), core.MustResources("x", core.Quantity(3))},
		Nodes:   []core.NodeID{{1, 2, 3}, {}}}
	many := func(nodes ...core.NodeID) gcs.PlacementGroupInfo {
		m := gcs.PlacementGroupInfo{ID: g.ID, State: gcs.PlacementCreated, Nodes: nodes}
		for i := range nodes {
			switch {
			case i%7 == 3:
				m.Bundles = append(m.Bundles, core.MustResources(core.CPU, "0.001", "GPU", 1))
			case i%7 == 4:
				m.Bundles = append(m.Bundles, core.MustResources(core.CPU, "0.002"))
			default:
				m.Bundles = append(m.Bundles, cpu)
			}
		}
		return m
	}
	n1, n2, n3 := core.NodeID{1}, core.NodeID{2}, core.NodeID{3}
	var spread []core.NodeID
	for i := range 40 {
		spread = append(spread, core.NodeID{byte(i / 256), byte(i), 9})
	}
	c := core.NewCodec(1 << 20)
	for _, in := range []gcs.PlacementGroupInfo{g, {ID: g.ID},
		many(make([]core.NodeID, 40)...), many(slices.Repeat([]core.NodeID{n1}, 40)...),
		many(n1, n2, n1, n3, core.NodeID{}, n2, n2, n1, n3, core.NodeID{}), many(spread...)} {
		b, err := c.Encode(&gcs.Reply{PlacementGroups: []gcs.PlacementGroupInfo{in}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		out := m.(*gcs.Reply).PlacementGroups[0]
		if fmt.Sprint(out) != fmt.Sprint(in) {
			t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
		}
	}
}

// TestPlacementGroupRecordIsCompact: a run of equal bundles is written
// once, a record's nodes take about a byte per bundle (a table of the
// distinct nodes and an index per bundle), and records written with each
// bundle and each bundle's node in full still decode.
func TestPlacementGroupRecordIsCompact(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	id := core.NewPlacementGroupID(core.JobIDFromInt(7), r)
	node := core.NodeID{4, 5, 6}
	g := gcs.PlacementGroupInfo{ID: id, State: gcs.PlacementCreated, Version: 2,
		Bundles: slices.Repeat([]core.Resources{core.MustResources(core.CPU, "0.001")}, 40),
		Nodes:   slices.Repeat([]core.NodeID{node}, 40)}
	b, err := msgpack.Marshal(&g)
	if err != nil {
		t.Fatal(err)
	}
	// One run of 40 bundles (about 10 bytes), 40 node indexes of 1 byte,
	// one node of 30, the rest: about 125 (the earlier layout took about
	// 1,500).
	if len(b) > 150 {
		t.Errorf("a 40-bundle record on one node encodes in %d bytes, want at most 150", len(b))
	}
	// The earlier layout: key "o", each bundle's node in full.
	var old bytes.Buffer
	enc := msgpack.NewEncoder(&old)
	for _, err := range []error{enc.EncodeMapLen(5), enc.EncodeString("i"), enc.EncodeBytes(id[:]), enc.EncodeString("b"), enc.EncodeArrayLen(40)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for range 40 {
		_ = enc.EncodeArrayLen(2)
		_ = enc.EncodeString(core.CPU)
		_ = enc.EncodeInt(10)
	}
	_ = enc.EncodeString("o")
	_ = enc.EncodeArrayLen(40)
	for range 40 {
		_ = enc.EncodeBytes(node[:])
	}
	_ = enc.EncodeString("st")
	_ = enc.EncodeUint(uint64(gcs.PlacementCreated))
	_ = enc.EncodeString("v")
	_ = enc.EncodeInt(2)
	var got gcs.PlacementGroupInfo
	if err := msgpack.Unmarshal(old.Bytes(), &got); err != nil {
		t.Fatalf("decoding the earlier layout: %v", err)
	}
	if fmt.Sprint(got) != fmt.Sprint(g) {
		t.Errorf("earlier layout decoded as\n%+v\nwant %+v", got, g)
	}
	// A node index beyond the table, and runs that do not match the
	// bundles, are errors, not panics.
	bad := gcs.PlacementGroupInfo{ID: id, Bundles: g.Bundles[:2], Nodes: []core.NodeID{node, node}}
	b, _ = msgpack.Marshal(&bad)
	for _, c := range []struct{ from, to []byte }{
		{[]byte{0xa2, 'o', 'x', 0x92, 0x01}, []byte{0xa2, 'o', 'x', 0x92, 0x02}},
		{[]byte{0xa2, 'b', 'n', 0x91, 0x02}, []byte{0xa2, 'b', 'n', 0x91, 0x00}},
		{[]byte{0xa2, 'b', 'n', 0x91, 0x02}, []byte{0xa2, 'b', 'n', 0x92, 0x01}},
	} {
		if !bytes.Contains(b, c.from) {
			t.Fatalf("%x not in the encoding %x", c.from, b)
		}
		if err := msgpack.Unmarshal(bytes.Replace(b, c.from, c.to, 1), &got); err == nil {
			t.Errorf("%x for %x decoded as %+v", c.to, c.from, got)
		}
	}
}

// TestRemovedGroupsAreForgottenBeyondTheBound: the table keeps the last
// RemovedGroupsMax removed groups; older ones read as NotFound, also
// after a restart.
func TestRemovedGroupsAreForgottenBeyondTheBound(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	r := rand.New(rand.NewPCG(7, 8))
	ids := make([]core.PlacementGroupID, gcs.RemovedGroupsMax+3)
	for i := range ids {
		ids[i] = core.NewPlacementGroupID(core.JobIDFromInt(1), r)
		g := gcs.PlacementGroupInfo{ID: ids[i], Strategy: proto.PlacementPack,
			Bundles: []core.Resources{core.MustResources(core.CPU, core.Units(1))}, Owner: "driver-1"}
		h.op(0, fmt.Sprintf("create %d", i), func(c *gcs.Client, f cb) { c.CreatePlacementGroup(g, f) })
		h.op(0, fmt.Sprintf("remove %d", i), func(c *gcs.Client, f cb) { c.RemovePlacementGroup(g.ID, f) })
	}
	check := func(when string) (first, kept *res) {
		first = h.op(0, "get the first "+when, func(c *gcs.Client, f cb) { c.GetPlacementGroup(ids[2], f) })
		kept = h.op(0, "get the oldest kept "+when, func(c *gcs.Client, f cb) { c.GetPlacementGroup(ids[3], f) })
		return first, kept
	}
	first, kept := check("before a restart")
	h.crashGCS("restart")
	first2, kept2 := check("after a restart")
	list := h.op(0, "list", func(c *gcs.Client, f cb) { c.ListPlacementGroups(f) })
	h.mustPass()
	for _, r := range []*res{first, first2} {
		if !errors.Is(r.err, gcs.ErrNotFound) {
			t.Errorf("%v, want NotFound (forgotten)", r)
		}
	}
	for _, r := range []*res{kept, kept2} {
		if !r.ok() || r.r.PlacementGroups[0].State != gcs.PlacementRemoved {
			t.Errorf("%v, want REMOVED (kept)", r)
		}
	}
	if !list.ok() || len(list.r.PlacementGroups) != gcs.RemovedGroupsMax {
		t.Errorf("list has %d groups, want %d", len(list.r.PlacementGroups), gcs.RemovedGroupsMax)
	}
}
