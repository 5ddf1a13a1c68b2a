package workload

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/stuck"
	"github.com/grayrt/gray/linearizability"
	"github.com/grayrt/gray/sim"
)

// The gcs workload: one GCS and several clients issuing random KV, CAS,
// named-actor and placement-group operations, plus fake raylets that
// register and heartbeat,
// under any fault mix (GCS crashes with loss of unsynced data, disk
// errors, partitions…). Every run checks the clients' histories for
// linearizability with porcupine and checks invariants: a node declared
// dead is never seen alive again, an actor's restart count never goes
// backwards. After healing, every client's pending operation finishes.

func init() {
	sim.RegisterWorkload("gcs", "GCS with clients doing KV, CAS, named actors and placement groups, and heartbeating raylets; checks linearizability",
		gcs.Bugs(), newGCSWorkload)
	sim.RegisterWorkload("gcs-ha", "the gcs workload against a GCS of 3 raft replicas (leader crashes, partitions, pauses, disk faults); checks linearizability across failovers",
		haBugs(), newGCSHAWorkload)
}

// haBugs are the variants of gcs-ha: the replication bugs and the
// single GCS's that a replica can have too.
func haBugs() []string {
	b := append(gcs.ReplicaBugs(), gcs.BugDoubleApply, gcs.BugForgetDedup, gcs.BugTrustDisk)
	slices.Sort(b)
	return b
}

// gcsReplicas is the size of gcs-ha's GCS.
const gcsReplicas = 3

func newGCSHAWorkload(opts sim.Options) (sim.Workload, error) {
	wl, err := newGCSWorkload(opts)
	if err != nil {
		return nil, err
	}
	g := wl.(*gcsWorkload)
	for i := range gcsReplicas {
		g.replicas = append(g.replicas, core.Addr(fmt.Sprintf("gcs-%d", i+1)))
	}
	// A failover takes an election (1–2 s) and the clients' move to the
	// new leader (1 s or more): the node timeout must outlast both.
	g.nodeTimeout = 6 * time.Second
	return g, nil
}

const (
	gcsKeys         = 4
	gcsNames        = 3
	gcsCheckTimeout = 60 * time.Second
	gcsNodeTimeout  = 2 * time.Second
)

type gcsWorkload struct {
	bug     string
	w       *sim.World
	kv      *linearizability.Recorder
	actors  *linearizability.Recorder
	groups  *linearizability.Recorder
	clients []*gcsClient
	// groupIDs holds, per group name, the last gcsGroupIDsMax groups any
	// client tried to create with it (created, conflicting or unknown),
	// for removes: any client may remove any of them, again or not.
	groupIDs [gcsGroupNames][]triedGroup
	raylets  []*fakeRaylet
	// replicas lists the GCS's replicas (gcs-ha); empty: one "gcs".
	replicas    []core.Addr
	nodeTimeout time.Duration

	// nodeStates is every node state observed, to check that DEAD is final.
	deadAt     map[core.NodeID]int64 // virtual time the death was first observed
	aliveAfter map[core.NodeID]bool
	violations []string
	// restarts holds completed GetActor observations for monotonicity.
	restarts map[core.ActorID][]restartObs
}

type restartObs struct {
	call, ret int64
	n         int64
}

func newGCSWorkload(opts sim.Options) (sim.Workload, error) {
	g := &gcsWorkload{bug: opts.Variant, nodeTimeout: gcsNodeTimeout, kv: linearizability.NewRecorder(), actors: linearizability.NewRecorder(), groups: linearizability.NewRecorder(),
		deadAt: map[core.NodeID]int64{}, aliveAfter: map[core.NodeID]bool{}, restarts: map[core.ActorID][]restartObs{}}
	clients := opts.Clients
	if clients == 0 {
		clients = 4
	}
	nodes := opts.Nodes
	if nodes == 0 {
		nodes = 2
	}
	if clients < 1 || clients > 64 || nodes < 0 || nodes > 64 {
		return nil, fmt.Errorf("gcs: clients %d and nodes %d, want 1..64 and 0..64", clients, nodes)
	}
	for i := range clients {
		g.clients = append(g.clients, &gcsClient{g: g, idx: i, addr: core.Addr(fmt.Sprintf("client-%d", i+1))})
	}
	for i := range nodes {
		g.raylets = append(g.raylets, &fakeRaylet{g: g, addr: core.Addr(fmt.Sprintf("raylet-%d", i+1))})
	}
	return g, nil
}

