package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// jobCluster is a stock grayd head (CPU=2) and a stock grayd node that
// alone has the custom resource "driver", with the gray CLI to drive
// them; the head keeps its port and data dir across restarts.
type jobCluster struct {
	grayd, gray     string
	headDir, listen string
	gcs, secret     string
	head, node      *proc
	headArgs        []string
}

func newJobCluster(t *testing.T) *jobCluster {
	t.Helper()
	c := &jobCluster{headDir: filepath.Join(t.TempDir(), "head")}
	c.grayd, _ = build(t)
	c.gray = buildGray(t, c.grayd)
	c.listen = fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", freePort(t))
	c.startHead(t)
	c.secret = filepath.Join(c.headDir, "cluster-secret")
	c.node = start(t, "node1", c.grayd, "--join", c.gcs, "--data-dir", filepath.Join(t.TempDir(), "node"), "--secret-file", c.secret,
		"--resources", "CPU=2,driver=1", "--log-level", "warn")
	c.node.line(t, startTimeout)
	return c
}

func (c *jobCluster) startHead(t *testing.T) {
	t.Helper()
	c.head = start(t, "head", c.grayd, "--head", "--data-dir", c.headDir, "--listen", c.listen, "--resources", "CPU=2", "--log-level", "warn")
	c.gcs = c.head.line(t, startTimeout)
}

// cli runs the gray CLI against the cluster and returns its stdout,
// stderr and exit status.
func (c *jobCluster) cli(t *testing.T, timeout time.Duration, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.gray, args...)
	cmd.Env = append(os.Environ(), "GRAY_ADDRESS="+c.gcs, "GRAY_SECRET_FILE="+c.secret, "HOME="+t.TempDir())
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("gray %s did not end within %v; stdout:\n%s\nstderr:\n%s", strings.Join(args, " "), timeout, out.String(), errb.String())
	}
	code = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("gray %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

// jobView is the part of `gray job status --json` the tests read.
type jobView struct {
	Status   string   `json:"status"`
	JobID    string   `json:"job_id"`
	Message  string   `json:"message"`
	NodeID   string   `json:"driver_node_id"`
	ExitCode *int32   `json:"driver_exit_code"`
	JobIDs   []string `json:"job_ids"`
}

func (c *jobCluster) status(t *testing.T, id string) jobView {
	t.Helper()
	out, errOut, code := c.cli(t, commandTimeout, "job", "status", "--json", id)
	if code != 0 {
		t.Fatalf("gray job status %s: exit %d: %s", id, code, errOut)
	}
	var v jobView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("gray job status --json %s: %v\n%s", id, err, out)
	}
	return v
}

