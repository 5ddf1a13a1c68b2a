package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/dashboard"
	"github.com/grayrt/gray/gcs"
)

// nodeView, actorView and jobView are the --json forms of the GCS's
// records: plain strings, stable for scripts.
type nodeView struct {
	ID         string            `json:"id"`
	State      string            `json:"state"`
	Address    string            `json:"address"`
	Total      map[string]string `json:"total"`
	Available  map[string]string `json:"available"`
	Labels     map[string]string `json:"labels,omitempty"`
	DeathCause string            `json:"death_cause,omitempty"`
}

type actorView struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	Job         string `json:"job"`
	Namespace   string `json:"namespace"`
	Name        string `json:"name,omitempty"`
	Node        string `json:"node,omitempty"`
	Address     string `json:"address,omitempty"`
	NumRestarts int64  `json:"num_restarts"`
	MaxRestarts int64  `json:"max_restarts"`
	DeathCause  string `json:"death_cause,omitempty"`
}

type jobView struct {
	ID        string `json:"id"`
	Finished  bool   `json:"finished"`
	Driver    string `json:"driver"`
	StartTime string `json:"start_time,omitempty"`
	EndTime   string `json:"end_time,omitempty"`
}

func resourceMap(r core.Resources) map[string]string {
	m := make(map[string]string, len(r))
	for _, e := range r {
		m[e.Name] = e.Amount.String()
	}
	return m
}

func viewNode(n gcs.NodeInfo) nodeView {
	return nodeView{ID: fullNodeID(n.ID), State: n.State.String(), Address: string(n.Addr),
		Total: resourceMap(n.Resources), Available: resourceMap(n.Available), Labels: n.Labels.Map(), DeathCause: n.DeathCause}
}

// fullNodeID is a node id as the API and WithNodeAffinity take it.
func fullNodeID(n core.NodeID) string {
	return n.Full()
}

func viewActor(a gcs.ActorInfo) actorView {
	v := actorView{ID: a.ID.String(), State: a.State.String(), Job: a.Job.String(), Namespace: a.Namespace,
		Name: a.Name, Address: string(a.Addr), NumRestarts: a.NumRestarts, MaxRestarts: a.MaxRestarts, DeathCause: a.DeathCause}
	if !a.Node.IsNil() {
		v.Node = fullNodeID(a.Node)
	}
	return v
}

// unixTime formats a job's time; the GCS keeps Unix nanoseconds.
func unixTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}

func viewJob(j gcs.JobInfo) jobView {
	return jobView{ID: j.ID.String(), Finished: j.Finished, Driver: string(j.DriverAddr),
		StartTime: unixTime(j.StartTime), EndTime: unixTime(j.EndTime)}
}

// usage formats used/total for each resource of a node, e.g.
// "CPU 1/4, memory 0/8589934592".
func usage(n gcs.NodeInfo) string {
	parts := make([]string, 0, len(n.Resources))
	for _, e := range n.Resources {
		used := e.Amount - n.Available.Get(e.Name)
		if n.State != gcs.NodeAlive && n.State != gcs.NodeDraining {
			used = 0
		}
		parts = append(parts, fmt.Sprintf("%s %s/%s", e.Name, amount(e.Name, used), amount(e.Name, e.Amount)))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// amount formats an amount of resource name; memory, in bytes, gets a
// binary unit when it is a whole number of them.
func amount(name string, q core.Quantity) string {
	if name != core.Memory || q%core.QuantityScale != 0 || q <= 0 {
		return q.String()
	}
	b := int64(q / core.QuantityScale)
	for _, u := range []struct {
		unit string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b%u.size == 0 {
			return fmt.Sprintf("%d%s", b/u.size, u.unit)
		}
	}
	return fmt.Sprintf("%dB", b)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fetch runs one listing call.
func fetch(ctx context.Context, cc *clusterConn, what string, f func(*gcs.Client, func(gcs.Reply, error))) (gcs.Reply, error) {
	r, err := cc.call(ctx, func(g *gcs.Client, cb func(gcs.Reply, error)) { f(g, cb) })
	if err != nil {
		return r, cc.callError(what, err)
	}
	return r, nil
}

func listNodes(c *cli.Context, cc *clusterConn, _ []string) error {
	r, err := fetch(c.Context, cc, "list nodes", (*gcs.Client).GetNodes)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		vs := make([]nodeView, 0, len(r.Nodes))
		for _, n := range r.Nodes {
			vs = append(vs, viewNode(n))
		}
		return writeJSON(c.App.Writer, vs)
	}
	return writeNodes(c.App.Writer, r.Nodes)
}

func writeNodes(w io.Writer, nodes []gcs.NodeInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tRESOURCES (used/total)\tLABELS\tADDRESS\tDEATH CAUSE")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", fullNodeID(n.ID), n.State, usage(n), dash(n.Labels.String()), n.Addr, dash(n.DeathCause))
	}
	return tw.Flush()
}

