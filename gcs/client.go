package gcs

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// ClientOptions tune a Client. Zero fields take the defaults. Deadline,
// BackoffMin, BackoffMax and InFlightMax become the rpc.Options and
// rpc.ClientConfig of the client's calls (which also resend Unavailable
// replies: the GCS answers so for a request beyond its dedup window).
type ClientOptions struct {
	// Deadline bounds each call, retries included. Default 5s.
	Deadline time.Duration
	// BackoffMin is the wait before the first resend; it doubles per
	// attempt up to BackoffMax, with ±50% jitter. Defaults 100ms and 1s.
	BackoffMin time.Duration
	BackoffMax time.Duration
	// PollWait is how long the subscriber waits for a poll reply before it
	// polls again; keep it above the server's PollTimeout. Default 10s.
	PollWait time.Duration
	// InFlightMax bounds the calls in flight; more fail with
	// ErrOverloaded without being sent. Default 1000.
	InFlightMax int
	// Replicas lists the members of a replicated GCS. The client sends
	// to the one it believes leads: it follows the leader a replica
	// names when it answers that it does not serve, and moves on to the
	// next replica when the one it sends to has not answered for
	// FailoverAfter. Empty: the GCS is the one address given to
	// NewClient.
	Replicas []core.Addr
	// FailoverAfter: see Replicas. Default 1s.
	FailoverAfter time.Duration
}

func (o *ClientOptions) setDefaults() {
	if o.Deadline <= 0 {
		o.Deadline = 5 * time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 100 * time.Millisecond
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(time.Second, o.BackoffMin)
	}
	if o.PollWait <= 0 {
		o.PollWait = 10 * time.Second
	}
	if o.InFlightMax <= 0 {
		o.InFlightMax = 1000
	}
	if o.FailoverAfter <= 0 {
		o.FailoverAfter = time.Second
	}
}

// Client is the GCS client, embedded in a host process: a typed layer over
// the project's one retrying client (rpc.Client). The layer frames calls
// in the GCS's request messages (the header carries the client id, the
// call's id as Seq and the ack floor as AckBelow, which the GCS keeps its
// durable dedup records by), decodes Replies, follows the server's epoch
// and runs the pubsub subscription; rpc.Client numbers, resends, times
// out and cancels the calls.
//
// It is sans-IO and, like its host, driven one event at a time: the host
// forwards every message it receives to Handle, and callbacks run inside
// Handle or inside the client's timers. It is not safe for concurrent use.
type Client struct {
	env  core.Env
	gcs  core.Addr
	opts ClientOptions
	id   string
	rpc  *rpc.Client
	// epoch is the highest server epoch seen in any reply.
	epoch  uint64
	closed bool
	sub    *subscription
	// With replicas (ClientOptions.Replicas): gcs is the one the client
	// believes leads; waiting is when the client first sent to it since
	// it last answered (zero: nothing unanswered), moved when the client
	// last moved to another.
	waiting, moved time.Time
}

// NewClient returns a client of the GCS at gcs. Its client id is the
// identity its rpc.Client draws from env.Rand(), so a restarted host gets
// a new id.
func NewClient(env core.Env, gcs core.Addr, opts ClientOptions) *Client {
	if addrs := SplitAddr(gcs); len(addrs) > 1 && len(opts.Replicas) == 0 {
		gcs, opts.Replicas = addrs[0], addrs
	}
	opts.setDefaults()
	c := &Client{env: env, gcs: gcs, opts: opts}
	cfg := rpc.ClientConfig{Frame: c.frame, PendingMax: opts.InFlightMax}
	if len(opts.Replicas) > 0 {
		opts.Replicas = slices.Clone(opts.Replicas)
		c.opts = opts
		if !slices.Contains(opts.Replicas, gcs) {
			c.gcs = opts.Replicas[0]
		}
		c.moved = env.Now()
		cfg.Route = c.route
	}
	c.rpc = rpc.NewClientWith(env, cfg)
	c.id = fmt.Sprintf("%016x", c.rpc.ID())
	return c
}