func (g *gcsWorkload) Setup(w *sim.World) error {
	g.w = w
	// A short node timeout makes node deaths (and fencing) happen within
	// the fault phase.
	cfg := gcs.Config{Bug: g.bug, NodeTimeout: g.nodeTimeout, HealthCheckPeriod: 500 * time.Millisecond}
	if len(g.replicas) == 0 {
		w.AddProcess("gcs", sim.ProcOptions{Crashable: true, Disk: true}, func() core.Process { return gcs.NewServer(cfg) })
	}
	for _, addr := range g.replicas {
		cfg := cfg
		cfg.Replicas = g.replicas
		// A short log makes a replica that was down or cut off catch
		// up from a snapshot.
		cfg.RaftLogKeep = 64
		w.AddProcess(addr, sim.ProcOptions{Crashable: true, Disk: true, LosableDisk: true}, func() core.Process { return gcs.NewReplica(cfg) })
	}
	for _, r := range g.raylets {
		w.AddProcess(r.addr, sim.ProcOptions{Crashable: true}, func() core.Process { return &fakeRaylet{g: g, addr: r.addr} })
	}
	for _, c := range g.clients {
		w.AddProcess(c.addr, sim.ProcOptions{}, func() core.Process { return c })
	}
	return nil
}

func (g *gcsWorkload) now() int64 { return int64(g.w.Now()) }

func (g *gcsWorkload) Done() bool {
	if !g.clients[0].finalDone {
		return false
	}
	for _, c := range g.clients {
		if c.busy {
			return false
		}
	}
	return true
}

// Pending describes, for a liveness failure, the clients' operations
// still waiting for the GCS, client 1's final read, and the GCS's state.
func (g *gcsWorkload) Pending() string {
	var lines []string
	for _, c := range g.clients {
		switch {
		case c.busy:
			lines = append(lines, fmt.Sprintf("%s waits for %s (%d GCS calls in flight, GCS epoch last seen %d)", c.addr, c.op, c.cli.InFlight(), c.cli.Epoch()))
		case c.idx == 0 && !c.finalDone:
			lines = append(lines, fmt.Sprintf("%s has not started its final read (it starts with its next operation after healing)", c.addr))
		}
	}
	if len(g.replicas) > 0 {
		for _, a := range g.replicas {
			if r, ok := g.w.Process(a).(*gcs.Replica); ok {
				lines = append(lines, string(a)+": "+r.Status())
			} else {
				lines = append(lines, string(a)+": down")
			}
		}
	} else if s, ok := g.w.Process("gcs").(*gcs.Server); ok {
		head, _, _ := strings.Cut(s.Describe(), "\n")
		lines = append(lines, head)
	} else {
		lines = append(lines, "gcs: down")
	}
	return stuck.Bound(lines, stuck.LinesMax)
}

// DiskLossAllowed implements sim.DiskLossGuard.
func (g *gcsWorkload) DiskLossAllowed(addr core.Addr) bool {
	return replicaDiskLossAllowed(g.w, g.replicas, addr)
}

// leadingReplica returns the replica whose front serves, the one of the
// highest epoch while a deposed leader has not heard of its successor,
// or nil.
func leadingReplica(w *sim.World, replicas []core.Addr) *gcs.Replica {
	var lead *gcs.Replica
	for _, a := range replicas {
		if r, ok := w.Process(a).(*gcs.Replica); ok && r.Front() != nil && (lead == nil || r.Front().Epoch() > lead.Front().Epoch()) {
			lead = r
		}
	}
	return lead
}

// replicaDiskLossAllowed reports whether the disk of the replica at addr
// may be lost without losing anything acknowledged: the serving leader
// (another replica) replaces no member now, and every other voter is up
// and holds everything committed. Two disks lost before the first
// replica caught up again would be more than three replicas tolerate.
func replicaDiskLossAllowed(w *sim.World, replicas []core.Addr, addr core.Addr) bool {
	lead := leadingReplica(w, replicas)
	if lead == nil {
		return false
	}
	info := lead.Info()
	if info.Addr == addr || info.Joint {
		return false
	}
	in := false
	for _, m := range info.Members {
		if m.Learner {
			return false
		}
		if m.Addr == addr {
			in = true
			continue
		}
		if _, up := w.Process(m.Addr).(*gcs.Replica); !up || m.Match < info.Commit {
			return false
		}
	}
	return in
}

