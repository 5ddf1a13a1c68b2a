package main

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/core"
	"github.com/grayrt/gray/gcs"
)

// gray list tasks and gray summary read the GCS's task table directly
// (ListTasks) over the same connection as the other cluster commands, so
// they need no dashboard.

// taskView is the --json form of a task: its latest attempt.
type taskView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Job       string `json:"job"`
	State     string `json:"state"`
	Attempt   uint32 `json:"attempt"`
	Node      string `json:"node,omitempty"`
	Worker    string `json:"worker,omitempty"`
	ErrorKind string `json:"error_kind,omitempty"`
	Error     string `json:"error,omitempty"`
	Submitted string `json:"submitted,omitempty"`
}

func viewTask(t gcs.TaskInfo) taskView {
	l := t.Latest()
	v := taskView{ID: t.ID.String(), Name: t.Name, Job: t.Job.String(), State: l.State.String(), Attempt: l.Attempt,
		Worker: string(l.Worker), ErrorKind: l.ErrorKind, Error: l.Error, Submitted: unixTime(t.SubmitTime)}
	if !l.Node.IsNil() {
		v.Node = fullNodeID(l.Node)
	}
	return v
}

func listTasksCommand() *cli.Command {
	cmd := listCommand("tasks", "list the tasks the GCS heard of (the newest 10,000 at most), oldest first", listTasks)
	cmd.Flags = append(cmd.Flags,
		&cli.StringFlag{Name: "state", Usage: "only tasks in `STATE`: PENDING_ARGS_AVAIL, PENDING_NODE_ASSIGNMENT, RUNNING, FINISHED or FAILED"},
		&cli.StringFlag{Name: "name", Usage: "only tasks of the function `NAME`"},
		&cli.StringFlag{Name: "job", Usage: "only tasks of `JOB` (its number, or its id as gray list jobs prints it)"},
		&cli.IntFlag{Name: "limit", Value: 100, Usage: "print at most `N` tasks"})
	return cmd
}

// taskFilter reads the filter flags of list tasks.
func taskFilter(c *cli.Context) (gcs.ListTasks, error) {
	var q gcs.ListTasks
	if s := c.String("state"); s != "" {
		st, ok := gcs.ParseTaskState(strings.ToUpper(s))
		if !ok {
			return q, usageError("--state %q: want PENDING_ARGS_AVAIL, PENDING_NODE_ASSIGNMENT, RUNNING, FINISHED or FAILED", s)
		}
		q.State = st
	}
	q.Name = c.String("name")
	if j := c.String("job"); j != "" {
		s := strings.TrimPrefix(j, "job:")
		var id core.JobID
		if n, err := strconv.ParseUint(s, 10, 32); err == nil && len(s) < 2*len(id) {
			id = core.JobIDFromInt(uint32(n))
		} else if b, err := hex.DecodeString(s); err == nil && len(b) == len(id) {
			copy(id[:], b)
		} else {
			return q, usageError("--job %q: want a job number or an id such as job:00000001", j)
		}
		q.Job = id
	}
	if q.Limit = c.Int("limit"); q.Limit <= 0 || q.Limit > gcs.ListTasksMax {
		return q, usageError("--limit %d: want 1..%d", q.Limit, gcs.ListTasksMax)
	}
	return q, nil
}

func listTasks(c *cli.Context, cc *clusterConn, _ []string) error {
	q, err := taskFilter(c)
	if err != nil {
		return err
	}
	r, err := fetch(c.Context, cc, "list tasks", func(g *gcs.Client, cb func(gcs.Reply, error)) { g.ListTasks(q, cb) })
	if err != nil {
		return err
	}
	if c.Bool("json") {
		vs := make([]taskView, 0, len(r.Tasks))
		for _, t := range r.Tasks {
			vs = append(vs, viewTask(t))
		}
		return writeJSON(c.App.Writer, vs)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tNAME\tSTATE\tATTEMPT\tJOB\tNODE\tERROR")
	for _, t := range r.Tasks {
		v := viewTask(t)
		msg := v.Error
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if v.ErrorKind != "" {
			msg = v.ErrorKind + ": " + msg
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", v.ID, v.Name, v.State, v.Attempt, v.Job, dash(v.Node), dash(msg))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.TasksTotal > len(r.Tasks) {
		fmt.Fprintf(c.App.ErrWriter, "%d of %d matching tasks shown; raise --limit or filter\n", len(r.Tasks), r.TasksTotal)
	}
	return nil
}

// summaryCommand is gray summary tasks|actors, as Ray's ray summary.
func summaryCommand() *cli.Command {
	sub := func(name, usage string, f clusterAction) *cli.Command {
		return &cli.Command{Name: name, Usage: usage, OnUsageError: onUsageError, Flags: clusterFlags(), Action: withCluster(0, 0, nil, f)}
	}
	return &cli.Command{
		Name:         "summary",
		Usage:        "count a running cluster's tasks by function and state, or its actors by state",
		OnUsageError: onUsageError,
		Action:       helpOrUnknown,
		Subcommands: []*cli.Command{
			sub("tasks", "count the tasks in the GCS's task table by function and state", summaryTasks),
			sub("actors", "count the actors by state", summaryActors),
		},
	}
}

var taskStates = []gcs.TaskState{gcs.TaskPendingArgs, gcs.TaskPendingNode, gcs.TaskRunning, gcs.TaskFinished, gcs.TaskFailed}

func summaryTasks(c *cli.Context, cc *clusterConn, _ []string) error {
	r, err := fetch(c.Context, cc, "summary tasks", func(g *gcs.Client, cb func(gcs.Reply, error)) { g.ListTasks(gcs.ListTasks{}, cb) })
	if err != nil {
		return err
	}
	counts := map[string]map[gcs.TaskState]int{}
	var names []string
	for _, t := range r.Tasks {
		m := counts[t.Name]
		if m == nil {
			m = map[gcs.TaskState]int{}
			counts[t.Name] = m
			names = append(names, t.Name)
		}
		m[t.Latest().State]++
	}
	slices.Sort(names)
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "NAME\tTOTAL")
	for _, s := range taskStates {
		fmt.Fprintf(tw, "\t%s", s)
	}
	fmt.Fprintln(tw)
	for _, n := range names {
		total := 0
		for _, v := range counts[n] { //gray:unordered a sum
			total += v
		}
		fmt.Fprintf(tw, "%s\t%d", n, total)
		for _, s := range taskStates {
			fmt.Fprintf(tw, "\t%d", counts[n][s])
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "\n%d tasks\n", len(r.Tasks))
	if r.TasksTotal > len(r.Tasks) {
		fmt.Fprintf(c.App.ErrWriter, "only %d of %d tasks counted: the GCS's reply was cut at its size limit\n", len(r.Tasks), r.TasksTotal)
	}
	return nil
}

func summaryActors(c *cli.Context, cc *clusterConn, _ []string) error {
	r, err := fetch(c.Context, cc, "summary actors", (*gcs.Client).ListActors)
	if err != nil {
		return err
	}
	counts := map[gcs.ActorState]int{}
	restarts := int64(0)
	for _, a := range r.Actors {
		counts[a.State]++
		restarts += a.NumRestarts
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tACTORS")
	for s := gcs.ActorDependenciesUnready; s <= gcs.ActorDead; s++ {
		fmt.Fprintf(tw, "%s\t%d\n", s, counts[s])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "\n%d actors, %d restarts in all\n", len(r.Actors), restarts)
	return nil
}
