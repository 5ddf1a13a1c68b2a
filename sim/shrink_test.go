package sim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestFaultsStringRoundTrips requires every printed mix to parse back to
// the very same Faults: shrink replaces "swarm" by the printed mix and
// needs the same run.
func TestFaultsStringRoundTrips(t *testing.T) {
	var mixes []Faults
	for seed := uint64(1); seed <= 2000; seed++ {
		f, err := ResolveFaults("swarm", seed)
		if err != nil {
			t.Fatal(err)
		}
		mixes = append(mixes, f)
	}
	for _, spec := range []string{"none", "tail=0.5", "tail_latency=1s", "tail=0.1,tail_latency=0s", "drift=-3,unsynced=100", "drop=1e-9,crash=999.5", "latency=0s,jitter=0s,drift=0"} {
		f, err := ResolveFaults(spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		mixes = append(mixes, f)
	}
	mixes = append(mixes, Faults{})
	for _, f := range mixes {
		got, err := ResolveFaults(f.String(), 0)
		if err != nil {
			t.Fatalf("ResolveFaults(%q) failed: %v", f.String(), err)
		}
		if got != f {
			t.Fatalf("ResolveFaults(%q) = %+v, want %+v", f.String(), got, f)
		}
	}
	for _, bad := range []string{"drop=NaN", "crash=NaN"} {
		if _, err := ResolveFaults(bad, 1); err == nil {
			t.Errorf("ResolveFaults(%q) accepted", bad)
		}
	}
}

// TestExplicitMixReplaysSwarm runs swarm seeds and their printed mixes and
// requires the same hash.
func TestExplicitMixReplaysSwarm(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		a := runEcho(t, seed, "swarm", "")
		b := runEcho(t, seed, a.Faults, "")
		if a.Hash != b.Hash {
			t.Fatalf("seed %d: swarm hash %s, --faults %s hash %s", seed, a.HashString(), a.Faults, b.HashString())
		}
	}
}

// TestShrinkFindsASmallerFailureOfAPlantedBug is the end-to-end story of a
// campaign bug: a campaign finds the planted bug, its seed replays to the
// same hash, and shrinking gives a smaller configuration that fails the
// same way and replays too.
func TestShrinkFindsASmallerFailureOfAPlantedBug(t *testing.T) {
	ctx := context.Background()
	c := Campaign{Workload: "echo", Options: Options{Variant: "no-seq-check"}, FaultSpec: "swarm", Seeds: mustSeeds(t, "1..200"), StopOnFailure: true}
	s, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed == 0 {
		t.Fatal("the campaign did not find the planted bug no-seq-check in 200 seeds")
	}
	f := s.Failures[0]
	if again := c.RunOne(c.SeedConfig(f.Seed)); again.Hash != f.Hash || again.Kind != f.Kind {
		t.Fatalf("replay of seed %d: hash %s kind %q, campaign had %s %q", f.Seed, again.HashString(), again.Kind, f.HashString(), f.Kind)
	}

	var steps []ShrinkStep
	rep, err := Shrink{Campaign: c, Seed: f.Seed, Progress: func(st ShrinkStep) { steps = append(steps, st) }}.Run(ctx)
	if err != nil {
		t.Fatalf("shrink of seed %d failed: %v", f.Seed, err)
	}
	if rep.OriginalResult.Hash != f.Hash {
		t.Fatalf("shrink's original run has hash %s, campaign %s", rep.OriginalResult.HashString(), f.HashString())
	}
	m := rep.MinimalResult
	if m.Passed || m.Kind != f.Kind {
		t.Fatalf("minimal run = %v, want a %q failure", m, f.Kind)
	}
	smaller := len(rep.FaultsRemoved) > 0 || rep.SizeAfter.Clients < rep.SizeBefore.Clients || rep.Minimal.FaultPhase < rep.Original.FaultPhase
	if !smaller {
		t.Fatalf("shrink found nothing smaller: %+v", rep)
	}
	if rep.Attempts != len(steps) || rep.Attempts == 0 || rep.Attempts > DefaultShrinkAttempts {
		t.Fatalf("%d attempts, %d progress calls", rep.Attempts, len(steps))
	}
	again := rep.Minimal.RunOne(rep.Minimal.SeedConfig(f.Seed))
	if again.Hash != m.Hash || again.Kind != m.Kind {
		t.Fatalf("minimal replay: hash %s kind %q, want %s %q", again.HashString(), again.Kind, m.HashString(), m.Kind)
	}
	cmd := rep.ReplayCommand()
	if strings.Contains(cmd, "swarm") || !strings.Contains(cmd, "--variant no-seq-check") || !strings.Contains(cmd, "--faults latency=") {
		t.Fatalf("minimal replay command %q, want an explicit fault list and the variant", cmd)
	}
	t.Logf("seed %d: removed %v, clients %d→%d, duration %v→%v, events %d→%d in %d attempts\n%s",
		f.Seed, rep.FaultsRemoved, rep.SizeBefore.Clients, rep.SizeAfter.Clients, rep.Original.FaultPhase, rep.Minimal.FaultPhase,
		rep.OriginalResult.Events, m.Events, rep.Attempts, cmd)
}

func TestShrinkIsBounded(t *testing.T) {
	c := Campaign{Workload: "echo", Options: Options{Variant: "no-retry"}, FaultSpec: "swarm"}
	for seed := uint64(1); seed <= 30; seed++ {
		if r := c.RunOne(c.SeedConfig(seed)); r.Passed {
			continue
		}
		rep, err := Shrink{Campaign: c, Seed: seed, Attempts: 3}.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if rep.Attempts > 3 {
			t.Fatalf("Attempts 3: ran %d (exhausted %v)", rep.Attempts, rep.Exhausted)
		}
		if rep.MinimalResult.Kind != "liveness" {
			t.Fatalf("minimal = %v, want liveness", rep.MinimalResult)
		}
		return
	}
	t.Fatal("no-retry survived 30 seeds")
}

func TestShrinkRejectsAPassingSeed(t *testing.T) {
	_, err := Shrink{Campaign: Campaign{Workload: "echo", FaultPhase: time.Second}, Seed: 1}.Run(context.Background())
	if !errors.Is(err, ErrNotFailing) {
		t.Fatalf("shrink of a passing seed: %v, want ErrNotFailing", err)
	}
}
