package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// seedsMax bounds one seed range so that a typo ("1..1000000000000") fails
// at once instead of allocating the seed list.
const seedsMax = 10_000_000

// Campaign runs one workload over many seeds, in parallel, and sums up the
// results. Each seed gets a fresh workload and a World of its own; a run is
// single-goroutine and deterministic, so the Summary (except its wall-clock
// figures) does not depend on Parallel.
//
// Campaign (with its seed workers, isolate.go) is the only part of package
// sim that reads the wall clock or starts goroutines and processes, and it
// does so only to time, parallelise and isolate whole runs, never inside
// one.
type Campaign struct {
	// clock is the campaign's wall clock (time.Now when nil): tests give
	// the budget a clock of their own, so that how many seeds a budget
	// allows does not depend on the machine's speed or load.
	clock func() time.Time

	Workload string
	Options  Options // world size and variant
	// FaultSpec is "none", "swarm" or a list (see ResolveFaults); "" means
	// "none".
	FaultSpec string
	// FaultPhase is the length of the fault phase; 0 takes Config's default.
	FaultPhase time.Duration
	// Seeds are run in this order; Summary.Results are sorted by seed.
	Seeds []uint64
	// For, when positive, is a wall-clock budget: no new seed starts once
	// For has passed since the campaign started (a seed already running
	// finishes). Seeds that did not start count as not run.
	For time.Duration
	// Continue makes the campaign open-ended: after the last of Seeds it
	// goes on with the consecutive seeds that follow it until For is spent
	// (or StopOnFailure or the context stop it). It requires For, so that
	// the campaign has a bound, and stops at the largest seed.
	Continue bool
	// Parallel is how many seeds run at once; 0 means
	// runtime.GOMAXPROCS(0).
	Parallel int
	// CheckDeterminism runs every seed twice and fails it with kind
	// "determinism" if the two runs differ in trace hash or event count.
	CheckDeterminism bool
	// StopOnFailure stops scheduling new seeds after the first failure;
	// seeds already running finish and are reported.
	StopOnFailure bool
	// Replay, when set, returns the command that replays a seed under the
	// fault spec (Config.Replay); nil means gray sim replay's.
	Replay func(seed uint64, faultSpec string) string
	// Progress, when set, is called after each seed with the totals so
	// far. Calls never overlap, so it may print without locking.
	Progress func(p Progress)
	// Isolate, when set, runs every seed in a child process (a seed
	// worker, see Isolation), so that a seed that crashes its process, hangs
	// or runs out of memory fails alone, with kind "crash", and the
	// campaign goes on. Nil runs the seeds in this process, where such a
	// seed ends the whole campaign.
	Isolate *Isolation
}

// Progress is a campaign's state after one more seed finished.
type Progress struct {
	// Total is len(Seeds), or 0 for a Continue campaign, whose end is set
	// by Budget instead.
	Done, Total, Failed int
	// Budget is the campaign's For (0 without one).
	Budget time.Duration
	Events int64         // summed over the seeds done
	Wall   time.Duration // since the campaign started
	Last   Result        // the seed that just finished
}

// Summary is the outcome of a campaign.
type Summary struct {
	Workload  string
	FaultSpec string
	// Seeds is how many seeds ran to the end: Passed + Failed. It is less
	// than Total when the campaign stopped early (StopOnFailure or a
	// cancelled context).
	Seeds, Passed, Failed int
	// Total is how many seeds the campaign was asked to run; for a
	// Continue campaign, how many it started.
	Total int
	// OutOfTime reports that the For budget was spent before every seed
	// ran (always true for a Continue campaign that ran to its budget).
	OutOfTime bool
	// Events and SimSeconds are summed over Results. With
	// CheckDeterminism the simulator did twice this work.
	Events      int64
	SimSeconds  float64
	WallSeconds float64
	// EventsPerSecond is Events / WallSeconds.
	EventsPerSecond float64
	// Failures are the failed Results, sorted by seed.
	Failures []Result
	// Results holds one Result per seed run, sorted by seed.
	Results []Result
	// Sometimes sums every run's counters, sorted by name. Paths that never
	// ran do not appear.
	Sometimes []Counter
	// Coverage lists the paths the workload declares (PathDeclarer) in
	// its order, each with its count summed over the runs; nil when the
	// workload declares none.
	Coverage []Counter
	// NotReached lists the declared paths no run reached, in declared
	// order.
	NotReached []string
}

// Validate reports a campaign that cannot run: an unknown workload or
// variant, options the workload rejects, a bad fault spec, or no seeds. It
// builds one workload to find out, so the error is the workload's own.
func (c Campaign) Validate() error {
	if _, err := NewWorkload(c.Workload, c.Options); err != nil {
		return err
	}
	if _, err := ResolveFaults(c.FaultSpec, 0); err != nil {
		return err
	}
	if c.FaultPhase < 0 {
		return fmt.Errorf("sim: fault phase %v is negative", c.FaultPhase)
	}
	if c.Parallel < 0 {
		return fmt.Errorf("sim: parallel = %d, want 0 (one per CPU) or more", c.Parallel)
	}
	if len(c.Seeds) == 0 {
		return errors.New("sim: campaign has no seeds")
	}
	if c.For < 0 {
		return fmt.Errorf("sim: time budget %v is negative", c.For)
	}
	if c.Continue && c.For == 0 {
		return errors.New("sim: an open-ended campaign (Continue) needs a time budget (For)")
	}
	if c.Isolate != nil {
		return c.Isolate.validate()
	}
	return nil
}

