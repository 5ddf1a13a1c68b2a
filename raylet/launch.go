package raylet

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
)

// Worker processes started on demand. A task whose spec names a binary
// other than the node program's own (Config.Binary) runs only on a worker
// of that binary, and every actor runs on a worker of its own (as Ray
// starts a process per actor). When a request placed here finds no
// worker of its pool free, the raylet asks its Launcher for one: for
// tasks up to WorkerPoolMax workers per pool that host no actor, for
// actors as many as they need, and for all pools together up to
// MaxWorkers processes. Launched workers idle for IdleWorkerTimeout are
// told to exit; the workers the host started with the node stay.

// Launcher starts worker processes for a raylet. Launch is called on the
// raylet's loop and must not block. binary "" asks for a worker of the
// node program's own binary (job is then nil: it serves every job). The
// host reports back on the loop: the started process registers with
// RegisterWorker{Binary, Launch: token}; a launch that fails calls
// LaunchFailed; a launched process that exits calls WorkerExited.
type Launcher interface {
	Launch(token, binary string, job core.JobID)
}

// launch is a worker process asked for and not registered yet.
type launch struct {
	binary  string
	job     core.JobID
	started time.Time
}

// badBinary remembers a binary that cannot run here (wrong platform,
// corrupt), so that its requests fail at once for a while.
type badBinary struct {
	reason string
	until  time.Time
}

// badBinaryFor is how long a permanent launch failure fails requests for
// that binary before the raylet tries again (a fixed upload may follow).
const badBinaryFor = 30 * time.Second

// launchTimeout bounds how long a launch may take to register before the
// raylet stops counting it (the host reports its exit separately).
const launchTimeout = time.Minute

// binaryFor returns the binary whose workers must run spec: "" when the
// node's own workers can (no binary, or the node program's own).
func (r *Raylet) binaryFor(spec *proto.TaskSpec) string {
	if spec.Binary == r.cfg.Binary {
		return ""
	}
	return spec.Binary
}

