package dashboard_test

import (
	"bytes"
	"strconv"

	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/grayrt/gray"
)

// The end-to-end test of the dashboard: a head started in this process
// with gray.StartNode (so the tasks registered here run on its workers),
// a driver joined with gray.Init, then the state API, /metrics and the
// web UI in headless Chromium.

func TestMain(m *testing.M) {
	gray.ServeIfWorker()
	os.Exit(m.Run())
}

// Counter is the test's actor.
type Counter struct{ n int }

const failMessage = "deliberate failure for the dashboard test"

var (
	square  = gray.Task1("dashtest.square", func(_ context.Context, x int) (int, error) { return x * x, nil })
	failing = gray.Task0("dashtest.fail", func(context.Context) (int, error) { return 0, errors.New(failMessage) })
	counter = gray.Actor("dashtest.Counter", func(context.Context) (*Counter, error) { return &Counter{}, nil })
	incr    = gray.Method0("dashtest.incr", func(c *Counter, _ context.Context) (int, error) { c.n++; return c.n, nil })
)

// squares is how many square tasks the test runs, and joined how many
// nodes join the head: thousands of tasks over dozens of nodes, as the
// dashboard must handle without freezing (it pages).
const (
	squares = 2000
	joined  = 23
)

// hangGuard bounds the whole test, and every wait for a condition in it:
// a hang fails, slowness does not. 24 nodes and 2,000 tasks in one
// process take about 2 minutes under -race on a loaded 2-core machine
// (CI's race step), 15 s without; it stays under go test's default
// 10-minute timeout so that the test fails with its own message.
const hangGuard = 8 * time.Minute

// browserToken is the dashboard token of the test's head: the job API's
// writes need one. The test's HTTP requests carry it (tokenTransport),
// and the browser gets it as a cookie on its first page.
const browserToken = "browser-test-token"

// tokenTransport adds the dashboard token to every request.
type tokenTransport struct{ next http.RoundTripper }

func (tt tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if r.Header.Get("Authorization") == "" {
		r.Header.Set("Authorization", "Bearer "+browserToken)
	}
	return tt.next.RoundTrip(r)
}

// cluster is a running head with its dashboard and a joined driver.
type cluster struct {
	url string
	big gray.Ref[[]byte]
	// counter is the named actor's handle: a non-detached actor lives
	// as long as a handle to it does, so the test keeps it to the end.
	counter *gray.ActorHandle[Counter]
}

