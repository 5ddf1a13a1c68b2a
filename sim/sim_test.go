package sim

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
)

func runEcho(t testing.TB, seed uint64, faults, variant string) Result {
	t.Helper()
	wl, err := NewWorkload("echo", Options{Variant: variant})
	if err != nil {
		t.Fatal(err)
	}
	return Run(Config{Seed: seed, FaultSpec: faults, FaultPhase: 2 * time.Second, ReplayArgs: Options{Variant: variant}.ReplayArgs()}, wl, "echo")
}

func TestEchoPassesWithoutFaults(t *testing.T) {
	r := runEcho(t, 1, "none", "")
	if !r.Passed {
		t.Fatalf("echo without faults failed: %v", r)
	}
	if r.Events < 1000 {
		t.Fatalf("echo ran only %d events", r.Events)
	}
}

// TestSameSeedSameTrace runs 200 swarm seeds twice each and requires
// identical trace hashes and event counts.
func TestSameSeedSameTrace(t *testing.T) {
	seeds := uint64(200)
	if testing.Short() {
		seeds = 40
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		a := runEcho(t, seed, "swarm", "")
		b := runEcho(t, seed, "swarm", "")
		if a.Hash != b.Hash || a.Events != b.Events {
			t.Fatalf("seed %d: hash %s (%d events) then %s (%d events), want identical", seed, a.HashString(), a.Events, b.HashString(), b.Events)
		}
		if !a.Passed {
			t.Fatalf("correct echo failed: %v", a)
		}
	}
}

func TestDifferentSeedsGiveDifferentTraces(t *testing.T) {
	seen := map[uint64]uint64{}
	mixes := map[string]bool{}
	for seed := uint64(1); seed <= 50; seed++ {
		r := runEcho(t, seed, "swarm", "")
		if prev, dup := seen[r.Hash]; dup {
			t.Fatalf("seeds %d and %d share trace hash %s", prev, seed, r.HashString())
		}
		seen[r.Hash] = seed
		mixes[r.Faults] = true
	}
	if len(mixes) < 40 {
		t.Fatalf("swarm gave only %d distinct fault mixes over 50 seeds", len(mixes))
	}
}

// TestPlantedBugsAreCaught requires every buggy echo variant to fail within
// a bounded number of swarm seeds, with the failure kind its bug implies and
// a replay command that names the variant.
func TestPlantedBugsAreCaught(t *testing.T) {
	for _, tc := range []struct {
		variant, kind string
		seedsMax      uint64
	}{
		{"no-retry", "liveness", 30},
		{"no-seq-check", "invariant", 100},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			for seed := uint64(1); seed <= tc.seedsMax; seed++ {
				r := runEcho(t, seed, "swarm", tc.variant)
				if r.Passed {
					continue
				}
				if r.Kind != tc.kind {
					t.Fatalf("variant %s failed as %q (%s), want %q", tc.variant, r.Kind, r.Reason, tc.kind)
				}
				if !strings.Contains(r.String(), "--variant "+tc.variant) || !strings.Contains(r.String(), fmt.Sprintf("--seed %d", seed)) {
					t.Fatalf("failure report lacks its replay command: %s", r)
				}
				again := runEcho(t, seed, "swarm", tc.variant)
				if again.Hash != r.Hash || again.Passed {
					t.Fatalf("replay of seed %d: hash %s passed=%v, want %s failing", seed, again.HashString(), again.Passed, r.HashString())
				}
				t.Logf("caught at seed %d: %s: %s", seed, r.Kind, r.Reason)
				return
			}
			t.Fatalf("variant %s survived %d seeds", tc.variant, tc.seedsMax)
		})
	}
}

// TestLossThenHealStillCompletes loses every message during the fault phase;
// retries must finish every request in the liveness phase.
func TestLossThenHealStillCompletes(t *testing.T) {
	r := runEcho(t, 7, "drop=1", "")
	if !r.Passed {
		t.Fatalf("echo with total loss then heal failed: %v", r)
	}
	if r.Dropped == 0 {
		t.Fatal("drop=1 dropped nothing")
	}
}