// servers returns the GCS servers up: the single one, or the fronts of
// the replicas that lead (more than one while a deposed leader has not
// heard of its successor).
func (g *gcsWorkload) servers() []*gcs.Server {
	var out []*gcs.Server
	if s, ok := g.w.Process("gcs").(*gcs.Server); ok {
		out = append(out, s)
	}
	for _, a := range g.replicas {
		if r, ok := g.w.Process(a).(*gcs.Replica); ok && r.Front() != nil {
			out = append(out, r.Front())
		}
	}
	return out
}

// newClient returns a client of the workload's GCS.
func (g *gcsWorkload) newClient(env core.Env, opts gcs.ClientOptions) *gcs.Client {
	if len(g.replicas) == 0 {
		return gcs.NewClient(env, "gcs", opts)
	}
	opts.Replicas = g.replicas
	return gcs.NewClient(env, g.replicas[0], opts)
}

// Size implements sim.Sizer.
func (g *gcsWorkload) Size() sim.Options {
	return sim.Options{Nodes: len(g.raylets), Clients: len(g.clients)}
}

// SometimesPaths lists the interesting paths this workload should reach.
func (g *gcsWorkload) SometimesPaths() []string {
	if len(g.replicas) > 0 {
		return append(g.paths(), "gcs failover", "gcs leader stepped down", "gcs snapshot installed", "gcs configuration changed", "fault: disk loss")
	}
	return g.paths()
}

func (g *gcsWorkload) paths() []string {
	return []string{"gcs op timed out", "named actor race lost", "node declared dead", "raylet fenced", "fault: crash", "process fail-stop",
		"actor restarted", "final read", "job finished", "placement group name conflict", "placement group removed", "placement group remove not found"}
}

func (g *gcsWorkload) Check(w *sim.World) (string, string) {
	if len(g.violations) > 0 {
		return "invariant", g.violations[0]
	}
	for _, s := range g.servers() {
		if err := s.CheckInvariants(); err != nil {
			return "invariant", err.Error()
		}
	}
	for _, h := range []struct {
		name  string
		model porcupine.Model
		rec   *linearizability.Recorder
	}{
		{linearizability.KVModelName, linearizability.KVModel, g.kv},
		{linearizability.ActorModelName, linearizability.ActorModel, g.actors},
		{linearizability.GroupModelName, linearizability.GroupModel, g.groups},
	} {
		ops := h.rec.Operations()
		res := linearizability.Check(h.model, ops, gcsCheckTimeout)
		switch res.Outcome {
		case linearizability.Illegal:
			// Attach porcupine's visualization and the history itself, so
			// that `gray lin check` can re-check it.
			var page, hist bytes.Buffer
			if err := res.RenderHTML(&page); err == nil {
				w.Attach("linearizability-"+h.name+".html", page.Bytes())
			}
			if err := linearizability.WriteHistory(&hist, h.name, ops); err == nil {
				w.Attach("history-"+h.name+".json", hist.Bytes())
			}
			return "linearizability", fmt.Sprintf("the %s history of %d operations is not linearizable (see linearizability-%s.html)", h.name, res.Ops, h.name)
		case linearizability.Unknown:
			w.Sometimes("linearizability check timed out")
		}
	}
	return "", ""
}

// observeNode records a node state seen by anyone at virtual time now.
func (g *gcsWorkload) observeNode(id core.NodeID, state gcs.NodeState, callTime int64) {
	switch state {
	case gcs.NodeDead:
		if _, ok := g.deadAt[id]; !ok {
			g.deadAt[id] = g.now()
			g.w.Sometimes("node declared dead")
		}
	case gcs.NodeAlive, gcs.NodeDraining:
		// Alive in a read that started after death was observed: DEAD
		// must be final.
		if t, ok := g.deadAt[id]; ok && callTime > t && !g.aliveAfter[id] {
			g.aliveAfter[id] = true
			g.violations = append(g.violations, fmt.Sprintf("node %v seen %v at %v after it was seen DEAD at %v", id, state, time.Duration(callTime), time.Duration(t)))
		}
	}
}