// binaryError returns why requests for binary cannot be served here, or
// nil.
func (r *Raylet) binaryError(binary string) error {
	if binary == "" {
		return nil
	}
	if r.cfg.Launcher == nil {
		return rpc.Errorf(rpc.CodeInvalid, "node %v cannot start workers from job binaries (it has no launcher); run the job's nodes from its own program", r.node)
	}
	if b, ok := r.badBinaries[binary]; ok {
		if r.env.Now().Before(b.until) {
			return rpc.Errorf(rpc.CodeInvalid, "node %v cannot run the job binary %s: %s", r.node, short(binary), b.reason)
		}
		delete(r.badBinaries, binary)
	}
	return nil
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

// poolKey names a pool of workers: the node's own (binary "", job nil),
// or one per job and staged binary, as Ray's worker pools are per job.
type poolKey struct {
	binary string
	job    core.JobID
}

func cmpPoolKey(a, b poolKey) int {
	if a.binary != b.binary {
		return strings.Compare(a.binary, b.binary)
	}
	return strings.Compare(string(a.job[:]), string(b.job[:]))
}

// launchWanted starts the workers the last scheduling pass lacked, per
// pool in order: for tasks within the pool's bound (WorkerPoolMax workers
// hosting no actor), one per actor waiting, all within MaxWorkers.
func (r *Raylet) launchWanted() {
	if len(r.wanted) == 0 {
		return
	}
	defer clear(r.wanted)
	if r.cfg.Launcher == nil {
		return // the host's pool is all there is
	}
	keys := make([]poolKey, 0, len(r.wanted))
	for k := range r.wanted { //gray:unordered sorted below
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpPoolKey)
	now := r.env.Now()
	for _, k := range keys {
		want := r.wanted[k]
		pending, taskWorkers := 0, r.poolTaskWorkers(k)
		for _, l := range r.launches { //gray:unordered counting
			if l.binary == k.binary && l.job == k.job {
				pending++
			}
		}
		n := min(want.tasks, max(0, r.cfg.WorkerPoolMax-taskWorkers)) + want.actors - pending
		n = min(n, r.cfg.MaxWorkers-r.launchedWorkers()-len(r.launches))
		for range n {
			r.launchSeq++
			token := fmt.Sprintf("%s%d", r.launchPrefix(), r.launchSeq)
			r.launches[token] = &launch{binary: k.binary, job: k.job, started: now}
			r.stats.WorkersLaunched++
			r.cfg.Launcher.Launch(token, k.binary, k.job)
		}
	}
}

// exitedLaunchesMax bounds the remembered tokens of exited workers.
const exitedLaunchesMax = 10_000

// launchPrefix starts every launch token of this incarnation: its node
// id in hex and a dash.
func (r *Raylet) launchPrefix() string { return proto.LaunchPrefix(r.node) }

// wanted counts the requests of one pool that found no worker in a
// scheduling pass.
type wanted struct{ tasks, actors int }

// wantWorker notes that a request of pool pk (an actor's creation when
// actor) found no worker free.
func (r *Raylet) wantWorker(pk poolKey, actor bool) {
	w := r.wanted[pk]
	if actor {
		w.actors++
	} else {
		w.tasks++
	}
	r.wanted[pk] = w
}

// atWorkerCap reports whether the node runs its maximum of launched
// worker processes, registered or starting.
func (r *Raylet) atWorkerCap() bool {
	return r.launchedWorkers()+len(r.launches) >= r.cfg.MaxWorkers
}

// launchedWorkers counts the registered workers the raylet launched (the
// host's starting pool is not counted against MaxWorkers: it is never
// reaped, and it serves only the node program's own tasks).
func (r *Raylet) launchedWorkers() int {
	n := 0
	for _, w := range r.workers { //gray:unordered counting
		if w.launch != "" {
			n++
		}
	}
	return n
}

// workerCapReason says why actors placed here wait for a worker.
func (r *Raylet) workerCapReason() string {
	if r.cfg.Launcher == nil {
		return fmt.Sprintf("actor waits for a worker process: all %d of node %v's workers are busy and it cannot start more (no launcher)", len(r.workers), r.node)
	}
	return fmt.Sprintf("actor waits for a worker process: node %v hosts its maximum of %d actors (max workers %d, of which %d kept for tasks; each actor has one of its own)",
		r.node, r.cfg.Resources.Get(core.ActorSlot)/core.QuantityScale, r.cfg.MaxWorkers, r.cfg.WorkerPoolMax)
}

// noteWorkerCap marks actor creation l, which found no worker free, as
// waiting for the worker cap when the node is at it (the raylet warns
// once per request, and its demand says why), and clears the mark when
// a worker is merely starting for it.
func (r *Raylet) noteWorkerCap(l *leaseRequest) {
	r.makeRoom()
	capped := r.atWorkerCap() || r.cfg.Launcher == nil
	if capped && !l.workerCap {
		r.stats.WorkerCapWaits++
		r.env.Log().Warn("an actor waits for a worker process: the node runs its maximum", "actor", l.req.Spec.ActorID.String(),
			"max_workers", r.cfg.MaxWorkers, "launched", r.launchedWorkers(), "starting", len(r.launches))
	}
	l.workerCap = capped
}

// LaunchFailed is called by the host, on the raylet's loop, when the
// launch with token could not start a worker. A permanent failure (a
// binary for another platform, a corrupt upload) fails every request for
// that binary with reason; a transient one (the GCS unreachable while
// fetching) lets the next scheduling pass launch again.
func (r *Raylet) LaunchFailed(token, reason string, permanent bool) {
	l, ok := r.launches[token]
	if !ok {
		return
	}
	delete(r.launches, token)
	r.stats.LaunchFailures++
	r.env.Log().Warn("worker launch failed", "binary", short(l.binary), "job", l.job.String(), "reason", reason, "permanent", permanent)
	if permanent {
		r.badBinaries[l.binary] = badBinary{reason: reason, until: r.env.Now().Add(badBinaryFor)}
		r.schedule()
		return
	}
	r.env.AfterFunc(time.Second, r.schedule)
}

// WorkerExited is called by the host, on the raylet's loop, when a
// launched worker process exited; reason says how (exit code, signal,
// the last lines it wrote). The worker's lease, if any, fails with it.
func (r *Raylet) WorkerExited(token, reason string) {
	// A registration the worker sent before it died may still arrive:
	// remember the token so that it is refused.
	if len(r.exitedLaunches) >= exitedLaunchesMax {
		clear(r.exitedLaunches)
	}
	r.exitedLaunches[token] = true
	if _, ok := r.launches[token]; ok {
		// It never registered: the process could not start serving.
		r.LaunchFailed(token, "the worker exited before registering: "+reason, false)
		return
	}
	addr, reaped := r.reaped[token]
	delete(r.reaped, token)
	if la, ok := r.launchAddrs[token]; ok {
		// Also a worker already reaped or retired from the pool: the
		// objects it owned are gone with it.
		delete(r.launchAddrs, token)
		r.workerGone(la)
	}
	for _, a := range r.sortedWorkerAddrs() {
		if w := r.workers[a]; w.launch == token {
			r.workerDied(w, fmt.Sprintf("worker %v (pid of launch %s) exited: %s", w.id, token, reason))
			addr, reaped = a, true
			break
		}
	}
	if reaped {
		r.freeLeasesHeldBy(addr)
		r.schedule()
	}
}

// reapedMax bounds the remembered addresses of reaped launched workers
// whose exit was not reported yet.
const reapedMax = 10_000

// freeLeasesHeldBy frees the leases a worker that exited held as an owner
// (of nested tasks), granted or still queued: it never answers a lease
// check again, and a request of its granted later would hold a worker
// and resources for nobody until its lease checks ran out.
func (r *Raylet) freeLeasesHeldBy(owner core.Addr) {
	keys := make([]leaseKey, 0)
	for k := range r.leases { //gray:unordered sorted below
		if k.owner == owner {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, cmpLeaseKey)
	for _, k := range keys {
		l := r.leases[k]
		if l.worker != nil {
			r.disown(l)
			continue
		}
		r.queue = slices.DeleteFunc(r.queue, func(q *leaseRequest) bool { return q == l })
		delete(r.leases, k)
		r.rememberCancelled(k)
		l.reply(&proto.LeaseReply{Cancelled: true}, nil)
	}
}

// reapIdle tells launched workers idle for longer than the idle timeout
// to exit, and forgets launches that never registered. A worker that
// owns objects in scope is kept (its exit would lose them), as Ray's
// workers refuse to exit while they own objects.
func (r *Raylet) reapIdle() {
	now := r.env.Now()
	for _, a := range r.sortedWorkerAddrs() {
		if w := r.workers[a]; r.reapable(w) && now.Sub(w.idle) >= r.cfg.IdleWorkerTimeout {
			r.reap(w)
		}
	}
	tokens := make([]string, 0, len(r.launches))
	for t, l := range r.launches { //gray:unordered sorted below
		if now.Sub(l.started) > launchTimeout {
			tokens = append(tokens, t)
		}
	}
	slices.Sort(tokens)
	for _, t := range tokens {
		r.LaunchFailed(t, fmt.Sprintf("the worker did not register within %v", launchTimeout), false)
	}
}

// makeRoom reaps one idle launched worker when the node is at its worker
// cap and a request found no worker of its pool: idle workers of other
// pools count against the cap until they are reaped, and the request
// goes first. Only a worker idle for reapForCapAfter: its Owns,
// registered every second, must have caught up with the tasks its last
// body submitted (reaping a worker that owns them loses them).
func (r *Raylet) makeRoom() {
	if r.cfg.Launcher == nil || !r.atWorkerCap() {
		return
	}
	now := r.env.Now()
	for _, a := range r.sortedWorkerAddrs() {
		if w := r.workers[a]; r.reapable(w) && now.Sub(w.idle) >= reapForCapAfter {
			r.reap(w)
			return
		}
	}
}

// poolTaskWorkers counts the workers of pool pk that host no actor.
func (r *Raylet) poolTaskWorkers(pk poolKey) int {
	n := 0
	for _, w := range r.workers { //gray:unordered counting
		if w.binary == pk.binary && (pk.binary == "" || w.job == pk.job) && !w.hostsActor() {
			n++
		}
	}
	return n
}

// reapForCapAfter is how long a launched worker must have been idle
// before it is reaped to make room for an actor: longer than the period
// of its registrations, which report whether it owns objects.
const reapForCapAfter = 3 * time.Second

// reapable reports whether w may be told to exit now: a launched worker
// that holds no lease and owns no object in scope.
func (r *Raylet) reapable(w *workerInfo) bool {
	return w.launch != "" && !w.busy() && !w.owns
}

// reap tells launched worker w to exit and takes it out of the pool.
func (r *Raylet) reap(w *workerInfo) {
	r.env.Send(w.addr, &proto.ExitWorker{Worker: w.id})
	delete(r.workers, w.addr)
	// Its exit, reported later, frees the leases it holds as an owner:
	// remember where it was.
	if len(r.reaped) >= reapedMax {
		clear(r.reaped)
	}
	r.reaped[w.launch] = w.addr
	r.stats.WorkersReaped++
}

func (r *Raylet) sortedWorkerAddrs() []core.Addr {
	addrs := make([]core.Addr, 0, len(r.workers))
	for a := range r.workers { //gray:unordered sorted below
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	return addrs
}
