package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/sim"
)

// progressEvery is the least time between two progress lines, so that a
// long campaign shows it is alive without flooding the terminal.
const progressEvery = 2 * time.Second

// maxCount bounds --count like sim.ParseSeeds bounds a range.
const maxCount = 10_000_000

func simCommand() *cli.Command {
	return &cli.Command{
		Name:         "sim",
		Usage:        "run workloads in the deterministic simulator",
		OnUsageError: onUsageError,
		Action:       helpOrUnknown,
		Subcommands: []*cli.Command{
			{
				Name:         "list",
				Usage:        "list the workloads and their test-only variants",
				OnUsageError: onUsageError,
				Action:       simList,
			},
			{
				Name:      "run",
				Usage:     "run a workload over many seeds and summarise",
				UsageText: "gray sim run --workload NAME (--seed N | --seeds A..B | --count N [--seed S]) [options]",
				Description: "Runs one simulation per seed, in parallel. Each failure is printed as soon as it happens,\n" +
					"with its seed and the command that replays it. Exits 1 if any seed fails.",
				OnUsageError: onUsageError,
				Flags: append(worldFlags(),
					&cli.Uint64Flag{Name: "seed", Usage: "run seed `N` alone, or with --count start at it", DefaultText: "none; 1 with --count"},
					&cli.StringFlag{Name: "seeds", Usage: "run the inclusive seed range `A..B`"},
					&cli.IntFlag{Name: "count", Usage: "run `N` consecutive seeds, starting at --seed", DefaultText: "none"},
					&cli.IntFlag{Name: "parallel", Usage: "run `N` seeds at once", DefaultText: "one per CPU"},
					&cli.BoolFlag{Name: "check-determinism", Usage: "run every seed twice and fail it if the traces differ", DisableDefaultText: true},
					&cli.BoolFlag{Name: "stop-on-failure", Usage: "start no new seed after the first failure", DisableDefaultText: true},
					&cli.BoolFlag{Name: "json", Usage: "end with one line holding the summary as a JSON object", DisableDefaultText: true},
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no progress lines to stderr", DisableDefaultText: true},
				),
				Action: simRun,
			},
			{
				Name:      "replay",
				Usage:     "rerun one seed exactly, optionally with its trace or stopped early",
				UsageText: "gray sim replay --workload NAME --seed N [--faults SPEC] [--trace FILE] [--until EVENT] [options]",
				Description: "Reruns one seed with the configuration a campaign would use, so the hash matches the\n" +
					"campaign's. Paste the replay command of a failure. Exits 1 if the run fails.",
				OnUsageError: onUsageError,
				Flags: append(worldFlags(),
					&cli.Uint64Flag{Name: "seed", Usage: "the seed `N` to replay", DefaultText: "none, required"},
					&cli.StringFlag{Name: "trace", Usage: "write the full event trace to `FILE` (- for stdout)"},
					&cli.Int64Flag{Name: "until", Usage: "stop after `EVENT` events and print every process's state", DefaultText: "run to the end"},
				),
				Action: simReplay,
			},
		},
	}
}

// worldFlags are the flags that shape one run; run and replay share them so
// that a replay command built from a campaign's flags means the same thing.
func worldFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "workload", Aliases: []string{"w"}, Usage: "the workload `NAME` (see gray sim list)"},
		&cli.StringFlag{Name: "faults", Value: "none", Usage: "faults to inject: none, swarm (a random mix per seed) or a `LIST` such as drop=0.05,crash=0.1"},
		&cli.DurationFlag{Name: "duration", Value: sim.DefaultFaultPhase, Usage: "the `DURATION` of the fault phase; then all faults heal and pending work must finish"},
		&cli.IntFlag{Name: "nodes", Usage: "`N` nodes or servers, where the workload has several", DefaultText: "the workload's"},
		&cli.IntFlag{Name: "clients", Usage: "`N` concurrent clients", DefaultText: "the workload's"},
		// Hidden because the variants are planted bugs that exist to test
		// the simulator's checks, not something a user runs.
		&cli.StringFlag{Name: "variant", Hidden: true, Usage: "a test-only buggy variant of the workload"},
	}
}

// campaignFromFlags reads the flags shared by run and replay, and rejects
// extra arguments: flag parsing stops at the first one, so whatever flags
// follow it would be silently ignored.
func campaignFromFlags(c *cli.Context) (sim.Campaign, error) {
	if c.Args().Present() {
		return sim.Campaign{}, usageError("unexpected argument %q (see %s --help)", c.Args().First(), c.Command.HelpName)
	}
	name := c.String("workload")
	if name == "" {
		return sim.Campaign{}, usageError("--workload is required (one of: %s)", strings.Join(sim.WorkloadNames(), ", "))
	}
	return sim.Campaign{
		Workload:   name,
		Options:    sim.Options{Nodes: c.Int("nodes"), Clients: c.Int("clients"), Variant: c.String("variant")},
		FaultSpec:  c.String("faults"),
		FaultPhase: c.Duration("duration"),
	}, nil
}