// gcsClient issues one random operation at a time until the world heals.
type gcsClient struct {
	g    *gcsWorkload
	idx  int
	addr core.Addr
	env  core.Env
	cli  *gcs.Client
	busy bool
	op   string
	// mine holds, per actor name, the actor ids this client registered.
	mine map[string][]core.ActorID
	seq  uint64
	// job is the job this client added and has not finished (zero: none).
	job core.JobID
	// finalStarted and finalDone track client 1's final read (finalRead).
	finalStarted, finalDone bool
}

// finalRead reads, once the world healed, every key of both namespaces,
// every actor name and every group name once more, one after another,
// into the histories
// that are checked for linearizability: whatever the faults did, the end
// state must be exactly what the acknowledged history implies. Reads that
// time out are retried until they answer.
func (c *gcsClient) finalRead() {
	c.finalStarted = true
	c.busy = true
	type read struct{ ns, key, name, group string }
	var reads []read
	for _, ns := range []string{"a", "b"} {
		for k := range gcsKeys {
			reads = append(reads, read{ns: ns, key: fmt.Sprintf("k%d", k)})
		}
	}
	for n := range gcsNames {
		reads = append(reads, read{name: fmt.Sprintf("actor%d", n)})
	}
	for n := range gcsGroupNames {
		reads = append(reads, read{group: groupName(n)})
	}
	var step func(i int)
	step = func(i int) {
		if i == len(reads) {
			c.g.w.Sometimes("final read")
			c.finalDone, c.busy, c.op = true, false, ""
			return
		}
		rd := reads[i]
		if rd.group != "" {
			c.op = "final get group " + rd.group
			c.getGroup(rd.group, func(ok bool) {
				if !ok {
					step(i) // again: the final state must be read
					return
				}
				step(i + 1)
			})
			return
		}
		if rd.name == "" {
			c.op = "final get " + rd.ns + "/" + rd.key
			id := c.g.kv.Call(c.idx, linearizability.KVInput{Op: linearizability.KVGet, Namespace: rd.ns, Key: rd.key}, c.g.now())
			c.cli.KVGet(rd.ns, rd.key, func(rep gcs.Reply, err error) {
				if err != nil {
					c.g.kv.Unknown(id)
					step(i) // again: the final state must be read
					return
				}
				c.g.kv.Return(id, linearizability.KVOutput{Found: rep.Found, Value: string(rep.Value)}, c.g.now())
				step(i + 1)
			})
			return
		}
		c.op = "final lookup " + rd.name
		id := c.g.actors.Call(c.idx, linearizability.ActorInput{Op: linearizability.ActorLookup, Namespace: "ns", Name: rd.name}, c.g.now())
		c.cli.GetNamedActor("ns", rd.name, func(rep gcs.Reply, err error) {
			out := linearizability.ActorOutput{}
			if err == nil && len(rep.Actors) == 1 {
				out.Found, out.ActorID = true, rep.Actors[0].ID.String()
			}
			if errors.Is(err, gcs.ErrNotFound) {
				err = nil
			}
			if err != nil {
				c.g.actors.Unknown(id)
				step(i)
				return
			}
			c.g.actors.Return(id, out, c.g.now())
			step(i + 1)
		})
	}
	step(0)
}

func (c *gcsClient) Start(env core.Env) {
	c.env = env
	c.cli = c.g.newClient(env, gcs.ClientOptions{Deadline: 2 * time.Second})
	c.mine = map[string][]core.ActorID{}
	env.AfterFunc(time.Duration(env.Rand().IntN(20))*time.Millisecond, c.next)
}

func (c *gcsClient) Receive(from core.Addr, m core.Message) { c.cli.Handle(from, m) }

func (c *gcsClient) Describe() string { return fmt.Sprintf("busy=%v op=%s", c.busy, c.op) }

// observeReplicas notes what the replicas of gcs-ha went through.
func (g *gcsWorkload) observeReplicas() {
	for _, a := range g.replicas {
		r, ok := g.w.Process(a).(*gcs.Replica)
		if !ok {
			continue
		}
		st := r.Stats()
		if st.StepDowns > 0 {
			g.w.Sometimes("gcs leader stepped down")
		}
		if st.Snapshots > 0 {
			g.w.Sometimes("gcs snapshot installed")
		}
		if st.ConfChanges > 0 {
			g.w.Sometimes("gcs configuration changed")
		}
		if st.Discards > 0 {
			g.w.Sometimes("gcs refused storage discarded")
		}
		if f := r.Front(); f != nil && f.Epoch() > 1 {
			g.w.Sometimes("gcs failover")
		}
	}
}

