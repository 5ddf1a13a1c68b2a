// Command gray is the command line of gray, Ray rebuilt in Go. Its
// components are deterministic sans-IO state machines, so whole clusters
// run inside a seeded simulator (package sim) and every failure replays
// from its seed.
//
// The sim commands drive that simulator:
//
//	gray sim list
//	    lists the workloads, with their test-only buggy variants.
//	gray sim run --workload echo --seeds 1..1000 --faults swarm
//	    runs a campaign: one simulated run per seed, in parallel. Each
//	    failure is printed with its seed and the command that replays it;
//	    the end is a summary with the coverage of the paths the workload
//	    declares (--json adds one machine-readable line). Seeds are chosen
//	    with --seed N, --seeds A..B, --count N [--seed S] or
//	    --for DURATION [--seed S] (a wall-clock budget). --out DIR writes
//	    summary.json, junit.xml, index.html and a folder per failing seed
//	    with its replay command, traces and attachments. Seeds run in
//	    worker processes (gray itself, as the hidden `gray sim
//	    serve-seeds`), so a seed that crashes its process, hangs
//	    (--seed-timeout) or exhausts memory (--seed-memory) fails alone
//	    with kind crash; --in-process runs them in this process.
//	gray sim replay --workload echo --seed 42 --faults swarm
//	    reruns one seed and prints its result and trace hash, which match
//	    the campaign's; --trace FILE writes the full event trace, --chrome
//	    FILE a Chrome trace (Perfetto), and --until N stops after N events
//	    and prints every process's state.
//	gray sim shrink --workload echo --seed 42 --faults swarm
//	    searches for a smaller configuration of a failing seed (fewer
//	    faults, clients and nodes, a shorter fault phase) that fails the
//	    same way, and prints its verified replay command.
//
// The cluster commands talk to a running cluster (started with grayd; see
// docs/operations.md), given --address (or GRAY_ADDRESS) and --secret-file
// (or GRAY_SECRET_FILE):
//
//	gray status
//	    nodes with their resources used/total, actors by state, jobs.
//	gray list nodes|actors|jobs [--json]
//	gray kv get|put|del|cas|list [--ns NAMESPACE] ...
//	    the GCS's key-value store.
//
// The rllib command trains a policy on the embedded cluster, with env
// runners as gray actors:
//
//	gray rllib train --algo ppo --env CartPole-v1 --env-runners 2 --stop-reward 450 [--out DIR]
//	    prints per-iteration progress and writes learning_curve.csv and
//	    learning_curve.png to DIR.
//
// The lin command checks recorded histories:
//
//	gray lin check HISTORY.json [--html OUT.html]
//	    checks a history file (a failing gcs seed's folder holds one per
//	    model) with porcupine and prints ok, illegal or unknown.
//
// Exit status: 0 when everything passed, 1 when a seed failed (or the run
// could not finish), 2 for a usage error, 130 when interrupted. The
// cluster commands add 3 for a definite "no" from the GCS (key not
// found, not swapped, not overwritten), 4 when the cluster cannot be
// reached (nothing was sent) and 5 when the GCS did not answer in time
// (the outcome of a write is unknown); see docs/operations.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/urfave/cli/v2"

	_ "github.com/grayrt/gray/sim/workload" // registers the gcs and cluster workloads
)

// Exit statuses, as documented in the package comment.
const (
	exitFailed      = 1
	exitUsage       = 2
	exitNo          = 3 // the GCS answered no: not found, not swapped, not overwritten
	exitUnreachable = 4 // no connection to the cluster: nothing was sent
	exitUnknown     = 5 // the GCS did not answer in time: a write may or may not have happened
	exitInterrupted = 130
)

func main() {
	// An interrupt stops a campaign from starting new seeds; it still
	// prints the summary of what finished.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the app with args and returns the process exit status. Error
// messages go to stderr; errors that carry no exit code are usage errors
// from flag parsing, so they exit 2.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := newApp(stdout, stderr).RunContext(ctx, args)
	if err == nil {
		return 0
	}
	code := exitUsage
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "gray:", msg)
	}
	return code
}

// newApp builds the command tree writing to stdout and stderr. It never
// exits the process itself, so tests can run it in-process.
func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:        "gray",
		Usage:       "Ray rebuilt in Go, with every component tested in a deterministic, seeded simulator",
		HideVersion: true,
		Writer:      stdout,
		ErrWriter:   stderr,
		// The default handler calls os.Exit deep inside Run; run decides
		// the exit status instead.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
		Action:         helpOrUnknown,
		// Before keeps the command line for reports (summary.json).
		Before: func(c *cli.Context) error {
			c.App.Metadata = map[string]any{metaArgs: c.Args().Slice()}
			return nil
		},
		Commands: append([]*cli.Command{simCommand(), linCommand(), rllibCommand(), benchCommand(), logsCommand(), jobCommand()}, clusterCommands()...),
	}
}

// metaArgs is the App.Metadata key of the arguments after "gray".
const metaArgs = "args"

// usageError is an error that exits with status 2.
func usageError(format string, args ...any) error {
	return cli.Exit(fmt.Sprintf(format, args...), exitUsage)
}

// onUsageError turns flag parsing errors into usage errors that say where
// to find help, instead of urfave/cli's default of dumping the whole help
// text to stdout.
func onUsageError(c *cli.Context, err error, _ bool) error {
	name := c.App.Name
	if c.Command != nil && c.Command.HelpName != "" {
		name = c.Command.HelpName
	}
	return usageError("%v (see %s --help)", err, name)
}

// helpOrUnknown is the action of commands that only group subcommands: it
// shows their help, or rejects a subcommand that does not exist.
func helpOrUnknown(c *cli.Context) error {
	name := c.App.Name
	if c.Command != nil && c.Command.HelpName != "" {
		name = c.Command.HelpName
	}
	if c.Args().Present() {
		return usageError("%s: unknown command %q (see %s --help)", name, c.Args().First(), name)
	}
	if c.Command != nil && c.Command.Name != "" {
		return cli.ShowSubcommandHelp(c)
	}
	return cli.ShowAppHelp(c)
}
