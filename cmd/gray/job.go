package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/core/proto"
	"github.com/grayrt/gray/dashboard"
	"github.com/grayrt/gray/gcs"
	"github.com/grayrt/gray/internal/jobstage"
)

// `gray job`: jobs the cluster runs without the submitter (Ray's `ray job
// submit`). The program is staged in the GCS (content-addressed, as a
// joining driver stages itself) with, optionally, a working directory;
// the GCS picks a node whose raylet runs the program as a supervised
// driver (gcs/submissions.go).

const (
	// defaultStopGrace is how long a stop waits between SIGTERM and
	// SIGKILL (Ray's default is 3 s).
	defaultStopGrace = 3 * time.Second
	// followPoll is how often --follow reads the log and the job's state.
	followPoll = 500 * time.Millisecond
)

func jobCommand() *cli.Command {
	idArg := func(name, usage string, f clusterAction, flags ...cli.Flag) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, ArgsUsage: "ID", OnUsageError: onUsageError,
			Flags: append(clusterFlags(), flags...), Action: withCluster(1, 1, nil, f)}
	}
	return &cli.Command{
		Name:         "job",
		Usage:        "submit jobs the cluster runs without you, and follow, list, stop and delete them",
		OnUsageError: onUsageError,
		Action:       helpOrUnknown,
		Subcommands: []*cli.Command{
			{
				Name:  "submit",
				Usage: "stage PROGRAM and have a node run it as the job's driver",
				UsageText: "gray job submit [--env K=V]… [--working-dir DIR] [--entrypoint-resources CPU=1,…] [--submission-id ID] [--no-wait] -- PROGRAM [ARGS…]\n\n" +
					"PROGRAM is a Go program that uses gray (gray.Init joins the cluster from the environment the node gives it).\n" +
					"Without --no-wait the command follows the job's output and exits with its status: 0 when it SUCCEEDED,\n" +
					"the driver's exit status when it exited with one, 1 when it FAILED or was STOPPED otherwise.",
				OnUsageError: onUsageError,
				Flags: append(clusterFlags(),
					&cli.StringSliceFlag{Name: "env", Usage: "set `K=V` in the driver's environment (repeatable)"},
					&cli.StringFlag{Name: "working-dir", Usage: "stage the files under `DIR` (up to 100 MiB) as the driver's working directory"},
					&cli.StringFlag{Name: "entrypoint-resources", Usage: "run the driver on a node that has `RES` (e.g. CPU=1,GPU=1); default: the head's node"},
					&cli.StringFlag{Name: "submission-id", Usage: "the job's `ID` (letters, digits, - _ .); default: graysubmit_ and 16 random hex digits"},
					&cli.StringSliceFlag{Name: "metadata", Usage: "record `K=V` with the job (repeatable)"},
					&cli.DurationFlag{Name: "stop-grace", Value: defaultStopGrace, Usage: "on stop, wait `DURATION` between SIGTERM and SIGKILL"},
					&cli.BoolFlag{Name: "no-wait", Usage: "print the job's id and return at once", DisableDefaultText: true},
				),
				Action: withCluster(1, 1<<16, nil, jobSubmit),
			},
			{
				Name: "list", Usage: "list the submitted jobs", OnUsageError: onUsageError,
				Flags:  append(clusterFlags(), &cli.BoolFlag{Name: "json", Usage: "print JSON (Ray's job REST field names)", DisableDefaultText: true}),
				Action: withCluster(0, 0, nil, jobList),
			},
			idArg("status", "print a submitted job's state; exits 3 if there is no such job", jobStatus,
				&cli.BoolFlag{Name: "json", Usage: "print JSON (Ray's job REST field names)", DisableDefaultText: true}),
			idArg("logs", "print a submitted job's driver output", jobLogs,
				&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing until the job ends", DisableDefaultText: true}),
			idArg("stop", "stop a submitted job (SIGTERM, then SIGKILL after its grace) and wait until it ended", jobStop,
				&cli.BoolFlag{Name: "no-wait", Usage: "return once the stop is recorded", DisableDefaultText: true}),
			idArg("delete", "forget a finished job's record", jobDelete),
		},
	}
}