func TestFaultSpecs(t *testing.T) {
	f, err := ResolveFaults("drop=0.25,dup=0.5,partition=2/s,crash=1,unsynced=30,latency=2ms", 1)
	if err != nil {
		t.Fatal(err)
	}
	if f.Drop != 0.25 || f.Duplicate != 0.5 || f.Partition != 2 || f.Crash != 1 || f.UnsyncedKeepPct != 30 || f.LatencyBase != 2*time.Millisecond {
		t.Fatalf("ResolveFaults = %+v", f)
	}
	for _, bad := range []string{"drop=2", "nonsense=1", "drop", "unsynced=101", "crash=-1"} {
		if _, err := ResolveFaults(bad, 1); err == nil {
			t.Errorf("ResolveFaults(%q) accepted", bad)
		}
	}
	a, _ := ResolveFaults("swarm", 5)
	b, _ := ResolveFaults("swarm", 5)
	if a != b {
		t.Fatal("swarm mix differs for the same seed")
	}
	if got, _ := ResolveFaults(a.String(), 0); !got.Any() && a.Any() {
		t.Fatalf("printed mix %q does not parse back to faults", a.String())
	}
}

// scripted is a test workload: a set of processes and a done condition.
type scripted struct {
	setup func(w *World)
	done  func() bool
}

func (s *scripted) Setup(w *World) error { s.setup(w); return nil }
func (s *scripted) Done() bool {
	if s.done == nil {
		return true
	}
	return s.done()
}
func (s *scripted) Pending() string                    { return "scripted workload not done" }
func (s *scripted) Check(*World) (kind, reason string) { return "", "" }

// procFunc adapts functions to core.Process.
type procFunc struct {
	start   func(env core.Env)
	receive func(from core.Addr, m core.Message)
	stop    func()
}

func (p *procFunc) Start(env core.Env) {
	if p.start != nil {
		p.start(env)
	}
}
func (p *procFunc) Receive(from core.Addr, m core.Message) {
	if p.receive != nil {
		p.receive(from, m)
	}
}
func (p *procFunc) Stop() {
	if p.stop != nil {
		p.stop()
	}
}

func TestPanicFailsTheRunWithItsReplayCommand(t *testing.T) {
	wl := &scripted{setup: func(w *World) {
		w.AddProcess("boom", ProcOptions{}, func() core.Process {
			return &procFunc{start: func(env core.Env) {
				env.AfterFunc(time.Second, func() { panic("invariant broken") })
			}}
		})
	}, done: func() bool { return false }}
	r := Run(Config{Seed: 3, FaultPhase: 2 * time.Second}, wl, "scripted")
	if r.Passed || r.Kind != "panic" || !strings.Contains(r.Reason, "invariant broken") {
		t.Fatalf("run with a panicking process = %v, want a panic failure", r)
	}
	if !strings.Contains(r.String(), replayPrefix()+" --workload scripted --seed 3") {
		t.Fatalf("failure lacks replay command: %s", r)
	}
}

func TestBudgetsStopRunawayRuns(t *testing.T) {
	spin := &scripted{setup: func(w *World) {
		w.AddProcess("spin", ProcOptions{}, func() core.Process {
			var env core.Env
			var loop func()
			loop = func() { env.AfterFunc(0, loop) }
			return &procFunc{start: func(e core.Env) { env = e; loop() }}
		})
	}}
	r := Run(Config{Seed: 1, EventsMax: 1000}, spin, "spin")
	if r.Passed || r.Kind != "budget" {
		t.Fatalf("zero-delay timer loop = %v, want budget failure", r)
	}
	never := &scripted{setup: func(w *World) {
		w.AddProcess("idle", ProcOptions{}, func() core.Process { return &procFunc{} })
	}, done: func() bool { return false }}
	r = Run(Config{Seed: 1, FaultPhase: time.Second, LivenessBound: time.Second}, never, "never")
	if r.Passed || r.Kind != "liveness" {
		t.Fatalf("workload that never finishes = %v, want liveness failure", r)
	}
}

func TestUntilEventStopsAtThatEvent(t *testing.T) {
	wl, _ := NewWorkload("echo", Options{})
	r := Run(Config{Seed: 2, UntilEvent: 57}, wl, "echo")
	if !r.Stopped || r.Events != 57 {
		t.Fatalf("UntilEvent 57: stopped=%v events=%d", r.Stopped, r.Events)
	}
}