func listActors(c *cli.Context, cc *clusterConn, _ []string) error {
	r, err := fetch(c.Context, cc, "list actors", (*gcs.Client).ListActors)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		vs := make([]actorView, 0, len(r.Actors))
		for _, a := range r.Actors {
			vs = append(vs, viewActor(a))
		}
		return writeJSON(c.App.Writer, vs)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTOR\tSTATE\tNAMESPACE\tNAME\tJOB\tNODE\tRESTARTS\tDEATH CAUSE")
	for _, a := range r.Actors {
		v := viewActor(a)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", v.ID, v.State, dash(v.Namespace), dash(v.Name), v.Job, dash(v.Node), v.NumRestarts, dash(v.DeathCause))
	}
	return tw.Flush()
}

func listJobs(c *cli.Context, cc *clusterConn, _ []string) error {
	r, err := fetch(c.Context, cc, "list jobs", (*gcs.Client).ListJobs)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		vs := make([]jobView, 0, len(r.Jobs))
		for _, j := range r.Jobs {
			vs = append(vs, viewJob(j))
		}
		return writeJSON(c.App.Writer, vs)
	}
	return writeJobs(c.App.Writer, r.Jobs)
}

func writeJobs(w io.Writer, jobs []gcs.JobInfo) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATUS\tSTART\tEND\tDRIVER")
	for _, j := range jobs {
		v := viewJob(j)
		status := "RUNNING"
		if v.Finished {
			status = "FINISHED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ID, status, dash(v.StartTime), dash(v.EndTime), v.Driver)
	}
	return tw.Flush()
}

// clusterStatus prints the nodes, the pending demand (the raylets'
// queued work and the placement groups that wait), the actors and the
// placement groups counted by state, and the jobs.
func clusterStatus(c *cli.Context, cc *clusterConn, _ []string) error {
	nodes, err := fetch(c.Context, cc, "status", (*gcs.Client).GetNodes)
	if err != nil {
		return err
	}
	actors, err := fetch(c.Context, cc, "status", (*gcs.Client).ListActors)
	if err != nil {
		return err
	}
	jobs, err := fetch(c.Context, cc, "status", (*gcs.Client).ListJobs)
	if err != nil {
		return err
	}
	groups, err := fetch(c.Context, cc, "status", (*gcs.Client).ListPlacementGroups)
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "cluster %s (GCS epoch %d)\n\n", cc.gcs, nodes.Epoch)
	if replicas := gcs.SplitAddr(cc.gcs); len(replicas) > 1 {
		writeReplicas(w, replicaStatus(c.Context, cc, replicas))
	}

	byState := map[gcs.NodeState]int{}
	for _, n := range nodes.Nodes {
		byState[n.State]++
	}
	fmt.Fprintf(w, "Nodes: %d alive, %d draining, %d dead\n", byState[gcs.NodeAlive], byState[gcs.NodeDraining], byState[gcs.NodeDead])
	if err := writeNodes(w, nodes.Nodes); err != nil {
		return err
	}
	writeDemand(w, nodes.Nodes, groups.PlacementGroups)

	actorStates := []gcs.ActorState{gcs.ActorDependenciesUnready, gcs.ActorPendingCreation, gcs.ActorAlive, gcs.ActorRestarting, gcs.ActorDead}
	counts := map[gcs.ActorState]int{}
	for _, a := range actors.Actors {
		counts[a.State]++
	}
	var parts []string
	for _, s := range actorStates {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	fmt.Fprintf(w, "\nActors: %d", len(actors.Actors))
	if len(parts) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	writeGroupCounts(w, groups.PlacementGroups)

	running := 0
	for _, j := range jobs.Jobs {
		if !j.Finished {
			running++
		}
	}
	fmt.Fprintf(w, "\nJobs: %d (%d running, %d finished)\n", len(jobs.Jobs), running, len(jobs.Jobs)-running)
	if len(jobs.Jobs) > 0 {
		return writeJobs(w, jobs.Jobs)
	}
	return nil
}