// SplitAddr returns the addresses a GCS address names: a replicated
// GCS's is its replicas' addresses joined by commas (JoinAddrs), which
// is what hosts pass on wherever they name the GCS (raylet and driver
// configs, the GCS address workers get). NewClient takes either.
func SplitAddr(a core.Addr) []core.Addr {
	var out []core.Addr
	for _, p := range strings.Split(string(a), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, core.Addr(p))
		}
	}
	return out
}

// JoinAddrs is the GCS address of the replicas at addrs.
func JoinAddrs(addrs []core.Addr) core.Addr {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = string(a)
	}
	return core.Addr(strings.Join(s, ","))
}

// route sends each attempt to the replica believed to lead, after moving
// on from one that has not answered for FailoverAfter.
func (c *Client) route(_ core.Addr, attempt int) core.Addr {
	now := c.env.Now()
	if !c.waiting.IsZero() && now.Sub(c.waiting) >= c.opts.FailoverAfter && now.Sub(c.moved) >= c.opts.FailoverAfter {
		c.moveTo("")
	}
	if c.waiting.IsZero() {
		c.waiting = now
	}
	return c.gcs
}

// moveTo makes to (or, if "", the replica after the current one) the one
// the client sends to.
func (c *Client) moveTo(to core.Addr) {
	if to == "" {
		i := slices.Index(c.opts.Replicas, c.gcs)
		to = c.opts.Replicas[(i+1)%len(c.opts.Replicas)]
	}
	if to == c.gcs || !slices.Contains(c.opts.Replicas, to) {
		return
	}
	c.gcs = to
	c.waiting, c.moved = time.Time{}, c.env.Now()
	if s := c.sub; s != nil && s.epoch != 0 && s.pollSeq != 0 {
		c.poll(s) // the held poll waits at the old one
	}
	// Later, not from inside rpc's send: the calls go to the new one now
	// rather than at their next backoff.
	c.later(func() {
		if !c.closed && c.gcs == to {
			c.rpc.ResendNow()
		}
	})
}

// fromGCS reports whether from is the GCS (or, replicated, one of its
// replicas).
func (c *Client) fromGCS(from core.Addr) bool {
	return from == c.gcs || len(c.opts.Replicas) > 0 && slices.Contains(c.opts.Replicas, from)
}

// noteReplica follows a replica's word on who leads.
func (c *Client) noteReplica(from core.Addr, code rpc.Code, leader core.Addr) {
	if len(c.opts.Replicas) == 0 {
		return
	}
	if from == c.gcs {
		c.waiting = time.Time{}
	}
	if code != rpc.CodeUnavailable || from != c.gcs {
		return
	}
	if leader != "" {
		c.moveTo(leader)
	} else if c.env.Now().Sub(c.moved) >= c.opts.FailoverAfter/4 {
		c.moveTo("") // it knows no leader: ask another
	}
}

// ReplicaStatus asks the replica the client sends to for its state
// (Reply.Replica). Ask a given replica with a client made for its
// address alone.
func (c *Client) ReplicaStatus(cb func(Reply, error)) { c.do(&GetReplicaStatus{}, cb) }

// Leader returns the address the client sends to: the GCS, or the
// replica it believes leads.
func (c *Client) Leader() core.Addr { return c.gcs }

// frame is the framing of the client's calls: the request with a header.
func (c *Client) frame(seq, ackBelow uint64, m core.Message) core.Message {
	return m.(request).withHeader(Hdr{Client: c.id, Seq: seq, AckBelow: ackBelow})
}

// ID returns the client id that heads every request.
func (c *Client) ID() string { return c.id }

// Epoch returns the highest server epoch seen so far (0 before any reply).
func (c *Client) Epoch() uint64 { return c.epoch }

// InFlight returns the number of calls waiting for a reply.
func (c *Client) InFlight() int { return c.rpc.Pending() }

