package sim

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFailing is returned by Shrink.Run for a seed that passes: there is
// no failure to shrink.
var ErrNotFailing = errors.New("sim: the seed passes, so there is no failure to shrink; check the workload, seed, faults and flags")

// ErrNotReproducible is returned by Shrink.Run when a configuration does
// not give the same run twice (a determinism bug, or a fault list that does
// not print exactly); a shrunk case would not replay.
var ErrNotReproducible = errors.New("sim: run not reproducible")

// DefaultShrinkAttempts bounds the candidate runs of a shrink when
// Shrink.Attempts is 0.
const DefaultShrinkAttempts = 200

// shrinkDurationMin is the shortest fault phase a shrink tries: shorter
// phases leave too little time for a workload to start.
const shrinkDurationMin = 100 * time.Millisecond

// Sizer is implemented by workloads with world-size knobs. Size returns
// the sizes in effect, defaults filled in (Options.Nodes, Options.Clients);
// a zero field means the workload has no such knob. Shrink reduces only the
// knobs a workload reports.
type Sizer interface {
	Size() Options
}

// Shrink searches for a smaller configuration of a failing seed that still
// fails with the same failure kind, the way test-case reducers do for
// inputs: fewer faults, a smaller world, a shorter fault phase. The seed
// stays the same; every change gives a different run, which either still
// fails the same way (the change is kept) or does not (it is undone).
//
// The search, in rounds until a round changes nothing or the attempts run
// out:
//
//  1. Once, before the rounds: the fault spec ("swarm", "none" or a list)
//     is replaced by the seed's resolved mix as an explicit list
//     (Faults.String). That is the same run, which Run checks by its hash.
//  2. Each fault is removed in turn (its rate or probability set to 0;
//     jitter and drift count as faults too); removals that still fail are
//     kept.
//  3. Each size knob the workload reports (Sizer) is halved while the run
//     still fails, then decremented while it still fails.
//  4. The fault phase is halved while the run still fails, down to 100ms.
type Shrink struct {
	// Campaign holds the failing configuration: Workload, Options,
	// FaultSpec and FaultPhase. Its seeds, budget, parallelism and
	// progress are ignored.
	Campaign Campaign
	// Seed is the failing seed.
	Seed uint64
	// Attempts bounds the candidate runs; 0 means DefaultShrinkAttempts.
	Attempts int
	// Progress, when set, is called after every candidate run.
	Progress func(ShrinkStep)
}

// ShrinkStep is one candidate run of a shrink.
type ShrinkStep struct {
	// Attempt counts candidate runs from 1; Attempts is the bound.
	Attempt, Attempts int
	// Change says what the candidate changed: "remove crash",
	// "clients 3→1", "duration 10s→5s".
	Change string
	// Result is the candidate's run.
	Result Result
	// Kept reports that the candidate failed with the same kind, so the
	// change was kept.
	Kept bool
}

// ShrinkReport is the outcome of a shrink.
type ShrinkReport struct {
	// Original is the configuration as given (defaults filled in) and
	// OriginalResult its failing run.
	Original       Campaign
	OriginalResult Result
	// Minimal is the smallest configuration found that fails with the same
	// kind, and MinimalResult its run, which was run twice to the same
	// hash. Its ReplayCommand reproduces it.
	Minimal       Campaign
	MinimalResult Result
	// Attempts is the number of candidate runs; Exhausted reports that
	// the bound stopped the search before it converged.
	Attempts  int
	Exhausted bool
	// FaultsRemoved names the faults of the original mix (keys of the
	// fault list: "crash", "dup", "jitter"…) that Minimal no longer has.
	FaultsRemoved []string
	// SizeBefore and SizeAfter are the world sizes in effect (Sizer); zero
	// fields are knobs the workload does not have.
	SizeBefore, SizeAfter Options
}

// ReplayCommand is the command that reproduces the minimal failure.
func (r ShrinkReport) ReplayCommand() string { return r.MinimalResult.ReplayCommand() }

