package clustertest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStrictSpreadGroupSurvivesANodeKill: a STRICT_SPREAD placement
// group of three 1-CPU bundles over three app nodes (the head has no
// CPUs) puts one bundle on each. One node is killed with SIGKILL: the
// group goes back to RESCHEDULING (two nodes cannot hold three strictly
// spread bundles) and, when a new node joins, is CREATED again with the
// lost bundle on it while the other two stay where they were.
func TestStrictSpreadGroupSurvivesANodeKill(t *testing.T) {
	skipShort(t)
	c := newClusterWith(t, 3, "--node-timeout", "3s")
	d := c.driver(t)
	pidOf := func(n *proc) string { return fmt.Sprint(n.cmd.Process.Pid) }
	before := strings.Split(d.ask(t, "pgcreate 3"), ",")
	var nodes []string
	for _, n := range c.nodes {
		nodes = append(nodes, pidOf(n))
	}
	if got := slices.Sorted(slices.Values(before)); !slices.Equal(got, slices.Sorted(slices.Values(nodes))) {
		t.Fatalf("the bundles' tasks ran in pids %v, want one on each node %v", before, nodes)
	}
	victim := c.nodes[1]
	lost := slices.Index(before, pidOf(victim))
	victim.kill(t)
	for deadline := time.Now().Add(commandTimeout); ; time.Sleep(100 * time.Millisecond) {
		state := d.ask(t, "pgstate")
		if state == "RESCHEDULING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group is %s %v after its node was killed, want RESCHEDULING", state, commandTimeout)
		}
	}
	late := c.addNode(t)
	after := strings.Split(d.ask(t, "pgwait"), ",")
	if len(after) != 3 || after[lost] != pidOf(late) {
		t.Fatalf("after the new node joined the bundles ran in %v, want bundle %d on the new node %s", after, lost, pidOf(late))
	}
	for i := range after {
		if i != lost && after[i] != before[i] {
			t.Errorf("bundle %d moved from %s to %s; only the lost bundle should move", i, before[i], after[i])
		}
	}
	if got := d.ask(t, "pgstate"); got != "CREATED" {
		t.Errorf("the group is %s, want CREATED", got)
	}
}