// Handle consumes m if it is a reply or poll reply from the GCS addressed
// to this client, and reports whether it did. The host passes every
// message it receives and handles those for which Handle returns false.
func (c *Client) Handle(from core.Addr, m core.Message) bool {
	switch r := m.(type) {
	case *Reply:
		if !c.fromGCS(from) || r.Client != c.id {
			return false
		}
		c.noteReplica(from, r.Code, r.Leader)
		c.noteEpoch(r.Epoch)
		if !c.closed {
			// Unavailable is not final (RetryUnavailable): the retry
			// timer resends the call.
			c.rpc.Deliver(from, rpc.CallID(r.Seq), r, replyError(r.Code, r.Err))
		}
		return true
	case *PollReply:
		if !c.fromGCS(from) || r.Client != c.id {
			return false
		}
		c.noteReplica(from, r.Code, r.Leader)
		if from != c.gcs {
			return true // from a replica the client moved away from
		}
		c.noteEpoch(r.Epoch)
		c.handlePoll(r)
		return true
	}
	return false
}

// Close stops every timer and fails the calls in flight with ErrClosed, in
// the order they were made. The subscription ends without callbacks.
func (c *Client) Close() {
	if c.closed {
		return
	}
	c.closed = true
	c.stopSubscription()
	c.rpc.CancelAll(ErrClosed)
}

// do starts a call. Every outcome, including client-side errors, reaches
// cb asynchronously, never from inside do: a Reply (also with a definite
// *rpc.Error), or an error matching ErrTimeout, ErrOverloaded or
// ErrClosed, prefixed with the request's name and seq.
func (c *Client) do(req request, cb func(Reply, error)) {
	c.doWith(req, rpc.Options{Timeout: c.opts.Deadline, RetryFirst: c.opts.BackoffMin, RetryMax: c.opts.BackoffMax, RetryUnavailable: true}, cb)
}

// doHeld is do for a request the server may hold for up to hold (a long
// poll): it is resent only once hold has passed without a reply.
func (c *Client) doHeld(req request, hold time.Duration, cb func(Reply, error)) {
	c.doWith(req, rpc.Options{Timeout: c.opts.Deadline + hold, RetryFirst: hold + c.opts.BackoffMin,
		RetryMax: max(c.opts.BackoffMax, hold+c.opts.BackoffMin), RetryUnavailable: true}, cb)
}

func (c *Client) doWith(req request, opts rpc.Options, cb func(Reply, error)) {
	if cb == nil {
		cb = func(Reply, error) {}
	}
	name := core.MessageName(req.MsgType())
	if c.closed {
		c.later(func() { cb(Reply{}, fmt.Errorf("gcs: %s: %w", name, ErrClosed)) })
		return
	}
	// Catch a malformed request before it takes a seq: the header of the
	// probe is valid, so only the request's own fields can fail.
	if err := req.withHeader(Hdr{Client: c.id, Seq: 1, AckBelow: 1}).Validate(); err != nil {
		c.later(func() { cb(Reply{}, &rpc.Error{Code: rpc.CodeInvalid, Msg: name + ": " + err.Error()}) })
		return
	}
	var seq rpc.CallID
	seq = c.rpc.Call(c.gcs, req, opts, func(m core.Message, err error) {
		var r Reply
		if rep, ok := m.(*Reply); ok {
			r = *rep
		}
		switch {
		case err == nil:
		case seq == 0: // refused before it took a seq
			err = fmt.Errorf("gcs: %s: %w", name, err)
		default:
			err = fmt.Errorf("gcs: %s seq %d: %w", name, seq, err)
		}
		cb(r, err)
	})
}

func (c *Client) later(f func()) { c.env.AfterFunc(0, f) }

// noteEpoch records the server epoch of a reply. A newer epoch means the
// server restarted and lost its subscriptions: resubscribe now rather than
// when the current poll times out.
func (c *Client) noteEpoch(e uint64) {
	if e <= c.epoch {
		return
	}
	c.epoch = e
	if s := c.sub; s != nil && s.epoch != 0 && s.epoch < e {
		c.resubscribe(s)
	}
}

// --- KV ---

