package sim

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
)

// pathsWorkload declares two paths and reaches only one; with variant
// "fail" it also fails and attaches a file.
type pathsWorkload struct{ fail bool }

func init() {
	RegisterWorkload("test-paths", "test only: declares a path it never reaches", []string{"fail"}, func(o Options) (Workload, error) {
		return &pathsWorkload{fail: o.Variant == "fail"}, nil
	})
}

func (p *pathsWorkload) Setup(w *World) error {
	w.AddProcess("p", ProcOptions{}, func() core.Process {
		return &procFunc{start: func(env core.Env) {
			env.AfterFunc(time.Millisecond, func() {
				w.Sometimes("reached")
				w.Attach("note.txt", []byte("attached"))
				if p.fail {
					w.Fail("invariant", "planted")
				}
			})
		}}
	})
	return nil
}
func (p *pathsWorkload) Done() bool                         { return true }
func (p *pathsWorkload) Pending() string                    { return "" }
func (p *pathsWorkload) Check(*World) (kind, reason string) { return "", "" }
func (p *pathsWorkload) SometimesPaths() []string {
	return []string{"reached", "never reached", "reached"}
}

func TestCoverageListsPathsNeverReached(t *testing.T) {
	s, err := Campaign{Workload: "test-paths", Seeds: mustSeeds(t, "1..3"), FaultPhase: 10 * time.Millisecond}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Counter{{Name: "reached", Count: 3}, {Name: "never reached", Count: 0}}
	if !slices.Equal(s.Coverage, want) || !slices.Equal(s.NotReached, []string{"never reached"}) {
		t.Fatalf("Coverage = %v, NotReached = %v; want %v and [never reached]", s.Coverage, s.NotReached, want)
	}
}

// TestEchoCoverage requires a swarm campaign over echo to reach every path
// echo declares, and a campaign without faults to report the fault paths
// as not reached.
func TestEchoCoverage(t *testing.T) {
	s, err := Campaign{Workload: "echo", FaultSpec: "swarm", FaultPhase: 2 * time.Second, Seeds: mustSeeds(t, "1..60")}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Coverage) != 7 || len(s.NotReached) != 0 {
		t.Fatalf("swarm over echo: coverage %v, not reached %v; want all 7 declared paths reached", s.Coverage, s.NotReached)
	}
	s, err = Campaign{Workload: "echo", FaultSpec: "none", FaultPhase: time.Second, Seeds: mustSeeds(t, "1..3")}.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.NotReached, "fault: crash") || slices.Contains(s.NotReached, "echo answered") {
		t.Fatalf("echo without faults: not reached %v, want the fault paths and not the answers", s.NotReached)
	}
}

func TestAttachmentsAreKeptOnlyOnFailure(t *testing.T) {
	c := Campaign{Workload: "test-paths", FaultPhase: 10 * time.Millisecond}
	if r := c.RunOne(c.SeedConfig(1)); !r.Passed || r.Attachments != nil {
		t.Fatalf("passing run = %v with %d attachments, want none", r, len(r.Attachments))
	}
	c.Options.Variant = "fail"
	r := c.RunOne(c.SeedConfig(1))
	if r.Passed || len(r.Attachments) != 1 || r.Attachments[0].Name != "note.txt" || string(r.Attachments[0].Data) != "attached" {
		t.Fatalf("failing run = %v with attachments %v, want note.txt", r, r.Attachments)
	}
}

func TestAttachRejectsPathNames(t *testing.T) {
	w, err := NewWorld(Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	w.Attach("ok-name_1.html", nil)
	w.Attach("ok-name_1.html", []byte("x")) // replaces
	if len(w.attachments) != 1 || string(w.attachments[0].Data) != "x" {
		t.Fatalf("attachments = %v, want one replaced file", w.attachments)
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", "a b", strings.Repeat("x", 101)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Attach(%q) did not panic", bad)
				}
			}()
			w.Attach(bad, nil)
		}()
	}
}

func TestCampaignForRunsConsecutiveSeedsUntilTheBudget(t *testing.T) {
	var totals []int
	// The budget's clock advances 100 ms per finished seed, whatever the
	// machine's load: a 300 ms budget ends the campaign once 3 seeds
	// finished, and seeds already dispatched then still run.
	var finished atomic.Int64
	t0 := time.Unix(0, 0)
	clock := func() time.Time { return t0.Add(time.Duration(finished.Load()) * 100 * time.Millisecond) }
	c := Campaign{clock: clock, Workload: "echo", FaultSpec: "swarm", FaultPhase: time.Second, Seeds: []uint64{50}, For: 300 * time.Millisecond, Continue: true,
		Parallel: 2, Progress: func(p Progress) { totals = append(totals, p.Total); finished.Add(1) }}
	s, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Seeds < 3 || s.Seeds > 5 || s.Total != s.Seeds || !s.OutOfTime || s.Failed != 0 {
		t.Fatalf("budget campaign: %d seeds of %d, out of time %v, %d failed; want 3 to 5 seeds (3 in the budget, 2 at most already dispatched), all run", s.Seeds, s.Total, s.OutOfTime, s.Failed)
	}
	for i, r := range s.Results {
		if r.Seed != 50+uint64(i) {
			t.Fatalf("result %d has seed %d, want consecutive seeds from 50", i, r.Seed)
		}
	}
	if totals[0] != 0 {
		t.Fatalf("progress of an open-ended campaign has Total %d, want 0", totals[0])
	}
	// A budget also caps a list.
	finished.Store(0)
	c = Campaign{clock: clock, Workload: "echo", FaultSpec: "swarm", Seeds: mustSeeds(t, "1..1000000"), For: 200 * time.Millisecond,
		Parallel: 2, Progress: func(Progress) { finished.Add(1) }}
	s, err = c.Run(context.Background())
	if err != nil || !s.OutOfTime || s.Seeds < 2 || s.Seeds > 4 {
		t.Fatalf("capped campaign: %d of %d seeds, out of time %v, err %v; want 2 to 4", s.Seeds, s.Total, s.OutOfTime, err)
	}
	if err := (Campaign{Workload: "echo", Seeds: []uint64{1}, Continue: true}).Validate(); err == nil {
		t.Fatal("an open-ended campaign without a budget validated")
	}
}
