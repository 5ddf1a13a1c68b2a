package sim

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSeeds(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    []uint64
		wantErr string
	}{
		{spec: "7", want: []uint64{7}},
		{spec: " 3..5 ", want: []uint64{3, 4, 5}},
		{spec: "0..0", want: []uint64{0}},
		{spec: "18446744073709551614..18446744073709551615", want: []uint64{1<<64 - 2, 1<<64 - 1}},
		{spec: "1..10000000", want: nil}, // exactly the limit; checked by length below
		{spec: "5..4", wantErr: "ends before it starts"},
		{spec: "1..10000001", wantErr: "at most"},
		{spec: "0..18446744073709551615", wantErr: "at most"},
		{spec: "", wantErr: "not a seed"},
		{spec: "x", wantErr: "not a seed"},
		{spec: "-1", wantErr: "not a seed"},
		{spec: "1..", wantErr: "not a seed"},
		{spec: "..3", wantErr: "not a seed"},
		{spec: "1...3", wantErr: "not a seed"},
		{spec: "1..2..3", wantErr: "not a seed"},
		{spec: "18446744073709551616", wantErr: "64 bits"},
	} {
		got, err := ParseSeeds(tc.spec)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseSeeds(%q) = %d seeds, %v; want error containing %q", tc.spec, len(got), err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSeeds(%q) failed: %v", tc.spec, err)
			continue
		}
		if tc.want == nil {
			if len(got) != seedsMax || got[0] != 1 || got[len(got)-1] != seedsMax {
				t.Errorf("ParseSeeds(%q) = %d seeds from %d, want %d from 1", tc.spec, len(got), got[0], seedsMax)
			}
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ParseSeeds(%q) = %v, want %v", tc.spec, got, tc.want)
		}
	}
}

func mustSeeds(t *testing.T, spec string) []uint64 {
	t.Helper()
	seeds, err := ParseSeeds(spec)
	if err != nil {
		t.Fatal(err)
	}
	return seeds
}

// TestCampaignDoesNotDependOnParallel runs the same campaign on one and on
// two goroutines and requires the same summary, wall-clock figures aside.
func TestCampaignDoesNotDependOnParallel(t *testing.T) {
	base := Campaign{Workload: "echo", FaultSpec: "swarm", FaultPhase: 2 * time.Second, Seeds: mustSeeds(t, "1..40")}
	var sums [2]Summary
	for i, parallel := range []int{1, 2} {
		c := base
		c.Parallel = parallel
		s, err := c.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if s.Seeds != 40 || s.Passed != 40 || len(s.Results) != 40 {
			t.Fatalf("Parallel %d: %d seeds, %d passed, %d results; want 40 of each", parallel, s.Seeds, s.Passed, len(s.Results))
		}
		s.WallSeconds, s.EventsPerSecond = 0, 0
		for j := range s.Results {
			s.Results[j].Wall = 0 // wall-clock time, the one field runs may differ in
		}
		sums[i] = s
	}
	for i := range sums[0].Results {
		a, b := sums[0].Results[i], sums[1].Results[i]
		if a.Seed != b.Seed || a.Hash != b.Hash || a.Events != b.Events {
			t.Errorf("result %d: Parallel 1 gives seed %d hash %s (%d events), Parallel 2 gives seed %d hash %s (%d events)",
				i, a.Seed, a.HashString(), a.Events, b.Seed, b.HashString(), b.Events)
		}
	}
	if !reflect.DeepEqual(sums[0], sums[1]) {
		t.Fatalf("Parallel 2 summary differs from Parallel 1:\n%+v\n%+v", sums[1], sums[0])
	}
	if len(sums[0].Sometimes) == 0 || !slices.IsSortedFunc(sums[0].Sometimes, func(a, b Counter) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatalf("Sometimes = %v, want a non-empty list sorted by name", sums[0].Sometimes)
	}
}