// KVGet reads a key. The reply's Found and Value hold the result.
func (c *Client) KVGet(ns, key string, cb func(Reply, error)) {
	c.do(&KVGet{Namespace: ns, Key: key}, cb)
}

// KVPut writes a key; without overwrite an existing key is kept. The
// reply's Added reports that the key was new.
func (c *Client) KVPut(ns, key string, value []byte, overwrite bool, cb func(Reply, error)) {
	c.do(&KVPut{Namespace: ns, Key: key, Value: value, Overwrite: overwrite}, cb)
}

// KVDel deletes a key. The reply's Deleted reports that it existed.
func (c *Client) KVDel(ns, key string, cb func(Reply, error)) {
	c.do(&KVDel{Namespace: ns, Key: key}, cb)
}

// KVCAS sets key to value iff it holds expected (expectExists) or is absent
// (!expectExists). The reply's Swapped reports whether it did.
func (c *Client) KVCAS(ns, key string, expected []byte, expectExists bool, value []byte, cb func(Reply, error)) {
	c.do(&KVCAS{Namespace: ns, Key: key, Expected: expected, ExpectExists: expectExists, Value: value}, cb)
}

// KVExists reports in the reply's Found whether a key exists.
func (c *Client) KVExists(ns, key string, cb func(Reply, error)) {
	c.do(&KVExists{Namespace: ns, Key: key}, cb)
}

// KVKeys lists the keys of ns starting with prefix, sorted, in the reply's
// Keys.
func (c *Client) KVKeys(ns, prefix string, cb func(Reply, error)) {
	c.do(&KVKeys{Namespace: ns, Prefix: prefix}, cb)
}

// --- Nodes ---

// RegisterNode registers a node at addr with its total resources.
func (c *Client) RegisterNode(id core.NodeID, addr core.Addr, res core.Resources, cb func(Reply, error)) {
	c.do(&RegisterNode{Node: id, Addr: addr, Resources: res}, cb)
}

// RegisterNodeLabeled registers a node with its labels too.
func (c *Client) RegisterNodeLabeled(id core.NodeID, addr core.Addr, res core.Resources, labels core.Labels, cb func(Reply, error)) {
	c.do(&RegisterNode{Node: id, Addr: addr, Resources: res, Labels: labels}, cb)
}

// Heartbeat reports that a node lives. If the reply's Dead is set, the
// GCS declared the node dead and its raylet must stop.
func (c *Client) Heartbeat(id core.NodeID, cb func(Reply, error)) {
	c.do(&Heartbeat{Node: id}, cb)
}

// HeartbeatWithResources is Heartbeat with the node's available resources.
func (c *Client) HeartbeatWithResources(id core.NodeID, available core.Resources, cb func(Reply, error)) {
	c.do(&Heartbeat{Node: id, HasAvailable: true, Available: available}, cb)
}

// HeartbeatWithLoad is Heartbeat with the node's available resources and
// its queued demand.
func (c *Client) HeartbeatWithLoad(id core.NodeID, available core.Resources, demand []Demand, cb func(Reply, error)) {
	c.do(&Heartbeat{Node: id, HasAvailable: true, Available: available, Demand: demand}, cb)
}

// HeartbeatWithBundles is HeartbeatWithLoad that also reports the
// placement group bundles the raylet holds; the reply's DropBundles are
// those to give back.
func (c *Client) HeartbeatWithBundles(id core.NodeID, available core.Resources, demand []Demand, bundles []proto.BundleState, cb func(Reply, error)) {
	c.do(&Heartbeat{Node: id, HasAvailable: true, Available: available, Demand: demand, Bundles: bundles}, cb)
}

// --- Placement groups ---

// CreatePlacementGroup creates a placement group (PENDING); the GCS
// reserves its bundles. Reply: PlacementGroups holds its record.
func (c *Client) CreatePlacementGroup(g PlacementGroupInfo, cb func(Reply, error)) {
	c.do(&CreatePlacementGroup{Group: g}, cb)
}

