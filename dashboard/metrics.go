package dashboard

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/plasma"
	"github.com/grayrt/gray/raylet"
)

// Metrics: a custom collector reads the GCS and a node's raylet on
// their loops at every scrape, so the figures are exactly the
// components' counters, with nothing cached in between.

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("gray_"+name, help, labels, nil)
}

var (
	descTasksSubmitted = desc("tasks_submitted_total", "Tasks the GCS heard of from task events.")
	descTasksFinished  = desc("task_attempts_finished_total", "Task attempts that finished.")
	descTasksFailed    = desc("task_attempts_failed_total", "Task attempts that failed (retried or not).")
	descTaskRetries    = desc("task_retries_total", "Task attempts after a task's first.")
	descTasks          = desc("tasks", "Tasks in the GCS's task table by the state of their latest attempt.", "state")
	descEventsDropped  = desc("task_events_dropped_total", "Task events owners dropped from full buffers or failed sends.")
	descTasksEvicted   = desc("tasks_evicted_total", "Tasks evicted from the GCS's bounded task table.")
	descNodes          = desc("nodes", "Nodes by state.", "state")
	descNodeDeaths     = desc("node_deaths_total", "Nodes the GCS declared dead.")
	descActors         = desc("actors", "Actors by state.", "state")
	descActorRestarts  = desc("actor_restarts_total", "Restarts over all actors.")
	descGroups         = desc("placement_groups", "Placement groups by state.", "state")
	descResTotal       = desc("cluster_resources_total", "Resources of the live nodes.", "resource")
	descResUsed        = desc("cluster_resources_used", "Resources in use on the live nodes.", "resource")
	descGCSOps         = desc("gcs_requests_total", "Requests the GCS handled, by type.", "type")
	descGCSOpSeconds   = desc("gcs_request_seconds_total", "Time the GCS spent handling requests (commits included), by type.", "type")
	descLeases         = desc("raylet_leases_granted_total", "Worker leases a node's raylet granted.", "node_id")
	descSpillbacks     = desc("raylet_spillbacks_total", "Lease requests a node's raylet spilled to other nodes.", "node_id")
	descInfeasible     = desc("raylet_infeasible_total", "Lease requests a node's raylet found infeasible.", "node_id")
	descWorkerDeaths   = desc("raylet_worker_deaths_total", "Workers of a node's raylet that died.", "node_id")
	descPulls          = desc("raylet_pulls_total", "Objects a node's raylet pulled from other nodes.", "node_id")
	descPulledBytes    = desc("raylet_pulled_bytes_total", "Bytes a node's raylet pulled.", "node_id")
	descPullFailures   = desc("raylet_pull_failures_total", "Pulls of a node's raylet that failed.", "node_id")
	descStoreUsed      = desc("object_store_used_bytes", "Bytes used in a node's plasma store.", "node_id")
	descStoreCapacity  = desc("object_store_capacity_bytes", "Capacity of a node's plasma store.", "node_id")
	descStoreObjects   = desc("object_store_objects", "Objects in a node's plasma store.", "node_id")
	descStoreEvictions = desc("object_store_evictions_total", "Copies a node's plasma store evicted.", "node_id")
	descStoreEvicted   = desc("object_store_evicted_bytes_total", "Bytes a node's plasma store evicted.", "node_id")
	descLeaseWait      = desc("raylet_lease_wait_seconds_total", "Scheduling latency: time from a lease request's arrival at a node's raylet to its grant, summed over granted leases (divide by gray_raylet_leases_granted_total for the mean).", "node_id")
	descLaunched       = desc("raylet_workers_launched_total", "Workers a node's raylet launched from job binaries.", "node_id")
	descLaunchFailures = desc("raylet_launch_failures_total", "Worker launches of a node's raylet that failed.", "node_id")
	descSharedPuts     = desc("raylet_shared_puts_total", "Objects the workers and drivers of a node wrote straight into its plasma store's shared memory.", "node_id")
	descSharedGets     = desc("raylet_shared_gets_total", "Reads of a node's plasma objects answered with a shared memory segment rather than bytes.", "node_id")
	descStoreShared    = desc("object_store_shared_bytes", "Bytes of a node's plasma store held in shared memory.", "node_id")
	descRepLeader      = desc("gcs_replica_leader", "1 while this head's GCS replica leads and serves, else 0 (a replicated GCS).")
	descRepTerm        = desc("gcs_replica_term", "The raft term this head's GCS replica is in.")
	descRepCommit      = desc("gcs_replica_commit_index", "The raft commit index this head's GCS replica knows of.")
	descRepApplied     = desc("gcs_replica_applied_index", "The last log index this head's GCS replica applied.")
	descRepElections   = desc("gcs_replica_elections_total", "Elections this head's GCS replica started since it started.")
	descRepLeads       = desc("gcs_replica_leaderships_total", "Times this head's GCS replica began to serve as leader.")
	descRepStepDowns   = desc("gcs_replica_step_downs_total", "Times this head's GCS replica gave up the lead for want of a quorum.")
	descRepProposals   = desc("gcs_replica_proposals_total", "Mutations this head's GCS replica proposed while it led.")
	descRepCommitted   = desc("gcs_replica_committed_total", "Proposals of this head's GCS replica that were committed and applied.")
	descRepCommitTime  = desc("gcs_replica_commit_seconds_total", "Time from proposal to application summed over committed proposals (divide by gray_gcs_replica_committed_total for the mean commit latency).")
	descScrapeErrors   = desc("dashboard_scrape_errors", "Components that did not answer this scrape (1 each; other_raylets counts the nodes).", "component")
)