// replicaStatus asks every replica of a replicated GCS for its state; a
// replica that does not answer gets a row with its error.
func replicaStatus(ctx context.Context, cc *clusterConn, replicas []core.Addr) []replicaRow {
	rows := make([]replicaRow, len(replicas))
	var wg sync.WaitGroup
	for i, a := range replicas {
		rows[i].addr = a
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := cc.call(ctx, func(_ *gcs.Client, cb func(gcs.Reply, error)) { cc.p.replicaClient(a).ReplicaStatus(cb) })
			rows[i].info, rows[i].err = r.Replica, err
			if err == nil && r.Replica == nil {
				rows[i].err = errors.New("answered without its state")
			}
		}()
	}
	wg.Wait()
	// By replica id; those that did not answer last.
	slices.SortStableFunc(rows, func(a, b replicaRow) int {
		switch {
		case a.info == nil || b.info == nil:
			return boolRank(a.info == nil) - boolRank(b.info == nil)
		case a.info.ID < b.info.ID:
			return -1
		case a.info.ID > b.info.ID:
			return 1
		}
		return 0
	})
	return rows
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

type replicaRow struct {
	addr core.Addr
	info *gcs.ReplicaInfo
	err  error
}

// writeReplicas prints the replicas of a replicated GCS: role, term, log
// indexes and how far each is behind the leader's commit.
func writeReplicas(w io.Writer, rows []replicaRow) {
	var commit uint64
	var members map[uint64]bool // the leader's configuration
	for _, r := range rows {
		if r.info != nil && r.info.Role == "leader" {
			commit = r.info.Commit
			members = map[uint64]bool{}
			for _, m := range r.info.Members {
				members[m.ID] = true
			}
		}
	}
	fmt.Fprintf(w, "GCS replicas: %d\n", len(rows))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REPLICA\tROLE\tTERM\tCOMMIT\tAPPLIED\tLAG\tSERVING\tELECTIONS\tADDRESS")
	for _, r := range rows {
		if r.info == nil {
			fmt.Fprintf(tw, "-\tunreachable\t-\t-\t-\t-\t-\t-\t%s (%v)\n", r.addr, r.err)
			continue
		}
		in := r.info
		role := in.Role
		if members != nil && in.ID != 0 && !members[in.ID] {
			role = "not a member" // removed, or replaced under a new id
		}
		lag := "-"
		if commit > 0 {
			lag = strconv.FormatUint(commit-min(commit, in.Applied), 10)
		}
		serving := "no"
		if in.Serving {
			serving = fmt.Sprintf("yes (epoch %d)", in.Epoch)
		}
		fmt.Fprintf(tw, "%x\t%s\t%d\t%d\t%d\t%s\t%s\t%d\t%s\n", in.ID, role, in.Term, in.Commit, in.Applied, lag, serving, in.Stats.Elections, in.Addr)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
}

// writeDemand prints the queued work of every node summed by resource
// shape, then the placement groups that wait for their bundles summed by
// shape, as `ray status` prints pending demand, infeasible demand after
// the rest with the reason.
func writeDemand(w io.Writer, nodes []gcs.NodeInfo, groups []gcs.PlacementGroupInfo) {
	type key = dashboard.DemandKey // Why: actors at a node's worker cap
	sum := map[key]int64{}
	reason := map[key]string{}
	var keys []key
	for _, n := range nodes {
		for _, d := range n.Demand {
			k := key{Shape: d.Resources.String(), Infeasible: d.Infeasible}
			if !d.Infeasible {
				k.Why = d.Reason
			}
			if _, ok := sum[k]; !ok {
				keys = append(keys, k)
				reason[k] = d.Reason
			}
			sum[k] += d.Count
		}
	}
	slices.SortFunc(keys, key.Compare)
	pending := dashboard.PendingGroups(groups)
	if len(keys) == 0 && len(pending) == 0 {
		fmt.Fprintln(w, "\nPending demand: none")
		return
	}
	fmt.Fprintln(w, "\nPending demand (tasks and actors queued at the raylets, placement groups waiting at the GCS; infeasible: no alive node can run it, it waits for one to join):")
	for _, k := range keys {
		if k.Infeasible {
			fmt.Fprintf(w, "  %s: %d pending, INFEASIBLE: %s\n", k.Shape, sum[k], reason[k])
		} else if k.Why != "" {
			fmt.Fprintf(w, "  %s: %d pending: %s\n", k.Shape, sum[k], k.Why)
		} else {
			fmt.Fprintf(w, "  %s: %d pending\n", k.Shape, sum[k])
		}
	}
	writeGroupDemand(w, pending)
}