func (c *gcsClient) next() {
	c.g.observeReplicas()
	if c.g.w.Healed() {
		if c.idx == 0 && !c.finalStarted {
			c.finalRead()
		}
		return
	}
	c.busy = true
	r := c.env.Rand()
	switch x := r.IntN(100); {
	case x < 55:
		c.kvOp()
	case x < 77:
		c.actorOp()
	case x < 90:
		c.groupOp()
	case x < 95:
		c.jobOp()
	default:
		c.nodesOp()
	}
}

// jobOp adds a job, or finishes the one this client added: short jobs, so
// that a clock stepped back while one runs (clock_jump) is seen in its
// stamps. The GCS's invariants require a job to end no earlier than it
// started.
func (c *gcsClient) jobOp() {
	if c.job.IsNil() {
		c.op = "add job"
		c.cli.AddJob(c.addr, nil, func(rep gcs.Reply, err error) {
			if err == nil {
				c.job = rep.Job
			}
			c.done()
		})
		return
	}
	c.op = "finish job"
	c.cli.FinishJob(c.job, func(_ gcs.Reply, err error) {
		if err == nil {
			c.job = core.JobID{}
			c.g.w.Sometimes("job finished")
		}
		c.done()
	})
}

func (c *gcsClient) done() {
	c.busy = false
	c.op = ""
	c.env.AfterFunc(time.Duration(c.env.Rand().IntN(20))*time.Millisecond, c.next)
}

// finish records the outcome of a linearizability-checked operation.
func (c *gcsClient) finish(rec *linearizability.Recorder, id linearizability.OpID, out any, err error) {
	c.record(rec, id, out, err)
	c.done()
}

// record records the outcome of a linearizability-checked operation: out
// if it succeeded, unknown if it timed out, nothing if it definitely
// failed.
func (c *gcsClient) record(rec *linearizability.Recorder, id linearizability.OpID, out any, err error) {
	switch {
	case err == nil:
		rec.Return(id, out, c.g.now())
	case errors.Is(err, gcs.ErrTimeout):
		c.g.w.Sometimes("gcs op timed out")
		rec.Unknown(id)
	default:
		// A definite failure had no effect.
		rec.Discard(id)
	}
}

func (c *gcsClient) kvOp() {
	r := c.env.Rand()
	ns := []string{"a", "b"}[r.IntN(2)]
	key := fmt.Sprintf("k%d", r.IntN(gcsKeys))
	c.seq++
	value := fmt.Sprintf("%s:%d", c.addr, c.seq)
	in := linearizability.KVInput{Namespace: ns, Key: key}
	switch r.IntN(5) {
	case 0:
		in.Op = linearizability.KVGet
		c.op = "get " + key
		id := c.g.kv.Call(c.idx, in, c.g.now())
		c.cli.KVGet(ns, key, func(rep gcs.Reply, err error) {
			c.finish(c.g.kv, id, linearizability.KVOutput{Found: rep.Found, Value: string(rep.Value)}, err)
		})
	case 1:
		in.Op, in.Value, in.Overwrite = linearizability.KVPut, value, r.IntN(3) != 0
		c.op = "put " + key
		id := c.g.kv.Call(c.idx, in, c.g.now())
		c.cli.KVPut(ns, key, []byte(value), in.Overwrite, func(rep gcs.Reply, err error) {
			c.finish(c.g.kv, id, linearizability.KVOutput{Added: rep.Added}, err)
		})
	case 2:
		in.Op = linearizability.KVDelete
		c.op = "del " + key
		id := c.g.kv.Call(c.idx, in, c.g.now())
		c.cli.KVDel(ns, key, func(rep gcs.Reply, err error) {
			c.finish(c.g.kv, id, linearizability.KVOutput{Deleted: rep.Deleted}, err)
		})
	case 3:
		in.Op, in.Value = linearizability.KVCAS, value
		in.ExpectExists = r.IntN(3) != 0
		if in.ExpectExists {
			// Expect a value some client may have written.
			in.Expected = fmt.Sprintf("client-%d:%d", 1+r.IntN(len(c.g.clients)), 1+r.IntN(int(c.seq)))
		}
		c.op = "cas " + key
		id := c.g.kv.Call(c.idx, in, c.g.now())
		var expected []byte
		if in.ExpectExists {
			expected = []byte(in.Expected)
		}
		c.cli.KVCAS(ns, key, expected, in.ExpectExists, []byte(value), func(rep gcs.Reply, err error) {
			c.finish(c.g.kv, id, linearizability.KVOutput{Swapped: rep.Swapped}, err)
		})
	default:
		in.Op = linearizability.KVExists
		c.op = "exists " + key
		id := c.g.kv.Call(c.idx, in, c.g.now())
		c.cli.KVExists(ns, key, func(rep gcs.Reply, err error) {
			c.finish(c.g.kv, id, linearizability.KVOutput{Found: rep.Found}, err)
		})
	}
}

