package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/core/rpc"
	"github.com/grayrt/gray/core/worker"
	"github.com/grayrt/gray/gcs"
)

// DriverConfig configures a driver process.
type DriverConfig struct {
	// GCS is the GCS's address. Raylet and Job, when both set, attach the
	// driver at Start (an embedded cluster). With Raylet alone it
	// registers a job of its own with the GCS first, as a program that
	// joins a cluster does (a simulated driver). A joining driver leaves
	// both empty and calls Attach once it chose a raylet and registered
	// its job.
	GCS    core.Addr
	Raylet core.Addr
	Job    core.JobID
	// Binary is the staged job binary's hash, when joined.
	Binary string
	// Submission names the submitted job this driver runs for, if any:
	// the job it registers is recorded with it.
	Submission string
	// Log gets failover records; LogOut the job's workers' output lines
	// (nil drops them).
	Log    *slog.Logger
	LogOut io.Writer
	// Main, when set, is the driver program, run as the process's Go work
	// once attached, with a ctx whose API calls go through this driver
	// (the simulator runs users' driver functions so). When it returns
	// the driver frees the objects it owns (worker.FreeOwned); Done, when
	// set, then gets its result on the loop.
	Main func(ctx context.Context) error
	Done func(err error)
	// ObjectChunkBytes is the core worker's (worker.Config); 0 for the
	// default.
	ObjectChunkBytes int
	// SharedMin is the core worker's (worker.Config): the smallest
	// object put through the host's shared memory; 0 for the default.
	SharedMin int
}

// Driver is the process whose core worker a program's driver code calls
// through: it submits tasks, owns their results and creates actors. It
// follows node deaths and moves to another alive raylet when its own
// node dies (Ray's drivers fate-share with their local raylet; a joined
// driver has none of its own).
type Driver struct {
	cfg DriverConfig

	env    core.Env
	gcs    *gcs.Client
	cw     *worker.Worker // nil until attached
	alive  map[core.NodeID]core.Addr
	lost   bool // the raylet's node died and no other node was alive
	caller *Caller

	ctx    context.Context
	cancel context.CancelFunc
}

// NewDriver returns a driver process; the host or world starts it.
func NewDriver(cfg DriverConfig) *Driver {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Driver{cfg: cfg}
}

// mainDone carries the driver program's result to the loop; like
// execDone it never crosses the network.
type mainDone struct{ err error }

const msgMainDone core.MsgType = 64902

// MsgType implements core.Message.
func (*mainDone) MsgType() core.MsgType { return msgMainDone }

// Start implements core.Process.
func (d *Driver) Start(env core.Env) {
	d.env = env
	d.alive = map[core.NodeID]core.Addr{}
	d.gcs = gcs.NewClient(env, d.cfg.GCS, gcs.ClientOptions{})
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.caller = &Caller{Env: env, Driver: d,
		Worker: func() *worker.Worker { return d.cw },
		GCS:    func() *gcs.Client { return d.gcs }}
	switch {
	case d.cfg.Raylet != "" && !d.cfg.Job.IsNil():
		d.Attach(d.cfg.Raylet, d.cfg.Job, d.cfg.Binary, nil)
	case d.cfg.Raylet != "":
		d.addJob()
	}
}

// addJob registers the driver's job with the GCS, retrying until the GCS
// answers (a retry after a lost reply may register a second, unused job),
// then attaches to the configured raylet.
func (d *Driver) addJob() {
	d.gcs.AddJobOfSubmission(d.env.Self(), nil, "", d.cfg.Submission, func(r gcs.Reply, err error) {
		if errors.Is(err, rpc.ErrFailedPrecondition) || errors.Is(err, rpc.ErrNotFound) {
			// The submitted job this driver runs for has ended or is
			// gone: the program does not start.
			d.cfg.Log.Error("gray: the GCS refused the driver's job", "err", err)
			return
		}
		if err != nil {
			d.cfg.Log.Warn("gray: registering the driver's job", "err", err)
			d.env.AfterFunc(100*time.Millisecond, d.addJob)
			return
		}
		d.Attach(d.cfg.Raylet, r.Job, d.cfg.Binary, nil)
	})
}

// Stop implements core.Stopper: the program's ctx is cancelled.
func (d *Driver) Stop() {
	if d.cancel != nil {
		d.cancel()
	}
}

// Caller returns the caller API calls of the driver program go through.
// It is valid from Start on.
func (d *Driver) Caller() *Caller { return d.caller }

// GCS returns the driver's GCS client (on the loop).
func (d *Driver) GCS() *gcs.Client { return d.gcs }

// CoreWorker returns the driver's core worker, nil until attached.
func (d *Driver) CoreWorker() *worker.Worker { return d.cw }

// CheckInvariants checks the core worker's reference table once it is
// attached (see worker.Worker.CheckInvariants); the simulator calls it
// after every event in builds with the invariants tag.
func (d *Driver) CheckInvariants() error {
	if d.cw == nil {
		return nil
	}
	return d.cw.CheckInvariants()
}

// Job returns the driver's job (zero until attached).
func (d *Driver) Job() core.JobID { return d.cfg.Job }

