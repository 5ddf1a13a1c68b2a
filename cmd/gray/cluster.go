package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/core"
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
			Name:         "gcs",
			Usage:        "manage a replicated GCS",
			OnUsageError: onUsageError,
			Action:       helpOrUnknown,
			Subcommands: []*cli.Command{{
				Name:         "remove-replica",
				Usage:        "take the GCS replica at ADDRESS out of the replicated GCS (then stop its head, or it joins again when it restarts with a list that names it)",
				ArgsUsage:    "ADDRESS",
				OnUsageError: onUsageError,
				Flags:        clusterFlags(),
				Action:       withCluster(1, 1, nil, removeReplica),
			}},
		},
		{
			Name:         "kv",
			Usage:        "read and write a running cluster's key-value store",
			OnUsageError: onUsageError,
			Action:       helpOrUnknown,
			Subcommands: []*cli.Command{
				kvCommand("get", "KEY", "print the value of KEY; exits 3 if it does not exist", 1, 1, nil, kvGet,
					&cli.BoolFlag{Name: "raw", Usage: "print the value's bytes without a trailing newline", DisableDefaultText: true}),
				kvCommand("put", "KEY (VALUE | - | --file PATH)", "set KEY to VALUE, to the bytes of stdin (-) or of a file (values up to 1 MiB)", 1, 2, putCheck, kvPut,
					&cli.BoolFlag{Name: "overwrite", Value: true, Usage: "replace an existing value; with --overwrite=false an existing key is kept and the command exits 3"},
					&cli.StringFlag{Name: "file", Usage: "read the value from `PATH` (- for stdin) instead of an argument"}),
				kvCommand("del", "KEY", "delete KEY; exits 3 if it does not exist", 1, 1, nil, kvDel),
				kvCommand("cas", "KEY VALUE (--expect OLD | --expect-absent)", "set KEY to VALUE only if it holds OLD (or does not exist); exits 3 if not swapped", 2, 2, casCheck, kvCAS,
					&cli.StringFlag{Name: "expect", Usage: "the value `OLD` KEY must hold"},
					&cli.BoolFlag{Name: "expect-absent", Usage: "KEY must not exist", DisableDefaultText: true}),
				kvCommand("list", "[PREFIX]", "list the keys starting with PREFIX, sorted; keys that are not printable UTF-8, or that start with a double quote, are printed quoted", 0, 1, nil, kvList,
					&cli.BoolFlag{Name: "json", Usage: `print a JSON array of {"key": KEY} or, for keys that are not valid UTF-8, {"key_base64": BASE64}`, DisableDefaultText: true}),
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
	keyUsage := "KEY is base64 (standard encoding), for keys that are not text, as kv list --json prints them"
	if name == "list" {
		keyUsage = "PREFIX is base64 (standard encoding)"
	}
	return &cli.Command{
		Name:         name,
		Usage:        usage,
		ArgsUsage:    args,
		OnUsageError: onUsageError,
		Flags: append(append(clusterFlags(),
			&cli.StringFlag{Name: "ns", Value: "default", Usage: "the `NAMESPACE` (not empty)"},
			&cli.BoolFlag{Name: "key-base64", Usage: keyUsage, DisableDefaultText: true}), flags...),
		Action: withCluster(lo, hi, func(c *cli.Context) error {
			if c.String("ns") == "" {
				return usageError("%s: --ns must not be empty: namespaces have names (the default is %q); an empty one is most often an unset shell variable", c.Command.HelpName, "default")
			}
			if check != nil {
				return check(c)
			}
			return nil
		}, f),
	}
}

// kvKey returns the key (or prefix) argument, decoded with --key-base64.
func kvKey(c *cli.Context, arg string) (string, error) {
	if !c.Bool("key-base64") {
		return arg, nil
	}
	b, err := base64.StdEncoding.DecodeString(arg)
	if err != nil {
		return "", usageError("%s: --key-base64: %q is not standard base64: %v", c.Command.HelpName, arg, err)
	}
	return string(b), nil
}

// showKey prints a key in messages: quoted, with invalid UTF-8 as \x
// escapes.
func showKey(k string) string { return strconv.Quote(k) }

// --- kv ---

func kvGet(c *cli.Context, cc *clusterConn, args []string) error {
	ns := c.String("ns")
	key, err := kvKey(c, args[0])
	if err != nil {
		return err
	}
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.KVGet(ns, key, cb) })
	if err != nil {
		return cc.callError("kv get", err)
	}
	if !r.Found {
		return cli.Exit(fmt.Sprintf("kv get: key %s not found in namespace %q", showKey(key), ns), exitNo)
	}
	w := c.App.Writer
	if c.Bool("raw") {
		_, err = w.Write(r.Value)
	} else {
		_, err = fmt.Fprintf(w, "%s\n", r.Value)
	}
	return err
}

