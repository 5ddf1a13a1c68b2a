package clustertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// stockCluster is a head and a joined node, both stock grayd with two
// CPUs: the job binaries of the drivers run on workers their raylets
// launch.
func stockCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{headDir: filepath.Join(t.TempDir(), "head")}
	c.grayd, c.app = build(t)
	c.listen = fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t))
	c.dashboard = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.head = start(t, "head", c.grayd, "--head", "--data-dir", c.headDir, "--listen", c.listen, "--resources", "CPU=2", "--worker-memory-limit", "300MiB",
		"--dashboard-listen", c.dashboard, "--log-level", "warn")
	c.gcs = c.head.line(t, startTimeout)
	c.secret = filepath.Join(c.headDir, "cluster-secret")
	n := start(t, "node1", c.grayd, "--join", c.gcs, "--data-dir", filepath.Join(t.TempDir(), "node"), "--secret-file", c.secret, "--resources", "CPU=2", "--worker-memory-limit", "300MiB", "--log-level", "warn")
	n.line(t, startTimeout)
	c.nodes = append(c.nodes, n)
	return c
}

// goBuild builds pkg into dir/name with extra flags.
func goBuild(t *testing.T, dir, name, pkg string, flags ...string) string {
	t.Helper()
	skipShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	out := filepath.Join(dir, name)
	args := append(append([]string{"build", "-o", out}, flags...), pkg)
	if b, err := exec.CommandContext(ctx, "go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// TestStockGraydRunsJobBinaries: a head and a node from the stock grayd
// binary run a driver's tasks and actors on workers started from the
// driver's staged binary, on both nodes; a second program with other
// functions runs at the same time; a worker killed with SIGKILL mid-task
// is reaped and the task retried; a panic comes back with its stack.
func TestStockGraydRunsJobBinaries(t *testing.T) {
	c := stockCluster(t)
	d := c.driver(t)

	// The first round may run on whichever node's workers started first.
	var got string
	for range 5 {
		got = d.ask(t, "nodes 24")
		if strings.Count(got, ",") >= 1 {
			break
		}
	}
	for _, want := range []string{c.gcs[:strings.LastIndexByte(c.gcs, '#')] + "#raylet", c.nodes[0].lastAddr(t)} {
		if !strings.Contains(got, want) {
			t.Errorf("nodes 24 ran on %s; want a launched worker of %s among them", got, want)
		}
	}
	if strings.Contains(got, "in-process") {
		t.Errorf("nodes 24 ran on %s: a stock grayd node ran the task in its own process", got)
	}

	// A second job binary, at the same time: pi's functions.
	pi := goBuild(t, t.TempDir(), "pi", "github.com/grayrt/gray/examples/pi")
	piCmd := exec.Command(pi, "-tasks", "8", "-samples", "100000")
	piCmd.Env = append(os.Environ(), "GRAY_ADDRESS="+c.gcs, "GRAY_SECRET_FILE="+c.secret, "HOME="+t.TempDir())
	piDone := make(chan []byte, 1)
	go func() {
		out, err := piCmd.CombinedOutput()
		if err != nil {
			out = append(out, []byte("\nexit: "+err.Error())...)
		}
		piDone <- out
	}()
	if got := d.ask(t, "actor tally"); !strings.HasPrefix(got, "1 ") {
		t.Errorf("actor tally = %q, want count 1", got)
	}
	select {
	case out := <-piDone:
		if !strings.Contains(string(out), "π ≈ 3.1") {
			t.Errorf("pi beside the app driver printed:\n%s", out)
		}
	case <-time.After(commandTimeout):
		_ = piCmd.Process.Kill()
		t.Fatal("pi beside the app driver hung")
	}

	marker := filepath.Join(t.TempDir(), "killed-once")
	d.ask(t, "suicide "+marker)
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the first attempt of the suicide task never ran: %v", err)
	}

	// Output of a launched worker reaches the driver's terminal.
	d.ask(t, "echo hello from a worker")
	deadline := time.Now().Add(commandTimeout)
	for !strings.Contains(d.stderr.String(), ") hello from a worker") {
		if time.Now().After(deadline) {
			t.Fatalf("the worker's output never reached the driver's stderr:\n%s", d.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// gray logs lists the worker's files and prints the one with the line.
	gray := goBuild(t, t.TempDir(), "gray", "github.com/grayrt/gray/cmd/gray")
	logs := func(args ...string) string {
		cmd := exec.Command(gray, append([]string{"logs", "--address", c.gcs, "--secret-file", c.secret}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gray logs %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	found := false
	for _, line := range strings.Split(logs("--job", "1"), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && strings.HasSuffix(f[1], ".out") && f[2] != "0" {
			if strings.Contains(logs(f[1]), "hello from a worker") {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no worker log file of job 1 holds the echoed line; gray logs --job 1:\n%s", logs("--job", "1"))
	}
	// A second driver of the same program finds its binary staged: the
	// GCS holds one manifest per distinct binary (app and pi).
	c.driver(t).ask(t, "spread 2")
	kv := exec.Command(gray, "kv", "list", "--address", c.gcs, "--secret-file", c.secret, "--ns", "gray.binaries")
	kv.Env = append(os.Environ(), "HOME="+t.TempDir())
	keys, err := kv.Output()
	if err != nil {
		t.Fatalf("gray kv list: %v", err)
	}
	manifests := 0
	for _, k := range strings.Fields(string(keys)) {
		if !strings.Contains(k, "/") {
			manifests++
		}
	}
	if manifests != 2 {
		t.Errorf("the GCS holds %d staged binaries after three drivers of two programs, want 2:\n%s", manifests, keys)
	}

	// ... and finds the files of the worker hosting an actor.
	list := exec.Command(gray, "list", "actors", "--address", c.gcs, "--secret-file", c.secret, "--json")
	list.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := list.Output()
	if err != nil {
		t.Fatalf("gray list actors: %v", err)
	}
	var actors []struct{ ID, Name, State string }
	if err := json.Unmarshal(out, &actors); err != nil {
		t.Fatalf("gray list actors --json: %v\n%s", err, out)
	}
	for _, a := range actors {
		if a.Name == "tally" && a.State == "ALIVE" {
			if got := logs("--actor", a.ID); !strings.Contains(got, "==> job-1-worker-") || !strings.Contains(got, ".err <==") {
				t.Errorf("gray logs --actor %s printed %q, want its worker's .out and .err", a.ID, got)
			}
		}
	}

	// A worker over the memory limit is killed with an error saying so.
	if got := d.ask(t, "hog 600"); !strings.Contains(got, "memory limit") {
		t.Errorf("hog 600 with a 300 MiB worker limit: %q, want an error naming the memory limit", got)
	}
	if got := d.ask(t, "hog 10"); got != "survived" {
		t.Errorf("hog 10 = %q, want survived", got)
	}

	// Objects of 40 MiB between the driver, the launched workers (all
	// programs of their own) and the raylets: the puts and gets of each
	// node's programs go through its store's shared memory.
	if got := d.ask(t, "big 40"); got != "2" {
		t.Errorf("big 40 = %q, want 2 nodes", got)
	}

	// The head's /metrics carries both nodes' raylets.
	resp, err := http.Get("http://" + c.dashboard + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := strings.Count(string(metrics), "gray_raylet_leases_granted_total{"); n != 2 {
		t.Errorf("/metrics has %d gray_raylet_leases_granted_total series, want one per node (2):\n%s", n, metrics)
	}
	for _, m := range []string{"gray_raylet_shared_puts_total", "gray_raylet_shared_gets_total"} {
		if sumMetric(string(metrics), m) < 2 {
			t.Errorf("/metrics: %s sums to %v after big 40, want at least one per node", m, sumMetric(string(metrics), m))
		}
	}

	got = d.ask(t, "panic")
	if !strings.Contains(got, "kaboom from a task") || !strings.Contains(got, "main.go") {
		t.Errorf("panic task error = %q, want the panic message and a stack naming main.go", got)
	}
}

// TestBadJobBinary: a staged binary built for another platform, or one
// whose upload is corrupt, fails the job's tasks with an error that says
// so, instead of hanging them.
func TestBadJobBinary(t *testing.T) {
	c := stockCluster(t)
	dir := t.TempDir()
	// A variant of the app with a hash of its own, so that the manifest
	// planted below is the one its driver finds.
	app := goBuild(t, dir, "app-variant", "github.com/grayrt/gray/internal/clustertest/app", "-ldflags=-X main.variant=bad-binary-test")
	gray := goBuild(t, dir, "gray", "github.com/grayrt/gray/cmd/gray")
	data, err := os.ReadFile(app)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	manifest, _ := json.Marshal(map[string]any{"size": len(data), "chunks": 1, "goos": runtime.GOOS, "goarch": other})
	put := exec.Command(gray, "kv", "put", "--address", c.gcs, "--secret-file", c.secret, "--ns", "gray.binaries", hash, string(manifest))
	put.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := put.CombinedOutput(); err != nil {
		t.Fatalf("planting the manifest: %v\n%s", err, out)
	}
	c.app = app
	d := c.driver(t)
	if _, err := fmt.Fprintln(d.stdin, "spread 2"); err != nil {
		t.Fatal(err)
	}
	l := d.line(t, commandTimeout)
	if !strings.HasPrefix(l, "error ") || !strings.Contains(l, "built for "+runtime.GOOS+"/"+other) {
		t.Errorf("tasks of a binary for %s/%s: %q, want an error naming the platform", runtime.GOOS, other, l)
	}

	// A corrupt upload: the manifest is right, the bytes are not.
	corrupt := goBuild(t, dir, "app-corrupt", "github.com/grayrt/gray/internal/clustertest/app", "-ldflags=-X main.variant=corrupt-upload-test")
	data, err = os.ReadFile(corrupt)
	if err != nil {
		t.Fatal(err)
	}
	sum = sha256.Sum256(data)
	hash = hex.EncodeToString(sum[:])
	garbage := "not the binary"
	manifest, _ = json.Marshal(map[string]any{"size": len(garbage), "chunks": 1, "goos": runtime.GOOS, "goarch": runtime.GOARCH})
	for _, kv := range [][2]string{{hash + "/0", garbage}, {hash, string(manifest)}} {
		put := exec.Command(gray, "kv", "put", "--address", c.gcs, "--secret-file", c.secret, "--ns", "gray.binaries", kv[0], kv[1])
		put.Env = append(os.Environ(), "HOME="+t.TempDir())
		if out, err := put.CombinedOutput(); err != nil {
			t.Fatalf("planting %s: %v\n%s", kv[0], err, out)
		}
	}
	c.app = corrupt
	d2 := c.driver(t)
	if _, err := fmt.Fprintln(d2.stdin, "spread 2"); err != nil {
		t.Fatal(err)
	}
	if l := d2.line(t, commandTimeout); !strings.HasPrefix(l, "error ") || !strings.Contains(l, "corrupt") {
		t.Errorf("tasks of a corrupt upload: %q, want an error saying it is corrupt", l)
	}
}

// sumMetric sums the samples of one metric in a Prometheus text page.
func sumMetric(page, name string) float64 {
	var sum float64
	for _, l := range strings.Split(page, "\n") {
		if !strings.HasPrefix(l, name+"{") && !strings.HasPrefix(l, name+" ") {
			continue
		}
		f := strings.Fields(l)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}
