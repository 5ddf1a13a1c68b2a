package gcs_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/sim"
)

// The swarm workload runs clients that issue random operations against a
// crashable GCS under a random fault mix, and checks what a client can
// know for sure even with unknown outcomes:
//
//   - a fresh key put without overwrite reports Added (a second execution
//     of the same request would report false);
//   - every acknowledged put is still there at the end (durability across
//     crashes);
//   - a per-client counter advanced by CAS holds exactly what the client
//     believes; after a timed-out CAS the client first commits a fencing
//     write (its AckBelow then moves past the lost request, so the server
//     can never apply it later) and re-reads the counter;
//   - the number of jobs lies between the acknowledged AddJobs and those
//     plus the unknown ones.

type swarmWorkload struct {
	bug     string
	clients []*swarmClient
	w       *sim.World
}

type swarmClient struct {
	wl   *swarmWorkload
	addr core.Addr
	env  core.Env
	c    *gcs.Client

	busy    bool
	nextKey int
	acked   []string // fresh keys acknowledged as added
	counter int      // value the client knows the counter holds
	fencing bool     // a CAS outcome is unknown: fence, then re-read
	jobsOK  int
	jobsUnk int
	ops     int
}

func newSwarm(clients int, bug string) *swarmWorkload {
	wl := &swarmWorkload{bug: bug}
	for i := range clients {
		wl.clients = append(wl.clients, &swarmClient{wl: wl, addr: core.Addr(fmt.Sprintf("c%d", i+1))})
	}
	return wl
}

func (wl *swarmWorkload) Setup(w *sim.World) error {
	wl.w = w
	cfg := gcs.Config{Bug: wl.bug}
	w.AddProcess("gcs", sim.ProcOptions{Crashable: true, Disk: true}, func() core.Process { return gcs.NewServer(cfg) })
	for _, c := range wl.clients {
		w.AddProcess(c.addr, sim.ProcOptions{}, func() core.Process { return c })
	}
	return nil
}

func (wl *swarmWorkload) Done() bool {
	if wl.w.Process("gcs") == nil {
		return false
	}
	for _, c := range wl.clients {
		if c.busy || c.fencing {
			return false
		}
	}
	return true
}

func (wl *swarmWorkload) Pending() string {
	var parts []string
	for _, c := range wl.clients {
		if c.busy || c.fencing {
			parts = append(parts, fmt.Sprintf("%s busy (fencing %v, %d in flight)", c.addr, c.fencing, c.c.InFlight()))
		}
	}
	if wl.w.Process("gcs") == nil {
		parts = append(parts, "gcs down")
	}
	return strings.Join(parts, "; ")
}

func (wl *swarmWorkload) Check(w *sim.World) (string, string) {
	s := w.Process("gcs").(*gcs.Server)
	if err := s.CheckInvariants(); err != nil {
		return "invariant", err.Error()
	}
	jobsOK, jobsUnk := 0, 0
	for _, c := range wl.clients {
		for _, k := range c.acked {
			if v, ok := s.KV("s", k); !ok || string(v) != k {
				return "durability", fmt.Sprintf("%s: acknowledged key %q is %q (present %v) at the end", c.addr, k, v, ok)
			}
		}
		v, ok := s.KV("s", string(c.addr)+"/ctr")
		got := 0
		if ok {
			got, _ = strconv.Atoi(string(v))
		}
		if got != c.counter {
			return "durability", fmt.Sprintf("%s: counter is %d at the end, the client knows %d", c.addr, got, c.counter)
		}
		jobsOK += c.jobsOK
		jobsUnk += c.jobsUnk
	}
	if n := len(s.Jobs()); n < jobsOK || n > jobsOK+jobsUnk {
		return "exactly-once", fmt.Sprintf("%d jobs exist; %d AddJobs were acknowledged and %d timed out", n, jobsOK, jobsUnk)
	}
	return "", ""
}

