package simtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grayrt/gray/internal/invariants"
	"github.com/grayrt/gray/sim"
	"github.com/grayrt/gray/sim/report"
)

// Options configure Run. Zero fields take the defaults; the -gray.* flags
// of the test binary override them (see the package documentation).
type Options struct {
	// Cluster is the simulated cluster's shape.
	Cluster Cluster
	// Seeds is the seed selection, "N" or "A..B"; default "1..100".
	Seeds string
	// Faults is the fault spec, as gray sim run takes it: "none",
	// "swarm" (a random mix per seed) or a list such as
	// "drop=0.05,crash=0.5"; default "swarm".
	Faults string
	// FaultPhase is how long faults are injected; then everything heals
	// and the driver must finish within a minute of simulated time.
	// Default 10s of simulated time.
	FaultPhase time.Duration
	// Repeat runs the driver round after round, each on a new driver
	// process with a job of its own (as each run of a program is), until
	// the fault phase ends, and once more after healing; so a short
	// program meets the faults. Without it the driver runs once.
	Repeat bool
	// CheckDeterminism runs every seed twice and fails it if the two runs
	// differ (the program did something the seed does not decide).
	CheckDeterminism bool
	// Parallel is how many seeds run at once; default GOMAXPROCS.
	Parallel int
	// Isolate runs seeds in child processes (this test binary again), so
	// that a seed that crashes the Go runtime (a fatal error, a stack
	// overflow in user code), exhausts memory or hangs fails alone, as a
	// seed of kind "crash", and the campaign goes on. Without it such a
	// seed takes the test binary down.
	Isolate bool
	// ShortSeeds is how many seeds, the first ones of Seeds, run under
	// go test -short (unless -gray.seeds names them); default 10, and a
	// negative value runs all of them even then. CI runs everything.
	ShortSeeds int
	// Out, if not empty, is the folder the campaign's report is written
	// to, as `gray sim run --out` writes it: summary.json, junit.xml,
	// index.html and a folder per failing seed with its replay command
	// and traces. A relative path is relative to the test's package
	// folder (where go test runs the test binary).
	Out string
}

// Flags of the test binary, for `go test ... -args -gray.seed=N`.
var (
	flagSeed        = flag.String("gray.seed", "", "replay only this seed, writing its text and Chrome traces (see -gray.trace)")
	flagSeeds       = flag.String("gray.seeds", "", "the seeds to run, \"N\" or \"A..B\" (overrides Options.Seeds)")
	flagFaults      = flag.String("gray.faults", "", "the fault spec: none, swarm or a list (overrides Options.Faults)")
	flagDeterminism = flag.Bool("gray.check-determinism", false, "run every seed twice and compare the runs")
	flagTrace       = flag.String("gray.trace", "", "the folder a replayed seed's traces go to (default a temporary folder)")
	flagIsolate     = flag.Bool("gray.isolate", false, "run seeds in child processes (see Options.Isolate)")
	flagOut         = flag.String("gray.out", "", "write the campaign's report folder here (see Options.Out)")
)

// childEnv marks a child process that serves seeds of one test's Run.
const childEnv = "GRAY_SIMTEST_CHILD"

// registered maps the workload names Run registered with package sim to
// the driver and options of their latest Run, so that a test run twice
// (-count) or a workload built again for determinism uses them.
var registered = struct {
	sync.Mutex
	m map[string]*entry
}{m: map[string]*entry{}}

type entry struct {
	main func(context.Context) error
	opts Options
}

