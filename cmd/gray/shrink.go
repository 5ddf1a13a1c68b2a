package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/sim"
	"github.com/grayrt/gray/sim/report"
)

func shrinkCommand() *cli.Command {
	return &cli.Command{
		Name:      "shrink",
		Usage:     "find a smaller configuration of a failing seed that fails the same way",
		UsageText: "gray sim shrink --workload NAME --seed N [--faults SPEC] [--duration D] [--clients N] [--nodes N] [--attempts N]",
		Description: "Runs the seed, which must fail, then keeps it failing with the same kind while it removes\n" +
			"faults one by one, shrinks the world (clients, nodes) and shortens the fault phase. Prints the\n" +
			"minimal configuration and its replay command, after checking that the command reproduces\n" +
			"the failure. Takes the same flags as replay: paste a failure's replay command and change\n" +
			"\"replay\" to \"shrink\".",
		OnUsageError: onUsageError,
		Flags: append(worldFlags(),
			&cli.Uint64Flag{Name: "seed", Usage: "the failing seed `N`", DefaultText: "none, required"},
			&cli.IntFlag{Name: "attempts", Value: sim.DefaultShrinkAttempts, Usage: "run at most `N` candidate configurations"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no progress lines to stderr", DisableDefaultText: true},
		),
		Action: simShrink,
	}
}

func simShrink(c *cli.Context) error {
	camp, err := campaignFromFlags(c)
	if err != nil {
		return err
	}
	if !c.IsSet("seed") {
		return usageError("--seed is required: the failing seed to shrink")
	}
	seed := c.Uint64("seed")
	camp.Seeds = []uint64{seed}
	if err := camp.Validate(); err != nil {
		return usageError("%v", err)
	}
	attempts := c.Int("attempts")
	if attempts < 1 {
		return usageError("--attempts %d: want 1 or more", attempts)
	}
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	quiet := c.Bool("quiet")
	version := sim.CodeVersion()
	fmt.Fprintf(stdout, "shrinking %s seed %d (code version %s, at most %d attempts)\n", camp.Workload, seed, version, attempts)

	sh := sim.Shrink{Campaign: camp, Seed: seed, Attempts: attempts}
	if !quiet {
		sh.Progress = func(st sim.ShrinkStep) {
			outcome := "passes; undone"
			switch {
			case st.Kept:
				outcome = fmt.Sprintf("still fails (%s, %d events); kept", st.Result.Kind, st.Result.Events)
			case !st.Result.Passed:
				outcome = fmt.Sprintf("fails differently (%s); undone", st.Result.Kind)
			}
			fmt.Fprintf(stderr, "attempt %d/%d: %s: %s\n", st.Attempt, st.Attempts, st.Change, outcome)
		}
	}
	rep, err := sh.Run(c.Context)
	switch {
	case errors.Is(err, sim.ErrNotFailing):
		fmt.Fprintln(stdout, rep.OriginalResult.String())
		return cli.Exit(fmt.Sprintf("seed %d passes: nothing to shrink (is this the failure's full replay command?)", seed), exitFailed)
	case err != nil && c.Context.Err() == nil:
		return cli.Exit(err.Error(), exitFailed)
	}
	interrupted := err != nil

	// Verify the printed command itself, not just the configuration it
	// was built from: run it as a user would.
	verifyErr := verifyReplay(context.WithoutCancel(c.Context), rep.ReplayCommand(), rep.MinimalResult)
	printShrink(stdout, rep, version, verifyErr)
	switch {
	case verifyErr != nil:
		return cli.Exit(fmt.Sprintf("the minimal replay command does not reproduce the failure: %v", verifyErr), exitFailed)
	case interrupted:
		return cli.Exit(fmt.Sprintf("interrupted after %d attempts; above is the smallest failure found so far", rep.Attempts), exitInterrupted)
	}
	return nil
}

// printShrink prints the minimal configuration and how much smaller it is.
func printShrink(w io.Writer, rep sim.ShrinkReport, version string, verifyErr error) {
	o, m := rep.OriginalResult, rep.MinimalResult
	fmt.Fprintf(w, "original: %s seed=%d hash=%s events=%d sim=%v %s\n", o.Workload, o.Seed, o.HashString(), o.Events, o.SimTime, o.Kind)
	bound := ""
	if rep.Exhausted {
		bound = ", stopped by --attempts"
	}
	fmt.Fprintf(w, "minimal configuration after %d attempts%s:\n", rep.Attempts, bound)
	fmt.Fprintf(w, "  faults:   %s\n", m.Faults)
	if len(rep.FaultsRemoved) > 0 {
		fmt.Fprintf(w, "            removed: %s\n", strings.Join(rep.FaultsRemoved, ", "))
	} else {
		fmt.Fprintf(w, "            removed: none\n")
	}
	size := func(name string, before, after int) {
		if before == 0 {
			fmt.Fprintf(w, "  %-9s (the workload has no such knob)\n", name+":")
			return
		}
		fmt.Fprintf(w, "  %-9s %d → %d\n", name+":", before, after)
	}
	size("clients", rep.SizeBefore.Clients, rep.SizeAfter.Clients)
	size("nodes", rep.SizeBefore.Nodes, rep.SizeAfter.Nodes)
	fmt.Fprintf(w, "  duration: %v → %v\n", rep.Original.FaultPhase, rep.Minimal.FaultPhase)
	fmt.Fprintf(w, "  events:   %d → %d\n", o.Events, m.Events)
	fmt.Fprintf(w, "  failure:  %s: %s\n", m.Kind, report.OneLine(m.Reason, 300))
	fmt.Fprintf(w, "  hash:     %s\n", m.HashString())
	fmt.Fprintf(w, "  code version: %s\n", version)
	if verifyErr == nil {
		fmt.Fprintf(w, "replay (verified: it fails with %s and hash %s):\n", m.Kind, m.HashString())
	} else {
		fmt.Fprintf(w, "replay (NOT verified: %v):\n", verifyErr)
	}
	fmt.Fprintf(w, "  %s\n", rep.ReplayCommand())
}

// verifyReplay runs a replay command in-process, as the user would run it,
// and checks that it fails with want's kind and hash.
func verifyReplay(ctx context.Context, command string, want sim.Result) error {
	rest, ok := strings.CutPrefix(command, "go run ./cmd/gray ")
	if !ok {
		return fmt.Errorf("%q does not run ./cmd/gray", command)
	}
	args, err := splitShell(rest)
	if err != nil {
		return err
	}
	var out, errOut bytes.Buffer
	code := run(ctx, append([]string{"gray"}, args...), &out, &errOut)
	if code != exitFailed {
		return fmt.Errorf("exit status %d, want %d (a failure); stderr: %s", code, exitFailed, strings.TrimSpace(errOut.String()))
	}
	if !strings.Contains(out.String(), "hash: "+want.HashString()+"\n") || !strings.Contains(out.String(), want.String()) {
		return fmt.Errorf("it printed\n%s\nwant %s with hash %s", out.String(), want.Kind, want.HashString())
	}
	return nil
}

// splitShell splits a command line the way a POSIX shell would for the
// quoting that replay commands use: words separated by blanks, single
// quotes, double quotes without expansions, and backslash escapes.
func splitShell(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case ch == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) && strings.IndexByte("\"\\$`", s[j+1]) >= 0 {
					j++
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			i = j
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
