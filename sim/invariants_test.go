package sim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/internal/invariants"
)

// checkedProc is a process whose state breaks at its nth timer, and
// which counts how often its invariants were checked.
type checkedProc struct {
	procFunc
	ticks, breakAt, checks int
}

func (p *checkedProc) CheckInvariants() error {
	p.checks++
	if p.breakAt > 0 && p.ticks >= p.breakAt {
		return errors.New("ticks beyond the bound")
	}
	return nil
}

// TestInvariantsCheckedAfterEveryEvent: with the invariants tag the
// world checks a process after every event delivered to it and fails
// the run with kind invariant, naming the process, its type and the
// event; without the tag it never calls CheckInvariants.
func TestInvariantsCheckedAfterEveryEvent(t *testing.T) {
	run := func(breakAt int) (Result, *checkedProc) {
		p := &checkedProc{breakAt: breakAt}
		wl := &scripted{setup: func(w *World) {
			w.AddProcess("p", ProcOptions{}, func() core.Process {
				p.start = func(env core.Env) {
					var tick func()
					tick = func() {
						p.ticks++
						if p.ticks < 10 {
							env.AfterFunc(time.Millisecond, tick)
						}
					}
					env.AfterFunc(time.Millisecond, tick)
				}
				return p
			})
		}}
		return Run(Config{Seed: 1, FaultPhase: time.Second}, wl, "checked"), p
	}
	r, p := run(0)
	if !r.Passed {
		t.Fatalf("run of a healthy process = %v, want a pass", r)
	}
	want := 0
	if invariants.Enabled {
		want = 11 // its start and ten timers
	}
	if p.checks != want {
		t.Fatalf("CheckInvariants ran %d times (invariants.Enabled = %v), want %d", p.checks, invariants.Enabled, want)
	}
	r, _ = run(4)
	if !invariants.Enabled {
		if !r.Passed {
			t.Fatalf("run without the invariants tag = %v, want a pass: nothing checks", r)
		}
		return
	}
	if r.Passed || r.Kind != "invariant" {
		t.Fatalf("run of a process that breaks at its 4th timer = %v, want an invariant failure", r)
	}
	t.Logf("reason: %s", r.Reason)
	for _, s := range []string{"p (*sim.checkedProc)", "timer #", "ticks beyond the bound"} {
		if !strings.Contains(r.Reason, s) {
			t.Errorf("reason %q does not contain %q", r.Reason, s)
		}
	}
	if !strings.Contains(r.ReplayCommand(), "go run -tags invariants ./cmd/gray sim replay") {
		t.Errorf("replay command %q does not build with the invariants tag, without which the check does not run", r.ReplayCommand())
	}
}