// seedAt returns the i-th seed to run and whether there is one.
func (c Campaign) seedAt(i int) (uint64, bool) {
	if i < len(c.Seeds) {
		return c.Seeds[i], true
	}
	if !c.Continue || i >= seedsMax {
		return 0, false
	}
	last := c.Seeds[len(c.Seeds)-1]
	extra := uint64(i - len(c.Seeds) + 1)
	if last > math.MaxUint64-extra {
		return 0, false
	}
	return last + extra, true
}

// SeedConfig is the Config of one seed of the campaign. The replay command
// of its Result carries the flags that rebuild exactly this Config, so
// `gray sim replay` reproduces the run's hash.
func (c Campaign) SeedConfig(seed uint64) Config {
	spec := c.FaultSpec
	if spec == "" {
		spec = "none"
	}
	args := c.Options.ReplayArgs()
	if c.FaultPhase != 0 && c.FaultPhase != DefaultFaultPhase {
		args = append(args, "--duration", c.FaultPhase.String())
	}
	cfg := Config{Seed: seed, FaultSpec: spec, FaultPhase: c.FaultPhase, ReplayArgs: args}
	if c.Replay != nil {
		cfg.Replay = c.Replay(seed, spec)
	}
	return cfg
}

// RunOne runs the campaign's workload once with cfg (normally SeedConfig,
// perhaps with Trace or UntilEvent set). A panic outside the processes —
// in the workload's Setup, Done or Check — fails the run with kind "panic"
// instead of taking down the campaign.
func (c Campaign) RunOne(cfg Config) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{
				Workload: c.Workload, Seed: cfg.Seed, FaultSpec: cfg.FaultSpec, ReplayArgs: cfg.ReplayArgs, Replay: cfg.Replay,
				Kind: "panic", Reason: fmt.Sprintf("panic in workload %s: %v\n%s", c.Workload, p, shortStack()),
			}
		}
	}()
	wl, err := NewWorkload(c.Workload, c.Options)
	if err != nil {
		return Result{Workload: c.Workload, Seed: cfg.Seed, FaultSpec: cfg.FaultSpec, ReplayArgs: cfg.ReplayArgs, Replay: cfg.Replay, Kind: "config", Reason: err.Error()}
	}
	return Run(cfg, wl, c.Workload)
}

// runSeed runs one seed, twice when checking determinism, and times it.
func (c Campaign) runSeed(seed uint64) (r Result) {
	start := time.Now()
	defer func() { r.Wall = time.Since(start) }()
	cfg := c.SeedConfig(seed)
	r = c.RunOne(cfg)
	if !c.CheckDeterminism {
		return r
	}
	again := c.RunOne(cfg)
	if again.Hash != r.Hash || again.Events != r.Events {
		// A nondeterministic seed trumps any other failure: its replay
		// command would not reproduce what was reported.
		r.Passed = false
		r.Kind = "determinism"
		r.Reason = fmt.Sprintf("same seed, different runs: hash %s after %d events, then %s after %d events; %s",
			r.HashString(), r.Events, again.HashString(), again.Events, c.explainDivergence(cfg))
	}
	return r
}