type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTasksSubmitted, descTasksFinished, descTasksFailed, descTaskRetries, descTasks,
		descEventsDropped, descTasksEvicted, descNodes, descNodeDeaths, descActors, descActorRestarts, descGroups, descResTotal, descResUsed,
		descGCSOps, descGCSOpSeconds, descLeases, descSpillbacks, descInfeasible, descWorkerDeaths, descPulls, descPulledBytes,
		descPullFailures, descStoreUsed, descStoreCapacity, descStoreObjects, descStoreEvictions, descStoreEvicted, descLaunched, descLaunchFailures, descLeaseWait, descSharedPuts, descSharedGets, descStoreShared, descScrapeErrors,
		descRepLeader, descRepTerm, descRepCommit, descRepApplied, descRepElections, descRepLeads, descRepStepDowns, descRepProposals, descRepCommitted, descRepCommitTime} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.opts.ReadTimeout)
	defer cancel()
	var (
		ts     gcs.TaskStats
		nodes  []gcs.NodeInfo
		actors []gcs.ActorInfo
		ops    []gcs.OpStat
		groups []gcs.PlacementGroupInfo
	)
	gcsErr := onLoop(ctx, c.s.opts.Source.GCS, func(g *gcs.Server) {
		ts, nodes, actors, ops, groups = g.TaskStats(), g.Nodes(), g.Actors(), g.OpStats(), g.PlacementGroups()
	})
	var (
		rs    raylet.Stats
		ps    plasma.Stats
		node  core.NodeID
		hasRl bool
	)
	rlErr := onLoop(ctx, c.s.opts.Source.Raylet, func(r *raylet.Raylet) {
		rs, node, hasRl = r.Stats(), r.Node(), true
		if st := r.Store(); st != nil {
			ps = st.Stats()
		}
	})
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if c.s.opts.Source.Replica != nil {
		var info gcs.ReplicaInfo
		if err := onLoop(ctx, c.s.opts.Source.Replica, func(r *gcs.Replica) { info = r.Info() }); err == nil {
			gauge(descRepLeader, boolFloat(info.Serving))
			gauge(descRepTerm, float64(info.Term))
			gauge(descRepCommit, float64(info.Commit))
			gauge(descRepApplied, float64(info.Applied))
			counter(descRepElections, float64(info.Stats.Elections))
			counter(descRepLeads, float64(info.Stats.Leaderships))
			counter(descRepStepDowns, float64(info.Stats.StepDowns))
			counter(descRepProposals, float64(info.Stats.Proposals))
			counter(descRepCommitted, float64(info.Stats.Committed))
			counter(descRepCommitTime, info.Stats.CommitTime.Seconds())
		}
	}
	gauge(descScrapeErrors, boolFloat(gcsErr != nil), "gcs")
	gauge(descScrapeErrors, boolFloat(c.s.opts.Source.Raylet != nil && rlErr != nil), "raylet")
	if gcsErr == nil {
		counter(descTasksSubmitted, float64(ts.Submitted))
		counter(descTasksFinished, float64(ts.Finished))
		counter(descTasksFailed, float64(ts.Failed))
		counter(descTaskRetries, float64(ts.Retries))
		counter(descEventsDropped, float64(ts.DroppedAtSource))
		counter(descTasksEvicted, float64(ts.Evicted))
		for st := gcs.TaskPendingArgs; st <= gcs.TaskFailed; st++ {
			gauge(descTasks, float64(ts.ByState[st]), st.String())
		}
		byNode := map[gcs.NodeState]int{}
		total, used := map[string]float64{}, map[string]float64{}
		var names []string
		for _, n := range nodes {
			byNode[n.State]++
			if n.State == gcs.NodeDead {
				continue
			}
			for _, r := range n.Resources {
				if _, seen := total[r.Name]; !seen {
					names = append(names, r.Name)
				}
				amt := float64(r.Amount) / core.QuantityScale
				total[r.Name] += amt
				used[r.Name] += amt - float64(n.Available.Get(r.Name))/core.QuantityScale
			}
		}
		for _, st := range []gcs.NodeState{gcs.NodeAlive, gcs.NodeDraining, gcs.NodeDead} {
			gauge(descNodes, float64(byNode[st]), st.String())
		}
		counter(descNodeDeaths, float64(byNode[gcs.NodeDead]))
		for _, n := range names {
			gauge(descResTotal, total[n], n)
			gauge(descResUsed, used[n], n)
		}
		byActor := map[gcs.ActorState]int{}
		restarts := int64(0)
		for _, a := range actors {
			byActor[a.State]++
			restarts += a.NumRestarts
		}
		for st := gcs.ActorDependenciesUnready; st <= gcs.ActorDead; st++ {
			gauge(descActors, float64(byActor[st]), st.String())
		}
		counter(descActorRestarts, float64(restarts))
		byGroup := countGroups(groups)
		for _, st := range groupStates {
			gauge(descGroups, float64(byGroup[st.String()]), st.String())
		}
		for _, op := range ops {
			counter(descGCSOps, float64(op.Count), op.Type)
			counter(descGCSOpSeconds, op.Time.Seconds(), op.Type)
		}
	}
	emit := func(r proto.RayletStatsReply) {
		id := nodeID(r.Node)
		counter(descLeases, float64(r.LeasesGranted), id)
		counter(descSpillbacks, float64(r.Spillbacks), id)
		counter(descInfeasible, float64(r.Infeasible), id)
		counter(descWorkerDeaths, float64(r.WorkerDeaths), id)
		counter(descPulls, float64(r.Pulls), id)
		counter(descPulledBytes, float64(r.PulledBytes), id)
		counter(descPullFailures, float64(r.PullFailures), id)
		counter(descLaunched, float64(r.WorkersLaunched), id)
		counter(descLeaseWait, float64(r.LeaseWaitNanos)/1e9, id)
		counter(descLaunchFailures, float64(r.LaunchFailures), id)
		gauge(descStoreUsed, float64(r.StoreUsed), id)
		gauge(descStoreCapacity, float64(r.StoreCapacity), id)
		gauge(descStoreObjects, float64(r.StoreObjects), id)
		counter(descStoreEvictions, float64(r.StoreEvictions), id)
		counter(descStoreEvicted, float64(r.StoreEvictedBytes), id)
		counter(descSharedPuts, float64(r.SharedPuts), id)
		counter(descSharedGets, float64(r.SharedGets), id)
		gauge(descStoreShared, float64(r.StoreSharedBytes), id)
	}
	if rlErr == nil && hasRl {
		emit(proto.RayletStatsReply{Node: node, LeasesGranted: rs.LeasesGranted, Spillbacks: rs.Spillbacks, Infeasible: rs.Infeasible,
			WorkerDeaths: rs.WorkerDeaths, Pulls: rs.Pulls, PulledBytes: rs.PulledBytes, PullFailures: rs.PullFailures,
			WorkersLaunched: rs.WorkersLaunched, LaunchFailures: rs.LaunchFailures, LeaseWaitNanos: int64(rs.LeaseWait),
			StoreUsed: ps.Used, StoreCapacity: ps.Capacity, StoreObjects: int64(ps.Objects), StoreEvictions: ps.Evictions, StoreEvictedBytes: ps.EvictedBytes,
			SharedPuts: rs.SharedPuts, SharedGets: rs.SharedGets, StoreSharedBytes: ps.SharedBytes})
	}
	// The other alive nodes' raylets, asked over the network.
	if gcsErr == nil && c.s.opts.Source.Request != nil {
		failed := 0
		for _, n := range nodes {
			if n.State != gcs.NodeAlive || (hasRl && n.ID == node) {
				continue
			}
			m, err := c.s.opts.Source.Request(ctx, n.Addr, &proto.RayletStats{})
			if err != nil {
				failed++
				continue
			}
			emit(*m.(*proto.RayletStatsReply))
		}
		gauge(descScrapeErrors, float64(failed), "other_raylets")
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
