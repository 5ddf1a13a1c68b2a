package dashboard

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/grayrt/gray/gcs"
)

// The state API, shaped like Ray's /api/v0: every answer is
// {"result": true, "msg": "", "data": {"result": {"total": N, "result": [...]}}}
// and a failure {"result": false, "msg": "why", "data": {}} with an HTTP
// error status.

// ListResult is the data.result of a list endpoint.
type ListResult[T any] struct {
	// Total counts the matching records; Result holds the page asked for.
	Total  int `json:"total"`
	Result []T `json:"result"`
}

// Response is the envelope of every API answer.
type Response[T any] struct {
	Result bool   `json:"result"`
	Msg    string `json:"msg"`
	Data   struct {
		Result T `json:"result"`
	} `json:"data"`
}

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v0/nodes", s.handleNodes)
	mux.HandleFunc("GET /api/v0/actors", s.handleActors)
	mux.HandleFunc("GET /api/v0/jobs", s.handleJobs)
	mux.HandleFunc("GET /api/v0/tasks", s.handleTasks)
	mux.HandleFunc("GET /api/v0/tasks/summarize", s.handleTaskSummary)
	mux.HandleFunc("GET /api/v0/actors/summarize", s.handleActorSummary)
	mux.HandleFunc("GET /api/v0/placement_groups", s.handlePlacementGroups)
	mux.HandleFunc("GET /api/v0/cluster", s.handleCluster)
	mux.HandleFunc("GET /api/v0/timeline", s.handleTimeline)
	mux.HandleFunc("GET /api/v0/logs", s.handleLogs)
	mux.HandleFunc("GET /api/v0/objects", s.handleObjects)
	mux.HandleFunc("GET /api/v0/logs/file", s.handleLogFile)
	s.jobRoutes(mux)
}

func writeJSON[T any](w http.ResponseWriter, v T) {
	var resp Response[T]
	resp.Result = true
	resp.Data.Result = v
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp) // a failed write means the client left
}

func writeError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"result": false, "msg": err.Error(), "data": map[string]any{}})
}

// readGCS runs read on the GCS's loop within the read timeout.
func (s *Server) readGCS(ctx context.Context, read func(*gcs.Server)) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadTimeout)
	defer cancel()
	return onLoop(ctx, s.opts.Source.GCS, read)
}

func (s *Server) handleNodes(w http.ResponseWriter, r *http.Request) {
	var nodes []gcs.NodeInfo
	if err := s.readGCS(r.Context(), func(g *gcs.Server) { nodes = g.Nodes() }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	out := make([]NodeView, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, viewNode(n))
	}
	writeJSON(w, ListResult[NodeView]{Total: len(out), Result: out})
}

func (s *Server) handleActors(w http.ResponseWriter, r *http.Request) {
	var actors []gcs.ActorInfo
	if err := s.readGCS(r.Context(), func(g *gcs.Server) { actors = g.Actors() }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	out := make([]ActorView, 0, len(actors))
	for _, a := range actors {
		out = append(out, viewActor(a))
	}
	writeJSON(w, ListResult[ActorView]{Total: len(out), Result: out})
}

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	var jobs []gcs.JobInfo
	if err := s.readGCS(r.Context(), func(g *gcs.Server) { jobs = g.Jobs() }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	out := make([]JobView, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, viewJob(j))
	}
	writeJSON(w, ListResult[JobView]{Total: len(out), Result: out})
}

// defaultTaskLimit is the page size of /api/v0/tasks without limit, as
// Ray's state API's default.
const defaultTaskLimit = 100

// taskQuery reads the filters of /api/v0/tasks: state, name, job, node
// (of the latest attempt), limit (default 100) and offset; limit+offset
// stay within gcs.ListTasksMax.
func taskQuery(r *http.Request) (q gcs.ListTasks, offset int, err error) {
	v := r.URL.Query()
	if st := v.Get("state"); st != "" {
		var ok bool
		if q.State, ok = gcs.ParseTaskState(st); !ok {
			return q, 0, fmt.Errorf("state %q: want one of PENDING_ARGS_AVAIL, PENDING_NODE_ASSIGNMENT, RUNNING, FINISHED, FAILED", st)
		}
	}
	q.Name = v.Get("name")
	if j := v.Get("job"); j != "" {
		if q.Job, err = parseJob(j); err != nil {
			return q, 0, err
		}
	}
	if n := v.Get("node"); n != "" {
		b, err := hex.DecodeString(n)
		if err != nil || len(b) != len(q.Node) {
			return q, 0, fmt.Errorf("node %q: want the %d hex digits of a node id", n, 2*len(q.Node))
		}
		copy(q.Node[:], b)
	}
	q.Limit = defaultTaskLimit
	if l := v.Get("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit <= 0 {
			return q, 0, fmt.Errorf("limit %q: want a positive number", l)
		}
	}
	if o := v.Get("offset"); o != "" {
		if offset, err = strconv.Atoi(o); err != nil || offset < 0 {
			return q, 0, fmt.Errorf("offset %q: want a number from 0", o)
		}
	}
	if q.Limit+offset > gcs.ListTasksMax {
		return q, 0, fmt.Errorf("limit+offset %d: the GCS returns at most %d tasks", q.Limit+offset, gcs.ListTasksMax)
	}
	return q, offset, nil
}