// Run runs every seed and returns the summary of those that finished. It
// returns an error for an invalid campaign (see Validate) or, with
// Isolate, a seed worker that cannot start, and ctx's error, along with the
// summary so far, when ctx is cancelled: no new seed starts after that,
// but a seed already running is not interrupted.
func (c Campaign) Run(ctx context.Context) (Summary, error) {
	if err := c.Validate(); err != nil {
		return Summary{}, err
	}
	spec := c.FaultSpec
	if spec == "" {
		spec = "none"
	}
	parallel := c.Parallel
	if parallel == 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	runSeed := c.runSeed
	if c.Isolate != nil {
		pool, err := newWorkerPool(*c.Isolate, parallel)
		if err != nil {
			return Summary{}, err
		}
		defer pool.close()
		runSeed = func(seed uint64) Result { return pool.runSeed(c, seed) }
	}
	total := len(c.Seeds)
	if c.Continue {
		total = 0 // open-ended: the budget decides
	}
	now := c.clock
	if now == nil {
		now = time.Now
	}
	start := now()
	outOfTime := func() bool { return c.For > 0 && now().Sub(start) >= c.For }

	// results[i] belongs to the i-th seed; indexing by position rather
	// than appending in completion order keeps the Summary independent of
	// scheduling, even for duplicate seeds. Both grow under mu as seeds
	// finish: a budgeted campaign over a huge range must not allocate a
	// Result per seed it will never run (allocating a million of them
	// used up a 200 ms budget before the first seed started).
	var (
		results []Result
		ran     []bool
		mu      sync.Mutex // guards results, ran, stop and the progress totals, and serialises Progress
		stop    bool
		expired bool
		done    int
		failed  int
		events  int64
		g       errgroup.Group
		stopped = func() bool { mu.Lock(); defer mu.Unlock(); return stop }
	)
	g.SetLimit(parallel)
	for i := 0; ; i++ {
		seed, ok := c.seedAt(i)
		if !ok || ctx.Err() != nil || stopped() {
			break
		}
		if outOfTime() {
			expired = true
			break
		}
		g.Go(func() error {
			// Go may have waited for a free slot since the check above,
			// and the seed that freed it may have failed or cancelled. The
			// budget is checked only at dispatch, in seed order: checking
			// it here too could skip this seed while a later one, already
			// started, runs — a gap in a campaign of consecutive seeds.
			if ctx.Err() != nil || stopped() {
				return nil
			}
			r := runSeed(seed)
			mu.Lock()
			defer mu.Unlock()
			for len(results) <= i {
				results = append(results, Result{})
				ran = append(ran, false)
			}
			results[i], ran[i] = r, true
			done++
			events += r.Events
			if !r.Passed {
				failed++
				stop = stop || c.StopOnFailure
			}
			if c.Progress != nil {
				c.Progress(Progress{Done: done, Total: total, Failed: failed, Events: events, Wall: now().Sub(start), Budget: c.For, Last: r})
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through results, never an error
	wall := now().Sub(start)

	s := Summary{Workload: c.Workload, FaultSpec: spec, Total: len(c.Seeds), WallSeconds: wall.Seconds()}
	counters := map[string]int64{}
	seeds := map[string]int{} // how many seeds reached each counter
	for i, r := range results {
		if !ran[i] {
			continue
		}
		s.Results = append(s.Results, r)
	}
	slices.SortStableFunc(s.Results, func(a, b Result) int {
		switch {
		case a.Seed < b.Seed:
			return -1
		case a.Seed > b.Seed:
			return 1
		}
		return 0
	})
	var simTime time.Duration
	for _, r := range s.Results {
		s.Seeds++
		if r.Passed {
			s.Passed++
		} else {
			s.Failed++
			s.Failures = append(s.Failures, r)
		}
		s.Events += r.Events
		simTime += r.SimTime
		for _, ct := range r.Sometimes {
			counters[ct.Name] += ct.Count
			if ct.Count > 0 {
				seeds[ct.Name]++
			}
		}
	}
	s.SimSeconds = simTime.Seconds()
	if s.WallSeconds > 0 {
		s.EventsPerSecond = float64(s.Events) / s.WallSeconds
	}
	names := make([]string, 0, len(counters))
	for name := range counters { //gray:unordered sorted right after the loop
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s.Sometimes = append(s.Sometimes, Counter{Name: name, Count: counters[name], Seeds: seeds[name]})
	}
	s.Coverage, s.NotReached = c.coverage(counters)
	if c.Continue {
		s.Total = s.Seeds
	}
	// A seed that waited for a slot may also have seen the budget spent.
	s.OutOfTime = expired || c.For > 0 && s.Seeds < len(c.Seeds) && ctx.Err() == nil && !stop
	if err := ctx.Err(); err != nil && (s.Seeds < s.Total || c.Continue && !expired) {
		return s, err
	}
	return s, nil
}

// ParseSeeds parses a seed selection: a single seed "N" or an inclusive
// range "A..B" of at most ten million seeds. The returned slice is new and
// owned by the caller.
func ParseSeeds(spec string) ([]uint64, error) {
	spec = strings.TrimSpace(spec)
	lo, hi, isRange := strings.Cut(spec, "..")
	a, err := parseSeed(lo)
	if err != nil {
		return nil, fmt.Errorf("sim: seeds %q: %w (want N or A..B)", spec, err)
	}
	if !isRange {
		return []uint64{a}, nil
	}
	b, err := parseSeed(hi)
	if err != nil {
		return nil, fmt.Errorf("sim: seeds %q: %w (want N or A..B)", spec, err)
	}
	if b < a {
		return nil, fmt.Errorf("sim: seeds %q: range ends before it starts", spec)
	}
	// Compare before adding one so that 0..MaxUint64 cannot overflow.
	if b-a >= seedsMax {
		return nil, fmt.Errorf("sim: seeds %q: %d seeds, at most %d per campaign", spec, b-a+1, seedsMax)
	}
	seeds := make([]uint64, 0, b-a+1)
	for s := a; ; s++ {
		seeds = append(seeds, s)
		if s == b {
			break // b may be MaxUint64, so stop before s++ wraps
		}
	}
	return seeds, nil
}

func parseSeed(s string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, fmt.Errorf("seed %q does not fit in 64 bits", s)
		}
		return 0, fmt.Errorf("%q is not a seed", s)
	}
	return n, nil
}
