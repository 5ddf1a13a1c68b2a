package main

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
)

// TestWriteDemand: gray status sums the nodes' queued work by shape,
// pending first, infeasible demand marked with its reason.
func TestWriteDemand(t *testing.T) {
	cpu := core.MustResources(core.CPU, 1)
	gpu := core.MustResources(core.CPU, 1, core.GPU, 1)
	var b bytes.Buffer
	writeDemand(&b, []gcs.NodeInfo{
		{Demand: []gcs.Demand{{Resources: cpu, Count: 3}, {Resources: gpu, Count: 1, Infeasible: true, Reason: "no node has a GPU"}}},
		{Demand: []gcs.Demand{{Resources: cpu, Count: 2}}},
	}, nil)
	out := b.String()
	for _, want := range []string{"{CPU: 1}: 5 pending", "{CPU: 1, GPU: 1}: 1 pending, INFEASIBLE: no node has a GPU"} {
		if !strings.Contains(out, want) {
			t.Errorf("gray status demand:\n%s\nlacks %q", out, want)
		}
	}
	if strings.Index(out, "{CPU: 1}:") > strings.Index(out, "INFEASIBLE") {
		t.Errorf("infeasible demand before pending demand:\n%s", out)
	}
	b.Reset()
	writeDemand(&b, []gcs.NodeInfo{{}}, []gcs.PlacementGroupInfo{{State: gcs.PlacementCreated, Bundles: []core.Resources{cpu}}})
	if !strings.Contains(b.String(), "Pending demand: none") {
		t.Errorf("no demand: %q", b.String())
	}
}

// TestWriteDemandGroups: gray status lists the placement groups that
// wait for their bundles (PENDING or RESCHEDULING) by shape as `ray
// status` does, after the raylets' queued work, infeasible ones marked
// as the tasks' are and last; placed and removed groups are no demand.
func TestWriteDemandGroups(t *testing.T) {
	cpu, gpu := core.MustResources(core.CPU, 1), core.MustResources(core.GPU, 1)
	spread := func(st gcs.PlacementGroupState, b ...core.Resources) gcs.PlacementGroupInfo {
		return gcs.PlacementGroupInfo{State: st, Strategy: proto.PlacementStrictSpread, Bundles: b}
	}
	gpuGroup := gcs.PlacementGroupInfo{State: gcs.PlacementPending, Strategy: proto.PlacementPack, Bundles: []core.Resources{gpu},
		Infeasible: true, Reason: "infeasible: no node has GPU"}
	var b bytes.Buffer
	writeDemand(&b, []gcs.NodeInfo{{Demand: []gcs.Demand{{Resources: cpu, Count: 4}}}}, []gcs.PlacementGroupInfo{
		gpuGroup,
		spread(gcs.PlacementPending, cpu, cpu, cpu),
		spread(gcs.PlacementRescheduling, cpu, cpu, cpu),
		spread(gcs.PlacementCreated, cpu, cpu),
		spread(gcs.PlacementRemoved, cpu),
	})
	out := b.String()
	lines := []string{
		"  {CPU: 1}: 4 pending\n",
		"  {CPU: 1} * 3 (STRICT_SPREAD): 2 pending placement groups\n",
		"  {GPU: 1} * 1 (PACK): 1 pending placement group, INFEASIBLE: no node has GPU\n",
	}
	at := -1
	for _, l := range lines {
		i := strings.Index(out, l)
		if i < 0 {
			t.Errorf("gray status demand:\n%s\nlacks %q", out, l)
			continue
		}
		if i < at {
			t.Errorf("gray status demand:\n%s\nlists %q too early", out, l)
		}
		at = i
	}
	if strings.Contains(out, "* 2") || strings.Contains(out, "SPREAD): 3") {
		t.Errorf("gray status demand counts a placed or removed group:\n%s", out)
	}
	// Groups alone are demand too.
	b.Reset()
	writeDemand(&b, []gcs.NodeInfo{{}}, []gcs.PlacementGroupInfo{gpuGroup})
	if strings.Contains(b.String(), "none") || !strings.Contains(b.String(), "INFEASIBLE: no node has GPU") {
		t.Errorf("demand of one infeasible group: %q", b.String())
	}
}

// TestListGroups: gray list placement-groups prints a line per group
// with its bundles, how many are placed and why it waits; --json gives
// each bundle's node, "" while unplaced.
func TestListGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	node := core.NewNodeID(r)
	cpu := core.MustResources(core.CPU, 1)
	groups := []gcs.PlacementGroupInfo{
		{ID: core.NewPlacementGroupID(core.JobIDFromInt(1), r), Namespace: "ns", Name: "train", Strategy: proto.PlacementStrictSpread,
			Bundles: []core.Resources{cpu, cpu}, Nodes: []core.NodeID{node, {}}, State: gcs.PlacementRescheduling,
			Reason: "node:ab died"},
		{ID: core.NewPlacementGroupID(core.JobIDFromInt(1), r), Namespace: "ns", Strategy: proto.PlacementPack,
			Bundles: []core.Resources{core.MustResources(core.GPU, 1)}, Nodes: []core.NodeID{{}}, State: gcs.PlacementPending,
			Detached: true, Infeasible: true, Reason: "infeasible: no node has GPU"},
	}
	var b bytes.Buffer
	if err := writeGroups(&b, groups); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "PLACEMENT GROUP") {
		t.Fatalf("gray list placement-groups:\n%s\nwant a header and two lines", b.String())
	}
	for i, want := range [][]string{
		{groups[0].ID.String(), "RESCHEDULING", "train", "STRICT_SPREAD", "{CPU: 1} * 2", "1/2", "false", "node:ab died"},
		{groups[1].ID.String(), "PENDING", "PACK", "{GPU: 1} * 1", "0/1", "true", "INFEASIBLE: no node has GPU"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("line %q lacks %q", lines[i+1], w)
			}
		}
	}
	v := viewGroup(groups[0])
	if len(v.Bundles) != 2 || v.Bundles[0].Node != node.Full() || v.Bundles[1].Node != "" || v.Bundles[0].Resources["CPU"] != "1" ||
		v.Job != core.JobIDFromInt(1).String() || v.Reason != "node:ab died" {
		t.Errorf("viewGroup = %+v, want bundle 0 on %s, bundle 1 unplaced, {CPU: 1} each, job 1", v, node.Full())
	}
}
