package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	gonet "net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hang guards, far above what each step takes on two loaded cores: a step
// that hits one is broken, not slow. Node deaths take the GCS's node
// timeout (10 s) to be declared, hence the long command guard.
const (
	buildTimeout   = 3 * time.Minute
	startTimeout   = 30 * time.Second
	commandTimeout = 90 * time.Second
)

// built holds grayd and the test app, built once per test binary into
// binDir (made by TestMain): linking them is most of a test's setup, and
// on a loaded machine eight tests relinking both ran the package past
// go test's 10-minute timeout.
var built struct {
	sync.Mutex
	grayd, app string
}

// binDir is where build puts the binaries; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gray-clustertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build builds grayd and the test app, once per test binary.
func build(t *testing.T) (grayd, app string) {
	t.Helper()
	skipShort(t)
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool on PATH: %v", err)
	}
	built.Lock()
	defer built.Unlock()
	if built.grayd != "" {
		return built.grayd, built.app
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	for _, b := range []struct{ name, pkg string }{
		{"grayd", "github.com/grayrt/gray/cmd/grayd"},
		{"app", "github.com/grayrt/gray/internal/clustertest/app"},
	} {
		if out, err := exec.CommandContext(ctx, goBin, "build", "-o", filepath.Join(binDir, b.name), b.pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	built.grayd, built.app = filepath.Join(binDir, "grayd"), filepath.Join(binDir, "app")
	return built.grayd, built.app
}

// proc is a process started by the test: a node (grayd or app node) or a
// driver (app drive), whose stdout the test reads line by line.
type proc struct {
	name   string
	first  string // the first line of stdout, once read by line
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *syncBuffer
	done   chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs bin with args; it is killed at the end of the test.
func start(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), lines: make(chan string, 100), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GRAY_SECRET_FILE=", "GRAY_ADDRESS=")
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { // ends at EOF, when the process exits
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(t) })
	return p
}

// line returns the next line of stdout.
func (p *proc) line(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("%s exited; stderr:\n%s", p.name, p.stderr)
		}
		if p.first == "" {
			p.first = l
		}
		return l
	case <-time.After(timeout):
		t.Fatalf("%s printed nothing within %v; stderr:\n%s", p.name, timeout, p.stderr)
	}
	return ""
}

// lastAddr returns the address a node printed first.
func (p *proc) lastAddr(t *testing.T) string {
	t.Helper()
	if p.first == "" {
		t.Fatalf("%s printed no address yet", p.name)
	}
	return p.first
}

// kill sends SIGKILL (kill -9) and waits for the exit.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(startTimeout):
		t.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// ask sends a command to a driver and returns the rest of its "ok" line;
// an "error" line fails the test.
func (p *proc) ask(t *testing.T, cmd string) string {
	t.Helper()
	if _, err := fmt.Fprintln(p.stdin, cmd); err != nil {
		t.Fatalf("%s: writing %q: %v", p.name, cmd, err)
	}
	return p.answer(t, cmd)
}

func (p *proc) answer(t *testing.T, cmd string) string {
	t.Helper()
	l := p.line(t, commandTimeout)
	ok, found := strings.CutPrefix(l, "ok ")
	if !found {
		t.Fatalf("%s: %q answered %q; stderr:\n%s", p.name, cmd, l, p.stderr)
	}
	return ok
}

// cluster is a head (stock grayd with no CPUs, so that it runs no user
// code) and app nodes that joined it.
type cluster struct {
	grayd, app string
	headDir    string
	headArgs   []string // extra flags of the head
	listen     string   // the head's fixed listen address, kept across restarts
	dashboard  string   // the head's dashboard address, when the test set one
	secret     string
	head       *proc
	gcs        string
	nodes      []*proc
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := gonet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*gonet.TCPAddr).Port
}

// skipShort skips a multi-process test under -short (CI runs them all).
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test: skipped with -short")
	}
}

