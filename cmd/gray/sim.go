package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/sim"
	"github.com/grayrt/gray/sim/report"
)

// countMax bounds --count like sim.ParseSeeds bounds a range.
const countMax = 10_000_000

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
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "names", Usage: "print only the workload names, one per line (for scripts)", DisableDefaultText: true},
				},
				Action: simList,
			},
			{
				Name:      "run",
				Usage:     "run a workload over many seeds and summarise",
				UsageText: "gray sim run --workload NAME (--seed N | --seeds A..B | --count N [--seed S] | --for DURATION [--seed S]) [options]",
				Description: "Runs one simulation per seed, in parallel. Each failure is printed as soon as it happens,\n" +
					"with its seed and the command that replays it. Exits 1 if any seed fails.\n" +
					"Each seed runs in a worker process (gray itself), so a seed that crashes the process (a Go\n" +
					"runtime fatal error, a panic outside the simulation), hangs (--seed-timeout) or exhausts\n" +
					"memory (--seed-memory) fails alone, with kind crash; --in-process runs seeds in this process.\n" +
					"--out DIR writes summary.json, junit.xml, index.html and, per failing seed, its replay\n" +
					"command, text and Chrome traces and attachments.",
				OnUsageError: onUsageError,
				Flags: append(worldFlags(),
					&cli.Uint64Flag{Name: "seed", Usage: "run seed `N` alone, or with --count or --for start at it", DefaultText: "none; 1 with --count or --for"},
					&cli.StringFlag{Name: "seeds", Usage: "run the inclusive seed range `A..B`"},
					&cli.IntFlag{Name: "count", Usage: "run `N` consecutive seeds, starting at --seed", DefaultText: "none"},
					&cli.DurationFlag{Name: "for", Usage: "run consecutive seeds from --seed for `DURATION` of wall time (with --seeds or --count: stop starting seeds after it)", DefaultText: "no time budget"},
					&cli.StringFlag{Name: "out", Usage: "write the campaign's report to folder `DIR` (created if missing): summary.json, junit.xml, index.html, seed-N/ per failure"},
					&cli.IntFlag{Name: "out-traces", Value: report.TracesDefault, Usage: "with --out, re-run at most `N` failing seeds (plus the first of each failure kind) to write their traces"},
					&cli.IntFlag{Name: "parallel", Usage: "run `N` seeds at once", DefaultText: "one per CPU"},
					&cli.BoolFlag{Name: "check-determinism", Usage: "run every seed twice and fail it if the traces differ", DisableDefaultText: true},
					&cli.BoolFlag{Name: "stop-on-failure", Usage: "start no new seed after the first failure", DisableDefaultText: true},
					&cli.BoolFlag{Name: "json", Usage: "end with one line holding the summary as a JSON object", DisableDefaultText: true},
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no progress lines to stderr", DisableDefaultText: true},
					&cli.BoolFlag{Name: "in-process", Usage: "run the seeds in this process instead of worker processes (for a debugger or a profile; a crashing seed then ends the campaign)", DisableDefaultText: true},
					&cli.DurationFlag{Name: "seed-timeout", Value: sim.DefaultSeedWallMax, Usage: "fail a seed as a crash when its worker has no result after `DURATION` of wall time (both runs with --check-determinism)"},
					&cli.StringFlag{Name: "seed-memory", Value: seedMemoryDefault, Usage: "fail a seed as a crash when its worker's resident memory exceeds `SIZE` (such as 512MiB or 4GiB; 0 for no bound; enforced on Linux)"},
				),
				Action: simRun,
			},
			{
				// The worker of an isolated campaign: sim run starts gray
				// itself with these arguments for each worker process.
				Name:         "serve-seeds",
				Usage:        "serve seeds to a parent campaign on stdin and stdout (internal)",
				Hidden:       true,
				OnUsageError: onUsageError,
				Action:       simServeSeeds,
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
					&cli.StringFlag{Name: "chrome", Usage: "write a Chrome trace-event JSON file to `FILE` (- for stdout), for ui.perfetto.dev or chrome://tracing"},
					&cli.Int64Flag{Name: "until", Usage: "stop after `EVENT` events and print every process's state", DefaultText: "run to the end"},
				),
				Action: simReplay,
			},
			shrinkCommand(),
			serveCommand(),
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
		&cli.IntFlag{Name: "tasks", Usage: "`N` tasks in all, where the workload runs a set number (scale)", DefaultText: "the workload's"},
		&cli.IntFlag{Name: "actors", Usage: "`N` actors in all, where the workload runs a set number (scale)", DefaultText: "the workload's"},
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
		Options:    sim.Options{Nodes: c.Int("nodes"), Clients: c.Int("clients"), Tasks: c.Int("tasks"), Actors: c.Int("actors"), Variant: c.String("variant")},
		FaultSpec:  c.String("faults"),
		FaultPhase: c.Duration("duration"),
	}, nil
}

