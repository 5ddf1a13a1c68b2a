package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/gcs"
)

// logsCommand is `gray logs`: the worker log files the nodes keep
// (DATA-DIR/logs/job-JOB-worker-TOKEN.out|err), listed or printed.
func logsCommand() *cli.Command {
	return &cli.Command{
		Name:  "logs",
		Usage: "list or print the log files of launched workers on the cluster's nodes",
		UsageText: "gray logs [--job N] [--node NODE] [--address ADDRESS] [--secret-file FILE]   list the files\n" +
			"gray logs [--tail BYTES] FILE                                                print one",
		Description: "Workers started from job binaries write their stdout and stderr to files on their node, named\n" +
			"job-JOB-worker-TOKEN.out and .err (TOKEN starts with the node's id); the drivers of submitted jobs\n" +
			"to job-driver-ID.log (gray job logs ID reads it too). Without FILE, lists them on every alive node;\n" +
			"with FILE, prints it (--tail: only its last BYTES bytes).",
		OnUsageError: onUsageError,
		Flags: append(clusterFlags(),
			&cli.IntFlag{Name: "job", Usage: "only the files of job `N` (the number of job:0000000N)"},
			&cli.StringFlag{Name: "node", Usage: "only the files of the node whose id starts with `NODE` (node:… or its hex)"},
			&cli.Int64Flag{Name: "tail", Usage: "print only the last `BYTES` bytes of FILE"},
			&cli.StringFlag{Name: "actor", Usage: "print the stdout and stderr of the worker that hosts the actor whose id starts with `ID` (actor:… or its hex)"},
		),
		Action: withCluster(0, 1, nil, runLogs),
	}
}

func runLogs(c *cli.Context, cc *clusterConn, args []string) error {
	rep, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.GetNodes(cb) })
	if err != nil {
		return cc.callError("reading the nodes", err)
	}
	var nodes []gcs.NodeInfo
	want := strings.TrimPrefix(c.String("node"), "node:")
	for _, n := range rep.Nodes {
		if n.State == gcs.NodeAlive && strings.HasPrefix(strings.TrimPrefix(fullNodeID(n.ID), "node:"), want) {
			nodes = append(nodes, n)
		}
	}
	if len(args) == 1 {
		return printLog(c, cc, nodes, args[0])
	}
	if a := c.String("actor"); a != "" {
		return printActorLogs(c, cc, nodes, strings.TrimPrefix(a, "actor:"))
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tFILE\tBYTES\tMODIFIED")
	prefix := ""
	if j := c.Int("job"); j > 0 {
		prefix = fmt.Sprintf("job-%d-", j)
	}
	for _, n := range nodes {
		m, err := cc.request(c.Context, proto.LogsAddr(n.Addr), &proto.ListLogs{})
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "gray logs: %s: %v\n", n.ID, err)
			continue
		}
		for _, f := range m.(*proto.ListLogsReply).Files {
			if strings.HasPrefix(f.Name, prefix) {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", n.ID, f.Name, f.Size, time.Unix(0, f.ModTime).UTC().Format(time.RFC3339))
			}
		}
	}
	return tw.Flush()
}

// printLog prints one file from the node its token names.
func printLog(c *cli.Context, cc *clusterConn, nodes []gcs.NodeInfo, name string) error {
	if !proto.ValidLogName(name) {
		return usageError("gray logs: %q is no log name (job-JOB-worker-TOKEN.out or .err, job-driver-ID.log; see gray logs)", name)
	}
	_, token, _ := strings.Cut(name, "-worker-")
	var node *gcs.NodeInfo
	for i := range nodes {
		if strings.HasPrefix(token, proto.LaunchPrefix(nodes[i].ID)) {
			node = &nodes[i]
		}
	}
	if id, ok := strings.CutPrefix(name, "job-driver-"); ok {
		// A submitted job's driver log: on the node the GCS gave it to.
		j, err := getJob(c, cc, strings.TrimSuffix(id, ".log"))
		if err != nil {
			return err
		}
		for i := range nodes {
			if nodes[i].ID == j.Node {
				node = &nodes[i]
			}
		}
	}
	if node == nil {
		return cli.Exit(fmt.Sprintf("gray logs: the node that wrote %s is not alive (its files stay in its data dir)", name), exitFailed)
	}
	off := int64(0)
	if t := c.Int64("tail"); t > 0 {
		off = -t
	}
	for {
		m, err := cc.request(c.Context, proto.LogsAddr(node.Addr), &proto.ReadLog{Name: name, Offset: off, Max: proto.LogReadMax})
		if err != nil {
			return cli.Exit(fmt.Sprintf("gray logs: %v", err), exitFailed)
		}
		r := m.(*proto.ReadLogReply)
		if _, err := c.App.Writer.Write(r.Data); err != nil {
			return err
		}
		if off < 0 {
			off = max(0, r.Size+off)
		}
		off += int64(len(r.Data))
		if len(r.Data) == 0 || off >= r.Size {
			return nil
		}
	}
}

// printActorLogs prints the log files of the launched worker that hosts
// the actor: its address names the worker process worker-TOKEN.
func printActorLogs(c *cli.Context, cc *clusterConn, nodes []gcs.NodeInfo, prefix string) error {
	rep, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.ListActors(cb) })
	if err != nil {
		return cc.callError("reading the actors", err)
	}
	var found *gcs.ActorInfo
	for i := range rep.Actors {
		if strings.HasPrefix(strings.TrimPrefix(rep.Actors[i].ID.String(), "actor:"), prefix) {
			if found != nil {
				return usageError("gray logs --actor %s: more than one actor matches; give more of its id", prefix)
			}
			found = &rep.Actors[i]
		}
	}
	if found == nil {
		return cli.Exit(fmt.Sprintf("gray logs: no actor %s (gray list actors shows them)", prefix), exitFailed)
	}
	addr := string(found.Addr)
	_, proc, _ := strings.Cut(addr, "#")
	token, ok := strings.CutPrefix(proc, "worker-")
	if !ok || token == "" {
		return cli.Exit(fmt.Sprintf("gray logs: actor %s is %s at %q, not on a launched worker: only launched workers write log files", found.ID, found.State, addr), exitFailed)
	}
	var node *gcs.NodeInfo
	for i := range nodes {
		if strings.HasPrefix(token, proto.LaunchPrefix(nodes[i].ID)) {
			node = &nodes[i]
		}
	}
	if node == nil {
		return cli.Exit(fmt.Sprintf("gray logs: the node of actor %s's worker is not alive", found.ID), exitFailed)
	}
	m, err := cc.request(c.Context, proto.LogsAddr(node.Addr), &proto.ListLogs{})
	if err != nil {
		return cli.Exit(fmt.Sprintf("gray logs: %v", err), exitFailed)
	}
	printed := false
	for _, f := range m.(*proto.ListLogsReply).Files {
		if strings.Contains(f.Name, "-worker-"+token+".") {
			fmt.Fprintf(c.App.Writer, "==> %s <==\n", f.Name)
			if err := printLog(c, cc, nodes, f.Name); err != nil {
				return err
			}
			printed = true
		}
	}
	if !printed {
		return cli.Exit(fmt.Sprintf("gray logs: no log files of worker %s on %s", token, node.ID), exitFailed)
	}
	return nil
}