func newCluster(t *testing.T, nodes int) *cluster {
	t.Helper()
	c := &cluster{headDir: filepath.Join(t.TempDir(), "head")}
	c.grayd, c.app = build(t)
	c.listen = fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t))
	c.startHead(t)
	c.secret = filepath.Join(c.headDir, "cluster-secret")
	for range nodes {
		c.addNode(t)
	}
	return c
}

func (c *cluster) startHead(t *testing.T) {
	t.Helper()
	c.head = start(t, "head", c.grayd, append([]string{"--head", "--data-dir", c.headDir, "--listen", c.listen, "--resources", "CPU=0", "--log-level", "warn"}, c.headArgs...)...)
	gcs := c.head.line(t, startTimeout)
	if c.gcs != "" && gcs != c.gcs {
		t.Fatalf("restarted head prints %s, want its old address %s (same data dir and port)", gcs, c.gcs)
	}
	c.gcs = gcs
}

func (c *cluster) addNode(t *testing.T, extra ...string) *proc {
	t.Helper()
	i := len(c.nodes) + 1
	n := start(t, fmt.Sprintf("node%d", i), c.app, append([]string{"node", "--join", c.gcs, "--data-dir", filepath.Join(t.TempDir(), "node"), "--secret-file", c.secret, "--cpus", "2",
		"--labels", fmt.Sprintf("zone=z%d", i)}, extra...)...)
	n.line(t, startTimeout)
	c.nodes = append(c.nodes, n)
	return n
}

func (c *cluster) driver(t *testing.T, extra ...string) *proc {
	t.Helper()
	d := start(t, "driver", c.app, append([]string{"drive", "--address", c.gcs, "--secret-file", c.secret}, extra...)...)
	if l := d.line(t, startTimeout); l != "ready" {
		t.Fatalf("driver printed %q, want ready; stderr:\n%s", l, d.stderr)
	}
	return d
}

func pidSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, p := range strings.Split(strings.Fields(s)[0], ",") {
		m[p] = true
	}
	return m
}

// TestTasksAndActorsAcrossNodes: a driver process joins a cluster of a
// stock grayd head and two app nodes, and its tasks, actors and a 1 MiB
// object spread over both nodes.
func TestTasksAndActorsAcrossNodes(t *testing.T) {
	c := newCluster(t, 2)
	d := c.driver(t)
	nodePids := map[string]bool{}
	for _, n := range c.nodes {
		nodePids[fmt.Sprint(n.cmd.Process.Pid)] = true
	}
	for _, cmd := range []string{"spread 40", "actors 4"} {
		got := pidSet(d.ask(t, cmd))
		for p := range got {
			if !nodePids[p] {
				t.Errorf("%s: ran in pid %s, which is no app node (%v)", cmd, p, nodePids)
			}
		}
		if len(got) != 2 {
			t.Errorf("%s ran on %d nodes (%v), want both", cmd, len(got), got)
		}
	}
	// Spread tasks name the driver's job and both nodes in their runtime
	// context; the driver knows its node.
	if got := d.ask(t, "context 20"); got != "2 nodes, driver on node true" {
		t.Errorf("context 20 = %q, want 2 nodes, driver on node true", got)
	}
	if got := d.ask(t, "dag"); got != "131064401" {
		t.Errorf("dag = %s, want 131064401", got)
	}
	// A second driver finds the first one's named actor.
	if got := d.ask(t, "actor shared"); !strings.HasPrefix(got, "1 ") {
		t.Errorf("actor shared = %q, want count 1", got)
	}
	d2 := c.driver(t)
	if got := d2.ask(t, "actor shared"); !strings.HasPrefix(got, "2 ") {
		t.Errorf("second driver: actor shared = %q, want count 2", got)
	}
}

