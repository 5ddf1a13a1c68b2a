package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/gcs"
)

// clusterCommands are the commands that talk to a running cluster
// (grayd): status, list and kv.
func clusterCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:         "status",
			Usage:        "show a running cluster's nodes, pending demand, actors, placement groups and jobs",
			UsageText:    "gray status [--address ADDRESS] [--secret-file FILE]",
			OnUsageError: onUsageError,
			Flags:        clusterFlags(),
			Action:       withCluster(0, 0, nil, clusterStatus),
		},
		{
			Name:         "list",
			Usage:        "list a running cluster's nodes, actors, placement groups, jobs, objects or tasks",
			OnUsageError: onUsageError,
			Action:       helpOrUnknown,
			Subcommands: []*cli.Command{
				listCommand("nodes", "list the nodes with their state and resources", listNodes),
				listCommand("actors", "list the actors with their state", listActors),
				listCommand("placement-groups", "list the placement groups with their state and bundles", listGroups),
				listCommand("jobs", "list the jobs", listJobs),
				listCommand("objects", "list the objects in the nodes' object stores (objects above 100 KiB)", listObjects),
				listTasksCommand(),
			},
		},
		summaryCommand(),
		timelineCommand(),
		{
			Name:         "kv",
			Usage:        "read and write a running cluster's key-value store",
			OnUsageError: onUsageError,
			Action:       helpOrUnknown,
			Subcommands: []*cli.Command{
				kvCommand("get", "KEY", "print the value of KEY; exits 1 if it does not exist", 1, 1, nil, kvGet,
					&cli.BoolFlag{Name: "raw", Usage: "print the value's bytes without a trailing newline", DisableDefaultText: true}),
				kvCommand("put", "KEY VALUE", "set KEY to VALUE", 2, 2, nil, kvPut,
					&cli.BoolFlag{Name: "overwrite", Value: true, Usage: "replace an existing value; with --overwrite=false an existing key is kept and the command exits 1"}),
				kvCommand("del", "KEY", "delete KEY; exits 1 if it does not exist", 1, 1, nil, kvDel),
				kvCommand("cas", "KEY VALUE (--expect OLD | --expect-absent)", "set KEY to VALUE only if it holds OLD (or does not exist); exits 1 if not swapped", 2, 2, casCheck, kvCAS,
					&cli.StringFlag{Name: "expect", Usage: "the value `OLD` KEY must hold"},
					&cli.BoolFlag{Name: "expect-absent", Usage: "KEY must not exist", DisableDefaultText: true}),
				kvCommand("list", "[PREFIX]", "list the keys starting with PREFIX, sorted", 0, 1, nil, kvList,
					&cli.BoolFlag{Name: "json", Usage: "print a JSON array", DisableDefaultText: true}),
			},
		},
	}
}

// clusterAction is a cluster command's body, given a live connection.
type clusterAction func(c *cli.Context, cc *clusterConn, args []string) error

// withCluster checks the argument count and, with check, the flags;
// then it connects, runs f and closes the connection.
func withCluster(minArgs, maxArgs int, check func(*cli.Context) error, f clusterAction) cli.ActionFunc {
	return func(c *cli.Context) error {
		args := c.Args().Slice()
		if len(args) < minArgs || len(args) > maxArgs {
			for _, a := range args {
				if strings.HasPrefix(a, "-") && len(a) > 1 {
					return usageError("%s: flags go before the arguments: %s [flags] %s (see %s --help)", c.Command.HelpName, c.Command.HelpName, c.Command.ArgsUsage, c.Command.HelpName)
				}
			}
			return usageError("%s takes %s, got %d arguments (see %s --help)", c.Command.HelpName, argsWanted(minArgs, maxArgs), len(args), c.Command.HelpName)
		}
		if check != nil {
			if err := check(c); err != nil {
				return err
			}
		}
		cc, err := dialCluster(c, c.App.ErrWriter)
		if err != nil {
			return err
		}
		defer cc.close()
		return f(c, cc, args)
	}
}

func argsWanted(lo, hi int) string {
	switch {
	case lo == hi && lo == 0:
		return "no arguments"
	case lo == hi:
		return fmt.Sprintf("%d arguments", lo)
	}
	return fmt.Sprintf("%d to %d arguments", lo, hi)
}