func (c *swarmClient) Start(env core.Env) {
	c.env = env
	c.c = gcs.NewClient(env, "gcs", gcs.ClientOptions{})
	env.AfterFunc(time.Duration(env.Rand().IntN(5))*time.Millisecond, c.next)
}

func (c *swarmClient) Receive(from core.Addr, m core.Message) { c.c.Handle(from, m) }

func (c *swarmClient) fail(kind, format string, args ...any) {
	c.wl.w.Fail(kind, fmt.Sprintf("%s: ", c.addr)+fmt.Sprintf(format, args...))
}

// next starts the client's next operation after a short pause.
func (c *swarmClient) next() {
	c.busy = false
	if c.fencing {
		c.fence()
		return
	}
	if c.wl.w.Healed() {
		return
	}
	c.busy = true
	c.ops++
	pause := func() { c.env.AfterFunc(time.Duration(1+c.env.Rand().IntN(10))*time.Millisecond, c.next) }
	ctrKey := string(c.addr) + "/ctr"
	switch op := c.env.Rand().IntN(10); {
	case op < 3:
		c.nextKey++
		k := fmt.Sprintf("%s/k%d", c.addr, c.nextKey)
		c.c.KVPut("s", k, []byte(k), false, func(r gcs.Reply, err error) {
			switch {
			case err == nil && !r.Added:
				c.fail("exactly-once", "fresh key %q: put reported not added (applied twice?)", k)
			case err == nil:
				c.acked = append(c.acked, k)
			case !errors.Is(err, gcs.ErrTimeout):
				c.fail("invariant", "put %q: %v", k, err)
			}
			pause()
		})
	case op < 4 && len(c.acked) > 0:
		k := c.acked[c.env.Rand().IntN(len(c.acked))]
		c.c.KVGet("s", k, func(r gcs.Reply, err error) {
			if err == nil && (!r.Found || string(r.Value) != k) {
				c.fail("durability", "acknowledged key %q read back as %q (found %v)", k, r.Value, r.Found)
			}
			pause()
		})
	case op < 7:
		var cur []byte
		if c.counter != 0 {
			cur = []byte(strconv.Itoa(c.counter))
		}
		next := []byte(strconv.Itoa(c.counter + 1))
		c.c.KVCAS("s", ctrKey, cur, c.counter != 0, next, func(r gcs.Reply, err error) {
			switch {
			case errors.Is(err, gcs.ErrTimeout):
				c.fencing = true
			case err != nil:
				c.fail("invariant", "cas: %v", err)
			case !r.Swapped:
				c.fail("linearizability", "cas %d->%d refused, but only this client writes the counter", c.counter, c.counter+1)
			default:
				c.counter++
			}
			pause()
		})
	case op < 8:
		c.c.KVGet("s", ctrKey, func(r gcs.Reply, err error) {
			if err == nil {
				got, _ := strconv.Atoi(string(r.Value))
				if got != c.counter {
					c.fail("linearizability", "counter read %d, the client knows %d", got, c.counter)
				}
			}
			pause()
		})
	default:
		c.c.AddJob(c.addr, nil, func(r gcs.Reply, err error) {
			switch {
			case err == nil:
				c.jobsOK++
			case errors.Is(err, gcs.ErrTimeout):
				c.jobsUnk++
			default:
				c.fail("invariant", "add job: %v", err)
			}
			pause()
		})
	}
}

// fence commits a write (which moves the server's ack floor past every
// earlier request of this client) and then re-reads the counter.
func (c *swarmClient) fence() {
	c.busy = true
	retry := func() { c.env.AfterFunc(10*time.Millisecond, c.next) }
	c.c.KVPut("s", string(c.addr)+"/fence", nil, true, func(_ gcs.Reply, err error) {
		if err != nil {
			retry()
			return
		}
		c.c.KVGet("s", string(c.addr)+"/ctr", func(r gcs.Reply, err error) {
			if err != nil {
				retry()
				return
			}
			got, _ := strconv.Atoi(string(r.Value))
			if got != c.counter && got != c.counter+1 {
				c.fail("linearizability", "after an unknown cas %d->%d the counter is %d", c.counter, c.counter+1, got)
			}
			c.counter = got
			c.fencing = false
			c.wl.w.Sometimes("cas outcome resolved by fencing")
			c.env.AfterFunc(time.Millisecond, c.next)
		})
	})
}