func (c *gcsClient) actorOp() {
	r := c.env.Rand()
	ns := "ns"
	name := fmt.Sprintf("actor%d", r.IntN(gcsNames))
	switch x := r.IntN(10); {
	case x < 4:
		c.seq++
		aid := core.NewActorID(core.JobIDFromInt(uint32(c.idx+1)), core.DriverTaskID(core.JobIDFromInt(uint32(c.idx+1))), c.seq)
		in := linearizability.ActorInput{Op: linearizability.ActorRegister, Namespace: ns, Name: name, ActorID: aid.String()}
		c.op = "register " + name
		id := c.g.actors.Call(c.idx, in, c.g.now())
		// Unlimited restarts: a restart must never release the name behind
		// the history's back.
		c.cli.RegisterActor(aid, ns, name, -1, func(rep gcs.Reply, err error) {
			if err == nil {
				if rep.Created {
					c.mine[name] = append(c.mine[name], aid)
				} else {
					c.g.w.Sometimes("named actor race lost")
				}
			}
			c.finish(c.g.actors, id, linearizability.ActorOutput{ActorID: rep.ActorID.String(), Created: rep.Created}, err)
		})
	case x < 7:
		in := linearizability.ActorInput{Op: linearizability.ActorLookup, Namespace: ns, Name: name}
		c.op = "lookup " + name
		id := c.g.actors.Call(c.idx, in, c.g.now())
		call := c.g.now()
		c.cli.GetNamedActor(ns, name, func(rep gcs.Reply, err error) {
			out := linearizability.ActorOutput{}
			if err == nil && len(rep.Actors) == 1 {
				out.Found, out.ActorID = true, rep.Actors[0].ID.String()
				c.g.observeRestarts(rep.Actors[0], call)
			}
			if errors.Is(err, gcs.ErrNotFound) {
				err = nil // a definite "not bound"
			}
			c.finish(c.g.actors, id, out, err)
		})
	default:
		ids := c.mine[name]
		if len(ids) == 0 {
			c.done()
			return
		}
		aid := ids[r.IntN(len(ids))]
		if r.IntN(2) == 0 {
			// Start it on a live node and restart it (PENDING_CREATION →
			// ALIVE → RESTARTING) without touching the name. Steps an
			// actor is past fail harmlessly.
			node, addr, ok := c.g.liveNode(r)
			if !ok {
				c.done()
				return
			}
			c.op = "restart " + name
			c.cli.UpdateActor(aid, gcs.ActorPendingCreation, core.NodeID{}, "", "", func(gcs.Reply, error) {
				c.cli.UpdateActor(aid, gcs.ActorAlive, node, addr+"/w1", "", func(gcs.Reply, error) {
					c.cli.UpdateActor(aid, gcs.ActorRestarting, core.NodeID{}, "", "", func(_ gcs.Reply, err error) {
						if err == nil {
							c.g.w.Sometimes("actor restarted")
						}
						c.done()
					})
				})
			})
			return
		}
		in := linearizability.ActorInput{Op: linearizability.ActorRelease, Namespace: ns, Name: name, ActorID: aid.String()}
		c.op = "kill " + name
		id := c.g.actors.Call(c.idx, in, c.g.now())
		c.cli.UpdateActor(aid, gcs.ActorDead, core.NodeID{}, "", "killed by the workload", func(rep gcs.Reply, err error) {
			// OK: the actor was not dead and held its name; it is released.
			// FailedPrecondition: already dead, the name was not its own.
			released := err == nil
			if errors.Is(err, gcs.ErrFailedPrecondition) || errors.Is(err, gcs.ErrNotFound) {
				err = nil
			}
			c.finish(c.g.actors, id, linearizability.ActorOutput{Released: released}, err)
		})
	}
}