// TestNodeKilledMidJob: kill -9 of a joined node while its tasks run; the
// job still completes through retries, on the surviving node, and a named
// actor that lived there is restarted.
func TestNodeKilledMidJob(t *testing.T) {
	c := newCluster(t, 2)
	d := c.driver(t)
	victim, survivor := c.nodes[0], c.nodes[1]
	// Find the victim's actor: create named actors until one lives there.
	var actorName string
	for i := range 8 {
		name := fmt.Sprintf("a%d", i)
		got := strings.Fields(d.ask(t, "actor "+name))
		if got[1] == fmt.Sprint(victim.cmd.Process.Pid) {
			actorName = name
			break
		}
	}
	started := t.TempDir()
	if _, err := fmt.Fprintln(d.stdin, "slow 16 1500 "+started); err != nil {
		t.Fatal(err)
	}
	if l := d.line(t, commandTimeout); l != "submitted" {
		t.Fatalf("slow: %q, want submitted", l)
	}
	// Kill the victim once one of the tasks runs there.
	onVictim := filepath.Join(started, fmt.Sprintf("started-%d-*", victim.cmd.Process.Pid))
	for deadline := time.Now().Add(commandTimeout); ; time.Sleep(20 * time.Millisecond) {
		if m, _ := filepath.Glob(onVictim); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slow task started on the victim (pid %d) within %v", victim.cmd.Process.Pid, commandTimeout)
		}
	}
	victim.kill(t)
	got := pidSet(d.answer(t, "slow 16 1500"))
	if len(got) == 0 || got[fmt.Sprint(victim.cmd.Process.Pid)] && len(got) == 1 {
		t.Errorf("slow tasks ran on %v, want the survivor among them", got)
	}
	if actorName != "" {
		f := strings.Fields(d.ask(t, "actor "+actorName))
		if f[1] != fmt.Sprint(survivor.cmd.Process.Pid) {
			t.Errorf("actor %s after its node died runs in pid %s, want the survivor %d", actorName, f[1], survivor.cmd.Process.Pid)
		}
	} else {
		t.Log("no named actor landed on the victim in 8 tries; restart not exercised")
	}
}

// TestHeadRestart: kill -9 of the head (GCS and its raylet) while a
// driver runs; the head restarts from its data dir at the same address,
// and the running driver reconnects: it finds its named actor and runs
// tasks again.
func TestHeadRestart(t *testing.T) {
	c := newCluster(t, 1)
	d := c.driver(t)
	if got := d.ask(t, "actor keep"); !strings.HasPrefix(got, "1 ") {
		t.Fatalf("actor keep = %q, want count 1", got)
	}
	d.ask(t, "spread 4")
	c.head.kill(t)
	c.startHead(t)
	if got := d.ask(t, "actor keep"); !strings.HasPrefix(got, "2 ") {
		t.Errorf("after the head restarted, actor keep = %q, want count 2 (the same actor)", got)
	}
	d.ask(t, "spread 4")
	d.ask(t, "dag")
}