func runSwarm(seed uint64, faults, bug string) sim.Result {
	return sim.Run(sim.Config{Seed: seed, FaultSpec: faults, FaultPhase: 5 * time.Second}, newSwarm(3, bug), "gcs-swarm")
}

func TestSwarm(t *testing.T) {
	seeds := uint64(30)
	if testing.Short() {
		seeds = 6
	}
	var crashes, failStops int64
	for seed := uint64(1); seed <= seeds; seed++ {
		r := runSwarm(seed, "swarm", "")
		if !r.Passed {
			t.Fatalf("%v", r)
		}
		for _, c := range r.Sometimes {
			switch c.Name {
			case "fault: crash":
				crashes += c.Count
			case "process fail-stop":
				failStops += c.Count
			}
		}
	}
	if !testing.Short() && (crashes == 0 || failStops == 0) {
		t.Errorf("over %d seeds: %d crashes, %d fail-stops; want both exercised", seeds, crashes, failStops)
	}
}

// TestDiskErrorsFailStop fails WAL writes often: every failed commit must
// fail-stop the GCS (never answer), and the restarted GCS must still hold
// every acknowledged mutation (the swarm checks).
func TestDiskErrorsFailStop(t *testing.T) {
	var failStops int64
	for seed := uint64(1); seed <= 5; seed++ {
		r := runSwarm(seed, "disk=3,drop=0.02", "")
		if !r.Passed {
			t.Fatalf("%v", r)
		}
		for _, c := range r.Sometimes {
			if c.Name == "process fail-stop" {
				failStops += c.Count
			}
		}
	}
	if failStops == 0 {
		t.Fatal("no fail-stop in 5 seeds with frequent disk errors")
	}
	t.Logf("%d fail-stops", failStops)
}

func TestSwarmIsDeterministic(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		a, b := runSwarm(seed, "swarm", ""), runSwarm(seed, "swarm", "")
		if a.Hash != b.Hash || a.Events != b.Events {
			t.Fatalf("seed %d: hash %s (%d events) then %s (%d events)", seed, a.HashString(), a.Events, b.HashString(), b.Events)
		}
	}
}

// TestSwarmCatchesPlantedBugs requires every planted bug to fail the swarm
// checks within a bounded number of seeds.
func TestSwarmCatchesPlantedBugs(t *testing.T) {
	const faults = "drop=0.05,dup=0.05,reorder=0.05,crash=0.4"
	for _, bug := range gcs.Bugs() {
		if bug == gcs.BugBlameOthers || bug == gcs.BugTrustDisk || bug == gcs.BugIgnoreFloor || bug == gcs.BugWallClockStamps || bug == gcs.BugPGNameNotFreed {
			// A health-check bug (these clients run no raylets), a
			// storage-check bug (this mix damages no disk at rest), a
			// dedup-floor bug (it takes duplicates seconds late), a
			// clock bug (this mix steps no clock) and a placement-group
			// bug (these clients make no groups): the gcs workload
			// catches them with the pause, corrupt, late_dup and
			// clock_jump faults, and its group history (sim/workload
			// TestGCSPlantedBugsAreCaught).
			continue
		}
		t.Run(bug, func(t *testing.T) {
			for seed := uint64(1); seed <= 30; seed++ {
				if r := runSwarm(seed, faults, bug); !r.Passed {
					t.Logf("caught at seed %d: %s: %s", seed, r.Kind, firstLine(r.Reason))
					return
				}
			}
			t.Fatalf("bug %s survived 30 seeds", bug)
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