// Run runs driver, a program written against package gray's API, on a
// simulated cluster for every seed, with faults, and fails t with the
// seed, the fault mix and the replay command of each failing seed. A
// seed fails when the driver returns an error in a run without faults, in
// a round started after healing, or one that is not a documented
// consequence of faults (see Documented); when it does not finish within
// a minute of simulated time after healing; when a component's check or
// assertion fails; or when the program does something the simulator
// cannot run deterministically (see the package documentation).
//
// driver must make its gray calls with the ctx it is given (or contexts
// derived from it without deadlines): that ctx reaches the simulated
// driver process. gray.Init(ctx) inside it returns a runtime bound to
// that process, so a program's own run(ctx) function can be passed as
// it is.
func Run(t *testing.T, driver func(ctx context.Context) error, opts Options) {
	t.Helper()
	if opts.Seeds == "" {
		opts.Seeds = "1..100"
	}
	if opts.Faults == "" {
		opts.Faults = "swarm"
	}
	short := ""
	if *flagSeeds != "" {
		opts.Seeds = *flagSeeds
	} else if testing.Short() {
		short = shortSeeds(&opts)
	}
	if *flagFaults != "" {
		opts.Faults = *flagFaults
	}
	opts.CheckDeterminism = opts.CheckDeterminism || *flagDeterminism
	opts.Isolate = opts.Isolate || *flagIsolate
	if *flagOut != "" {
		opts.Out = *flagOut
	}
	name := "simtest:" + t.Name()
	register(name, driver, opts)

	camp, err := campaign(t, name, opts)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	if *flagSeed != "" {
		replay(t, camp)
		return
	}
	if *flagSeeds == "" {
		camp.For = deadlineBudget(t)
	}
	s, err := camp.Run(context.Background())
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	t.Logf("simtest: %d seeds%s, %d passed, %d failed (faults %s), %d events in %.1fs", s.Seeds, short, s.Passed, s.Failed, opts.Faults, s.Events, s.WallSeconds)
	if s.OutOfTime {
		t.Logf("simtest: the test binary's -timeout came first: %d of the %d seeds of %s ran (a slow or loaded machine); give go test a longer -timeout, or -args -gray.seeds=%s, to run them all", s.Seeds, s.Total, opts.Seeds, opts.Seeds)
	}
	if opts.Out != "" {
		writeReport(t, camp, s, opts)
	}
	const shown = 5
	for i, f := range s.Failures {
		if i == shown {
			t.Errorf("… and %d more failing seeds", len(s.Failures)-shown)
			break
		}
		t.Errorf("%s", f.String())
	}
}

// deadlineBudget is the wall time a campaign may spend starting seeds
// before the test binary's -timeout would kill the whole run (and lose
// every report); 0 (no budget) without a deadline.
func deadlineBudget(t *testing.T) time.Duration {
	d, ok := t.Deadline()
	if !ok {
		return 0
	}
	return budgetOf(time.Until(d))
}

// budgetOf keeps back a fifth of the time left, and at least half a
// minute, for the seeds still running when the budget is spent and for
// the report; it is at least a second, so that a campaign always starts.
func budgetOf(left time.Duration) time.Duration {
	return max(left-max(left/5, 30*time.Second), time.Second)
}

// shortSeeds cuts opts.Seeds to its first opts.ShortSeeds seeds for go
// test -short and says so in the words Run logs ("" when nothing is cut).
// A selection it cannot parse is left for campaign to refuse.
func shortSeeds(opts *Options) string {
	n := opts.ShortSeeds
	if n == 0 {
		n = 10
	}
	seeds, err := sim.ParseSeeds(opts.Seeds)
	if n < 0 || err != nil || len(seeds) <= n {
		return ""
	}
	cut := fmt.Sprintf(" (-short: the first %d of %s)", n, opts.Seeds)
	opts.Seeds = fmt.Sprintf("%d..%d", seeds[0], seeds[n-1])
	return cut
}

// Campaign runs driver as Run does, without flags, and returns the
// campaign's summary instead of failing t: for tests of the checks
// themselves (a planted bug must fail), and for programs that report
// results their own way. Each failure's Result carries its seed, fault mix
// and replay command. t names the workload and the replay command.
func Campaign(t *testing.T, driver func(ctx context.Context) error, opts Options) (sim.Summary, error) {
	if opts.Seeds == "" {
		opts.Seeds = "1..100"
	}
	if opts.Faults == "" {
		opts.Faults = "swarm"
	}
	name := "simtest:" + t.Name()
	register(name, driver, opts)
	camp, err := campaign(t, name, opts)
	if err != nil {
		return sim.Summary{}, err
	}
	return camp.Run(context.Background())
}

// campaign is the sim.Campaign of t's registered workload name.
func campaign(t *testing.T, name string, opts Options) (sim.Campaign, error) {
	seeds, err := sim.ParseSeeds(opts.Seeds)
	if err != nil {
		return sim.Campaign{}, err
	}
	c := sim.Campaign{Workload: name, FaultSpec: opts.Faults, FaultPhase: opts.FaultPhase, Seeds: seeds,
		CheckDeterminism: opts.CheckDeterminism, Parallel: opts.Parallel,
		Replay: func(seed uint64, spec string) string { return replayCommand(t, seed, spec) }}
	if opts.Isolate {
		exe, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("finding the test binary to start seed workers: %w", err)
		}
		c.Isolate = &sim.Isolation{Command: []string{exe, "-test.run", runPattern(t), "-test.count=1"}, Env: []string{childEnv + "=" + name}}
	}
	return c, nil
}