func TestTimersStopAndVanishWithTheirIncarnation(t *testing.T) {
	fired := map[string]int{}
	wl := &scripted{setup: func(w *World) {
		w.AddProcess("p", ProcOptions{Crashable: true}, func() core.Process {
			return &procFunc{start: func(env core.Env) {
				stopped := env.AfterFunc(time.Millisecond, func() { fired["stopped"]++ })
				if !stopped.Stop() || stopped.Stop() {
					panic("Stop must report true once, then false")
				}
				env.AfterFunc(time.Millisecond, func() { fired["kept"]++ })
				env.AfterFunc(500*time.Millisecond, func() { fired["after crash"]++ })
			}}
		})
		w.Schedule(100*time.Millisecond, "crash p", func() { w.crash(w.byAddr["p"], "test") })
	}}
	r := Run(Config{Seed: 1, FaultPhase: time.Second}, wl, "timers")
	if !r.Passed {
		t.Fatal(r)
	}
	// Boot fires "kept" once; the heal restarts p at 1s, which arms its
	// timers again and fires "kept" a second time; "after crash" of the
	// first incarnation (due at 500ms) must never fire.
	if fired["stopped"] != 0 || fired["kept"] < 1 || fired["after crash"] > fired["kept"]-1 {
		t.Fatalf("timer firings = %v", fired)
	}
}

func TestClocksDriftPerProcess(t *testing.T) {
	var times []time.Time
	wl := &scripted{setup: func(w *World) {
		for i := range 3 {
			w.AddProcess(core.Addr(fmt.Sprint("p", i)), ProcOptions{}, func() core.Process {
				return &procFunc{start: func(env core.Env) {
					env.AfterFunc(time.Second, func() { times = append(times, env.Now()) })
				}}
			})
		}
	}}
	r := Run(Config{Seed: 9, FaultSpec: "drift=500"}, wl, "drift")
	if !r.Passed || len(times) != 3 {
		t.Fatalf("run = %v, times = %v", r, times)
	}
	if times[0].Equal(times[1]) && times[1].Equal(times[2]) {
		t.Fatalf("three processes read identical clocks %v", times)
	}
}

// TestTimersNeverFireEarlyOnADriftingClock checks AfterFunc's promise on a
// drifting clock: when the timer fires, the process's own clock has moved
// by at least the requested duration, also for sub-millisecond durations.
func TestTimersNeverFireEarlyOnADriftingClock(t *testing.T) {
	var bad []string
	wl := &scripted{setup: func(w *World) {
		for i := range 4 {
			w.AddProcess(core.Addr(fmt.Sprint("p", i)), ProcOptions{}, func() core.Process {
				return &procFunc{start: func(env core.Env) {
					for _, d := range []time.Duration{1, 999, time.Microsecond, 999 * time.Microsecond, 1500 * time.Microsecond, time.Second} {
						start := env.Now()
						env.AfterFunc(d, func() {
							if got := env.Now().Sub(start); got < d {
								bad = append(bad, fmt.Sprintf("%s: AfterFunc(%v) fired after %v", env.Self(), d, got))
							}
						})
					}
				}}
			})
		}
	}}
	if r := Run(Config{Seed: 4, FaultSpec: "drift=500"}, wl, "drift-timers"); !r.Passed {
		t.Fatal(r)
	}
	if len(bad) > 0 {
		t.Fatal(strings.Join(bad, "\n"))
	}
}