// TestWrongSecretRefused: a driver with another cluster's secret cannot
// even complete the handshake, and says so.
func TestWrongSecretRefused(t *testing.T) {
	c := newCluster(t, 0)
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("another-cluster-secret-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "driver", c.app, "drive", "--address", c.gcs, "--secret-file", bad)
	select {
	case l, ok := <-p.lines:
		if ok {
			t.Fatalf("driver with the wrong secret printed %q", l)
		}
	case <-time.After(commandTimeout):
		t.Fatal("driver with the wrong secret hung")
	}
	<-p.done
	if code := p.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(p.stderr.String(), "cannot reach the cluster") {
		t.Errorf("driver with the wrong secret: exit %d, stderr %q; want exit 1, cannot reach the cluster", code, p.stderr)
	}
}

// TestProgrammingModelAcrossNodes: the programming model on real
// processes (a stock grayd head and two app nodes of 2 CPUs, zone=z1 and
// zone=z2): a Fibonacci tree far deeper than the cluster's 4 CPUs (bodies
// blocked in Get lend their CPU), a generator streaming from another
// node, Refs inside values read on two nodes, an actor created inside a
// task and called through its handle, an actor running calls at once,
// label selectors and node affinity, concurrency groups, and cancelled
// actor calls (a queued one never runs, a running one sees its ctx end).
func TestProgrammingModelAcrossNodes(t *testing.T) {
	c := newCluster(t, 2)
	d := c.driver(t)
	for _, tc := range []struct{ cmd, want string }{
		{"fib 12", "144"},
		{"nested 200", "19900 19900"},
		{"handle", "5 7"},
		{"concurrent 4", "4"},
		{"labels z2", "z2"},
		{"labels z1", "z1"},
		{"affinity", "2"},
		{"groups", "2"},
		{"cancelcall", "cancelled cancelled 1"},
		{"big 72", "2"}, // 72 MiB objects: larger than a message
	} {
		if got := d.ask(t, tc.cmd); got != tc.want {
			t.Errorf("%s = %q, want %q", tc.cmd, got, tc.want)
		}
	}
	// 50 values 0..49 from one generator body.
	got := strings.Fields(d.ask(t, "stream 50"))
	if len(got) != 2 || got[0] != "1225" || strings.Contains(got[1], ",") {
		t.Errorf("stream 50 = %q, want the sum 1225 from one body's pid", got)
	}
}

// TestInfeasibleTaskWaitsForANode: a task and an actor needing a custom
// resource no node has wait (the driver's log warns of each, naming the
// demand) and run on the node that brings the resource when it joins.
func TestInfeasibleTaskWaitsForANode(t *testing.T) {
	c := newCluster(t, 1)
	d := c.driver(t)
	if _, err := fmt.Fprintln(d.stdin, "late gadget"); err != nil {
		t.Fatal(err)
	}
	if l := d.line(t, commandTimeout); l != "submitted" {
		t.Fatalf("late: %q, want submitted", l)
	}
	for _, warning := range []string{"no node can run a task now", "no node can host an actor now"} {
		for deadline := time.Now().Add(commandTimeout); !strings.Contains(d.stderr.String(), warning); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the driver did not warn %q within %v; stderr:\n%s", warning, commandTimeout, d.stderr)
			}
		}
	}
	if !strings.Contains(d.stderr.String(), "gadget") {
		t.Errorf("the warning does not name the missing resource:\n%s", d.stderr)
	}
	late := c.addNode(t, "--custom", "gadget")
	if got, want := d.answer(t, "late gadget"), fmt.Sprintf("%d %d", late.cmd.Process.Pid, late.cmd.Process.Pid); got != want {
		t.Errorf("the waiting task and actor ran in pids %s, want the new node's: %s", got, want)
	}
}

// TestActorCrashReplies: an actor (max_restarts 1, no task retries)
// whose 101st call kills its process with SIGKILL, with no pause after
// the 100th call's reply. Every one of the 100 calls before answers with
// its value: the actor starts a call only once its caller acknowledged
// the reply of the one before (before acks, 50 to 100 of these replies
// died with the process). The killing call fails with ErrActorDied, and
// so do the 100 calls after it (the restarted actor does not run calls
// sent to the dead one). See docs/api.md, "Actor crashes and replies".
func TestActorCrashReplies(t *testing.T) {
	c := newCluster(t, 1)
	d := c.driver(t)
	for _, ms := range []string{"0"} { // no pause between the 100th reply and the SIGKILL
		got := d.ask(t, "actorcrash 100 "+ms)
		t.Logf("pause %s ms: %s", ms, got)
		var ok, died, aok, adied int
		var crashed bool
		if _, err := fmt.Sscanf(got, "before %d ok %d died; crash %t; after %d ok %d died", &ok, &died, &crashed, &aok, &adied); err != nil {
			t.Fatalf("actorcrash = %q: %v", got, err)
		}
		// Each of the first 100 calls finished before the next one
		// started, and the actor started each only once the caller had
		// acknowledged the reply before it: all 100 answered.
		if ok != 100 || died != 0 || !crashed || aok != 0 || adied != 100 {
			t.Errorf("actorcrash 100 %s = %q: want the 100 calls before the crash answered, the crash ErrActorDied, and 100 ErrActorDied after", ms, got)
		}
	}
}
