package gcs

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/grayrt/gray/core"
)

// TestByNodeGroupsInOrderOfFirstUse: byNode gives what a plain map and
// first-use order give, with few nodes (searched) and many (mapped),
// adjacent or interleaved, unplaced bundles left out.
func TestByNodeGroupsInOrderOfFirstUse(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, distinct := range []int{1, 3, nodePlacesScanMax, nodePlacesScanMax + 1, 40} {
		for _, adjacent := range []bool{true, false} {
			nodes := make([]core.NodeID, 100)
			for i := range nodes {
				k := r.IntN(distinct + 1) // 0: unplaced
				if adjacent {
					k = i * (distinct + 1) / len(nodes)
				}
				if k > 0 {
					nodes[i] = core.NodeID{byte(k), 7}
				}
			}
			idx := []int32{5, 3, 99, 0, 42, 42, 17}
			for _, sel := range [][]int32{nil, idx} {
				var wantOrder []core.NodeID
				want := map[core.NodeID][]int32{}
				each := sel
				if each == nil {
					for i := range nodes {
						each = append(each, int32(i))
					}
				}
				for _, i := range each {
					n := nodes[i]
					if n.IsNil() {
						continue
					}
					if _, ok := want[n]; !ok {
						wantOrder = append(wantOrder, n)
					}
					want[n] = append(want[n], i)
				}
				order, per := byNode(nodes, sel)
				name := fmt.Sprintf("%d nodes, adjacent %v, idx %v", distinct, adjacent, sel)
				if !slices.Equal(order, wantOrder) || len(per) != len(order) {
					t.Fatalf("%s: byNode order %v (%d lists), want %v", name, order, len(per), wantOrder)
				}
				for k, n := range order {
					if !slices.Equal(per[k], want[n]) {
						t.Errorf("%s: node %v has bundles %v, want %v", name, n, per[k], want[n])
					}
				}
			}
		}
	}
}