func startCluster(t *testing.T, ctx context.Context) *cluster {
	t.Helper()
	start := time.Now()
	old := http.DefaultClient
	http.DefaultClient = &http.Client{Transport: tokenTransport{http.DefaultTransport}}
	t.Cleanup(func() { http.DefaultClient = old })
	dir := t.TempDir()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(dir, "cluster-secret")
	if err := os.WriteFile(secretFile, []byte(hex.EncodeToString(secret)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	node, err := gray.StartNode(ctx, gray.NodeOptions{
		Head: true, DataDir: filepath.Join(dir, "head"), ClusterSecret: []byte(hex.EncodeToString(secret)),
		Resources: map[string]float64{"CPU": 2}, DashboardListen: "127.0.0.1:0", DashboardToken: browserToken, Logger: log,
		// 24 nodes and 2,000 tasks in one test process on a loaded CI
		// machine: the head's raylet, busy with the queue, sent no
		// heartbeat for over the default 10 s and was declared dead.
		NodeTimeout: time.Minute,
	})
	if err != nil {
		t.Fatalf("StartNode: %v", err)
	}
	t.Cleanup(func() { node.Close() })
	if node.DashboardURL() == "" {
		t.Fatal("DashboardURL() is empty with DashboardListen set")
	}
	for i := range joined {
		n, err := gray.StartNode(ctx, gray.NodeOptions{
			Join: node.GCSAddress(), DataDir: filepath.Join(dir, fmt.Sprintf("node%d", i)), ClusterSecret: []byte(hex.EncodeToString(secret)),
			Resources: map[string]float64{"CPU": 1}, Logger: log,
		})
		if err != nil {
			t.Fatalf("StartNode joined %d: %v", i, err)
		}
		t.Cleanup(func() { n.Close() })
	}
	// Every node registered before the work starts.
	deadline, _ := ctx.Deadline()
	for ; ; time.Sleep(50 * time.Millisecond) {
		var nodes struct {
			Result []struct {
				State string `json:"state"`
			} `json:"result"`
		}
		getJSON(t, node.DashboardURL()+"api/v0/nodes", &nodes)
		if len(nodes.Result) == joined+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d nodes registered by the hang guard, want %d", len(nodes.Result), joined+1)
		}
	}
	rt, err := gray.Init(ctx, gray.WithAddress(node.GCSAddress()), gray.WithSecretFile(secretFile), gray.WithLogger(log))
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	t.Cleanup(rt.Shutdown)

	t.Logf("%d nodes registered after %v", joined+1, time.Since(start))
	refs := make([]gray.Ref[int], squares)
	for i := range refs {
		refs[i] = square.Remote(ctx, gray.V(i))
	}
	if _, err := gray.GetAll(ctx, refs); err != nil {
		t.Fatalf("square tasks: %v", err)
	}
	t.Logf("%d square tasks done after %v", squares, time.Since(start))
	if _, err := failing.Options(gray.WithMaxRetries(0)).Remote(ctx).Get(ctx); err == nil || !strings.Contains(err.Error(), failMessage) {
		t.Fatalf("failing task: err = %v, want %q", err, failMessage)
	}
	c, err := counter.New(ctx, gray.WithName("dash-counter"))
	if err != nil {
		t.Fatalf("actor: %v", err)
	}
	if n, err := incr.Remote(ctx, c).Get(ctx); err != nil || n != 1 {
		t.Fatalf("incr = %v, %v; want 1", n, err)
	}
	// An object large enough for the object store (the ref stays live:
	// the test keeps it until the end).
	big := gray.Put(ctx, make([]byte, bigObject))
	if _, err := big.Get(ctx); err != nil {
		t.Fatalf("put %d bytes: %v", bigObject, err)
	}
	// A placement group the nodes hold (one CPU on each of three), and
	// one no node can: it waits, listed as infeasible demand.
	pg, err := gray.CreatePlacementGroup(ctx, []map[string]float64{{"CPU": 1}, {"CPU": 1}, {"CPU": 1}},
		gray.WithPlacementStrategy(gray.StrictSpread), gray.WithName(groupName))
	if err != nil {
		t.Fatalf("CreatePlacementGroup: %v", err)
	}
	if ok, err := pg.Wait(ctx, -1); !ok || err != nil {
		t.Fatalf("placement group %s: Wait = %v, %v; want created", groupName, ok, err)
	}
	if _, err := gray.CreatePlacementGroup(ctx, []map[string]float64{{"GPU": 1}}, gray.WithName(gpuGroupName)); err != nil {
		t.Fatalf("CreatePlacementGroup of a GPU: %v", err)
	}
	return &cluster{url: node.DashboardURL(), big: big, counter: c}
}

// The test's placement groups: groupName is created, gpuGroupName waits
// for a node with a GPU, which never joins.
const (
	groupName      = "dash-pg"
	gpuGroupName   = "dash-pg-gpu"
	gpuGroupDemand = "{GPU: 1} * 1 (PACK)"
)

// bigObject is the size of the test's object-store object.
const bigObject = 300 << 10

// getJSON decodes the data.result of an API answer into out.
func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %v\n%s", url, resp.Status, err, body)
	}
	var env struct {
		Result bool `json:"result"`
		Data   struct {
			Result json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || !env.Result {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
	if err := json.Unmarshal(env.Data.Result, out); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
}

type taskList struct {
	Total  int `json:"total"`
	Result []struct {
		Name         string `json:"name"`
		State        string `json:"state"`
		ErrorType    string `json:"error_type"`
		ErrorMessage string `json:"error_message"`
		NodeID       string `json:"node_id"`
	} `json:"result"`
}

func TestDashboard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cl := startCluster(t, ctx)
	// The cluster's actor and object live until the test ends.
	defer goruntime.KeepAlive(cl)

	// Task events reach the GCS within a flush period (1s).
	var failed taskList
	deadline, _ := ctx.Deadline()
	for {
		getJSON(t, cl.url+"api/v0/tasks?state=FAILED", &failed)
		var all taskList
		getJSON(t, cl.url+"api/v0/tasks?state=FINISHED&name=dashtest.square", &all)
		if failed.Total == 1 && all.Total == squares {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("by the hang guard: %d failed tasks, %d finished squares; want 1 and %d", failed.Total, all.Total, squares)
		}
		time.Sleep(200 * time.Millisecond)
	}

	t.Run("objects", func(t *testing.T) {
		var objs struct {
			Total  int `json:"total"`
			Result []struct {
				ID     string `json:"object_id"`
				Size   int64  `json:"object_size"`
				Owner  string `json:"owner_address"`
				Pinned bool   `json:"pinned_primary"`
			} `json:"result"`
		}
		getJSON(t, cl.url+"api/v0/objects", &objs)
		found := false
		for _, o := range objs.Result {
			found = found || (o.Size >= bigObject && o.Pinned && strings.HasSuffix(o.Owner, "#driver"))
		}
		if !found {
			t.Errorf("/api/v0/objects = %+v; want the driver's %d-byte object, pinned", objs, bigObject)
		}
	})

	t.Run("api", func(t *testing.T) {
		f := failed.Result[0]
		if f.Name != "dashtest.fail" || f.ErrorType == "" || !strings.Contains(f.ErrorMessage, failMessage) || f.NodeID == "" {
			t.Errorf("failed task = %+v, want dashtest.fail with its error and node", f)
		}
		var page taskList
		getJSON(t, cl.url+"api/v0/tasks?limit=5&offset=245", &page)
		if page.Total < squares+1 || len(page.Result) != 5 {
			t.Errorf("tasks page at 245: total %d, %d rows; want at least %d and 5", page.Total, len(page.Result), squares+1)
		}
		var onNode taskList
		getJSON(t, cl.url+"api/v0/tasks?limit=1&node="+f.NodeID, &onNode)
		if onNode.Total < 1 || len(onNode.Result) != 1 || onNode.Result[0].NodeID != f.NodeID {
			t.Errorf("tasks on the failed task's node: %+v, want at least one, on that node", onNode)
		}
		var nodes struct {
			Total  int `json:"total"`
			Result []struct {
				State string `json:"state"`
			} `json:"result"`
		}
		getJSON(t, cl.url+"api/v0/nodes", &nodes)
		alive := 0
		for _, n := range nodes.Result {
			if n.State == "ALIVE" {
				alive++
			}
		}
		if nodes.Total != joined+1 || alive != joined+1 {
			t.Errorf("nodes = %+v, want %d ALIVE", nodes, joined+1)
		}
		var actors struct {
			Result []struct {
				Name        string `json:"name"`
				State       string `json:"state"`
				NumRestarts int64  `json:"num_restarts"`
			} `json:"result"`
		}
		getJSON(t, cl.url+"api/v0/actors", &actors)
		if len(actors.Result) != 1 || actors.Result[0].Name != "dash-counter" || actors.Result[0].State != "ALIVE" {
			t.Errorf("actors = %+v, want dash-counter ALIVE", actors)
		}
		var jobs struct {
			Total int `json:"total"`
		}
		getJSON(t, cl.url+"api/v0/jobs", &jobs)
		if jobs.Total != 1 {
			t.Errorf("jobs total = %d, want 1", jobs.Total)
		}
		var sum struct {
			Summary []struct {
				Name        string         `json:"func_or_class_name"`
				StateCounts map[string]int `json:"state_counts"`
			} `json:"summary"`
		}
		getJSON(t, cl.url+"api/v0/tasks/summarize", &sum)
		found := false
		for _, f := range sum.Summary {
			found = found || (f.Name == "dashtest.square" && f.StateCounts["FINISHED"] == squares)
		}
		if !found {
			t.Errorf("task summary %+v lacks %d finished dashtest.square", sum, squares)
		}
		tl, err := http.Get(cl.url + "api/v0/timeline")
		if err != nil {
			t.Fatal(err)
		}
		var trace struct {
			TraceEvents []struct {
				Ph string `json:"ph"`
			} `json:"traceEvents"`
		}
		err = json.NewDecoder(tl.Body).Decode(&trace)
		tl.Body.Close()
		spans := 0
		for _, e := range trace.TraceEvents {
			if e.Ph == "X" {
				spans++
			}
		}
		if err != nil || spans < squares+1 {
			t.Errorf("timeline: %v, %d spans; want one per task that ran (%d at least)", err, spans, squares+1)
		}
		var groups struct {
			Total  int `json:"total"`
			Result []struct {
				Name       string `json:"name"`
				State      string `json:"state"`
				Strategy   string `json:"strategy"`
				Infeasible bool   `json:"infeasible"`
				Reason     string `json:"reason"`
				Bundles    []struct {
					Resources map[string]float64 `json:"unit_resources"`
					NodeID    string             `json:"node_id"`
				} `json:"bundles"`
			} `json:"result"`
		}
		getJSON(t, cl.url+"api/v0/placement_groups", &groups)
		if groups.Total != 2 || len(groups.Result) != 2 {
			t.Errorf("placement groups = %+v, want %s and %s", groups, groupName, gpuGroupName)
		}
		for _, g := range groups.Result {
			switch g.Name {
			case groupName:
				nodes := map[string]bool{}
				for _, b := range g.Bundles {
					nodes[b.NodeID] = b.NodeID != "" && b.Resources["CPU"] == 1
				}
				if g.State != "CREATED" || g.Strategy != "STRICT_SPREAD" || len(g.Bundles) != 3 || len(nodes) != 3 || nodes[""] {
					t.Errorf("group %s = %+v, want CREATED, STRICT_SPREAD, three {CPU: 1} bundles on three nodes", groupName, g)
				}
			case gpuGroupName:
				if g.State != "PENDING" || !g.Infeasible || g.Reason == "" || len(g.Bundles) != 1 || g.Bundles[0].NodeID != "" {
					t.Errorf("group %s = %+v, want PENDING, infeasible with a reason, its bundle unplaced", gpuGroupName, g)
				}
			}
		}
		var overview struct {
			ByState map[string]int `json:"placement_groups_by_state"`
			Pending []struct {
				Shape      string `json:"shape"`
				Count      int    `json:"count"`
				Infeasible bool   `json:"infeasible"`
			} `json:"pending_placement_groups"`
		}
		getJSON(t, cl.url+"api/v0/cluster", &overview)
		if overview.ByState["CREATED"] != 1 || overview.ByState["PENDING"] != 1 || len(overview.Pending) != 1 ||
			overview.Pending[0].Shape != gpuGroupDemand || overview.Pending[0].Count != 1 || !overview.Pending[0].Infeasible {
			t.Errorf("cluster's placement groups = %+v, want 1 CREATED, 1 PENDING, pending demand %s infeasible", overview, gpuGroupDemand)
		}
		resp, err := http.Get(cl.url + "api/v0/tasks?state=BOGUS")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("bad state filter: %s, want 400", resp.Status)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get(cl.url + "metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// It parses as the Prometheus text exposition format.
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("/metrics does not parse as Prometheus text format: %v\n%s", err, body)
		}
		for _, name := range []string{"gray_tasks_submitted_total", "gray_object_store_used_bytes", "gray_gcs_requests_total"} {
			if _, ok := families[name]; !ok {
				t.Errorf("/metrics has no %s family", name)
			}
		}
		for _, want := range []string{
			"gray_tasks_submitted_total ", `gray_tasks{state="FAILED"} 1`, fmt.Sprintf(`gray_nodes{state="ALIVE"} %d`, joined+1),
			`gray_actors{state="ALIVE"} 1`, `gray_gcs_requests_total{type="gcs.AddTaskEvents"}`,
			`gray_placement_groups{state="CREATED"} 1`, `gray_placement_groups{state="PENDING"} 1`,
			"gray_object_store_capacity_bytes{", "gray_raylet_leases_granted_total{", "gray_raylet_lease_wait_seconds_total{", "gray_actor_restarts_total 0",
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		if t.Failed() {
			t.Logf("/metrics:\n%s", body)
		}
	})

	t.Run("jobs", func(t *testing.T) { submitJobs(t, ctx, cl) })

	t.Run("browser", func(t *testing.T) { browserTest(t, ctx, cl) })
}

// The submitted jobs of the test: this test binary, staged over HTTP
// and run by the head's node as a job's driver (TestSubmittedDriver).
// doneJob prints driverMarker and exits 0; sleepJob prints it and waits
// to be stopped (the browser's Stop button stops it).
const (
	doneJob      = "dash-done"
	sleepJob     = "dash-sleep"
	driverMarker = "dashtest driver of"
)

// TestSubmittedDriver is the program of the test's submitted jobs: a
// node runs this test binary with -test.run=^TestSubmittedDriver$ and
// GRAY_SUBMISSION_ID set. In a test run of its own it skips.
func TestSubmittedDriver(t *testing.T) {
	id := os.Getenv("GRAY_SUBMISSION_ID")
	if id == "" {
		t.Skip("runs only as a submitted job's driver (TestDashboard submits it)")
	}
	fmt.Println(driverMarker, id)
	if os.Getenv("DASHTEST_SLEEP") == "1" {
		time.Sleep(hangGuard) // until stopped (SIGTERM ends the process)
	}
}

// rest sends a request to the job REST API and decodes the answer into
// out; it fails the test unless the status is 200.
func rest(t *testing.T, ctx context.Context, method, url string, body []byte, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %v %v\n%s", method, url, resp.Status, err, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, url, err, b)
		}
	}
}