func simList(c *cli.Context) error {
	if c.Args().Present() {
		return usageError("unexpected argument %q", c.Args().First())
	}
	if c.Bool("names") {
		for _, name := range sim.WorkloadNames() {
			fmt.Fprintln(c.App.Writer, name)
		}
		return nil
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

// seedsFromFlags applies the one seed selection the user gave to camp:
// its Seeds and, with --for, its time budget.
func seedsFromFlags(c *cli.Context, camp *sim.Campaign) error {
	seed, seeds, count, budget := c.IsSet("seed"), c.IsSet("seeds"), c.IsSet("count"), c.IsSet("for")
	if budget {
		camp.For = c.Duration("for")
		if camp.For <= 0 {
			return usageError("--for %v: want a positive duration such as 90s or 10m", camp.For)
		}
	}
	switch {
	case seeds && (seed || count):
		return usageError("--seeds cannot be combined with --seed or --count; choose one way to select seeds")
	case seeds:
		s, err := sim.ParseSeeds(c.String("seeds"))
		if err != nil {
			return usageError("--seeds: %v", err)
		}
		camp.Seeds = s
		return nil
	case count:
		n := c.Int("count")
		if n < 1 || n > countMax {
			return usageError("--count %d: want 1..%d", n, countMax)
		}
		first := uint64(1)
		if seed {
			first = c.Uint64("seed")
		}
		if first > math.MaxUint64-uint64(n-1) {
			return usageError("--seed %d --count %d runs past the largest seed", first, n)
		}
		camp.Seeds = make([]uint64, n)
		for i := range camp.Seeds {
			camp.Seeds[i] = first + uint64(i)
		}
		return nil
	case budget:
		first := uint64(1)
		if seed {
			first = c.Uint64("seed")
		}
		camp.Seeds, camp.Continue = []uint64{first}, true
		return nil
	case seed:
		camp.Seeds = []uint64{c.Uint64("seed")}
		return nil
	}
	return usageError("choose the seeds to run: --seed N, --seeds A..B, --count N [--seed S] or --for DURATION [--seed S]")
}

func simRun(c *cli.Context) error {
	camp, err := campaignFromFlags(c)
	if err != nil {
		return err
	}
	if err := seedsFromFlags(c, &camp); err != nil {
		return err
	}
	camp.Parallel = c.Int("parallel")
	camp.CheckDeterminism = c.Bool("check-determinism")
	camp.StopOnFailure = c.Bool("stop-on-failure")
	if !c.Bool("in-process") {
		iso, err := isolationFromFlags(c)
		if err != nil {
			return err
		}
		camp.Isolate = iso
	}
	if err := camp.Validate(); err != nil {
		return usageError("%v", err)
	}
	outDir := c.String("out")
	outTraces := c.Int("out-traces")
	if outTraces < 0 {
		return usageError("--out-traces %d: want 0 or more", outTraces)
	}
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	bar := newProgressBar(stderr, isTerminal(stderr), c.Bool("quiet"))
	camp.Progress = func(p sim.Progress) {
		if !p.Last.Passed {
			bar.clear()
			fmt.Fprintln(stdout, p.Last.String())
		}
		bar.update(p)
	}

	s, runErr := camp.Run(c.Context)
	bar.finish()
	if runErr != nil && c.Context.Err() == nil {
		// Not a cancellation: the campaign could not start (a seed
		// worker that does not start), so there is nothing to report.
		return cli.Exit(runErr.Error(), exitFailed)
	}
	rep := report.NewSummary(camp, s, commandLine(c))
	printSummary(stdout, camp, s)
	var outErr error
	if outDir != "" {
		// The report is written even for an interrupted campaign: what
		// ran is worth keeping. Its re-runs are not interrupted, so
		// use a context that is never cancelled.
		outErr = report.Write(context.WithoutCancel(c.Context), outDir, camp, s, &rep, outTraces)
		for _, f := range rep.Failures {
			if strings.HasPrefix(f.Note, "NONDETERMINISTIC") {
				fmt.Fprintf(stdout, "seed %d: %s\n", f.Seed, f.Note)
			}
		}
		if outErr == nil {
			fmt.Fprintf(stdout, "report: %s\n", filepath.Join(outDir, "index.html"))
		}
	}
	if c.Bool("json") {
		if err := printJSON(stdout, rep); err != nil {
			return cli.Exit(fmt.Sprintf("writing the JSON summary: %v", err), exitFailed)
		}
	}
	switch {
	case runErr != nil:
		return cli.Exit(fmt.Sprintf("interrupted after %d seeds", s.Seeds), exitInterrupted)
	case outErr != nil:
		return cli.Exit(fmt.Sprintf("writing the report to %s: %v", outDir, outErr), exitFailed)
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
	if c.For > 0 && s.OutOfTime {
		fmt.Fprintf(w, "time budget of %v spent after %d seeds (%d..%d)\n", c.For, s.Seeds, firstSeed(s), lastSeed(s))
	} else if c.Continue {
		fmt.Fprintf(w, "ran seeds %d..%d within the time budget of %v\n", firstSeed(s), lastSeed(s), c.For)
	}
	if s.Seeds < s.Total {
		fmt.Fprintf(w, "stopped early: %d of %d seeds not run\n", s.Total-s.Seeds, s.Total)
	}
	if len(s.Sometimes) > 0 {
		fmt.Fprintln(w, "sometimes (times reached, in how many seeds):")
		for _, ct := range s.Sometimes {
			fmt.Fprintf(w, "  %s: %d in %d seeds\n", ct.Name, ct.Count, ct.Seeds)
		}
	}
	if len(s.Coverage) > 0 {
		fmt.Fprintf(w, "coverage: %d of %d paths %s declares were reached\n", len(s.Coverage)-len(s.NotReached), len(s.Coverage), s.Workload)
		for _, ct := range s.Coverage {
			fmt.Fprintf(w, "  %s: %d\n", ct.Name, ct.Count)
		}
		for _, name := range s.NotReached {
			fmt.Fprintf(w, "not reached: %s\n", name)
		}
	}
}

func firstSeed(s sim.Summary) uint64 {
	if len(s.Results) == 0 {
		return 0
	}
	return s.Results[0].Seed
}

func lastSeed(s sim.Summary) uint64 {
	if len(s.Results) == 0 {
		return 0
	}
	return s.Results[len(s.Results)-1].Seed
}

// printJSON prints rep as one line, so that scripts can take the last line
// of stdout whatever came before it.
func printJSON(w io.Writer, rep report.Summary) error {
	b, err := json.Marshal(rep)
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

	if c.String("trace") == "-" && c.String("chrome") == "-" {
		return usageError("--trace and --chrome cannot both write to stdout")
	}
	trace, closeTrace, err := createOutput(c.String("trace"), stdout)
	if err != nil {
		return cli.Exit(fmt.Sprintf("--trace: %v", err), exitFailed)
	}
	if trace != nil {
		cfg.Trace = trace
	}
	chromeOut, closeChrome, err := createOutput(c.String("chrome"), stdout)
	if err != nil {
		return cli.Exit(fmt.Sprintf("--chrome: %v", err), exitFailed)
	}
	var chrome *sim.ChromeTrace
	if chromeOut != nil {
		chrome = sim.NewChromeTrace(chromeOut, fmt.Sprintf("%s seed %d", camp.Workload, seed))
		cfg.Observer = chrome.Observe
	}

	r := camp.RunOne(cfg)
	if trace != nil {
		// The simulator ignores write errors to keep the run itself
		// unaffected; bufio keeps the first one, reported here.
		if err := errors.Join(trace.Flush(), closeTrace()); err != nil {
			return cli.Exit(fmt.Sprintf("writing the trace: %v", err), exitFailed)
		}
	}
	if chrome != nil {
		if r.Stopped {
			chrome.Mark(fmt.Sprintf("stopped after event %d (--until)", r.Events), r.SimTime)
		}
		if err := errors.Join(chrome.Close(), chromeOut.Flush(), closeChrome()); err != nil {
			return cli.Exit(fmt.Sprintf("writing the Chrome trace: %v", err), exitFailed)
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

// createOutput opens path for writing, buffered: "" is no output, "-" is
// stdout (which close leaves open).
func createOutput(path string, stdout io.Writer) (w *bufio.Writer, close func() error, err error) {
	switch path {
	case "":
		return nil, nil, nil
	case "-":
		return bufio.NewWriter(stdout), func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return bufio.NewWriter(f), f.Close, nil
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

// commandLine is the command the user ran, as "gray" and its arguments
// quoted for a shell.
func commandLine(c *cli.Context) string {
	args, _ := c.App.Metadata[metaArgs].([]string)
	parts := []string{"gray"}
	for _, a := range args {
		parts = append(parts, sim.ShellQuote(a))
	}
	return strings.Join(parts, " ")
}