func TestCampaignChecksDeterminism(t *testing.T) {
	var calls, lastDone int
	c := Campaign{
		Workload: "echo", FaultSpec: "swarm", Seeds: mustSeeds(t, "1..30"), CheckDeterminism: true,
		Progress: func(p Progress) {
			calls++
			if p.Done != lastDone+1 || p.Total != 30 {
				t.Errorf("progress %d: Done %d of %d after %d", calls, p.Done, p.Total, lastDone)
			}
			lastDone = p.Done
		},
	}
	s, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Seeds != 30 || s.Failed != 0 {
		t.Fatalf("determinism campaign: %d seeds, %d failed (%v), want 30 seeds all passing", s.Seeds, s.Failed, s.Failures)
	}
	if calls != 30 {
		t.Fatalf("Progress called %d times, want 30", calls)
	}
}

// TestCampaignStopsOnFailure needs the planted bug to show well before the
// last of 2000 seeds, and the campaign to stop scheduling once it does.
func TestCampaignStopsOnFailure(t *testing.T) {
	var last Progress
	c := Campaign{
		Workload: "echo", Options: Options{Variant: "no-seq-check"}, FaultSpec: "swarm",
		FaultPhase: 2 * time.Second, Seeds: mustSeeds(t, "1..2000"), StopOnFailure: true, Parallel: 2,
		Progress: func(p Progress) { last = p },
	}
	s, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed < 1 || len(s.Failures) != s.Failed {
		t.Fatalf("no-seq-check campaign: %d failed, %d failures listed; want at least one", s.Failed, len(s.Failures))
	}
	if last.Done >= last.Total || s.Seeds >= s.Total || s.Total != 2000 {
		t.Fatalf("campaign ran %d of %d seeds (progress %d of %d), want it to stop early", s.Seeds, s.Total, last.Done, last.Total)
	}
	f := s.Failures[0]
	if f.Kind != "invariant" || !strings.Contains(f.ReplayCommand(), "--variant no-seq-check --duration 2s") {
		t.Fatalf("failure = %v, want an invariant failure whose replay names the variant and duration", f)
	}
}

func TestCampaignStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := Campaign{
		Workload: "echo", Seeds: mustSeeds(t, "1..1000"), Parallel: 1, FaultPhase: time.Second,
		Progress: func(p Progress) {
			if p.Done == 5 {
				cancel()
			}
		},
	}
	s, err := c.Run(ctx)
	if err != context.Canceled {
		t.Fatalf("cancelled campaign returned %v, want context.Canceled", err)
	}
	if s.Seeds != 5 || s.Passed != 5 {
		t.Fatalf("cancelled campaign ran %d seeds (%d passed), want the 5 before cancelling", s.Seeds, s.Passed)
	}
}

func TestCampaignRejectsBadConfig(t *testing.T) {
	for _, c := range []Campaign{
		{Workload: "nope", Seeds: []uint64{1}},
		{Workload: "echo", Options: Options{Variant: "nope"}, Seeds: []uint64{1}},
		{Workload: "echo", Options: Options{Clients: -1}, Seeds: []uint64{1}},
		{Workload: "echo", FaultSpec: "drop=7", Seeds: []uint64{1}},
		{Workload: "echo"},
		{Workload: "echo", Seeds: []uint64{1}, FaultPhase: -time.Second},
	} {
		if _, err := c.Run(context.Background()); err == nil {
			t.Errorf("Run(%+v) accepted", c)
		}
	}
}

func TestSeedConfigMatchesReplayFlags(t *testing.T) {
	for _, tc := range []struct {
		c    Campaign
		want string
	}{
		{Campaign{Workload: "echo"}, "--faults none"},
		{Campaign{Workload: "echo", FaultPhase: 10 * time.Second}, "--faults none"},
		{Campaign{Workload: "echo", FaultSpec: "drop=0.1,dup=0.2", FaultPhase: 1500 * time.Millisecond, Options: Options{Clients: 2}},
			"--faults drop=0.1,dup=0.2 --clients 2 --duration 1.5s"},
	} {
		cfg := tc.c.SeedConfig(9)
		r := Result{Workload: "echo", Seed: 9, FaultSpec: cfg.FaultSpec, ReplayArgs: cfg.ReplayArgs}
		want := replayPrefix() + " --workload echo --seed 9 " + tc.want
		if got := r.ReplayCommand(); got != want {
			t.Errorf("replay of %+v = %q, want %q", tc.c, got, want)
		}
	}
}
