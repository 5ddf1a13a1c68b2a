package main

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/dashboard"
	"github.com/grayrt/gray/gcs"
)

// timelineCommand is gray timeline, as Ray's ray timeline: the execution
// of the tasks in the GCS's task table as a Chrome trace.
func timelineCommand() *cli.Command {
	return &cli.Command{
		Name:         "timeline",
		Usage:        "write the tasks' execution as a Chrome trace (one track per worker) for ui.perfetto.dev or chrome://tracing",
		UsageText:    "gray timeline [--out FILE] [--address ADDRESS] [--secret-file FILE]",
		OnUsageError: onUsageError,
		Flags: append(clusterFlags(),
			&cli.StringFlag{Name: "out", Value: "gray-timeline.json", Usage: "write the trace to `FILE` (--out=- for stdout)"}),
		Action: withCluster(0, 0, nil, timeline),
	}
}

func timeline(c *cli.Context, cc *clusterConn, _ []string) error {
	r, err := fetch(c.Context, cc, "timeline", func(g *gcs.Client, cb func(gcs.Reply, error)) { g.ListTasks(gcs.ListTasks{}, cb) })
	if err != nil {
		return err
	}
	out := c.String("out")
	if out == "-" {
		return dashboard.Timeline(c.App.Writer, r.Tasks, time.Now())
	}
	f, err := os.Create(out)
	if err != nil {
		return cli.Exit(fmt.Sprintf("timeline: %v", err), exitFailed)
	}
	bw := bufio.NewWriter(f)
	err = dashboard.Timeline(bw, r.Tasks, time.Now())
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return cli.Exit(fmt.Sprintf("timeline: writing %s: %v", out, err), exitFailed)
	}
	fmt.Fprintf(c.App.ErrWriter, "wrote %d tasks to %s; open it in ui.perfetto.dev or chrome://tracing\n", len(r.Tasks), out)
	return nil
}
