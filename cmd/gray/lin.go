package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/linearizability"
)

// linCommand groups the linearizability tools.
func linCommand() *cli.Command {
	return &cli.Command{
		Name:         "lin",
		Usage:        "check recorded histories for linearizability",
		OnUsageError: onUsageError,
		Action:       helpOrUnknown,
		Subcommands: []*cli.Command{{
			Name:      "check",
			Usage:     "check a history file (docs/linearizability.md describes the format)",
			ArgsUsage: "HISTORY.json",
			Description: "Reads a recorded history (for example history-kv.json from a failing seed's folder),\n" +
				"checks it against its model with porcupine and prints ok, illegal or unknown (the check\n" +
				"timed out). Exits 1 unless the history is linearizable.",
			OnUsageError: onUsageError,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "html", Usage: "write porcupine's visualization to `FILE`"},
				&cli.DurationFlag{Name: "timeout", Value: time.Minute, Usage: "give up checking after `DURATION` (outcome unknown)"},
			},
			Action: linCheck,
		}},
	}
}

func linCheck(c *cli.Context) error {
	// Accept flags after the file too (gray lin check H.json --html O.html),
	// which urfave/cli leaves as arguments.
	htmlOut, timeout := c.String("html"), c.Duration("timeout")
	var files []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "--html", "-html", "--timeout", "-timeout":
			if i+1 >= len(args) {
				return usageError("gray lin check: %s needs a value", a)
			}
			i++
			if a == "--html" || a == "-html" {
				htmlOut = args[i]
				continue
			}
			d, err := time.ParseDuration(args[i])
			if err != nil {
				return usageError("gray lin check: --timeout %q: %v", args[i], err)
			}
			timeout = d
		default:
			files = append(files, a)
		}
	}
	if len(files) != 1 {
		return usageError("gray lin check takes one history file, got %d", len(files))
	}
	path := files[0]
	f, err := os.Open(path)
	if err != nil {
		return cli.Exit(fmt.Sprintf("gray lin check: %v", err), exitFailed)
	}
	defer f.Close()
	model, name, ops, err := linearizability.ReadHistory(f)
	if err != nil {
		return cli.Exit(fmt.Sprintf("gray lin check: %s: %v", path, err), exitFailed)
	}
	res := linearizability.Check(model, ops, timeout)
	fmt.Fprintf(c.App.Writer, "%s: model %s, %d operations: %s (checked in %v)\n", path, name, res.Ops, res.Outcome, res.Duration.Round(time.Millisecond))
	if out := htmlOut; out != "" {
		if err := res.WriteHTML(out); err != nil {
			return cli.Exit(fmt.Sprintf("gray lin check: %v", err), exitFailed)
		}
		fmt.Fprintf(c.App.Writer, "visualization: %s\n", out)
	}
	if res.Outcome != linearizability.Ok {
		return cli.Exit("", exitFailed)
	}
	return nil
}