// faultKnobs are the faults a shrink tries to remove, in order. clear sets
// the fault to zero and reports whether it was on.
var faultKnobs = []struct {
	key   string
	clear func(f *Faults) bool
}{
	{"tail", func(f *Faults) bool {
		on := f.TailProb != 0 || f.TailLatency != 0
		f.TailProb, f.TailLatency = 0, 0
		return on
	}},
	{"drop", func(f *Faults) bool { on := f.Drop != 0; f.Drop = 0; return on }},
	{"dup", func(f *Faults) bool { on := f.Duplicate != 0; f.Duplicate = 0; return on }},
	{"reorder", func(f *Faults) bool { on := f.Reorder != 0; f.Reorder = 0; return on }},
	{"partition", func(f *Faults) bool { on := f.Partition != 0; f.Partition = 0; return on }},
	{"clog", func(f *Faults) bool { on := f.Clog != 0; f.Clog = 0; return on }},
	{"crash", func(f *Faults) bool { on := f.Crash != 0; f.Crash = 0; return on }},
	{"disk", func(f *Faults) bool { on := f.DiskError != 0; f.DiskError = 0; return on }},
	{"shm_refuse", func(f *Faults) bool { on := f.ShmRefuse != 0; f.ShmRefuse = 0; return on }},
	{"unsynced", func(f *Faults) bool { on := f.UnsyncedKeepPct != 0; f.UnsyncedKeepPct = 0; return on }},
	{"jitter", func(f *Faults) bool { on := f.LatencyJitter != 0; f.LatencyJitter = 0; return on }},
	{"drift", func(f *Faults) bool { on := f.DriftPPM != 0; f.DriftPPM = 0; return on }},
}

// shrinkKey identifies a candidate configuration, so that none runs twice.
type shrinkKey struct {
	spec  string
	opts  Options
	phase time.Duration
}