// putCheck requires the value from exactly one place: an argument, or
// --file.
func putCheck(c *cli.Context) error {
	n := c.Args().Len()
	switch {
	case c.IsSet("file") && n != 1:
		return usageError("kv put --file PATH takes only KEY, got %d arguments (see %s --help)", n, c.Command.HelpName)
	case !c.IsSet("file") && n != 2:
		return usageError("kv put takes KEY and VALUE (- for stdin), or KEY and --file PATH; got %d arguments (see %s --help)", n, c.Command.HelpName)
	}
	return nil
}

// putValue reads the value of kv put: the VALUE argument, stdin for "-"
// or --file PATH (- for stdin). Values longer than the GCS's limit are
// refused before connecting.
func putValue(c *cli.Context, args []string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	src := ""
	switch path := c.String("file"); {
	case c.IsSet("file") && path != "-":
		f, err := os.Open(path)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("kv put: %v", err), exitFailed)
		}
		defer f.Close()
		r, src = f, path
	case c.IsSet("file") || args[1] == "-":
		r, src = stdin, "stdin"
	default:
		if len(args[1]) > gcs.ValueSizeMax {
			return nil, valueTooLarge(fmt.Sprintf("the VALUE argument has %d bytes", len(args[1])))
		}
		return []byte(args[1]), nil
	}
	b, err := io.ReadAll(io.LimitReader(r, gcs.ValueSizeMax+1))
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("kv put: reading %s: %v", src, err), exitFailed)
	}
	if len(b) > gcs.ValueSizeMax {
		return nil, valueTooLarge(src + " holds more")
	}
	return b, nil
}

func valueTooLarge(what string) error {
	return cli.Exit(fmt.Sprintf("kv put: %s than the GCS's limit of %d bytes (1 MiB) for one value: store large data elsewhere (a file, an object) and put its location", what, gcs.ValueSizeMax), exitFailed)
}

func kvPut(c *cli.Context, cc *clusterConn, args []string) error {
	ns, overwrite := c.String("ns"), c.Bool("overwrite")
	key, err := kvKey(c, args[0])
	if err != nil {
		return err
	}
	value, err := putValue(c, args, stdinOf(c))
	if err != nil {
		return err
	}
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
		return cli.Exit(fmt.Sprintf("kv put: key %s exists in namespace %q and --overwrite=false: kept its value", showKey(key), ns), exitNo)
	}
	return nil
}

// stdinOf returns the app's stdin (os.Stdin unless a test set Reader).
func stdinOf(c *cli.Context) io.Reader {
	if c.App.Reader != nil {
		return c.App.Reader
	}
	return os.Stdin
}