// TestPauseHoldsEventsUntilItEnds: a paused process handles nothing
// during its pause, then its due timers and queued messages in the order
// they became due; its clock kept running; Disturbed sees the pause.
func TestPauseHoldsEventsUntilItEnds(t *testing.T) {
	var log []string
	var pEnv core.Env
	wl := &scripted{setup: func(w *World) {
		w.AddProcess("p", ProcOptions{}, func() core.Process {
			return &procFunc{
				start: func(env core.Env) {
					pEnv = env
					env.AfterFunc(200*time.Millisecond, func() { log = append(log, fmt.Sprintf("timer at %v", w.Now())) })
				},
				receive: func(_ core.Addr, m core.Message) {
					log = append(log, fmt.Sprintf("msg %d at %v", m.(*EchoRequest).Seq, w.Now()))
				},
			}
		})
		w.AddProcess("q", ProcOptions{}, func() core.Process {
			return &procFunc{start: func(env core.Env) {
				env.AfterFunc(300*time.Millisecond, func() { env.Send("p", &EchoRequest{Seq: 1}) })
				env.AfterFunc(400*time.Millisecond, func() { env.Send("p", &EchoRequest{Seq: 2}) })
			}}
		})
		w.Schedule(100*time.Millisecond, "pause p", func() {
			w.Pause("p", 900*time.Millisecond)
			if !w.Disturbed("p", 0) || w.Disturbed("q", 0) {
				t.Errorf("Disturbed: p %v, q %v; want p only", w.Disturbed("p", 0), w.Disturbed("q", 0))
			}
		})
		w.Schedule(1500*time.Millisecond, "check", func() {
			if w.Disturbed("p", 1100*time.Millisecond) {
				t.Error("p still disturbed after its pause ended")
			}
			if got := pEnv.Now().Sub(Epoch); got < 1500*time.Millisecond {
				t.Errorf("p's clock reads %v at 1.5s: it stopped during the pause", got)
			}
		})
	}}
	r := Run(Config{Seed: 3, FaultSpec: "latency=1ms,jitter=0s,drift=0", FaultPhase: 2 * time.Second}, wl, "pause")
	if !r.Passed {
		t.Fatal(r)
	}
	want := []string{"timer at 1s", "msg 1 at 1s", "msg 2 at 1s"}
	if !slices.Equal(log, want) {
		t.Fatalf("p handled %q, want %q", log, want)
	}
}

// TestDigestBytesSeesEveryByte: the trace hash covers message contents, so
// a payload that differs in any one byte, or only in length, must digest
// differently.
func TestDigestBytesSeesEveryByte(t *testing.T) {
	for n := 0; n <= 100; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		base := digestBytes(b)
		if digestBytes(append(b, 0)) == base {
			t.Fatalf("digest of %d bytes = digest with a zero byte appended", n)
		}
		for i := range b {
			b[i] ^= 1
			if digestBytes(b) == base {
				t.Fatalf("digest of %d bytes unchanged when byte %d flips", n, i)
			}
			b[i] ^= 1
		}
	}
}

// TestSendHoldLosesWhatACrashedSenderHeld: with Faults.SendHold a message
// waits inside its sender after Send; a crash before it left loses it,
// and AfterSent runs only once the messages sent so far have left (never,
// if the sender crashed first). Messages that left before the crash
// arrive.
func TestSendHoldLosesWhatACrashedSenderHeld(t *testing.T) {
	var got []uint64
	var sentAt, leftAt []time.Duration
	wl := &scripted{setup: func(w *World) {
		w.AddProcess("p", ProcOptions{}, func() core.Process {
			return &procFunc{receive: func(_ core.Addr, m core.Message) { got = append(got, m.(*EchoRequest).Seq) }}
		})
		w.AddProcess("q", ProcOptions{Crashable: true}, func() core.Process {
			return &procFunc{start: func(env core.Env) {
				if w.Now() > 0 {
					return // restarted: sends nothing more
				}
				env.AfterFunc(100*time.Millisecond, func() {
					env.Send("p", &EchoRequest{Seq: 1})
					sentAt = append(sentAt, w.Now())
					core.AfterSent(env, "p", func() {
						leftAt = append(leftAt, w.Now())
						env.AfterFunc(time.Millisecond, func() {
							env.Send("p", &EchoRequest{Seq: 2})
							w.Schedule(0, "crash q", func() { w.crash(w.byAddr["q"], "test") })
						})
					})
				})
			}}
		})
	}}
	r := Run(Config{Seed: 5, FaultSpec: "send_hold=50ms,latency=1ms,jitter=0s,drift=0", FaultPhase: time.Second}, wl, "send-hold")
	if !r.Passed {
		t.Fatal(r)
	}
	if len(leftAt) != 1 || leftAt[0] <= sentAt[0] {
		t.Fatalf("AfterSent ran at %v for a message sent at %v, want once, later (it waits in q)", leftAt, sentAt)
	}
	if !slices.Equal(got, []uint64{1}) {
		t.Fatalf("p received %v, want [1]: 2 was still inside q when q crashed", got)
	}
}
