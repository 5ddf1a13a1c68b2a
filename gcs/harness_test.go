package gcs_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/sim"
)

var update = flag.Bool("update", false, "rewrite the golden trace files in testdata")

// The harness runs a scripted scenario inside sim.World: one GCS (crashable,
// with a disk) and a few host processes that embed a gcs.Client. The script
// is a list of steps that run one after another in virtual time; each step
// issues calls and finishes when its callbacks ran. Results are stored and
// asserted after the run, in plain Go.

type cb = func(gcs.Reply, error)

// res is the outcome of one call.
type res struct {
	name string
	r    gcs.Reply
	err  error
	done bool
}

func (r *res) String() string {
	if !r.done {
		return r.name + ": never answered"
	}
	if r.err != nil {
		return fmt.Sprintf("%s: error %v", r.name, r.err)
	}
	return fmt.Sprintf("%s: %v", r.name, &r.r)
}

// ok reports a successful call.
func (r *res) ok() bool { return r.done && r.err == nil }

type step struct {
	name string
	run  func(done func())
}

type harness struct {
	t      testing.TB
	cfg    gcs.Config
	copts  gcs.ClientOptions
	simCfg sim.Config
	nHosts int
	// roles make hosts play other processes (a raylet, a worker, an
	// actor's owner): a role sees every message first.
	roles map[int]role

	w        *sim.World
	hosts    []*host
	steps    []step
	cur      int
	finished bool
	errs     []string
}

type harnessOpts struct {
	// replicas > 0 runs a replicated GCS of that many replicas
	// ("gcs-1"…) instead of one "gcs".
	replicas int
	cfg      gcs.Config
	copts    gcs.ClientOptions
	hosts    int
	seed     uint64
	faults   string
	// faultPhase is how long network faults last; default 1ms (none).
	faultPhase time.Duration
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	if o.hosts == 0 {
		o.hosts = 1
	}
	if o.seed == 0 {
		o.seed = 1
	}
	if o.faultPhase == 0 {
		o.faultPhase = time.Millisecond
	}
	for i := range o.replicas {
		o.cfg.Replicas = append(o.cfg.Replicas, core.Addr(fmt.Sprintf("gcs-%d", i+1)))
	}
	o.copts.Replicas = o.cfg.Replicas
	return &harness{
		t: t, cfg: o.cfg, copts: o.copts, nHosts: o.hosts,
		simCfg: sim.Config{Seed: o.seed, FaultSpec: o.faults, FaultPhase: o.faultPhase, LivenessBound: 10 * time.Minute},
		hosts:  make([]*host, o.hosts),
	}
}

// host is a simulated process that embeds a GCS client. It can also act
// as a raylet (heartbeats) and as a subscriber, and keeps every message
// the client did not consume (answers to raw requests).
type host struct {
	h    *harness
	idx  int
	addr core.Addr
	env  core.Env
	c    *gcs.Client
	raw  []core.Message

	beating bool
	fenced  bool

	pubs    []gcs.PubMessage
	resyncs int
}

func (hs *host) Start(env core.Env) {
	hs.env = env
	if len(hs.h.cfg.Replicas) > 0 {
		hs.c = gcs.NewClient(env, hs.h.cfg.Replicas[0], hs.h.copts)
		return
	}
	hs.c = gcs.NewClient(env, "gcs", hs.h.copts)
}

func (hs *host) Receive(from core.Addr, m core.Message) {
	if r := hs.h.roles[hs.idx]; r != nil && r.handle(hs, from, m) {
		return
	}
	if hs.c.Handle(from, m) {
		return
	}
	hs.raw = append(hs.raw, m)
}

// startHeartbeats makes hs a raylet of node that heartbeats every period
// until told to stop or until the GCS answers Dead.
func (hs *host) startHeartbeats(node core.NodeID, period time.Duration) {
	hs.beating = true
	var tick func()
	tick = func() {
		if !hs.beating {
			return
		}
		hs.c.Heartbeat(node, func(r gcs.Reply, err error) {
			if err == nil && r.Dead {
				hs.fenced = true
				hs.beating = false
			}
		})
		hs.env.AfterFunc(period, tick)
	}
	tick()
}

func (hs *host) subscribe(channels ...string) error {
	return hs.c.Subscribe(channels, func(m gcs.PubMessage) { hs.pubs = append(hs.pubs, m) }, func() { hs.resyncs++ })
}

// role is a part a host plays besides GCS client; handle consumes the
// messages meant for it.
type role interface {
	handle(hs *host, from core.Addr, m core.Message) bool
}

// play makes host i play r.
func (h *harness) play(i int, r role) {
	if h.roles == nil {
		h.roles = map[int]role{}
	}
	h.roles[i] = r
}