// RemovePlacementGroup removes a placement group and returns its
// bundles.
func (c *Client) RemovePlacementGroup(id core.PlacementGroupID, cb func(Reply, error)) {
	c.do(&RemovePlacementGroup{ID: id}, cb)
}

// GetPlacementGroup reads a placement group; Raylets holds its bundles'
// raylets.
func (c *Client) GetPlacementGroup(id core.PlacementGroupID, cb func(Reply, error)) {
	c.do(&GetPlacementGroup{ID: id}, cb)
}

// WaitPlacementGroup reads a placement group as GetPlacementGroup does,
// but while it waits to be placed the GCS answers only once it is
// created or removed, or hold (at most HoldMax) passes.
func (c *Client) WaitPlacementGroup(id core.PlacementGroupID, hold time.Duration, cb func(Reply, error)) {
	c.doHeld(&GetPlacementGroup{ID: id, Hold: hold}, hold, cb)
}

// WaitPlacementGroupState is WaitPlacementGroup for a waiter that reads
// only the group's state: the reply's record has no bundles and nodes,
// and it has no Raylets (GetPlacementGroup.Brief).
func (c *Client) WaitPlacementGroupState(id core.PlacementGroupID, hold time.Duration, cb func(Reply, error)) {
	c.doHeld(&GetPlacementGroup{ID: id, Hold: hold, Brief: true}, hold, cb)
}

// GetNamedPlacementGroup reads the placement group named name in ns.
func (c *Client) GetNamedPlacementGroup(ns, name string, cb func(Reply, error)) {
	c.do(&GetPlacementGroup{Namespace: ns, Name: name}, cb)
}

// ListPlacementGroups lists every placement group, sorted by id.
func (c *Client) ListPlacementGroups(cb func(Reply, error)) { c.do(&ListPlacementGroups{}, cb) }

// DrainNode marks a live node DRAINING.
func (c *Client) DrainNode(id core.NodeID, cb func(Reply, error)) {
	c.do(&DrainNode{Node: id}, cb)
}

// GetNodes lists every node in the reply's Nodes, sorted by id.
func (c *Client) GetNodes(cb func(Reply, error)) { c.do(&GetNodes{}, cb) }

// --- Jobs ---

// AddJob registers a job; the reply's Job is its new id.
func (c *Client) AddJob(driver core.Addr, metadata []byte, cb func(Reply, error)) {
	c.do(&AddJob{DriverAddr: driver, Metadata: metadata}, cb)
}

// AddJobWithBinary is AddJob for a job whose workers run the staged
// binary hash (BinaryNS): the GCS keeps it while the job needs it.
func (c *Client) AddJobWithBinary(driver core.Addr, metadata []byte, binary string, cb func(Reply, error)) {
	c.do(&AddJob{DriverAddr: driver, Metadata: metadata, Binary: binary}, cb)
}

// AddJobOfSubmission is AddJobWithBinary for the driver of submitted
// job sub: the submission records the new job, and finishes it when it
// ends.
func (c *Client) AddJobOfSubmission(driver core.Addr, metadata []byte, binary, sub string, cb func(Reply, error)) {
	c.do(&AddJob{DriverAddr: driver, Metadata: metadata, Binary: binary, Submission: sub}, cb)
}

// SubmitJob submits a job (submissions.go); the reply's Submissions
// holds its record.
func (c *Client) SubmitJob(j JobSubmission, cb func(Reply, error)) { c.do(&SubmitJob{Job: j}, cb) }

// StopJob asks for a submitted job's driver to be stopped.
func (c *Client) StopJob(id string, cb func(Reply, error)) { c.do(&StopJob{ID: id}, cb) }

// DeleteJob forgets a finished submitted job.
func (c *Client) DeleteJob(id string, cb func(Reply, error)) { c.do(&DeleteJob{ID: id}, cb) }

// GetJobSubmission reads a submitted job's record.
func (c *Client) GetJobSubmission(id string, cb func(Reply, error)) {
	c.do(&GetJobSubmission{ID: id}, cb)
}