// NodeThen calls reply on the loop with the node whose raylet the driver
// submits through: from the node table it keeps, else from the GCS's
// (asked once); nil when neither knows it (not attached, or the GCS is
// unreachable).
func (d *Driver) NodeThen(reply func(core.NodeID)) {
	if d.cw == nil {
		reply(core.NodeID{})
		return
	}
	cur := d.cw.Raylet()
	if n, ok := d.nodeAt(cur); ok {
		reply(n)
		return
	}
	d.gcs.GetNodes(func(r gcs.Reply, err error) {
		if err == nil {
			for _, n := range r.Nodes {
				if n.State == gcs.NodeAlive && n.Addr == cur {
					reply(n.ID)
					return
				}
			}
		}
		reply(core.NodeID{})
	})
}

// nodeAt returns the alive node whose raylet is at addr, as the driver's
// node table has it; of two at one address (a restarted head whose old
// incarnation is not declared dead yet) the greatest id, so that the
// answer does not depend on map order.
func (d *Driver) nodeAt(addr core.Addr) (core.NodeID, bool) {
	var found core.NodeID
	ok := false
	for id, a := range d.alive { //gray:unordered the greatest id
		if a == addr && (!ok || bytes.Compare(id[:], found[:]) > 0) {
			found, ok = id, true
		}
	}
	return found, ok
}

// Attach starts the core worker on raylet for job; nodes is the node
// table the raylet was chosen from. Call it on the loop, once. It starts
// Main, if set.
func (d *Driver) Attach(raylet core.Addr, job core.JobID, binary string, nodes []gcs.NodeInfo) {
	d.cfg.Raylet, d.cfg.Job, d.cfg.Binary = raylet, job, binary
	for _, n := range nodes {
		d.observeNode(n)
	}
	d.cw = worker.New(d.env, worker.Config{Raylet: raylet, Job: job, GCS: d.gcs, Binary: binary, ObjectChunkBytes: d.cfg.ObjectChunkBytes, SharedMin: d.cfg.SharedMin})
	worker.WatchNodes(d.env, d.gcs, d.cw, d.observeNode)
	if main := d.cfg.Main; main != nil {
		ctx := WithCaller(d.ctx, d.caller)
		core.GoNamed(d.env, "driver program", func() core.Message { return &mainDone{err: runMain(ctx, main)} })
	}
}

// runMain runs the driver program, turning a panic into an error.
func runMain(ctx context.Context, main func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("driver panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return main(ctx)
}

// observeNode keeps the set of alive nodes and moves the driver to
// another raylet when its own node dies. A new incarnation at the same
// address (a restarted head) keeps it there.
func (d *Driver) observeNode(n gcs.NodeInfo) {
	if n.State == gcs.NodeAlive {
		d.alive[n.ID] = n.Addr
	} else {
		delete(d.alive, n.ID)
	}
	if d.cw == nil {
		return
	}
	cur := d.cw.Raylet()
	addrs := make([]core.Addr, 0, len(d.alive))
	for _, a := range d.alive { //gray:unordered sorted below
		addrs = append(addrs, a)
	}
	slices.Sort(addrs)
	if slices.Contains(addrs, cur) {
		d.lost = false
		return
	}
	if !(n.State == gcs.NodeDead && n.Addr == cur) && !d.lost {
		return
	}
	if len(addrs) == 0 {
		d.lost = true
		d.cfg.Log.Warn("gray: the driver's node died and no other node is alive; waiting for one", "raylet", string(cur))
		return
	}
	d.lost = false
	d.cfg.Log.Warn("gray: the driver's node died; submitting through another", "dead", string(cur), "now", string(addrs[0]))
	d.cw.SetRaylet(addrs[0])
}

// Receive implements core.Process.
func (d *Driver) Receive(from core.Addr, m core.Message) {
	switch m := m.(type) {
	case *proto.WorkerLogs:
		d.printLogs(m)
		return
	case *mainDone:
		if from != d.env.Self() {
			return
		}
		// The program is done with what it owns: free it now rather than
		// leave it pinned in the raylets until they notice the exit.
		// Done once its messages left: the program exits after it.
		d.cw.FreeOwnedThen(func() {
			if d.cfg.Done != nil {
				d.cfg.Done(m.err)
			}
		})
		return
	}
	if d.gcs.Handle(from, m) || d.cw == nil {
		return
	}
	d.cw.Handle(from, m)
}

// printLogs writes a launched worker's output lines to the driver's
// log output, prefixed with where they come from, as Ray's driver does.
func (d *Driver) printLogs(wl *proto.WorkerLogs) {
	if d.cfg.LogOut == nil || wl.Job != d.cfg.Job {
		return
	}
	node := wl.Node.String()
	if len(node) > len("node:")+8 {
		node = node[len("node:") : len("node:")+8]
	}
	var b strings.Builder
	for _, l := range wl.Lines {
		fmt.Fprintf(&b, "(pid=%d, node=%s) %s\n", wl.Pid, node, l)
	}
	_, _ = io.WriteString(d.cfg.LogOut, b.String())
}

// Describe describes the driver's state, for gray sim replay --until.
func (d *Driver) Describe() string {
	if d.cw == nil {
		return "not attached"
	}
	return d.cw.Describe()
}