// waitStatus polls a job until pred holds.
func (c *jobCluster) waitStatus(t *testing.T, id string, limit time.Duration, pred func(jobView) bool) jobView {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		v := c.status(t, id)
		if pred(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: still %+v after %v", id, v, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestJobSubmit: `gray job submit -- pi` on a 2-node cluster of stock
// grayd prints pi's output and exits 0 once the job SUCCEEDED; the
// job's driver registered its job; a driver that fails gives its exit
// status back; `gray job stop` delivers SIGTERM (the program's handler
// runs) and, to a program that ignores it, SIGKILL after the grace; both
// end STOPPED; logs and list show them.
func TestJobSubmit(t *testing.T) {
	c := newJobCluster(t)
	pi := goBuild(t, t.TempDir(), "pi", "github.com/grayrt/gray/examples/pi")

	out, errOut, code := c.cli(t, 2*commandTimeout, "job", "submit", "--submission-id", "pi-1", "--", pi, "-tasks", "8", "-samples", "100000")
	if code != 0 || !strings.Contains(out, "π ≈ 3.1") || !strings.Contains(errOut, "SUCCEEDED") {
		t.Fatalf("gray job submit -- pi: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("gray job submit -- pi -tasks 8:\n%s%s", out, errOut)
	if v := c.status(t, "pi-1"); v.Status != "SUCCEEDED" || v.JobID == "" || v.ExitCode == nil || *v.ExitCode != 0 {
		t.Errorf("pi-1: %+v, want SUCCEEDED with its driver's job and exit code 0", v)
	}
	if logs, _, code := c.cli(t, commandTimeout, "job", "logs", "pi-1"); code != 0 || !strings.Contains(logs, "π ≈ 3.1") {
		t.Errorf("gray job logs pi-1: exit %d:\n%s", code, logs)
	}

	// A working directory and environment reach the driver.
	wd := t.TempDir()
	if err := os.MkdirAll(filepath.Join(wd, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wd, "sub", "data.txt"), []byte("payload-42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = c.cli(t, commandTimeout, "job", "submit", "--working-dir", wd, "--env", "MODE=full", "--", "/bin/sh", "-c", `cat sub/data.txt; echo "mode=$MODE"`)
	if code != 0 || !strings.Contains(out, "payload-42") || !strings.Contains(out, "mode=full") {
		t.Errorf("working dir and env: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// A failing driver: its exit status is the command's.
	_, errOut, code = c.cli(t, commandTimeout, "job", "submit", "--submission-id", "fails", "--", "/bin/sh", "-c", "echo about to fail; exit 7")
	if code != 7 || !strings.Contains(errOut, "FAILED") {
		t.Errorf("a driver exiting 7: exit %d, stderr:\n%s", code, errOut)
	}

	// Stops: one that handles SIGTERM, one that ignores it.
	polite := `trap 'echo got TERM; exit 0' TERM; echo started; while :; do sleep 0.1; done`
	stubborn := `trap '' TERM; echo started; while :; do sleep 0.1; done`
	for _, j := range []struct{ id, script string }{{"polite", polite}, {"stubborn", stubborn}} {
		if _, errOut, code := c.cli(t, commandTimeout, "job", "submit", "--no-wait", "--stop-grace", "1s", "--submission-id", j.id, "--", "/bin/sh", "-c", j.script); code != 0 {
			t.Fatalf("submit %s: exit %d: %s", j.id, code, errOut)
		}
		c.waitStatus(t, j.id, commandTimeout, func(v jobView) bool { return v.Status == "RUNNING" })
		// The shell prints once it installed its trap.
		deadline := time.Now().Add(commandTimeout)
		for {
			logs, _, _ := c.cli(t, commandTimeout, "job", "logs", j.id)
			if strings.Contains(logs, "started") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %s printed nothing: %q", j.id, logs)
			}
			time.Sleep(100 * time.Millisecond)
		}
		out, errOut, code := c.cli(t, commandTimeout, "job", "stop", j.id)
		if code != 0 || !strings.Contains(out, "STOPPED") {
			t.Errorf("gray job stop %s: exit %d: %s%s", j.id, code, out, errOut)
		}
	}
	if logs, _, _ := c.cli(t, commandTimeout, "job", "logs", "polite"); !strings.Contains(logs, "got TERM") {
		t.Errorf("the polite job's SIGTERM handler did not run; its log:\n%s", logs)
	}
	if v := c.status(t, "stubborn"); v.Status != "STOPPED" || !strings.Contains(v.Message, "killed") {
		t.Errorf("stubborn: %+v, want STOPPED by a kill", v)
	}
	list, _, _ := c.cli(t, commandTimeout, "job", "list")
	for _, want := range []string{"pi-1", "SUCCEEDED", "fails", "FAILED", "polite", "stubborn", "STOPPED"} {
		if !strings.Contains(list, want) {
			t.Errorf("gray job list lacks %q:\n%s", want, list)
		}
	}
	if _, _, code := c.cli(t, commandTimeout, "job", "status", "nonesuch"); code != 3 {
		t.Errorf("status of an unknown job: exit %d, want 3", code)
	}
}

// TestJobsAcrossAHeadRestart: with the head killed (kill -9) and
// started again mid-job, the job records survive; a driver supervised on
// the other node goes on and its job ends SUCCEEDED; the driver that ran
// on the head died with it, and its job is FAILED with the reason.
func TestJobsAcrossAHeadRestart(t *testing.T) {
	c := newJobCluster(t)
	// On the node (only it has "driver"): runs ~6 s, printing ticks.
	ticks := `for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo tick $i; sleep 0.5; done`
	if _, errOut, code := c.cli(t, commandTimeout, "job", "submit", "--no-wait", "--submission-id", "on-node", "--entrypoint-resources", "driver=1", "--", "/bin/sh", "-c", ticks); code != 0 {
		t.Fatalf("submit on-node: exit %d: %s", code, errOut)
	}
	if _, errOut, code := c.cli(t, commandTimeout, "job", "submit", "--no-wait", "--submission-id", "on-head", "--", "/bin/sleep", "300"); code != 0 {
		t.Fatalf("submit on-head: exit %d: %s", code, errOut)
	}
	onNode := c.waitStatus(t, "on-node", commandTimeout, func(v jobView) bool { return v.Status == "RUNNING" })
	onHead := c.waitStatus(t, "on-head", commandTimeout, func(v jobView) bool { return v.Status == "RUNNING" })
	if onNode.NodeID == onHead.NodeID {
		t.Fatalf("both drivers run on node %s; want on-node on the node with the driver resource", onNode.NodeID)
	}
	c.head.kill(t)
	c.startHead(t)
	end := c.waitStatus(t, "on-node", 2*commandTimeout, func(v jobView) bool { return v.Status != "RUNNING" && v.Status != "PENDING" })
	if end.Status != "SUCCEEDED" {
		t.Errorf("on-node after the head restart: %+v, want SUCCEEDED", end)
	}
	if logs, _, _ := c.cli(t, commandTimeout, "job", "logs", "on-node"); !strings.Contains(logs, "tick 12") {
		t.Errorf("on-node's log lacks its last tick:\n%s", logs)
	}
	dead := c.waitStatus(t, "on-head", 2*commandTimeout, func(v jobView) bool { return v.Status != "RUNNING" })
	if dead.Status != "FAILED" || !strings.Contains(dead.Message, "died") {
		t.Errorf("on-head after the head restart: %+v, want FAILED naming the node's death", dead)
	}
}