// ListJobSubmissions lists every submitted job, sorted by id.
func (c *Client) ListJobSubmissions(cb func(Reply, error)) { c.do(&ListJobSubmissions{}, cb) }

// UpdateJobSubmission is a raylet's report about a driver it runs.
func (c *Client) UpdateJobSubmission(m UpdateJobSubmission, cb func(Reply, error)) { c.do(&m, cb) }

// FinishJob marks a job finished.
func (c *Client) FinishJob(job core.JobID, cb func(Reply, error)) {
	c.do(&FinishJob{Job: job}, cb)
}

// ListJobs lists every job in the reply's Jobs, sorted by id.
func (c *Client) ListJobs(cb func(Reply, error)) { c.do(&ListJobs{}, cb) }

// --- Actors ---

// RegisterActor registers an actor of id.Job(). With a name it is
// get-or-create: the reply's ActorID is the winner and Created says
// whether this call created it. maxRestarts -1 is unlimited.
func (c *Client) RegisterActor(id core.ActorID, ns, name string, maxRestarts int64, cb func(Reply, error)) {
	c.do(&RegisterActor{Actor: id, Job: id.Job(), Namespace: ns, Name: name, MaxRestarts: maxRestarts}, cb)
}

// CreateActor registers an actor that the GCS manages from spec: it
// places the actor, creates it, restarts it after failures and kills it
// with its owner (see RegisterActor). Names are get-or-create as for
// RegisterActor.
func (c *Client) CreateActor(id core.ActorID, ns, name string, maxRestarts int64, spec ActorSpec, cb func(Reply, error)) {
	c.do(&RegisterActor{Actor: id, Job: id.Job(), Namespace: ns, Name: name, MaxRestarts: maxRestarts, Spec: &spec}, cb)
}

// KillActor kills an actor: for good with noRestart, otherwise its worker
// exits and the actor restarts as after a failure. The reply's Actors[0]
// is the record after the kill.
func (c *Client) KillActor(id core.ActorID, noRestart bool, cb func(Reply, error)) {
	c.do(&KillActor{Actor: id, NoRestart: noRestart}, cb)
}

// KillActorCause kills the actor for good, recording cause as its death
// cause.
func (c *Client) KillActorCause(id core.ActorID, cause string, cb func(Reply, error)) {
	c.do(&KillActor{Actor: id, NoRestart: true, Cause: cause}, cb)
}

// UpdateActor moves an actor to state; node and addr go with ALIVE,
// deathCause with DEAD. The reply's Actors[0] is the resulting record.
func (c *Client) UpdateActor(id core.ActorID, state ActorState, node core.NodeID, addr core.Addr, deathCause string, cb func(Reply, error)) {
	c.do(&UpdateActor{Actor: id, State: state, Node: node, Addr: addr, DeathCause: deathCause}, cb)
}

// GetActor reads an actor into the reply's Actors[0].
func (c *Client) GetActor(id core.ActorID, cb func(Reply, error)) { c.do(&GetActor{Actor: id}, cb) }

// GetNamedActor reads the live actor named name in ns into Actors[0].
func (c *Client) GetNamedActor(ns, name string, cb func(Reply, error)) {
	c.do(&GetNamedActor{Namespace: ns, Name: name}, cb)
}

// ListActors lists every actor in the reply's Actors, sorted by id.
func (c *Client) ListActors(cb func(Reply, error)) { c.do(&ListActors{}, cb) }

// --- Tasks ---

// AddTaskEvents reports a batch of task events (see AddTaskEvents);
// dropped counts events the caller dropped since its previous batch.
func (c *Client) AddTaskEvents(events []TaskEvent, dropped uint64, cb func(Reply, error)) {
	c.do(&AddTaskEvents{Events: events, Dropped: dropped}, cb)
}

// ListTasks lists the tasks matching q (its header is set by the client)
// in the reply's Tasks, oldest first, and their number before the limit
// in TasksTotal.
func (c *Client) ListTasks(q ListTasks, cb func(Reply, error)) { c.do(&q, cb) }