func (s *Server) handleTasks(w http.ResponseWriter, r *http.Request) {
	q, offset, err := taskQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	limit := q.Limit
	q.Limit += offset
	var tasks []gcs.TaskInfo
	total := 0
	if err := s.readGCS(r.Context(), func(g *gcs.Server) { tasks, total = g.Tasks(q) }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	tasks = tasks[min(offset, len(tasks)):]
	tasks = tasks[:min(limit, len(tasks))]
	out := make([]TaskView, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, viewTask(t))
	}
	writeJSON(w, ListResult[TaskView]{Total: total, Result: out})
}

// TaskSummary is /api/v0/tasks/summarize: tasks by function and state,
// over the whole task table.
type TaskSummary struct {
	Total   int            `json:"total"`
	ByState map[string]int `json:"by_state"`
	// ByFunc holds one entry per function name, sorted by name.
	ByFunc []FuncSummary `json:"summary"`
}

// FuncSummary counts one function's tasks by state.
type FuncSummary struct {
	Name    string         `json:"func_or_class_name"`
	Total   int            `json:"total"`
	ByState map[string]int `json:"state_counts"`
}

func summarizeTasks(tasks []gcs.TaskInfo) TaskSummary {
	sum := TaskSummary{Total: len(tasks), ByState: map[string]int{}}
	byName := map[string]*FuncSummary{}
	var names []string
	for _, t := range tasks {
		st := t.Latest().State.String()
		sum.ByState[st]++
		f := byName[t.Name]
		if f == nil {
			f = &FuncSummary{Name: t.Name, ByState: map[string]int{}}
			byName[t.Name] = f
			names = append(names, t.Name)
		}
		f.Total++
		f.ByState[st]++
	}
	slices.Sort(names)
	sum.ByFunc = []FuncSummary{}
	for _, n := range names {
		sum.ByFunc = append(sum.ByFunc, *byName[n])
	}
	return sum
}

func (s *Server) handleTaskSummary(w http.ResponseWriter, r *http.Request) {
	var tasks []gcs.TaskInfo
	if err := s.readGCS(r.Context(), func(g *gcs.Server) { tasks, _ = g.Tasks(gcs.ListTasks{}) }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, summarizeTasks(tasks))
}

// ActorSummary is /api/v0/actors/summarize: actors by state.
type ActorSummary struct {
	Total   int            `json:"total"`
	ByState map[string]int `json:"by_state"`
}

func (s *Server) handleActorSummary(w http.ResponseWriter, r *http.Request) {
	var actors []gcs.ActorInfo
	if err := s.readGCS(r.Context(), func(g *gcs.Server) { actors = g.Actors() }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	sum := ActorSummary{Total: len(actors), ByState: map[string]int{}}
	for _, a := range actors {
		sum.ByState[a.State.String()]++
	}
	writeJSON(w, sum)
}

// Cluster is /api/v0/cluster, the overview: node counts, resources used
// and total per node and over the cluster, task, actor and placement
// group counts, and the placement groups that wait for their bundles.
type Cluster struct {
	NodesAlive int        `json:"nodes_alive"`
	NodesDead  int        `json:"nodes_dead"`
	Nodes      []NodeView `json:"nodes"`
	// Total and Used sum the resources of the live nodes.
	Total        map[string]float64 `json:"resources_total"`
	Used         map[string]float64 `json:"resources_used"`
	Tasks        map[string]int     `json:"tasks_by_state"`
	Actors       map[string]int     `json:"actors_by_state"`
	Jobs         int                `json:"jobs"`
	TasksEvicted uint64             `json:"tasks_evicted"`
	// EventsDropped counts task events the owners dropped: the table may
	// miss transitions.
	EventsDropped uint64 `json:"task_events_dropped"`
	// PlacementGroups counts the groups by state (every state listed).
	PlacementGroups map[string]int `json:"placement_groups_by_state"`
	// PendingGroups is the placement group part of the pending demand
	// (`gray status` prints it after the nodes' queued work).
	PendingGroups []GroupDemand `json:"pending_placement_groups"`
}

func (s *Server) handleCluster(w http.ResponseWriter, r *http.Request) {
	var (
		nodes  []gcs.NodeInfo
		actors []gcs.ActorInfo
		jobs   int
		ts     gcs.TaskStats
		groups []gcs.PlacementGroupInfo
	)
	if err := s.readGCS(r.Context(), func(g *gcs.Server) {
		nodes, actors, jobs, ts, groups = g.Nodes(), g.Actors(), len(g.Jobs()), g.TaskStats(), g.PlacementGroups()
	}); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	c := Cluster{Nodes: []NodeView{}, Total: map[string]float64{}, Used: map[string]float64{}, Tasks: map[string]int{},
		Actors: map[string]int{}, Jobs: jobs, TasksEvicted: ts.Evicted, EventsDropped: ts.DroppedAtSource,
		PlacementGroups: countGroups(groups), PendingGroups: PendingGroups(groups)}
	for _, n := range nodes {
		v := viewNode(n)
		c.Nodes = append(c.Nodes, v)
		if n.State == gcs.NodeDead {
			c.NodesDead++
			continue
		}
		c.NodesAlive++
		for k, tot := range v.Total { //gray:unordered sums
			c.Total[k] += tot
			c.Used[k] += tot - v.Available[k]
		}
	}
	for st := gcs.TaskPendingArgs; st <= gcs.TaskFailed; st++ {
		c.Tasks[st.String()] = ts.ByState[st]
	}
	for _, a := range actors {
		c.Actors[a.State.String()]++
	}
	writeJSON(w, c)
}