func jobSubmit(c *cli.Context, cc *clusterConn, args []string) error {
	ctx := c.Context
	program := args[0]
	spec := proto.DriverSpec{ID: c.String("submission-id"), Args: append([]string{filepath.Base(program)}, args[1:]...), Env: c.StringSlice("env")}
	if spec.ID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		spec.ID = "graysubmit_" + hex.EncodeToString(b[:])
	}
	var res core.Resources
	if s := c.String("entrypoint-resources"); s != "" {
		var err error
		if res, err = parseResourceList(s); err != nil {
			return usageError("job submit: --entrypoint-resources: %v", err)
		}
	}
	meta := map[string]string{}
	for _, kv := range c.StringSlice("metadata") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageError("job submit: --metadata %q: want K=V", kv)
		}
		meta[k] = v
	}
	if len(meta) == 0 {
		meta = nil
	}
	data, err := os.ReadFile(program)
	if err != nil {
		return usageError("job submit: %v", err)
	}
	goos, goarch, err := jobstage.Platform(data)
	if err != nil {
		return usageError("job submit: %s: %v", program, err)
	}
	if len(data) > jobstage.ProgramMax {
		return usageError("job submit: %s has %d bytes, more than the %d a staged program may have", program, len(data), jobstage.ProgramMax)
	}
	if spec.Binary, err = stage(ctx, cc, data, gcs.BinaryManifest{GOOS: goos, GOARCH: goarch}); err != nil {
		return err
	}
	if dir := c.String("working-dir"); dir != "" {
		archive, err := jobstage.PackDir(dir)
		if err != nil {
			return usageError("job submit: --working-dir: %v", err)
		}
		if spec.WorkingDir, err = stage(ctx, cc, archive, gcs.BinaryManifest{Kind: gcs.KindArchive}); err != nil {
			return err
		}
	}
	if err := spec.Validate(); err != nil {
		return usageError("job submit: %v", err)
	}
	sub := gcs.JobSubmission{Spec: spec, Resources: res, Metadata: meta, StopGrace: c.Duration("stop-grace")}
	r, err := cc.call(ctx, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.SubmitJob(sub, cb) })
	if err != nil {
		if errors.Is(err, gcs.ErrConflict) {
			return cli.Exit(fmt.Sprintf("job submit: a job %s exists already", spec.ID), exitFailed)
		}
		return cc.callError("job submit", err)
	}
	j := r.Submissions[0]
	fmt.Fprintf(c.App.ErrWriter, "gray: job %s submitted", j.ID())
	if j.Message != "" {
		fmt.Fprintf(c.App.ErrWriter, " (%s)", j.Message)
	}
	fmt.Fprintln(c.App.ErrWriter)
	if c.Bool("no-wait") {
		fmt.Fprintln(c.App.Writer, j.ID())
		return nil
	}
	end, err := followJob(c, cc, j.ID(), true)
	if err != nil {
		return err
	}
	return jobExit(c, end)
}

// jobExit prints how a followed job ended and turns it into the exit
// status.
func jobExit(c *cli.Context, j gcs.JobSubmission) error {
	line := fmt.Sprintf("gray: job %s %v", j.ID(), j.State)
	if j.Message != "" {
		line += ": " + j.Message
	}
	fmt.Fprintln(c.App.ErrWriter, line)
	switch {
	case j.State == gcs.SubmissionSucceeded:
		return nil
	case j.Exited && j.ExitCode > 0 && j.ExitCode < 126:
		return cli.Exit("", int(j.ExitCode))
	}
	return cli.Exit("", exitFailed)
}