// liveNode returns the node of a random fake raylet that is up and not
// fenced, as the GCS may know it.
func (g *gcsWorkload) liveNode(r *rand.Rand) (core.NodeID, core.Addr, bool) {
	var live []*fakeRaylet
	for _, f := range g.raylets {
		if fr, ok := g.w.Process(f.addr).(*fakeRaylet); ok && fr.env != nil && !fr.fenced {
			live = append(live, fr)
		}
	}
	if len(live) == 0 {
		return core.NodeID{}, "", false
	}
	f := live[r.IntN(len(live))]
	return f.node, f.addr, true
}

func (g *gcsWorkload) observeRestarts(a gcs.ActorInfo, call int64) {
	now := g.now()
	for _, o := range g.restarts[a.ID] {
		if o.ret < call && o.n > a.NumRestarts {
			g.violations = append(g.violations, fmt.Sprintf("actor %v restart count went from %d back to %d", a.ID, o.n, a.NumRestarts))
			break
		}
	}
	obs := append(g.restarts[a.ID], restartObs{call: call, ret: now, n: a.NumRestarts})
	if len(obs) > 64 {
		obs = obs[len(obs)-64:]
	}
	g.restarts[a.ID] = obs
}

func (c *gcsClient) nodesOp() {
	c.op = "get nodes"
	call := c.g.now()
	c.cli.GetNodes(func(rep gcs.Reply, err error) {
		if err == nil {
			for _, n := range rep.Nodes {
				c.g.observeNode(n.ID, n.State, call)
			}
		}
		c.done()
	})
}

// fakeRaylet registers a node and heartbeats; each incarnation is a new
// node. When a heartbeat reply says the node is dead, it fences itself
// (stops heartbeating) and must never be seen alive again.
type fakeRaylet struct {
	g      *gcsWorkload
	addr   core.Addr
	env    core.Env
	cli    *gcs.Client
	node   core.NodeID
	fenced bool
}

func (f *fakeRaylet) Start(env core.Env) {
	f.env = env
	f.cli = f.g.newClient(env, gcs.ClientOptions{})
	f.node = core.NewNodeID(env.Rand())
	f.register()
}

func (f *fakeRaylet) register() {
	f.cli.RegisterNode(f.node, f.addr, core.MustResources(core.CPU, 4), func(_ gcs.Reply, err error) {
		if err != nil {
			if errors.Is(err, gcs.ErrFailedPrecondition) {
				f.fence()
				return
			}
			f.env.AfterFunc(500*time.Millisecond, f.register)
			return
		}
		f.heartbeat()
	})
}

func (f *fakeRaylet) heartbeat() {
	if f.fenced {
		return
	}
	call := f.g.now()
	f.cli.Heartbeat(f.node, func(rep gcs.Reply, err error) {
		if err == nil && rep.Dead {
			f.g.observeNode(f.node, gcs.NodeDead, call)
			f.fence()
		}
	})
	f.env.AfterFunc(time.Second, f.heartbeat)
}

func (f *fakeRaylet) fence() {
	if !f.fenced {
		f.fenced = true
		f.g.w.Sometimes("raylet fenced")
		f.g.checkSuspicion(f.addr, f.node)
	}
}

// checkSuspicion fails the run when the GCS declared a node dead although
// no fault touched the node's raylet during the node timeout before it
// (sim.World.Disturbed): the detector blamed a healthy node, as one does
// that takes its own stall (a pause of the GCS) for the silence of
// others. The margin covers heartbeat period and latency.
func (g *gcsWorkload) checkSuspicion(addr core.Addr, node core.NodeID) {
	const margin = 2 * time.Second
	since := g.w.Now() - g.nodeTimeout - margin
	if !g.w.Disturbed(addr, since) {
		g.violations = append(g.violations, fmt.Sprintf("false suspicion: the GCS declared node %v (%s) dead at %v although no fault touched it since %v",
			node, addr, g.w.Now(), since))
	}
}

func (f *fakeRaylet) Receive(from core.Addr, m core.Message) { f.cli.Handle(from, m) }

func (f *fakeRaylet) Describe() string { return fmt.Sprintf("%v fenced=%v", f.node, f.fenced) }