// Setup implements sim.Workload.
func (h *harness) Setup(w *sim.World) error {
	h.w = w
	cfg := h.cfg
	if h.roles == nil {
		h.roles = map[int]role{}
	}
	if len(cfg.Replicas) == 0 {
		w.AddProcess("gcs", sim.ProcOptions{Crashable: true, Disk: true}, func() core.Process { return gcs.NewServer(cfg) })
	}
	for _, a := range cfg.Replicas {
		w.AddProcess(a, sim.ProcOptions{Crashable: true, Disk: true}, func() core.Process { return gcs.NewReplica(cfg) })
	}
	for i := range h.nHosts {
		addr := core.Addr(fmt.Sprintf("c%d", i+1))
		w.AddProcess(addr, sim.ProcOptions{}, func() core.Process {
			hs := &host{h: h, addr: addr, idx: i}
			h.hosts[i] = hs
			return hs
		})
	}
	w.Schedule(5*time.Millisecond, "script start", h.next)
	return nil
}

// Done implements sim.Workload.
func (h *harness) Done() bool { return h.finished }

// Pending implements sim.Workload.
func (h *harness) Pending() string {
	if h.cur < len(h.steps) {
		return fmt.Sprintf("step %d (%s) unfinished", h.cur, h.steps[h.cur].name)
	}
	return "script finished"
}

// Check implements sim.Workload.
func (h *harness) Check(*sim.World) (string, string) { return "", "" }

func (h *harness) next() {
	h.checkServer()
	if h.cur >= len(h.steps) {
		h.finished = true
		return
	}
	st := h.steps[h.cur]
	fired := false
	st.run(func() {
		if fired {
			h.errorf("step %q finished twice", st.name)
			return
		}
		fired = true
		h.cur++
		label := "script end"
		if h.cur < len(h.steps) {
			label = "step " + h.steps[h.cur].name
		}
		h.w.Schedule(time.Millisecond, label, h.next)
	})
}

func (h *harness) checkServer() {
	if s := h.server(); s != nil {
		if err := s.CheckInvariants(); err != nil {
			h.errorf("server invariant: %v", err)
		}
	}
}

func (h *harness) errorf(format string, args ...any) {
	h.errs = append(h.errs, fmt.Sprintf(format, args...))
}

// server returns the live GCS incarnation, or nil while it is down.
func (h *harness) server() *gcs.Server {
	if p := h.w.Process("gcs"); p != nil {
		return p.(*gcs.Server)
	}
	if r := h.leader(); r != nil {
		return r.Front()
	}
	return nil
}

// leader returns the replica that serves (the one of the highest epoch
// while a deposed leader has not heard of its successor), or nil.
func (h *harness) leader() *gcs.Replica {
	var best *gcs.Replica
	for _, a := range h.cfg.Replicas {
		if r, ok := h.w.Process(a).(*gcs.Replica); ok && r.Front() != nil {
			if best == nil || r.Front().Epoch() > best.Front().Epoch() {
				best = r
			}
		}
	}
	return best
}

// leaderAddr returns the address of leader(), or "".
func (h *harness) leaderAddr() core.Addr {
	for _, a := range h.cfg.Replicas {
		if r, ok := h.w.Process(a).(*gcs.Replica); ok && r == h.leader() && r != nil {
			return a
		}
	}
	return ""
}

func (h *harness) add(name string, run func(done func())) { h.steps = append(h.steps, step{name, run}) }

// op adds a step that makes one call from host i and records its outcome.
func (h *harness) op(i int, name string, call func(c *gcs.Client, cb cb)) *res {
	out := &res{name: name}
	h.add(name, func(done func()) {
		call(h.hosts[i].c, func(r gcs.Reply, err error) {
			out.r, out.err, out.done = r, err, true
			done()
		})
	})
	return out
}

// concurrent adds a step that makes several calls at once, call j from
// host hostsOf[j], and finishes when all are answered.
func (h *harness) concurrent(name string, hostsOf []int, calls ...func(c *gcs.Client, cb cb)) []*res {
	outs := make([]*res, len(calls))
	for j := range calls {
		outs[j] = &res{name: fmt.Sprintf("%s #%d", name, j)}
	}
	h.add(name, func(done func()) {
		left := len(calls)
		for j, call := range calls {
			call(h.hosts[hostsOf[j]].c, func(r gcs.Reply, err error) {
				outs[j].r, outs[j].err, outs[j].done = r, err, true
				if left--; left == 0 {
					done()
				}
			})
		}
	})
	return outs
}