// followJob prints the driver's output from the start (or only waits,
// without output) until the job ends, and returns its final record.
func followJob(c *cli.Context, cc *clusterConn, id string, output bool) (gcs.JobSubmission, error) {
	var off int64
	said := "" // the last read error printed: each is said once
	for {
		j, err := getJob(c, cc, id)
		if err != nil {
			return j, err
		}
		if output && !j.Node.IsNil() {
			if off, err = copyDriverLog(c, cc, j, off); err != nil && err.Error() != said {
				said = err.Error()
				fmt.Fprintf(c.App.ErrWriter, "gray: reading the driver's output: %v\n", err)
			}
		}
		if j.State.Terminal() {
			if output && !j.Node.IsNil() {
				off, _ = copyDriverLog(c, cc, j, off) // what came after the last read
			}
			return j, nil
		}
		select {
		case <-c.Context.Done():
			return j, cli.Exit(fmt.Sprintf("gray: stopped following job %s; it goes on (gray job stop %s ends it)", id, id), exitInterrupted)
		case <-time.After(followPoll):
		}
	}
}

func getJob(c *cli.Context, cc *clusterConn, id string) (gcs.JobSubmission, error) {
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.GetJobSubmission(id, cb) })
	if err != nil {
		if errors.Is(err, gcs.ErrNotFound) {
			return gcs.JobSubmission{}, cli.Exit(fmt.Sprintf("job: no job %s", id), exitNo)
		}
		return gcs.JobSubmission{}, cc.callError("job", err)
	}
	return r.Submissions[0], nil
}

// copyDriverLog prints the driver's log from off on, and returns the
// new offset. The log is on the node that runs (ran) the driver.
func copyDriverLog(c *cli.Context, cc *clusterConn, j gcs.JobSubmission, off int64) (int64, error) {
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.GetNodes(cb) })
	if err != nil {
		return off, err
	}
	var node *gcs.NodeInfo
	for i := range r.Nodes {
		if r.Nodes[i].ID == j.Node {
			node = &r.Nodes[i]
		}
	}
	if node == nil {
		return off, fmt.Errorf("node %v is not in the cluster's node table", j.Node)
	}
	if node.State == gcs.NodeDead {
		return off, fmt.Errorf("node %v is dead; the log stays in its DATA-DIR/logs/%s", j.Node, gcs.DriverLogName(j.ID()))
	}
	for {
		m, err := cc.request(c.Context, proto.LogsAddr(node.Addr), &proto.ReadLog{Name: gcs.DriverLogName(j.ID()), Offset: off, Max: proto.LogReadMax})
		if err != nil {
			if errors.Is(err, gcs.ErrNotFound) {
				return off, nil // not written yet
			}
			return off, err
		}
		rep := m.(*proto.ReadLogReply)
		if _, err := c.App.Writer.Write(rep.Data); err != nil {
			return off, err
		}
		off += int64(len(rep.Data))
		if len(rep.Data) == 0 || off >= rep.Size {
			return off, nil
		}
	}
}

func jobList(c *cli.Context, cc *clusterConn, _ []string) error {
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.ListJobSubmissions(cb) })
	if err != nil {
		return cc.callError("job list", err)
	}
	if c.Bool("json") {
		vs := make([]dashboard.SubmissionView, 0, len(r.Submissions))
		for _, j := range r.Submissions {
			vs = append(vs, dashboard.ViewSubmission(j))
		}
		return writeJSON(c.App.Writer, vs)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tJOBS\tNODE\tSUBMITTED\tEND\tENTRYPOINT\tMESSAGE")
	for _, j := range r.Submissions {
		v := dashboard.ViewSubmission(j)
		node := "-"
		if !j.Node.IsNil() {
			node = j.Node.String()
		}
		jobs := "-"
		if len(v.JobIDs) > 0 {
			jobs = strings.Join(v.JobIDs, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID(), j.State, jobs, node, dash(unixTime(j.SubmitTime)),
			dash(unixTime(j.EndTime)), short(v.Entrypoint, 40), short(oneLine(j.Message), 60))
	}
	return tw.Flush()
}

func jobStatus(c *cli.Context, cc *clusterConn, args []string) error {
	j, err := getJob(c, cc, args[0])
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, dashboard.ViewSubmission(j))
	}
	v := dashboard.ViewSubmission(j)
	fmt.Fprintf(c.App.Writer, "job:        %s\nstatus:     %s\nentrypoint: %s\n", j.ID(), j.State, v.Entrypoint)
	if !j.Node.IsNil() {
		fmt.Fprintf(c.App.Writer, "node:       %s\n", j.Node)
	}
	if len(v.JobIDs) > 0 {
		fmt.Fprintf(c.App.Writer, "driver job: %s\n", strings.Join(v.JobIDs, ", "))
	}
	fmt.Fprintf(c.App.Writer, "submitted:  %s\n", unixTime(j.SubmitTime))
	if j.StartTime != 0 {
		fmt.Fprintf(c.App.Writer, "started:    %s\n", unixTime(j.StartTime))
	}
	if j.EndTime != 0 {
		fmt.Fprintf(c.App.Writer, "ended:      %s\n", unixTime(j.EndTime))
	}
	if j.Exited {
		fmt.Fprintf(c.App.Writer, "exit code:  %d\n", j.ExitCode)
	}
	if j.StopRequested && !j.State.Terminal() {
		fmt.Fprintf(c.App.Writer, "stopping:   yes\n")
	}
	if j.Message != "" {
		fmt.Fprintf(c.App.Writer, "message:    %s\n", j.Message)
	}
	return nil
}