func simList(c *cli.Context) error {
	if c.Args().Present() {
		return usageError("unexpected argument %q", c.Args().First())
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	for _, name := range sim.WorkloadNames() {
		doc, variants := sim.WorkloadDoc(name)
		fmt.Fprintf(tw, "%s\t%s\n", name, doc)
		if len(variants) > 0 {
			fmt.Fprintf(tw, "\ttest-only variants (--variant): %s\n", strings.Join(variants, ", "))
		}
	}
	return tw.Flush()
}

// seedsFromFlags applies the one seed selection the user gave.
func seedsFromFlags(c *cli.Context) ([]uint64, error) {
	seed, seeds, count := c.IsSet("seed"), c.IsSet("seeds"), c.IsSet("count")
	switch {
	case seeds && (seed || count):
		return nil, usageError("--seeds cannot be combined with --seed or --count; choose one way to select seeds")
	case seeds:
		s, err := sim.ParseSeeds(c.String("seeds"))
		if err != nil {
			return nil, usageError("--seeds: %v", err)
		}
		return s, nil
	case count:
		n := c.Int("count")
		if n < 1 || n > maxCount {
			return nil, usageError("--count %d: want 1..%d", n, maxCount)
		}
		first := uint64(1)
		if seed {
			first = c.Uint64("seed")
		}
		if first > math.MaxUint64-uint64(n-1) {
			return nil, usageError("--seed %d --count %d runs past the largest seed", first, n)
		}
		s := make([]uint64, n)
		for i := range s {
			s[i] = first + uint64(i)
		}
		return s, nil
	case seed:
		return []uint64{c.Uint64("seed")}, nil
	}
	return nil, usageError("choose the seeds to run: --seed N, --seeds A..B, or --count N [--seed S]")
}

func simRun(c *cli.Context) error {
	camp, err := campaignFromFlags(c)
	if err != nil {
		return err
	}
	if camp.Seeds, err = seedsFromFlags(c); err != nil {
		return err
	}
	camp.Parallel = c.Int("parallel")
	camp.CheckDeterminism = c.Bool("check-determinism")
	camp.StopOnFailure = c.Bool("stop-on-failure")
	if err := camp.Validate(); err != nil {
		return usageError("%v", err)
	}
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	quiet := c.Bool("quiet")
	var lastLine time.Duration
	camp.Progress = func(p sim.Progress) {
		if !p.Last.Passed {
			fmt.Fprintln(stdout, p.Last.String())
		}
		if quiet || p.Wall-lastLine < progressEvery {
			return
		}
		lastLine = p.Wall
		fmt.Fprintf(stderr, "%d/%d seeds, %d failed, %.0f events/s\n", p.Done, p.Total, p.Failed, float64(p.Events)/p.Wall.Seconds())
	}

	s, runErr := camp.Run(c.Context)
	printSummary(stdout, camp, s)
	if c.Bool("json") {
		if err := printJSON(stdout, s); err != nil {
			return cli.Exit(fmt.Sprintf("writing the JSON summary: %v", err), exitFailed)
		}
	}
	switch {
	case runErr != nil && c.Context.Err() != nil:
		return cli.Exit(fmt.Sprintf("interrupted after %d of %d seeds", s.Seeds, s.Total), exitInterrupted)
	case runErr != nil:
		return cli.Exit(runErr.Error(), exitFailed)
	case s.Failed > 0:
		return cli.Exit(fmt.Sprintf("%d of %d seeds failed", s.Failed, s.Seeds), exitFailed)
	}
	return nil
}

// printSummary prints the end of a campaign for people: one line of totals,
// what the totals mean where that is not obvious, and the counters of the
// interesting paths the runs took.
func printSummary(w io.Writer, c sim.Campaign, s sim.Summary) {
	fmt.Fprintf(w, "%d seeds: %d passed, %d failed; %d events in %.2f s (%.0f events/s); faults: %s\n",
		s.Seeds, s.Passed, s.Failed, s.Events, s.WallSeconds, s.EventsPerSecond, s.FaultSpec)
	if s.FaultSpec == "swarm" {
		fmt.Fprintln(w, "swarm: the fault mix varies per seed; each failure prints its own")
	}
	if c.CheckDeterminism {
		fmt.Fprintln(w, "determinism: every seed ran twice with identical traces unless reported above")
	}
	if s.Seeds < s.Total {
		fmt.Fprintf(w, "stopped early: %d of %d seeds not run\n", s.Total-s.Seeds, s.Total)
	}
	if len(s.Sometimes) > 0 {
		fmt.Fprintln(w, "sometimes:")
		for _, ct := range s.Sometimes {
			fmt.Fprintf(w, "  %s: %d\n", ct.Name, ct.Count)
		}
	}
}

// jsonSummary is the machine-readable campaign summary printed by --json.
type jsonSummary struct {
	Workload        string        `json:"workload"`
	FaultSpec       string        `json:"fault_spec"`
	Seeds           int           `json:"seeds"`
	Total           int           `json:"total"`
	Passed          int           `json:"passed"`
	Failed          int           `json:"failed"`
	Events          int64         `json:"events"`
	SimSeconds      float64       `json:"sim_seconds"`
	WallSeconds     float64       `json:"wall_seconds"`
	EventsPerSecond float64       `json:"events_per_second"`
	Failures        []jsonFailure `json:"failures"`
	Sometimes       []sim.Counter `json:"sometimes"`
}

type jsonFailure struct {
	Seed   uint64 `json:"seed"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Faults string `json:"faults"`
	Replay string `json:"replay"`
}

// printJSON prints s as one line, so that scripts can take the last line of
// stdout whatever came before it.
func printJSON(w io.Writer, s sim.Summary) error {
	js := jsonSummary{
		Workload: s.Workload, FaultSpec: s.FaultSpec, Seeds: s.Seeds, Total: s.Total, Passed: s.Passed, Failed: s.Failed,
		Events: s.Events, SimSeconds: s.SimSeconds, WallSeconds: s.WallSeconds, EventsPerSecond: s.EventsPerSecond,
		// Empty lists rather than null, so that consumers need no special case.
		Failures:  []jsonFailure{},
		Sometimes: append([]sim.Counter{}, s.Sometimes...),
	}
	for _, f := range s.Failures {
		js.Failures = append(js.Failures, jsonFailure{Seed: f.Seed, Kind: f.Kind, Reason: f.Reason, Faults: f.Faults, Replay: f.ReplayCommand()})
	}
	b, err := json.Marshal(js)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func simReplay(c *cli.Context) error {
	camp, err := campaignFromFlags(c)
	if err != nil {
		return err
	}
	if !c.IsSet("seed") {
		return usageError("--seed is required: the seed to replay")
	}
	seed := c.Uint64("seed")
	camp.Seeds = []uint64{seed}
	if err := camp.Validate(); err != nil {
		return usageError("%v", err)
	}
	until := c.Int64("until")
	if until < 0 {
		return usageError("--until %d: want a positive event count", until)
	}
	stdout := c.App.Writer
	cfg := camp.SeedConfig(seed)
	cfg.UntilEvent = until

	var trace *bufio.Writer
	var closeTrace func() error
	switch path := c.String("trace"); path {
	case "":
	case "-":
		trace, closeTrace = bufio.NewWriter(stdout), func() error { return nil }
	default:
		f, err := os.Create(path)
		if err != nil {
			return cli.Exit(fmt.Sprintf("--trace: %v", err), exitFailed)
		}
		trace, closeTrace = bufio.NewWriter(f), f.Close
	}
	if trace != nil {
		cfg.Trace = trace
	}

	r := camp.RunOne(cfg)
	if trace != nil {
		// The simulator ignores write errors to keep the run itself
		// unaffected; bufio keeps the first one, reported here.
		if err := errors.Join(trace.Flush(), closeTrace()); err != nil {
			return cli.Exit(fmt.Sprintf("writing the trace: %v", err), exitFailed)
		}
	}

	fmt.Fprintln(stdout, r.String())
	fmt.Fprintf(stdout, "hash: %s\n", r.HashString())
	if until > 0 {
		if r.Stopped {
			fmt.Fprintf(stdout, "stopped after event %d (--until); end-of-run checks did not run\n", r.Events)
			printStates(stdout, r.States)
		} else {
			fmt.Fprintf(stdout, "the run ended after %d events, before event %d; no states to show\n", r.Events, until)
		}
	}
	if !r.Passed {
		return cli.Exit("", exitFailed)
	}
	return nil
}

// printStates prints one block per process; a state may span lines (a
// table, a queue), so continuation lines are indented under the first.
func printStates(w io.Writer, states []sim.ProcState) {
	width := 0
	for _, st := range states {
		width = max(width, len(st.Addr))
	}
	fmt.Fprintln(w, "states:")
	for _, st := range states {
		status := "alive"
		if !st.Alive {
			status = "down"
		}
		state := st.State
		if state == "" && st.Alive {
			state = "(does not describe itself)"
		}
		pad := strings.Repeat(" ", 2+width+1+5+1)
		state = strings.ReplaceAll(strings.TrimRight(state, "\n"), "\n", "\n"+pad)
		fmt.Fprintf(w, "  %-*s %-5s %s\n", width, st.Addr, status, state)
	}
}