// action adds a step that runs f and finishes at once.
func (h *harness) action(name string, f func()) {
	h.add(name, func(done func()) { f(); done() })
}

// sleep adds a step that lets d of virtual time pass.
func (h *harness) sleep(d time.Duration) {
	h.add(fmt.Sprintf("sleep %v", d), func(done func()) { h.w.Schedule(d, "wake", done) })
}

// waitUntil adds a step that finishes once cond holds, checking every
// 100ms, and records an error if it does not hold within limit.
func (h *harness) waitUntil(name string, limit time.Duration, cond func() bool) {
	h.add(name, func(done func()) {
		deadline := h.w.Now() + limit
		var check func()
		check = func() {
			if cond() {
				done()
				return
			}
			if h.w.Now() >= deadline {
				h.errorf("%s: not true within %v", name, limit)
				done()
				return
			}
			h.w.Schedule(100*time.Millisecond, "poll "+name, check)
		}
		check()
	})
}

// crashGCS adds a step that crashes the GCS and waits until it is back.
func (h *harness) crashGCS(why string) {
	h.action("crash gcs", func() { h.w.Crash("gcs", why) })
	h.waitUntil("gcs restarted", 10*time.Second, func() bool { return h.server() != nil })
}

// rawReply is the answer to a hand-made request: a Reply, or a PollReply
// for a Poll.
type rawReply struct {
	name string
	r    *gcs.Reply
	p    *gcs.PollReply
}

// raw adds a step in which host i sends m (a request with a hand-made
// header) and waits up to 300ms for the answer to (client, seq). Such
// requests bypass the client, so tests control headers and repeats.
func (h *harness) raw(i int, name string, m core.Message, client string, seq uint64) *rawReply {
	return h.rawVia(i, name, client, seq, func() { h.hosts[i].env.Send("gcs", m) })
}

// direct is raw, but the message is handed to the server's Receive
// without the network (and so without the codec's validation).
func (h *harness) direct(i int, name string, m core.Message, client string, seq uint64) *rawReply {
	return h.rawVia(i, name, client, seq, func() {
		if s := h.server(); s != nil {
			s.Receive(h.hosts[i].addr, m)
		}
	})
}

func (h *harness) rawVia(i int, name, client string, seq uint64, send func()) *rawReply {
	out := &rawReply{name: name}
	h.add(name, func(done func()) {
		hs := h.hosts[i]
		hs.raw = nil
		send()
		h.w.Schedule(300*time.Millisecond, "collect "+name, func() {
			for _, m := range hs.raw {
				switch r := m.(type) {
				case *gcs.Reply:
					if r.Client == client && r.Seq == seq {
						out.r = r
					}
				case *gcs.PollReply:
					if r.Client == client && r.Seq == seq {
						out.p = r
					}
				}
			}
			done()
		})
	})
	return out
}

// run executes the script and returns the simulator's result.
func (h *harness) run() sim.Result {
	h.add("final invariant check", func(done func()) { h.checkServer(); done() })
	return sim.Run(h.simCfg, h, h.t.Name())
}

// mustPass runs the script and fails the test on a failed run or any
// recorded error.
func (h *harness) mustPass() sim.Result {
	h.t.Helper()
	r := h.run()
	if !r.Passed {
		h.t.Fatalf("simulation failed: %v", r)
	}
	for _, e := range h.errs {
		h.t.Error(e)
	}
	return r
}

// checks collects failed expectations, so that one judge function can
// prove a correct server right (no errors) and a buggy one wrong (some).
type checks struct{ errs []string }

func (c *checks) check(ok bool, format string, args ...any) {
	if !ok {
		c.errs = append(c.errs, fmt.Sprintf(format, args...))
	}
}

func (c *checks) report(t testing.TB) {
	t.Helper()
	for _, e := range c.errs {
		t.Error(e)
	}
}

// nodeID and actorID make readable fixed ids for scripts.
func nodeID(n byte) core.NodeID {
	var id core.NodeID
	id[0], id[1] = 0xa0, n
	return id
}

var (
	job1 = core.JobIDFromInt(1)
	job2 = core.JobIDFromInt(2)
)

func actorID(job core.JobID, n uint64) core.ActorID {
	return core.NewActorID(job, core.DriverTaskID(job), n)
}

// traced sets h to write the sim trace into buf.
func (h *harness) traced(buf *bytes.Buffer) { h.simCfg.Trace = buf }

// golden compares got with testdata/name.golden, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./gcs -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("trace differs from %s at line %d:\n got: %s\nwant: %s\n(%d vs %d lines; run with -update if the change is intended)",
					path, i+1, g, w, len(gl), len(wl))
			}
		}
	}
}