func jobLogs(c *cli.Context, cc *clusterConn, args []string) error {
	if c.Bool("follow") {
		_, err := followJob(c, cc, args[0], true)
		return err
	}
	j, err := getJob(c, cc, args[0])
	if err != nil {
		return err
	}
	if j.Node.IsNil() {
		fmt.Fprintf(c.App.ErrWriter, "gray: job %s has not started on a node yet\n", j.ID())
		return nil
	}
	if _, err := copyDriverLog(c, cc, j, 0); err != nil {
		return cli.Exit(fmt.Sprintf("job logs: %v", err), exitFailed)
	}
	return nil
}

func jobStop(c *cli.Context, cc *clusterConn, args []string) error {
	r, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.StopJob(args[0], cb) })
	if err != nil {
		if errors.Is(err, gcs.ErrNotFound) {
			return cli.Exit(fmt.Sprintf("job stop: no job %s", args[0]), exitNo)
		}
		return cc.callError("job stop", err)
	}
	j := r.Submissions[0]
	if j.State.Terminal() || c.Bool("no-wait") {
		fmt.Fprintf(c.App.Writer, "job %s: %v\n", j.ID(), j.State)
		return nil
	}
	end, err := followJob(c, cc, j.ID(), false)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "job %s: %v\n", end.ID(), end.State)
	return nil
}

func jobDelete(c *cli.Context, cc *clusterConn, args []string) error {
	_, err := cc.call(c.Context, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.DeleteJob(args[0], cb) })
	switch {
	case errors.Is(err, gcs.ErrNotFound):
		return cli.Exit(fmt.Sprintf("job delete: no job %s", args[0]), exitNo)
	case err != nil:
		return cc.callError("job delete", err)
	}
	return nil
}

// stage uploads data to the GCS's binary namespace unless a complete
// copy is there, and returns its hash.
func stage(ctx context.Context, cc *clusterConn, data []byte, m gcs.BinaryManifest) (string, error) {
	st := jobstage.Store{
		Exists: func(ctx context.Context, key string) (bool, error) {
			r, err := cc.call(ctx, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.KVExists(gcs.BinaryNS, key, cb) })
			return r.Found, err
		},
		Put: func(ctx context.Context, key string, value []byte) error {
			_, err := cc.call(ctx, func(g *gcs.Client, cb func(gcs.Reply, error)) { g.KVPut(gcs.BinaryNS, key, value, true, cb) })
			return err
		},
	}
	hash, err := jobstage.Stage(ctx, st, data, m)
	if err != nil {
		return "", cc.callError("job submit", err)
	}
	return hash, nil
}

// parseResourceList reads "CPU=1,GPU=1" (decimal amounts).
func parseResourceList(s string) (core.Resources, error) {
	m := map[string]core.Quantity{}
	for item := range strings.SplitSeq(s, ",") {
		name, amount, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: want NAME=AMOUNT, e.g. CPU=1", item)
		}
		q, err := core.ParseQuantity(amount)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m[name] = q
	}
	return core.NewResources(m)
}

// short cuts s to n runes with an ellipsis.
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
