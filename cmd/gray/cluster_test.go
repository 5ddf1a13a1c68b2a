package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grayrt/gray/core"
)

// Hang guards. They are far above what the steps take on two loaded
// cores; a step that hits one is broken, not slow.
const (
	buildTimeout   = 3 * time.Minute
	startTimeout   = 30 * time.Second
	commandTimeout = 30 * time.Second
	convergeWait   = 20 * time.Second
)

// buildBinaries builds grayd and gray into a temporary directory.
func buildBinaries(t *testing.T) (grayd, gray string) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test: skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool on PATH to build grayd and gray: %v", err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	for _, name := range []string{"grayd", "gray"} {
		out, err := exec.CommandContext(ctx, goBin, "build", "-o", filepath.Join(dir, name), "github.com/grayrt/gray/cmd/"+name).CombinedOutput()
		if err != nil {
			if testing.Short() {
				t.Skipf("-short: building %s failed, skipping the multi-process tests: %v\n%s", name, err, out)
			}
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
	}
	return filepath.Join(dir, "grayd"), filepath.Join(dir, "gray")
}

// daemon is a grayd started by the test.
type daemon struct {
	cmd    *exec.Cmd
	addr   string        // the first line of its stdout
	stderr *bytes.Buffer // its logs; read only after it exited
	done   chan error    // Wait's result
}

// startDaemon starts grayd with args, waits for its address line and
// kills it in t.Cleanup unless it already exited.
func startDaemon(t *testing.T, bin, home string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "GRAY_SECRET_FILE=")
	d := &daemon{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = d.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start grayd: %v", err)
	}
	lines := make(chan string, 1)
	go func() { // exits at EOF of stdout, when grayd exits
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
		}
		d.done <- cmd.Wait()
	}()
	t.Cleanup(func() { d.kill(t) })
	select {
	case line, ok := <-lines:
		if !ok {
			d.kill(t)
			t.Fatalf("grayd %v exited without printing its address; logs:\n%s", args, d.stderr)
		}
		d.addr = line
	case <-time.After(startTimeout):
		d.kill(t)
		t.Fatalf("grayd %v printed no address within %v; logs:\n%s", args, startTimeout, d.stderr)
	}
	return d
}

// kill sends SIGKILL and waits for the process to exit.
func (d *daemon) kill(t *testing.T) {
	t.Helper()
	if d.done == nil {
		return
	}
	_ = d.cmd.Process.Kill()
	select {
	case <-d.done:
	case <-time.After(startTimeout):
		t.Errorf("grayd pid %d did not exit after SIGKILL", d.cmd.Process.Pid)
	}
	d.done = nil
}

// stop sends SIGTERM and returns the exit status.
func (d *daemon) stop(t *testing.T) int {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		d.done = nil
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("grayd: %v", err)
		}
		return 0
	case <-time.After(startTimeout):
		t.Fatalf("grayd did not exit within %v of SIGTERM; logs:\n%s", startTimeout, d.stderr)
		return -1
	}
}

// grayCLI runs the gray binary against one cluster.
type grayCLI struct {
	bin, home, addr, secret string
}