func kvDel(c *cli.Context, cc *clusterConn, args []string) error {
	ns := c.String("ns")
	key, err := kvKey(c, args[0])
	if err != nil {
		return err
	}
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.KVDel(ns, key, cb) })
	if err != nil {
		return cc.callError("kv del", err)
	}
	if !r.Deleted {
		return cli.Exit(fmt.Sprintf("kv del: key %s not found in namespace %q", showKey(key), ns), exitNo)
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
	ns, value, expected := c.String("ns"), []byte(args[1]), []byte(c.String("expect"))
	key, err := kvKey(c, args[0])
	if err != nil {
		return err
	}
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.KVCAS(ns, key, expected, !absent, value, cb) })
	if err != nil {
		return cc.callError("kv cas", err)
	}
	if !r.Swapped {
		return cli.Exit("kv cas: not swapped: "+casMismatch(key, ns, absent, expected), exitNo)
	}
	fmt.Fprintln(c.App.Writer, "swapped")
	return nil
}

// casMismatch says why a compare-and-swap did not swap.
func casMismatch(key, ns string, absent bool, expected []byte) string {
	if absent {
		return fmt.Sprintf("key %s already exists in namespace %q", showKey(key), ns)
	}
	return fmt.Sprintf("key %s in namespace %q does not hold %q", showKey(key), ns, expected)
}

// listedKey is one key of kv list --json: Key for keys that are valid
// UTF-8, KeyBase64 (standard encoding) for the others, which JSON
// strings cannot carry (encoding/json would replace their bytes with
// U+FFFD); pass it back with --key-base64.
type listedKey struct {
	Key       *string `json:"key,omitempty"`
	KeyBase64 string  `json:"key_base64,omitempty"`
}

func jsonKeys(keys []string) []listedKey {
	out := make([]listedKey, len(keys))
	for i, k := range keys {
		if utf8.ValidString(k) {
			out[i].Key = &keys[i]
		} else {
			out[i].KeyBase64 = base64.StdEncoding.EncodeToString([]byte(k))
		}
	}
	return out
}

// textKey is a key as plain kv list prints it: as is when it is
// printable text that does not start with a double quote, otherwise Go
// quoted (strconv.Quote: a newline is \n, an invalid byte \xff), so one
// line is always one key and a quoted line always starts with ".
func textKey(k string) string {
	if k != "" && !strings.HasPrefix(k, `"`) && utf8.ValidString(k) && strings.IndexFunc(k, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return k
	}
	return strconv.Quote(k)
}

func kvList(c *cli.Context, cc *clusterConn, args []string) error {
	ns, prefix := c.String("ns"), ""
	if len(args) > 0 {
		var err error
		if prefix, err = kvKey(c, args[0]); err != nil {
			return err
		}
	}
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.KVKeys(ns, prefix, cb) })
	if err != nil {
		return cc.callError("kv list", err)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, jsonKeys(r.Keys))
	}
	lines := make([]string, len(r.Keys))
	for i, k := range r.Keys {
		lines[i] = textKey(k)
	}
	_, err = io.WriteString(c.App.Writer, joinLines(lines))
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

// removeReplica asks the leader to remove a replica, then waits (within
// the timeout) until the leader's configuration no longer has it.
func removeReplica(c *cli.Context, cc *clusterConn, args []string) error {
	addr := core.Addr(strings.TrimSpace(args[0]))
	if !strings.Contains(string(addr), "#") {
		addr += "#gcs"
	}
	if _, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.RemoveReplica(addr, cb) }); err != nil {
		return cc.callError("gcs remove-replica", err)
	}
	deadline := time.Now().Add(cc.timeout)
	for time.Now().Before(deadline) {
		for _, row := range replicaStatus(c.Context, cc, gcs.SplitAddr(cc.gcs)) {
			if row.info == nil || row.info.Role != "leader" {
				continue
			}
			gone := !row.info.Joint
			for _, m := range row.info.Members {
				if m.Addr == addr {
					gone = false
				}
			}
			if gone {
				fmt.Fprintf(c.App.Writer, "removed %s\n", addr)
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return cli.Exit(fmt.Sprintf("gray gcs remove-replica: proposed, but %s is still a member after %v (see gray status)", addr, cc.timeout), exitFailed)
}
