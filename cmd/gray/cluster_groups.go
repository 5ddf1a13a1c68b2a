package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/dashboard"
	"github.com/grayrt/gray/gcs"
)

// Placement groups: `gray list placement-groups` (Ray's `ray list
// placement-groups`) and their part of `gray status`.

// groupView is the --json form of a placement group.
type groupView struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Namespace string `json:"namespace"`
	Name      string `json:"name,omitempty"`
	Job       string `json:"job"`
	Strategy  string `json:"strategy"`
	// Bundles lists every bundle in index order.
	Bundles  []bundleView `json:"bundles"`
	Detached bool         `json:"detached"`
	// Reason says why a PENDING or RESCHEDULING group waits (or why the
	// GCS removed it); Infeasible that no set of alive nodes could hold
	// it.
	Reason     string `json:"reason,omitempty"`
	Infeasible bool   `json:"infeasible,omitempty"`
}

// bundleView is one bundle: its resources and its node, "" while it is
// not placed.
type bundleView struct {
	Resources map[string]string `json:"resources"`
	Node      string            `json:"node"`
}

func viewGroup(p gcs.PlacementGroupInfo) groupView {
	v := groupView{ID: p.ID.String(), State: p.State.String(), Namespace: p.Namespace, Name: p.Name, Job: p.ID.Job().String(),
		Strategy: p.Strategy.String(), Bundles: make([]bundleView, len(p.Bundles)), Detached: p.Detached,
		Reason: p.Reason, Infeasible: p.Infeasible}
	for i, b := range p.Bundles {
		v.Bundles[i].Resources = resourceMap(b)
		if i < len(p.Nodes) && !p.Nodes[i].IsNil() {
			v.Bundles[i].Node = fullNodeID(p.Nodes[i])
		}
	}
	return v
}

func listGroups(c *cli.Context, cc *clusterConn, _ []string) error {
	r, err := fetch(c.Context, cc, "list placement groups", (*gcs.Client).ListPlacementGroups)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		vs := make([]groupView, 0, len(r.PlacementGroups))
		for _, p := range r.PlacementGroups {
			vs = append(vs, viewGroup(p))
		}
		return writeJSON(c.App.Writer, vs)
	}
	return writeGroups(c.App.Writer, r.PlacementGroups)
}

// writeGroups prints one line per group: its bundles as `ray status`
// shapes them, how many are placed (the nodes are in --json), and why a
// waiting group waits.
func writeGroups(w io.Writer, groups []gcs.PlacementGroupInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLACEMENT GROUP\tSTATE\tNAMESPACE\tNAME\tSTRATEGY\tBUNDLES\tPLACED\tDETACHED\tREASON")
	for _, p := range groups {
		placed := 0
		for _, n := range p.Nodes {
			if !n.IsNil() {
				placed++
			}
		}
		why := p.Reason
		if p.Infeasible {
			why = "INFEASIBLE: " + infeasibleWhy(why)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%t\t%s\n", p.ID, p.State, dash(p.Namespace), dash(p.Name), p.Strategy,
			dashboard.BundlesShape(p.Bundles), placed, len(p.Bundles), p.Detached, dash(why))
	}
	return tw.Flush()
}

// writeGroupCounts prints the groups counted by state, as gray status
// prints the actors.
func writeGroupCounts(w io.Writer, groups []gcs.PlacementGroupInfo) {
	counts := map[gcs.PlacementGroupState]int{}
	for _, p := range groups {
		counts[p.State]++
	}
	var parts []string
	for _, st := range []gcs.PlacementGroupState{gcs.PlacementPending, gcs.PlacementCreated, gcs.PlacementRescheduling, gcs.PlacementRemoved} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	fmt.Fprintf(w, "\nPlacement groups: %d", len(groups))
	if len(parts) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
}

// writeGroupDemand prints the placement groups that wait for their
// bundles (dashboard.PendingGroups, summed by shape), as `ray status`
// lists them under its demand;
// infeasible ones marked as the raylets' infeasible demand is.
func writeGroupDemand(w io.Writer, pending []dashboard.GroupDemand) {
	for _, d := range pending {
		what := fmt.Sprintf("%d pending placement group", d.Count)
		if d.Count != 1 {
			what += "s"
		}
		switch {
		case d.Infeasible:
			fmt.Fprintf(w, "  %s: %s, INFEASIBLE: %s\n", d.Shape, what, infeasibleWhy(d.Reason))
		case d.Reason != "":
			fmt.Fprintf(w, "  %s: %s: %s\n", d.Shape, what, d.Reason)
		default:
			fmt.Fprintf(w, "  %s: %s\n", d.Shape, what)
		}
	}
}

// infeasibleWhy is an infeasible group's reason without the GCS's
// leading "infeasible: ", which the INFEASIBLE mark already says.
func infeasibleWhy(reason string) string { return strings.TrimPrefix(reason, "infeasible: ") }