// Run shrinks the failure. It returns ErrNotFailing if the seed passes and
// an error wrapping ErrNotReproducible if a run does not repeat. When ctx
// is cancelled it stops and returns the smallest failure found so far,
// verified, along with ctx's error.
func (s Shrink) Run(ctx context.Context) (ShrinkReport, error) {
	c := s.Campaign
	c.Seeds, c.For, c.Continue, c.CheckDeterminism, c.StopOnFailure, c.Progress = []uint64{s.Seed}, 0, false, false, false, nil
	if err := c.Validate(); err != nil {
		return ShrinkReport{}, err
	}
	if c.FaultSpec == "" {
		c.FaultSpec = "none"
	}
	if c.FaultPhase == 0 {
		c.FaultPhase = DefaultFaultPhase
	}
	attemptsMax := s.Attempts
	if attemptsMax <= 0 {
		attemptsMax = DefaultShrinkAttempts
	}
	run := func(c Campaign) Result { return c.RunOne(c.SeedConfig(s.Seed)) }

	orig := run(c)
	if orig.Passed || orig.Stopped {
		return ShrinkReport{Original: c, OriginalResult: orig}, fmt.Errorf("%w (%s seed %d: %s)", ErrNotFailing, c.Workload, s.Seed, orig)
	}
	rep := ShrinkReport{Original: c, OriginalResult: orig, SizeBefore: sizeOf(c)}
	kind := orig.Kind

	// Step 1: the explicit list must give the very same run.
	origFaults, err := ResolveFaults(c.FaultSpec, s.Seed)
	if err != nil {
		return rep, err // Validate parsed the spec already
	}
	best, bestR := c, orig
	if explicit := origFaults.String(); explicit != c.FaultSpec {
		cand := c
		cand.FaultSpec = explicit
		r := run(cand)
		if r.Hash != orig.Hash || r.Kind != kind {
			return rep, fmt.Errorf("%w: --faults %s gives hash %s (%s), but %s gives %s (%s); Faults.String must print the mix exactly",
				ErrNotReproducible, explicit, r.HashString(), r.Kind, c.FaultSpec, orig.HashString(), kind)
		}
		best, bestR = cand, r
	}

	tried := map[shrinkKey]bool{}
	try := func(cand Campaign, change string) bool {
		if rep.Attempts >= attemptsMax {
			rep.Exhausted = true
			return false
		}
		if ctx.Err() != nil {
			return false
		}
		key := shrinkKey{spec: cand.FaultSpec, opts: cand.Options, phase: cand.FaultPhase}
		if kept, dup := tried[key]; dup {
			return kept
		}
		if cand.Validate() != nil {
			tried[key] = false // a size the workload rejects: not a run
			return false
		}
		rep.Attempts++
		r := run(cand)
		kept := !r.Passed && !r.Stopped && r.Kind == kind
		tried[key] = kept
		if s.Progress != nil {
			s.Progress(ShrinkStep{Attempt: rep.Attempts, Attempts: attemptsMax, Change: change, Result: r, Kept: kept})
		}
		if kept {
			best, bestR = cand, r
		}
		return kept
	}

	for {
		before := shrinkKey{spec: best.FaultSpec, opts: best.Options, phase: best.FaultPhase}
		// Step 2: faults.
		for _, k := range faultKnobs {
			f, err := ResolveFaults(best.FaultSpec, s.Seed)
			if err != nil {
				return rep, err // best.FaultSpec was printed by Faults.String
			}
			if !k.clear(&f) {
				continue
			}
			cand := best
			cand.FaultSpec = f.String()
			try(cand, "remove "+k.key)
		}
		// Step 3: sizes.
		for _, knob := range []struct {
			name string
			get  func(o Options) int
			set  func(o *Options, n int)
		}{
			{"clients", func(o Options) int { return o.Clients }, func(o *Options, n int) { o.Clients = n }},
			{"nodes", func(o Options) int { return o.Nodes }, func(o *Options, n int) { o.Nodes = n }},
		} {
			resize := func(n int) bool {
				from := knob.get(sizeOf(best))
				cand := best
				knob.set(&cand.Options, n)
				return try(cand, fmt.Sprintf("%s %d→%d", knob.name, from, n))
			}
			n := knob.get(sizeOf(best))
			for n > 1 && resize(n/2) {
				n = knob.get(sizeOf(best))
			}
			for n > 1 && resize(n-1) {
				n = knob.get(sizeOf(best))
			}
		}
		// Step 4: duration.
		for best.FaultPhase > shrinkDurationMin {
			cand := best
			cand.FaultPhase = max(best.FaultPhase/2, shrinkDurationMin)
			if !try(cand, fmt.Sprintf("duration %v→%v", best.FaultPhase, cand.FaultPhase)) {
				break
			}
		}
		after := shrinkKey{spec: best.FaultSpec, opts: best.Options, phase: best.FaultPhase}
		if after == before || rep.Exhausted || ctx.Err() != nil {
			break
		}
	}

	// The minimal case must replay: run it again and compare.
	again := run(best)
	if again.Hash != bestR.Hash || again.Kind != bestR.Kind || again.Events != bestR.Events {
		return rep, fmt.Errorf("%w: %s gave hash %s (%s, %d events), then %s (%s, %d events)",
			ErrNotReproducible, bestR.ReplayCommand(), bestR.HashString(), bestR.Kind, bestR.Events, again.HashString(), again.Kind, again.Events)
	}
	rep.Minimal, rep.MinimalResult, rep.SizeAfter = best, bestR, sizeOf(best)
	faultsMin, err := ResolveFaults(best.FaultSpec, s.Seed)
	if err != nil {
		return rep, err
	}
	for _, k := range faultKnobs {
		was, now := origFaults, faultsMin
		if k.clear(&was) && !k.clear(&now) {
			rep.FaultsRemoved = append(rep.FaultsRemoved, k.key)
		}
	}
	return rep, ctx.Err()
}

// sizeOf returns the world sizes in effect for c, or zero Options if the
// workload reports none (or rejects c's options).
func sizeOf(c Campaign) Options {
	wl, err := NewWorkload(c.Workload, c.Options)
	if err != nil {
		return Options{}
	}
	if sz, ok := wl.(Sizer); ok {
		return sz.Size()
	}
	return Options{}
}
