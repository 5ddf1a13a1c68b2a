package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/grayrt/gray/core"
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
	})
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
	writeDemand(&b, []gcs.NodeInfo{{}})
	if !strings.Contains(b.String(), "Pending demand: none") {
		t.Errorf("no demand: %q", b.String())
	}
}
