package dashboard

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

// Placement groups in the state API (Ray's `ray list placement-groups`
// and the placement group lines of `ray status`'s pending demand).

// PlacementGroupView is a placement group as /api/v0/placement_groups
// returns it: Ray's PlacementGroupState with its detail fields, and the
// strategy and the reason it waits, which Ray keeps elsewhere.
type PlacementGroupView struct {
	PlacementGroupID string `json:"placement_group_id"`
	Name             string `json:"name"`
	Namespace        string `json:"ray_namespace"`
	CreatorJobID     string `json:"creator_job_id"`
	State            string `json:"state"`
	Strategy         string `json:"strategy"`
	// Bundles lists every bundle in index order.
	Bundles  []BundleView `json:"bundles"`
	Detached bool         `json:"is_detached"`
	// Reason says why a PENDING or RESCHEDULING group waits (or, for a
	// REMOVED one the GCS removed itself, why: its job finished);
	// Infeasible that no set of alive nodes could ever hold it.
	Reason     string `json:"reason,omitempty"`
	Infeasible bool   `json:"infeasible,omitempty"`
}

// BundleView is one bundle of a placement group.
type BundleView struct {
	Index     int                `json:"bundle_index"`
	Resources map[string]float64 `json:"unit_resources"`
	// NodeID is the node holding the bundle, "" while it is not placed.
	NodeID string `json:"node_id"`
}

func viewPlacementGroup(p gcs.PlacementGroupInfo) PlacementGroupView {
	job := p.ID.Job()
	v := PlacementGroupView{PlacementGroupID: hex.EncodeToString(p.ID[:]), Name: p.Name, Namespace: p.Namespace,
		CreatorJobID: hex.EncodeToString(job[:]), State: p.State.String(), Strategy: p.Strategy.String(),
		Bundles: make([]BundleView, len(p.Bundles)), Detached: p.Detached, Reason: p.Reason, Infeasible: p.Infeasible}
	for i, b := range p.Bundles {
		v.Bundles[i] = BundleView{Index: i, Resources: resources(b)}
		if i < len(p.Nodes) {
			v.Bundles[i].NodeID = nodeID(p.Nodes[i])
		}
	}
	return v
}

func (s *Server) handlePlacementGroups(w http.ResponseWriter, r *http.Request) {
	var groups []gcs.PlacementGroupInfo
	if err := s.readGCS(r.Context(), func(g *gcs.Server) { groups = g.PlacementGroups() }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	out := make([]PlacementGroupView, 0, len(groups))
	for _, p := range groups {
		out = append(out, viewPlacementGroup(p))
	}
	writeJSON(w, ListResult[PlacementGroupView]{Total: len(out), Result: out})
}

// GroupDemand is the placement groups of one shape that wait for their
// bundles (PENDING or RESCHEDULING), as `ray status` lists them under
// its demand: "{CPU: 1} * 3 (STRICT_SPREAD): 1 pending placement
// group".
type GroupDemand struct {
	// Shape is the groups' bundles, identical ones counted, and their
	// strategy: "{CPU: 1} * 2, {GPU: 1} * 1 (PACK)". A RESCHEDULING
	// group counts with the shape of all its bundles, as in Ray.
	Shape    string `json:"shape"`
	Strategy string `json:"strategy"`
	// Count is how many groups of the shape wait.
	Count int `json:"count"`
	// Infeasible says no set of alive nodes could hold them (they wait
	// for nodes to join), Reason why the first of them waits.
	Infeasible bool   `json:"infeasible,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// GroupShape formats p's bundles and strategy as Ray's `ray status`
// does: "{CPU: 1} * 2, {GPU: 1} * 1 (PACK)".
func GroupShape(p gcs.PlacementGroupInfo) string {
	return BundlesShape(p.Bundles) + " (" + p.Strategy.String() + ")"
}

// BundlesShape formats bundles with identical ones counted, in the order
// of their first appearance: "{CPU: 1} * 2, {GPU: 1} * 1".
func BundlesShape(bundles []core.Resources) string {
	var shapes []string
	counts := map[string]int{}
	for _, b := range bundles {
		s := b.String()
		if counts[s] == 0 {
			shapes = append(shapes, s)
		}
		counts[s]++
	}
	parts := make([]string, len(shapes))
	for i, s := range shapes {
		parts[i] = fmt.Sprintf("%s * %d", s, counts[s])
	}
	return strings.Join(parts, ", ")
}

// DemandKey is what pending demand is summed by, as `ray status`
// shows it: a resource shape, whether no alive node could ever run it,
// and a feasible demand's reason for waiting (an infeasible one's reason
// is shown once for the shape).
type DemandKey struct {
	Shape      string
	Infeasible bool
	Why        string
}

// Compare orders demand as `gray status` and the overview list it:
// feasible before infeasible, then by shape and reason.
func (a DemandKey) Compare(b DemandKey) int {
	if a.Infeasible != b.Infeasible {
		if a.Infeasible {
			return 1
		}
		return -1
	}
	if c := strings.Compare(a.Shape, b.Shape); c != 0 {
		return c
	}
	return strings.Compare(a.Why, b.Why)
}

// PendingGroups sums the groups that wait for bundles by shape: feasible
// ones first, then infeasible; by shape within each. Groups of one shape
// that wait for different reasons while feasible are listed apart, as
// the raylets' task demand is; infeasible ones share the first reason.
func PendingGroups(groups []gcs.PlacementGroupInfo) []GroupDemand {
	type key = DemandKey
	var keys []key
	sums := map[key]*GroupDemand{}
	for _, p := range groups {
		if p.State != gcs.PlacementPending && p.State != gcs.PlacementRescheduling {
			continue
		}
		k := key{Shape: GroupShape(p), Infeasible: p.Infeasible}
		if !p.Infeasible {
			k.Why = p.Reason
		}
		d := sums[k]
		if d == nil {
			d = &GroupDemand{Shape: k.Shape, Strategy: p.Strategy.String(), Infeasible: p.Infeasible, Reason: p.Reason}
			sums[k] = d
			keys = append(keys, k)
		}
		d.Count++
	}
	slices.SortFunc(keys, DemandKey.Compare)
	out := make([]GroupDemand, len(keys))
	for i, k := range keys {
		out[i] = *sums[k]
	}
	return out
}

// groupStates lists the placement group states in their life-cycle
// order, for the counts by state.
var groupStates = []gcs.PlacementGroupState{gcs.PlacementPending, gcs.PlacementCreated, gcs.PlacementRescheduling, gcs.PlacementRemoved}

// countGroups counts groups by state, every state present (0 if none).
func countGroups(groups []gcs.PlacementGroupInfo) map[string]int {
	m := make(map[string]int, len(groupStates))
	for _, st := range groupStates {
		m[st.String()] = 0
	}
	for _, p := range groups {
		m[p.State.String()]++
	}
	return m
}