type submittedJob struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	NodeID  string `json:"driver_node_id"`
}

// waitJob polls a submitted job until pred holds, and returns it.
func waitJob(t *testing.T, ctx context.Context, cl *cluster, id string, what string, pred func(submittedJob, string) bool) submittedJob {
	t.Helper()
	for {
		var j submittedJob
		rest(t, ctx, "GET", cl.url+"api/jobs/"+id, nil, &j)
		var logs struct {
			Logs string `json:"logs"`
		}
		rest(t, ctx, "GET", cl.url+"api/jobs/"+id+"/logs", nil, &logs)
		if pred(j, logs.Logs) {
			return j
		}
		if ctx.Err() != nil {
			t.Fatalf("job %s by the hang guard: %+v, log %q; want it %s", id, j, logs.Logs, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// submitJobs stages this test binary with PUT /api/packages/ and submits
// it twice with POST /api/jobs/ on the real head: one job succeeds and
// its driver's output is read back, the other runs on for the browser
// to stop.
func submitJobs(t *testing.T, ctx context.Context, cl *cluster) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	program, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	// Bytes after an executable's last segment are never loaded: with a
	// trailer the program runs as before, under a hash of its own, so
	// that the upload is not skipped (gray.Init staged this binary as
	// it is for the driver's workers).
	program = append(program, "\ngray dashboard test: uploaded over HTTP\n"...)
	sum := sha256.Sum256(program)
	hash := hex.EncodeToString(sum[:])
	start := time.Now()
	var staged struct {
		Kind     string `json:"kind"`
		Uploaded bool   `json:"uploaded"`
	}
	rest(t, ctx, "PUT", cl.url+"api/packages/"+hash, program, &staged)
	if staged.Kind != "program" || !staged.Uploaded {
		t.Errorf("PUT the program = %+v, want a program, uploaded", staged)
	}
	rest(t, ctx, "GET", cl.url+"api/packages/"+hash, nil, nil)
	t.Logf("staged this test binary (%d bytes) in %v", len(program), time.Since(start))
	submit := func(id, env string) {
		body := fmt.Sprintf(`{"entrypoint": "dashboard.test -test.run=^TestSubmittedDriver$", "submission_id": %q,
			"runtime_env": {"binary": %q, "env_vars": {%s}}, "metadata": {"test": "TestDashboard"}}`, id, hash, env)
		var r struct {
			SubmissionID string `json:"submission_id"`
		}
		rest(t, ctx, "POST", cl.url+"api/jobs/", []byte(body), &r)
		if r.SubmissionID != id {
			t.Errorf("submitted %s, got id %q", id, r.SubmissionID)
		}
	}
	submit(doneJob, "")
	submit(sleepJob, `"DASHTEST_SLEEP": "1"`)
	marker := func(id string) func(submittedJob, string) bool {
		return func(_ submittedJob, logs string) bool { return strings.Contains(logs, driverMarker+" "+id) }
	}
	done := waitJob(t, ctx, cl, doneJob, "SUCCEEDED with its output", func(j submittedJob, logs string) bool {
		return j.Status == "SUCCEEDED" && marker(doneJob)(j, logs)
	})
	if done.NodeID == "" {
		t.Errorf("job %s = %+v, want the node that ran it", doneJob, done)
	}
	waitJob(t, ctx, cl, sleepJob, "RUNNING with its output", func(j submittedJob, logs string) bool {
		return j.Status == "RUNNING" && marker(sleepJob)(j, logs)
	})
	var list []submittedJob
	rest(t, ctx, "GET", cl.url+"api/jobs/", nil, &list)
	if len(list) != 2 {
		t.Errorf("GET /api/jobs/ = %+v, want the two jobs", list)
	}
	t.Logf("jobs %s and %s ran after %v", doneJob, sleepJob, time.Since(start))
}

// chromium finds a Chromium or Chrome binary.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func browserTest(t *testing.T, ctx context.Context, cl *cluster) {
	bin := chromium()
	if bin == "" {
		if os.Getenv("GRAY_REQUIRE_BROWSER") == "1" {
			t.Fatal("GRAY_REQUIRE_BROWSER=1 but no chromium binary on PATH (apt-get install chromium)")
		}
		t.Skip("no chromium binary on PATH; set GRAY_REQUIRE_BROWSER=1 to make this a failure")
	}
	artifacts := os.Getenv("GRAY_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	var mu sync.Mutex
	var consoleErrors []string
	err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				consoleErrors = append(consoleErrors, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			consoleErrors = append(consoleErrors, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		}
	})
	if err != nil {
		t.Fatalf("starting chromium %s: %v", bin, err)
	}

	tctx, cancelSteps := context.WithTimeout(bctx, 90*time.Second)
	defer cancelSteps()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		must("text of "+sel, err)
		return v
	}
	must("token cookie", chromedp.Do(tctx, chromedp.Navigate(cl.url+"?token="+browserToken)))
	open := func(page string) {
		t.Helper()
		must("open "+page, chromedp.Do(tctx, chromedp.Navigate(cl.url+"#"+page),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`body[data-loaded=%q] #page-%s`, page, page)))))
	}

	open("overview")
	alive := text("#nodes-alive")
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	must("screenshot", err)
	path := filepath.Join(artifacts, "dashboard-overview.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
	} else {
		t.Logf("overview screenshot: %s", path)
	}
	overviewGroups := text("#overview-pgs")
	for _, p := range []string{"nodes", "actors", "placement-groups", "jobs", "objects", "logs", "tasks"} {
		open(p)
	}
	// Paging: the second page of all tasks, then back.
	first := text("#task-page")
	must("next page", chromedp.Do(tctx, chromedp.Click(chromedp.CSS("#task-next")),
		chromedp.WaitVisible(chromedp.JSPath(`[...document.querySelectorAll("#task-page")].filter(e => e.textContent.startsWith("101–200 of "))`))))
	rows, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("#tasks-body tr").length`))
	must("count rows", err)
	if !strings.HasPrefix(first, "1–100 of ") || rows != 100 {
		t.Errorf("tasks page 1 says %q, page 2 has %d rows; want 1–100 of N and 100", first, rows)
	}
	must("previous page", chromedp.Do(tctx, chromedp.Click(chromedp.CSS("#task-prev")),
		chromedp.WaitVisible(chromedp.JSPath(`[...document.querySelectorAll("#task-page")].filter(e => e.textContent.startsWith("1–100 of "))`))))
	actorsText := ""
	// The tasks page, filtered to FAILED: the failed task's row is marked
	// and shows its error.
	must("filter FAILED", chromedp.Do(tctx,
		chromedp.SetValue(chromedp.CSS("#task-state"), "FAILED"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.getElementById("task-state").dispatchEvent(new Event("change"))`)(ctx, tg)
			return err
		}),
		chromedp.WaitVisible(chromedp.CSS(`#tasks-body tr.failed td.error`))))
	failedText := text(`#tasks-body tr.failed td.error`)
	shot, err = chromedp.Run(tctx, chromedp.FullScreenshot(100))
	must("screenshot of the failed tasks", err)
	if err := os.WriteFile(filepath.Join(artifacts, "dashboard-tasks-failed.png"), shot, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
	}
	open("placement-groups")
	groupsText := text("#pgs-body")
	shot, err = chromedp.Run(tctx, chromedp.FullScreenshot(100))
	must("screenshot of the placement groups", err)
	if err := os.WriteFile(filepath.Join(artifacts, "dashboard-placement-groups.png"), shot, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
	}
	// The jobs page: the submitted jobs, one's driver output, and the
	// Stop button of the one that runs.
	open("jobs")
	must("submitted jobs listed", chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#submissions-body tr[data-job=%q]`, sleepJob)))))
	must("show a driver's output", chromedp.Do(tctx,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#submissions-body tr[data-job=%q] td.link`, doneJob))),
		chromedp.WaitVisible(chromedp.JSPath(fmt.Sprintf(`[...document.querySelectorAll("#job-log-view")].filter(e => e.textContent.includes(%q))`, driverMarker+" "+doneJob)))))
	jobLogText := text("#job-log-view")
	must("stop a running job", chromedp.Do(tctx,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button.stop[data-job=%q]`, sleepJob))),
		chromedp.WaitVisible(chromedp.JSPath(fmt.Sprintf(`[...document.querySelectorAll('#submissions-body tr[data-job=%q] td.state')].filter(e => e.textContent === "STOPPED")`, sleepJob)))))
	jobsText := text("#submissions-body")
	shot, err = chromedp.Run(tctx, chromedp.FullScreenshot(100))
	must("screenshot of the jobs", err)
	if err := os.WriteFile(filepath.Join(artifacts, "dashboard-jobs.png"), shot, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
	}
	open("actors")
	actorsText = text("#actors-body")
	status := text("#status")

	if strings.TrimSpace(alive) != strconv.Itoa(joined+1) {
		t.Errorf("overview shows %q nodes alive, want %d", alive, joined+1)
	}
	if !strings.Contains(failedText, failMessage) {
		t.Errorf("failed task row shows %q, want the error %q", failedText, failMessage)
	}
	if !strings.Contains(actorsText, "dash-counter") {
		t.Errorf("actors page shows %q, want dash-counter", actorsText)
	}
	if !strings.Contains(groupsText, groupName) || !strings.Contains(groupsText, "CREATED") || !strings.Contains(groupsText, "INFEASIBLE") {
		t.Errorf("placement groups page shows %q, want %s CREATED and %s INFEASIBLE", groupsText, groupName, gpuGroupName)
	}
	if !strings.Contains(overviewGroups, gpuGroupDemand) {
		t.Errorf("overview's pending placement groups show %q, want %s", overviewGroups, gpuGroupDemand)
	}
	if !strings.Contains(jobLogText, driverMarker+" "+doneJob) {
		t.Errorf("jobs page shows the output %q for %s, want its driver's line", jobLogText, doneJob)
	}
	if !strings.Contains(jobsText, doneJob) || !strings.Contains(jobsText, "SUCCEEDED") || !strings.Contains(jobsText, "STOPPED") {
		t.Errorf("jobs page shows %q, want %s SUCCEEDED and %s STOPPED", jobsText, doneJob, sleepJob)
	}
	if strings.Contains(status, "cannot") {
		t.Errorf("status line: %q", status)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("console errors:\n%s", strings.Join(consoleErrors, "\n"))
	}
}