func listCommand(name, usage string, f clusterAction) *cli.Command {
	return &cli.Command{
		Name:         name,
		Usage:        usage,
		OnUsageError: onUsageError,
		Flags: append(clusterFlags(),
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array", DisableDefaultText: true}),
		Action: withCluster(0, 0, nil, f),
	}
}

func kvCommand(name, args, usage string, lo, hi int, check func(*cli.Context) error, f clusterAction, flags ...cli.Flag) *cli.Command {
	return &cli.Command{
		Name:         name,
		Usage:        usage,
		ArgsUsage:    args,
		OnUsageError: onUsageError,
		Flags: append(append(clusterFlags(),
			&cli.StringFlag{Name: "ns", Value: "default", Usage: "the `NAMESPACE`"}), flags...),
		Action: withCluster(lo, hi, check, f),
	}
}

// --- kv ---

func kvGet(c *cli.Context, cc *clusterConn, args []string) error {
	ns, key := c.String("ns"), args[0]
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.KVGet(ns, key, cb) })
	if err != nil {
		return cc.callError("kv get", err)
	}
	if !r.Found {
		return cli.Exit(fmt.Sprintf("kv get: key %q not found in namespace %q", key, ns), exitFailed)
	}
	w := c.App.Writer
	if c.Bool("raw") {
		_, err = w.Write(r.Value)
	} else {
		_, err = fmt.Fprintf(w, "%s\n", r.Value)
	}
	return err
}

func kvPut(c *cli.Context, cc *clusterConn, args []string) error {
	ns, key, value, overwrite := c.String("ns"), args[0], []byte(args[1]), c.Bool("overwrite")
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.KVPut(ns, key, value, overwrite, cb) })
	if err != nil {
		return cc.callError("kv put", err)
	}
	switch {
	case r.Added:
		fmt.Fprintln(c.App.Writer, "added")
	case overwrite:
		fmt.Fprintln(c.App.Writer, "updated")
	default:
		return cli.Exit(fmt.Sprintf("kv put: key %q exists in namespace %q and --overwrite=false: kept its value", key, ns), exitFailed)
	}
	return nil
}

func kvDel(c *cli.Context, cc *clusterConn, args []string) error {
	ns, key := c.String("ns"), args[0]
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.KVDel(ns, key, cb) })
	if err != nil {
		return cc.callError("kv del", err)
	}
	if !r.Deleted {
		return cli.Exit(fmt.Sprintf("kv del: key %q not found in namespace %q", key, ns), exitFailed)
	}
	fmt.Fprintln(c.App.Writer, "deleted")
	return nil
}

// casCheck requires exactly one of --expect and --expect-absent.
func casCheck(c *cli.Context) error {
	if c.IsSet("expect") == c.Bool("expect-absent") {
		return usageError("kv cas needs exactly one of --expect OLD and --expect-absent (see %s --help)", c.Command.HelpName)
	}
	return nil
}

func kvCAS(c *cli.Context, cc *clusterConn, args []string) error {
	absent := c.Bool("expect-absent")
	ns, key, value, expected := c.String("ns"), args[0], []byte(args[1]), []byte(c.String("expect"))
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.KVCAS(ns, key, expected, !absent, value, cb) })
	if err != nil {
		return cc.callError("kv cas", err)
	}
	if !r.Swapped {
		want := fmt.Sprintf("hold %q", expected)
		if absent {
			want = "not exist"
		}
		return cli.Exit(fmt.Sprintf("kv cas: not swapped: key %q in namespace %q does not %s", key, ns, want), exitFailed)
	}
	fmt.Fprintln(c.App.Writer, "swapped")
	return nil
}

func kvList(c *cli.Context, cc *clusterConn, args []string) error {
	ns, prefix := c.String("ns"), ""
	if len(args) > 0 {
		prefix = args[0]
	}
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.KVKeys(ns, prefix, cb) })
	if err != nil {
		return cc.callError("kv list", err)
	}
	keys := r.Keys
	if keys == nil {
		keys = []string{}
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, keys)
	}
	_, err = io.WriteString(c.App.Writer, joinLines(keys))
	return err
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
