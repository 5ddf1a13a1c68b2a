package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/internal/bench"
)

// Budgets of the simulator figures per workload.
const (
	simBudgetFull  = 10 * time.Second
	simBudgetQuick = 3 * time.Second
	// How long sequential GCS puts are timed per configuration (single
	// and replicated).
	gcsWritesFull  = 5 * time.Second
	gcsWritesQuick = 1500 * time.Millisecond
	// quickShrink divides Ray's batch sizes in --quick runs, so that one
	// call of the largest case (40,000 tasks, whose raylet cost grows
	// faster than the batch) takes about a second.
	quickShrink = 20
)

// benchCommand is `gray bench`: Ray's microbenchmarks, the machine's
// limits and the simulator's speed in one run (docs/performance.md).
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "Ray's microbenchmark suite next to the machine's limits and the simulator's speed (docs/performance.md)",
		Description: "Runs each of Ray's microbenchmark cases (python/ray/_private/ray_perf.py) under Ray's name\n" +
			"on a fresh runtime of --setting, timed as Ray's timeit does, and prints each as mean ± std\n" +
			"ops/s (GB/s for gigabyte cases) with its ratio to the best round of the limit that bounds\n" +
			"it (a Go channel round trip for calls, memcpy for gigabytes; in the cluster setting a libp2p\n" +
			"round trip and one libp2p stream's throughput), measured in short rounds right before the\n" +
			"cases it bounds, and to Ray's published figure. The libp2p limits are measured against a\n" +
			"peer process (this binary re-executed). The GCS's write latency follows (--no-gcs skips it):\n" +
			"sequential KVPuts against a single GCS and a replicated one of three replicas, on the disk\n" +
			"under $TMPDIR. The simulator's\n" +
			"events/s, simulated/wall ratio and seeds/min follow, one short campaign per workload.\n" +
			"--json FILE writes Ray's microbenchmark.json shape (a full run writes microbenchmark.json\n" +
			"by default). --quick: shorter rounds and batches a twentieth of Ray's, under 2 minutes.",
		OnUsageError: onUsageError,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quick", Usage: "short rounds and batches a twentieth of Ray's (under 2 minutes); writes no JSON unless --json"},
			&cli.StringFlag{Name: "json", Usage: "write the results to `FILE` (default microbenchmark.json for a full run)"},
			&cli.StringFlag{Name: "cases", Usage: "run only the cases whose name matches `REGEX`"},
			&cli.StringFlag{Name: "setting", Value: "embedded", Usage: "where the cases run: `embedded` (gray.Init in this process) or cluster (a driver in this process joins a head node in another, over libp2p on loopback)"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile of the cases to `FILE` (not the simulator; the limits measured between cases carry the label gray_bench=limit)"},
			&cli.BoolFlag{Name: "no-sim", Usage: "skip the simulator figures"},
			&cli.BoolFlag{Name: "no-gcs", Usage: "skip the GCS write figures (single and replicated GCS, on the disk under $TMPDIR)"},
		},
		Action: benchRun,
		Subcommands: []*cli.Command{{
			Name:   "peer",
			Usage:  "the peer process of the libp2p limits (started by gray bench)",
			Hidden: true,
			Action: func(c *cli.Context) error { return bench.RunPeer(c.Context, os.Stdin, c.App.Writer) },
		}, {
			Name:   "node",
			Usage:  "the head process of the cluster setting (started by gray bench --setting cluster)",
			Hidden: true,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "data-dir", Required: true},
				&cli.StringFlag{Name: "secret-file", Required: true},
				&cli.IntFlag{Name: "max-workers", Value: 128},
			},
			Action: func(c *cli.Context) error {
				return bench.RunNode(c.Context, c.String("data-dir"), c.String("secret-file"), c.Int("max-workers"), os.Stdin)
			},
		}},
	}
}

func benchRun(c *cli.Context) error {
	if c.Args().Present() {
		return usageError("gray bench: unexpected arguments %q (see gray bench --help)", c.Args().Slice())
	}
	exe, exeErr := os.Executable()
	// The peer and the cluster's head are this binary re-executed: a test
	// binary would run its tests again in every child.
	testBinary := exeErr == nil && strings.HasSuffix(exe, ".test")
	refuseTest := cli.Exit("gray bench: this is a test binary ("+exe+"); gray bench re-executes its own binary, so run the gray command", exitFailed)
	setting, err := bench.SettingNamed(c.String("setting"))
	switch {
	case errors.Is(err, bench.ErrClusterNeedsNode):
		if testBinary {
			return refuseTest
		}
		if exeErr != nil {
			return cli.Exit(fmt.Sprintf("gray bench: the cluster setting re-executes this program: %v", exeErr), exitFailed)
		}
		setting = bench.ClusterSetting(func(ctx context.Context, dataDir, secretFile string, maxWorkers int) *exec.Cmd {
			return exec.CommandContext(ctx, exe, "bench", "node", "--data-dir", dataDir, "--secret-file", secretFile, "--max-workers", fmt.Sprint(maxWorkers))
		})
		defer setting.Close()
	case err != nil:
		return usageError("%v (see gray bench --help)", err)
	}
	cfg := bench.Config{Setting: setting, Timing: bench.FullTiming, LimitTiming: bench.FullLimitTiming, Shrink: 1, SimBudget: simBudgetFull, GCSWrites: gcsWritesFull, Log: c.App.ErrWriter}
	jsonPath := c.String("json")
	if c.Bool("quick") {
		cfg.Timing, cfg.LimitTiming, cfg.Shrink, cfg.SimBudget = bench.QuickTiming, bench.QuickLimitTiming, quickShrink, simBudgetQuick
		cfg.GCSWrites = gcsWritesQuick
	} else if jsonPath == "" {
		jsonPath = "microbenchmark.json"
	}
	if c.Bool("no-sim") {
		cfg.SimBudget = 0
	}
	if c.Bool("no-gcs") {
		cfg.GCSWrites = 0
	}
	if re := c.String("cases"); re != "" {
		if cfg.Cases, err = regexp.Compile(re); err != nil {
			return usageError("gray bench: --cases: %v", err)
		}
	}
	if testBinary {
		return refuseTest
	}
	if exeErr == nil {
		cfg.Peer = func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, exe, "bench", "peer") }
	}
	if path := c.String("cpuprofile"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return cli.Exit(fmt.Sprintf("gray bench: %v", err), exitFailed)
		}
		defer f.Close()
		cfg.CPUProfile = f
	}
	rep, err := bench.Run(c.Context, cfg)
	if rep != nil {
		fmt.Fprintln(c.App.Writer)
		rep.WriteTable(c.App.Writer)
	}
	if err != nil {
		return cli.Exit(fmt.Sprintf("gray bench: %v", err), exitInterrupted)
	}
	if jsonPath != "" {
		if err := rep.WriteJSON(jsonPath); err != nil {
			return cli.Exit(fmt.Sprintf("gray bench: %v", err), exitFailed)
		}
		fmt.Fprintf(c.App.Writer, "wrote %s\n", jsonPath)
	}
	for _, cr := range rep.Cases {
		if cr.Err != "" {
			return cli.Exit("gray bench: some cases failed", exitFailed)
		}
	}
	return nil
}
