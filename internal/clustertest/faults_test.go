package clustertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The faults of issue 15 on real processes: a head paused past the node
// timeout, and a GCS whose files were damaged between two runs.

// buildGray builds the gray CLI next to grayd.
func buildGray(t *testing.T, grayd string) string {
	t.Helper()
	gray := filepath.Join(filepath.Dir(grayd), "gray")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", gray, "github.com/grayrt/gray/cmd/gray").CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/gray: %v\n%s", err, out)
	}
	return gray
}

// exitCode waits for p to exit on its own and returns its status.
func (p *proc) exitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v; stderr:\n%s", p.name, timeout, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode() // start's reader goroutine waited for it
}

// alive reports whether p is still running.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// TestHeadPausedPastTheNodeTimeout: a head stopped (SIGSTOP) for longer
// than its node timeout, then resumed, must not declare the nodes dead
// whose heartbeats queued up meanwhile: before the fix both the head and
// the healthy node exited ("the GCS declared this node dead").
func TestHeadPausedPastTheNodeTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	const nodeTimeout = 3 * time.Second
	c := newClusterWith(t, 1, "--node-timeout", nodeTimeout.String())
	d := c.driver(t)
	if got := d.ask(t, "nodes 4"); got == "" {
		t.Fatal("no node ran the tasks")
	}
	if err := c.head.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2*nodeTimeout + time.Second) // the fault itself: a pause well past the timeout
	if err := c.head.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The head's first health check after the pause sees the stall and
	// says so; a wrong verdict would be reached in that same check.
	for deadline := time.Now().Add(commandTimeout); !strings.Contains(c.head.stderr.String(), "this process stalled"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the head never reported its stall within %v; head stderr:\n%s", commandTimeout, c.head.stderr)
		}
	}
	if !c.head.alive() || !c.nodes[0].alive() {
		t.Fatalf("after the head's pause: head alive %v, node alive %v; head stderr:\n%s\nnode stderr:\n%s",
			c.head.alive(), c.nodes[0].alive(), c.head.stderr, c.nodes[0].stderr)
	}
	// Tasks on the node prove that it is alive and still a member: a
	// dead node gets no leases.
	for range 3 {
		if got := d.ask(t, "nodes 4"); got == "" {
			t.Fatal("no node ran the tasks after the pause")
		}
	}
	if strings.Contains(c.nodes[0].stderr.String(), "declared this node dead") {
		t.Fatalf("the node was declared dead:\n%s", c.nodes[0].stderr)
	}
}

// newClusterWith is newCluster with extra flags for the head.
func newClusterWith(t *testing.T, nodes int, headArgs ...string) *cluster {
	t.Helper()
	c := &cluster{headDir: filepath.Join(t.TempDir(), "head"), headArgs: headArgs}
	c.grayd, c.app = build(t)
	c.listen = fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t))
	c.startHead(t)
	c.secret = filepath.Join(c.headDir, "cluster-secret")
	for range nodes {
		c.addNode(t)
	}
	return c
}