// run runs gray with the cluster flags after args and returns stdout,
// stderr and the exit status.
func (g grayCLI) run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	// Flags go after the command's words and before its arguments.
	words := 2
	if args[0] == "status" {
		words = 1
	}
	flags := []string{"--address", g.addr, "--secret-file", g.secret, "--timeout", "5s"}
	args = append(append(append([]string{}, args[:words]...), flags...), args[words:]...)
	cmd := exec.CommandContext(ctx, g.bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+g.home)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("gray %v hung for %v", args, commandTimeout)
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("gray %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// ok runs gray and fails the test unless it exits 0.
func (g grayCLI) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := g.run(t, args...)
	if code != 0 {
		t.Fatalf("gray %v exited %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
	}
	return out
}

// aliveNodes returns the ALIVE nodes that gray list nodes --json shows.
func aliveNodes(t *testing.T, g grayCLI) []nodeView {
	t.Helper()
	var nodes []nodeView
	if err := json.Unmarshal([]byte(g.ok(t, "list", "nodes", "--json")), &nodes); err != nil {
		t.Fatalf("gray list nodes --json: %v", err)
	}
	alive := nodes[:0]
	for _, n := range nodes {
		if n.State == "ALIVE" {
			alive = append(alive, n)
		}
	}
	return alive
}

// waitAlive polls until want nodes are ALIVE.
func waitAlive(t *testing.T, g grayCLI, want int) []nodeView {
	t.Helper()
	deadline := time.Now().Add(convergeWait)
	for {
		got := aliveNodes(t, g)
		if len(got) == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ALIVE nodes after %v, want %d: %+v", len(got), convergeWait, want, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterAcrossProcesses runs grayd and gray as separate processes on
// loopback: a head, the CLI against it, a joined node, a refused client
// with the wrong secret, and a kill -9 of the head after which every
// acknowledged KV write is still there.
func TestClusterAcrossProcesses(t *testing.T) {
	graydBin, grayBin := buildBinaries(t)
	home := t.TempDir()
	headDir := filepath.Join(t.TempDir(), "head")
	head := startDaemon(t, graydBin, home, "--head", "--data-dir", headDir, "--resources", "CPU=2,memory=1GiB", "--max-workers", "6") // 4 actor slots
	secret := filepath.Join(headDir, "cluster-secret")
	if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated secret %s: %v, mode %v; want mode 0600", secret, err, fi.Mode().Perm())
	}
	if b, err := os.ReadFile(filepath.Join(headDir, "address")); err != nil || strings.TrimSpace(string(b)) != head.addr {
		t.Fatalf("address file holds %q (%v), want %q", b, err, head.addr)
	}
	g := grayCLI{bin: grayBin, home: home, addr: head.addr, secret: secret}

	t.Run("kv round trip", func(t *testing.T) {
		if out := g.ok(t, "kv", "put", "greeting", "hello"); out != "added\n" {
			t.Errorf("kv put = %q, want %q", out, "added\n")
		}
		if out := g.ok(t, "kv", "get", "greeting"); out != "hello\n" {
			t.Errorf("kv get = %q, want %q", out, "hello\n")
		}
		if out, errOut, code := g.run(t, "kv", "get", "missing"); code != exitNo || !strings.Contains(errOut, "not found") {
			t.Errorf("kv get missing: exit %d, stdout %q, stderr %q; want exit 3 and 'not found'", code, out, errOut)
		}
		if out := g.ok(t, "kv", "cas", "--expect", "hello", "greeting", "bye"); out != "swapped\n" {
			t.Errorf("kv cas = %q, want swapped", out)
		}
		if _, errOut, code := g.run(t, "kv", "cas", "--expect-absent", "greeting", "x"); code != exitNo || !strings.Contains(errOut, `key "greeting" already exists`) {
			t.Errorf("kv cas --expect-absent on an existing key: exit %d, stderr %q; want exit 3 saying the key already exists", code, errOut)
		}
		if _, _, code := g.run(t, "kv", "cas", "greeting", "x"); code != 2 {
			t.Errorf("kv cas without --expect: exit %d, want 2", code)
		}
		g.ok(t, "kv", "put", "--ns=other", "greeting", "x")
		if out := g.ok(t, "kv", "list", "gr"); out != "greeting\n" {
			t.Errorf("kv list gr = %q, want greeting", out)
		}
		if out := g.ok(t, "kv", "del", "greeting"); out != "deleted\n" {
			t.Errorf("kv del = %q, want deleted", out)
		}
		if _, _, code := g.run(t, "kv", "del", "greeting"); code != exitNo {
			t.Errorf("kv del of a deleted key: exit %d, want 3", code)
		}
		if _, errOut, code := g.run(t, "kv", "get", "--ns=", "greeting"); code != exitUsage || !strings.Contains(errOut, "--ns must not be empty") {
			t.Errorf("kv get --ns '': exit %d, stderr %q; want exit 2", code, errOut)
		}
		if out := g.ok(t, "kv", "get", "--ns=other", "greeting"); out != "x\n" {
			t.Errorf("kv get --ns other = %q, want x", out)
		}
	})

	var headNode string
	t.Run("status shows the head's node", func(t *testing.T) {
		nodes := waitAlive(t, g, 1)
		headNode = nodes[0].ID
		out := g.ok(t, "status")
		if !strings.Contains(out, "Nodes: 1 alive") || !strings.Contains(out, headNode) || !strings.Contains(out, "CPU 0/2, gray_actor_slot 0/4, memory 0/1GiB") {
			t.Errorf("gray status lacks the head's ALIVE node %s with CPU 0/2:\n%s", headNode, out)
		}
	})

	t.Run("tasks and summaries of an idle cluster", func(t *testing.T) {
		if out := g.ok(t, "list", "tasks", "--state", "failed"); !strings.HasPrefix(out, "TASK") || strings.Count(out, "\n") != 1 {
			t.Errorf("gray list tasks on an idle cluster = %q, want the header only", out)
		}
		if out := g.ok(t, "list", "tasks", "--json"); strings.TrimSpace(out) != "[]" {
			t.Errorf("gray list tasks --json = %q, want []", out)
		}
		if out := g.ok(t, "list", "placement-groups"); !strings.HasPrefix(out, "PLACEMENT GROUP") || strings.Count(out, "\n") != 1 {
			t.Errorf("gray list placement-groups on an idle cluster = %q, want the header only", out)
		}
		if out := g.ok(t, "list", "placement-groups", "--json"); strings.TrimSpace(out) != "[]" {
			t.Errorf("gray list placement-groups --json = %q, want []", out)
		}
		if out := g.ok(t, "status"); !strings.Contains(out, "Placement groups: 0\n") || !strings.Contains(out, "Pending demand: none") {
			t.Errorf("gray status on an idle cluster lacks \"Placement groups: 0\" and no pending demand:\n%s", out)
		}
		if out := g.ok(t, "summary", "tasks"); !strings.Contains(out, "0 tasks") {
			t.Errorf("gray summary tasks = %q, want 0 tasks", out)
		}
		if out := g.ok(t, "summary", "actors"); !strings.Contains(out, "0 actors, 0 restarts") {
			t.Errorf("gray summary actors = %q, want 0 actors", out)
		}
		if out := g.ok(t, "timeline", "--out=-"); !strings.Contains(out, `"traceEvents":[]`) {
			t.Errorf("gray timeline --out=- = %q, want no events", out)
		}
		if _, _, code := g.run(t, "list", "tasks", "--state", "bogus"); code != 2 {
			t.Errorf("gray list tasks --state bogus: exit %d, want 2", code)
		}
	})

	t.Run("wrong secret is refused", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad-secret")
		if err := os.WriteFile(bad, []byte("not-the-cluster-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		wrong := g
		wrong.secret = bad
		out, errOut, code := wrong.run(t, "kv", "get", "greeting")
		if code != exitUnreachable || !strings.Contains(errOut, "cannot reach the cluster") || !strings.Contains(errOut, "another cluster secret") {
			t.Errorf("gray with the wrong secret: exit %d, stdout %q, stderr %q; want exit 4 naming the secret", code, out, errOut)
		}
	})

	t.Run("values from files and stdin, keys that are not plain text", func(t *testing.T) {
		big := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB: too long for an argument
		file := filepath.Join(t.TempDir(), "value")
		if err := os.WriteFile(file, big, 0o600); err != nil {
			t.Fatal(err)
		}
		g.ok(t, "kv", "put", "--file", file, "big")
		if out := g.ok(t, "kv", "get", "--raw", "big"); out != string(big) {
			t.Errorf("kv get big returned %d bytes, want the file's %d", len(out), len(big))
		}
		huge := filepath.Join(t.TempDir(), "huge")
		if err := os.WriteFile(huge, make([]byte, 1<<20+1), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, errOut, code := g.run(t, "kv", "put", "--file", huge, "huge"); code != exitFailed || !strings.Contains(errOut, "1048576 bytes (1 MiB)") {
			t.Errorf("kv put of 1 MiB + 1: exit %d, stderr %q; want exit 1 naming the limit", code, errOut)
		}
		g.ok(t, "kv", "put", "--ns=keys", "a\nb", "v")
		g.ok(t, "kv", "put", "--ns=keys", "--key-base64", "//4=", "v") // 0xff 0xfe
		if out := g.ok(t, "kv", "list", "--ns=keys"); out != "\"a\\nb\"\n\"\\xff\\xfe\"\n" {
			t.Errorf("kv list of odd keys = %q, want them quoted, one per line", out)
		}
		var keys []map[string]string
		if err := json.Unmarshal([]byte(g.ok(t, "kv", "list", "--ns=keys", "--json")), &keys); err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 || keys[0]["key"] != "a\nb" || keys[1]["key_base64"] != "//4=" {
			t.Errorf("kv list --json = %v, want a\\nb as key and //4= as key_base64", keys)
		}
		if out := g.ok(t, "kv", "del", "--ns=keys", "--key-base64", keys[1]["key_base64"]); out != "deleted\n" {
			t.Errorf("kv del --key-base64 = %q, want deleted", out)
		}
	})

	t.Run("address as IP:PORT, and not a raylet's", func(t *testing.T) {
		hostPort := strings.TrimPrefix(strings.SplitN(head.addr, "/p2p/", 2)[0], "/ip4/")
		hostPort = strings.Replace(hostPort, "/tcp/", ":", 1)
		byIP := g
		byIP.addr = hostPort
		if out := byIP.ok(t, "kv", "get", "--ns=other", "greeting"); out != "x\n" {
			t.Errorf("kv get with --address %s = %q, want x", hostPort, out)
		}
		raylet := g
		raylet.addr = strings.TrimSuffix(head.addr, "#gcs") + "#raylet"
		if _, errOut, code := raylet.run(t, "kv", "get", "greeting"); code != exitUsage || !strings.Contains(errOut, `names the process "raylet"`) {
			t.Errorf("kv get with a raylet's address: exit %d, stderr %q; want exit 2 at once", code, errOut)
		}
	})

	t.Run("joined node appears", func(t *testing.T) {
		nodeDir := filepath.Join(t.TempDir(), "node")
		node := startDaemon(t, graydBin, home, "--join", head.addr, "--data-dir", nodeDir, "--secret-file", secret, "--resources", "CPU=3",
			"--labels", "zone=us-west-1a,gpu=a100")
		nodes := waitAlive(t, g, 2)
		var found bool
		for _, n := range nodes {
			if n.Address == node.addr {
				found = true
				if n.Labels["zone"] != "us-west-1a" || n.Labels["gpu"] != "a100" || len(n.Labels) != 2 {
					t.Errorf("the joined node's labels = %v, want zone=us-west-1a and gpu=a100", n.Labels)
				}
			}
		}
		if !found {
			t.Errorf("no ALIVE node at the joined raylet's address %s: %+v", node.addr, nodes)
		}
		if out := g.ok(t, "list", "nodes"); !strings.Contains(out, "gpu=a100,zone=us-west-1a") {
			t.Errorf("gray list nodes does not show the joined node's labels:\n%s", out)
		}
		if code := node.stop(t); code != 0 {
			t.Errorf("joined grayd exited %d after SIGTERM, want 0; logs:\n%s", code, node.stderr)
		}
	})

	t.Run("kill -9 keeps acknowledged writes", func(t *testing.T) {
		const n = 5
		for i := range n {
			g.ok(t, "kv", "put", fmt.Sprintf("durable-%d", i), fmt.Sprintf("value-%d", i))
		}
		head.kill(t) // SIGKILL: no clean shutdown
		restarted := startDaemon(t, graydBin, home, "--head", "--data-dir", headDir)
		g2 := g
		g2.addr = restarted.addr
		for i := range n {
			want := fmt.Sprintf("value-%d\n", i)
			if out := g2.ok(t, "kv", "get", fmt.Sprintf("durable-%d", i)); out != want {
				t.Errorf("after kill -9, kv get durable-%d = %q, want %q", i, out, want)
			}
		}
		if code := restarted.stop(t); code != 0 {
			t.Errorf("grayd exited %d after SIGTERM, want 0; logs:\n%s", code, restarted.stderr)
		}
	})
}

func TestClusterUsageErrors(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // no ~/.gray/head to fall back on
	t.Setenv("GRAY_ADDRESS", "")
	t.Setenv("GRAY_SECRET_FILE", "")
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const addr = "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWS51GLvhRVm3VjD4NhpxEqxG3hMBtqKXat7Dmqo2dMyYd"
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"status"}, exitUsage, "--address"},
		{[]string{"status", "--address", addr}, exitUsage, "--secret-file"},
		{[]string{"status", "--address", "nonsense", "--secret-file", secret}, exitUsage, "--address"},
		{[]string{"kv", "get", "--address", addr, "--secret-file", secret}, exitUsage, "takes 1 arguments"},
		{[]string{"kv", "get", "--address", addr, "--secret-file", secret, "k", "--ns", "x"}, exitUsage, "flags go before"},
		{[]string{"kv", "cas", "--address", addr, "--secret-file", secret, "k", "v"}, exitUsage, "--expect"},
		{[]string{"list", "pods"}, exitUsage, "unknown command"},
		{[]string{"kv", "get", "--address", addr, "--secret-file", secret + "-missing", "k"}, exitFailed, "cluster secret"},
		// Nothing listens on port 1: a definite failure to connect.
		{[]string{"kv", "get", "--address", addr, "--secret-file", secret, "--timeout", "2s", "k"}, exitUnreachable, "nothing listens there"},
		{[]string{"kv", "get", "--address", "127.0.0.1:1", "--secret-file", secret, "--timeout", "2s", "k"}, exitUnreachable, "nothing listens there"},
		{[]string{"kv", "get", "--address", addr + "#raylet", "--secret-file", secret, "k"}, exitUsage, `names the process "raylet"`},
		{[]string{"kv", "get", "--address", addr, "--secret-file", filepath.Dir(secret), "k"}, exitFailed, "is a directory"},
		{[]string{"kv", "put", "--address", addr, "--secret-file", secret, "k"}, exitUsage, "KEY and VALUE"},
		{[]string{"kv", "put", "--address", addr, "--secret-file", secret, "--file", "f", "k", "v"}, exitUsage, "takes only KEY"},
	}
	for _, tt := range tests {
		_, stderr, err := runApp(t, tt.args...)
		if code := exitCode(err); code != tt.code || !strings.Contains(fmt.Sprint(err)+stderr, tt.want) {
			t.Errorf("gray %v: exit %d, error %v; want exit %d and %q", tt.args, code, err, tt.code, tt.want)
		}
	}
}

func TestAmount(t *testing.T) {
	tests := []struct {
		name string
		q    core.Quantity
		want string
	}{
		{"memory", core.Units(8 << 30), "8GiB"},
		{"memory", core.Units(1000), "1000B"},
		{"memory", 0, "0"},
		{"CPU", core.Units(2) + core.QuantityScale/2, "2.5"},
	}
	for _, tt := range tests {
		if got := amount(tt.name, tt.q); got != tt.want {
			t.Errorf("amount(%s, %d) = %q, want %q", tt.name, tt.q, got, tt.want)
		}
	}
}