// runPattern is the -test.run pattern that selects exactly t.
func runPattern(t *testing.T) string {
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// register registers the workload name running driver. In a child
// process of an isolated campaign of name it then serves the parent's
// seeds and ends the process.
func register(name string, driver func(context.Context) error, opts Options) {
	registerWorkload(name, driver, opts)
	if os.Getenv(childEnv) == name {
		if err := sim.ServeSeeds(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

func registerWorkload(name string, driver func(context.Context) error, opts Options) {
	registered.Lock()
	defer registered.Unlock()
	if e, ok := registered.m[name]; ok {
		e.main, e.opts = driver, opts
		return
	}
	e := &entry{main: driver, opts: opts}
	registered.m[name] = e
	sim.RegisterWorkload(name, "a driver program run by simtest.Run", nil, func(sim.Options) (sim.Workload, error) {
		registered.Lock()
		defer registered.Unlock()
		return &workload{cl: e.opts.Cluster, main: e.main, repeat: e.opts.Repeat}, nil
	})
}

// replay runs the one seed of -gray.seed with its text and Chrome traces
// written to -gray.trace, and fails t if it fails.
func replay(t *testing.T, camp sim.Campaign) {
	seed, err := sim.ParseSeeds(*flagSeed)
	if err != nil || len(seed) != 1 {
		t.Fatalf("simtest: -gray.seed=%q: want one seed", *flagSeed)
	}
	dir := *flagTrace
	if dir == "" {
		dir = t.TempDir()
		if d, err := os.MkdirTemp("", "gray-simtest-"); err == nil {
			dir = d // kept after the test, unlike t.TempDir
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("simtest: %v", err)
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-seed-%d", safeName(t.Name()), seed[0]))
	r, err := report.WriteTraces(base+".trace.txt", base+".chrome.json", camp, seed[0], fmt.Sprintf("%s seed %d", t.Name(), seed[0]))
	if err != nil {
		t.Errorf("simtest: writing the traces: %v", err)
	}
	t.Logf("%s\nhash: %s\ntrace: %s.trace.txt\nChrome trace (chrome://tracing, ui.perfetto.dev): %s.chrome.json", r.String(), r.HashString(), base, base)
	if !r.Passed {
		t.Fail()
	}
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, s)
}

// replayCommand is the go test command that replays seed of t's Run.
func replayCommand(t *testing.T, seed uint64, spec string) string {
	return fmt.Sprintf("%s -run '%s' %s -args -gray.seed=%d -gray.faults=%s", goTest(), runPattern(t), packageDir(), seed, sim.ShellQuote(spec))
}

// goTest is go test as this test binary was built: an invariants build
// replays with the tag, since an invariant checked only in that build
// fails only in it.
func goTest() string {
	if invariants.Enabled {
		return "go test -tags invariants"
	}
	return "go test"
}

// writeReport writes the report folder of campaign camp's run s to
// opts.Out, and fails t if it cannot.
func writeReport(t *testing.T, camp sim.Campaign, s sim.Summary, opts Options) {
	t.Helper()
	cmd := fmt.Sprintf("%s -run '%s' %s -args -gray.seeds=%s -gray.faults=%s -gray.out=%s",
		goTest(), runPattern(t), packageDir(), sim.ShellQuote(opts.Seeds), sim.ShellQuote(opts.Faults), sim.ShellQuote(opts.Out))
	if opts.CheckDeterminism {
		cmd += " -gray.check-determinism"
	}
	js := report.NewSummary(camp, s, cmd)
	if err := report.Write(context.Background(), opts.Out, camp, s, &js, report.TracesDefault); err != nil {
		t.Errorf("simtest: writing the report to %s: %v", opts.Out, err)
		return
	}
	dir, err := filepath.Abs(opts.Out)
	if err != nil {
		dir = opts.Out
	}
	for _, f := range js.Failures {
		if strings.HasPrefix(f.Note, "NONDETERMINISTIC") {
			t.Errorf("seed %d: %s", f.Seed, f.Note)
		}
	}
	t.Logf("simtest: report in %s (index.html, summary.json, junit.xml)", dir)
}

// packageDir is the test's package as a path from the module root
// ("./examples/pi"): go test runs a test binary in its package's folder.
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rel, err := filepath.Rel(dir, wd)
			if err != nil || rel == "." {
				return "."
			}
			return "./" + filepath.ToSlash(rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}