// TestDamagedGCSStorageIsRefused: acknowledged KV writes, the head
// stopped (SIGTERM, or kill -9), a file of the GCS damaged, the head
// started again. Before the fix it served a silently rolled-back KV (or
// panicked on a damaged table); now it refuses to start with exit status
// 3 and one line naming the file, and --gcs-accept-loss starts it on
// what is left.
func TestDamagedGCSStorageIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	grayd, _ := build(t)
	gray := buildGray(t, grayd)
	newest := func(t *testing.T, dir, suffix string) string {
		t.Helper()
		var names []string
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), suffix) {
				names = append(names, e.Name())
			}
		}
		if len(names) == 0 {
			t.Fatalf("no *%s in %s", suffix, dir)
		}
		slices.Sort(names)
		return filepath.Join(dir, names[len(names)-1])
	}
	flipMiddle := func(t *testing.T, file string) {
		t.Helper()
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(b) / 2; i < len(b)/2+8; i++ {
			b[i] ^= 0xff
		}
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		crash  bool // kill -9 instead of SIGTERM
		big    bool // values large enough that the GCS flushes an sstable
		damage func(t *testing.T, db string) string
		// accept is what a start with --gcs-accept-loss then serves:
		// "fewer" keys than were written, "all" of them, or "" (it is
		// refused too: unreadable tables cannot be served).
		accept string
	}{
		{name: "a WAL with 8 bytes flipped", damage: func(t *testing.T, db string) string {
			f := newest(t, db, ".log")
			flipMiddle(t, f)
			return f
		}, accept: "fewer"},
		{name: "a WAL with 8 bytes flipped after kill -9", crash: true, damage: func(t *testing.T, db string) string {
			f := newest(t, db, ".log")
			flipMiddle(t, f)
			return f
		}, accept: "fewer"},
		{name: "a WAL truncated to half", damage: func(t *testing.T, db string) string {
			f := newest(t, db, ".log")
			st, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(f, st.Size()/2); err != nil {
				t.Fatal(err)
			}
			return db
		}, accept: "fewer"},
		{name: "the WALs removed", damage: func(t *testing.T, db string) string {
			logs, _ := filepath.Glob(filepath.Join(db, "*.log"))
			for _, f := range logs {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
			return db
		}, accept: "fewer"},
		{name: "an sstable with 8 bytes flipped", big: true, damage: func(t *testing.T, db string) string {
			f := newest(t, db, ".sst")
			flipMiddle(t, f)
			return f
		}},
		{name: "the witness damaged", damage: func(t *testing.T, db string) string {
			f := filepath.Join(filepath.Dir(db), "gcs-acked")
			flipMiddle(t, f)
			return f
		}, accept: "all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "head")
			head := func(extra ...string) *proc {
				return start(t, "head", grayd, append([]string{"--head", "--data-dir", dir, "--resources", "CPU=0", "--log-level", "warn"}, extra...)...)
			}
			h := head()
			addr := h.line(t, startTimeout)
			kv := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(gray, append([]string{"kv"}, args...)...)
				cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GRAY_ADDRESS="+addr, "GRAY_SECRET_FILE="+filepath.Join(dir, "cluster-secret"))
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("gray kv %v: %v\n%s", args, err, out)
				}
				return string(out)
			}
			value := "v"
			keys := 40
			if tc.big {
				value, keys = strings.Repeat("x", 20_000), 20 // 400 kB: the GCS rotates its WAL every 128 kB
			}
			for i := range keys {
				kv("put", fmt.Sprintf("k%02d", i), value)
			}
			if tc.crash {
				h.kill(t)
			} else {
				if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				if code := h.exitCode(t, startTimeout); code != 0 {
					t.Fatalf("SIGTERM: exit status %d; stderr:\n%s", code, h.stderr)
				}
			}
			damaged := tc.damage(t, filepath.Join(dir, "gcs", "gcs-db"))

			h = head()
			if code := h.exitCode(t, startTimeout); code != 3 {
				t.Fatalf("started on damaged storage: exit status %d, want 3; stderr:\n%s", code, h.stderr)
			}
			lines := strings.Split(strings.TrimSpace(h.stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "grayd: gcs storage "+damaged+":") {
				t.Fatalf("last line %q does not name %s", last, damaged)
			}
			if strings.Contains(h.stderr.String(), "goroutine ") {
				t.Fatalf("a raw panic:\n%s", h.stderr)
			}
			if tc.accept == "" {
				return
			}
			h = head("--gcs-accept-loss")
			addr = h.line(t, startTimeout)
			n := strings.Count(kv("list"), "\n")
			if (tc.accept == "fewer") != (n < keys) {
				t.Fatalf("--gcs-accept-loss serves %d keys of %d after the damage, want %s", n, keys, tc.accept)
			}
		})
	}
}
