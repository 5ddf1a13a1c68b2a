package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/grayrt/gray/sim"
	"github.com/grayrt/gray/sim/report"
)

// runApp runs the app in-process and returns its error and output.
func runApp(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = newApp(&out, &errOut).Run(append([]string{"gray"}, args...))
	return out.String(), errOut.String(), err
}

func exitCode(err error) int {
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return -1
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestRunPassingCampaignPrintsJSONLast(t *testing.T) {
	stdout, stderr, err := runApp(t, "sim", "run", "--workload", "echo", "--seeds", "1..20", "--faults", "swarm", "--check-determinism", "--json")
	if err != nil {
		t.Fatalf("sim run failed: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	var got report.Summary
	if err := json.Unmarshal([]byte(lastLine(stdout)), &got); err != nil {
		t.Fatalf("last line of stdout is not JSON: %v\n%s", err, stdout)
	}
	if got.Workload != "echo" || got.FaultSpec != "swarm" || got.Seeds != 20 || got.Passed != 20 || got.Failed != 0 || got.Events == 0 || got.Failures == nil {
		t.Fatalf("JSON summary = %+v, want 20 passing echo swarm seeds", got)
	}
	if !strings.HasPrefix(stdout, "20 seeds: 20 passed, 0 failed; ") || !strings.Contains(stdout, "faults: swarm\n") {
		t.Fatalf("stdout does not start with the summary line:\n%s", stdout)
	}
	if !strings.Contains(stdout, "\nsometimes (times reached, in how many seeds):\n  echo answered: ") {
		t.Fatalf("stdout lacks the sometimes counters:\n%s", stdout)
	}
}

func TestRunFailingCampaignExits1WithReplayCommand(t *testing.T) {
	stdout, _, err := runApp(t, "sim", "run", "--workload", "echo", "--variant", "no-seq-check", "--seeds", "1..200",
		"--faults", "swarm", "--quiet", "--json")
	if code := exitCode(err); code != exitFailed {
		t.Fatalf("sim run of a buggy variant: exit %d (%v), want %d", code, err, exitFailed)
	}
	if !strings.Contains(stdout, "replay: go run ./cmd/gray sim replay --workload echo --seed ") {
		t.Fatalf("stdout lacks a replay command:\n%s", stdout)
	}
	var got report.Summary
	if err := json.Unmarshal([]byte(lastLine(stdout)), &got); err != nil {
		t.Fatalf("last line of stdout is not JSON: %v", err)
	}
	if got.Failed == 0 || len(got.Failures) != got.Failed || !strings.Contains(got.Failures[0].Replay, "--variant no-seq-check") {
		t.Fatalf("JSON summary has %d failed, failures %+v; want failures with replay commands", got.Failed, got.Failures)
	}
}

// TestReplayReproducesTheCampaignHash replays seeds of a campaign with the
// exact command their Results print, and requires the same hash.
func TestReplayReproducesTheCampaignHash(t *testing.T) {
	for _, c := range []sim.Campaign{
		{Workload: "echo", FaultSpec: "swarm", FaultPhase: 3 * time.Second, Options: sim.Options{Clients: 2}, Seeds: []uint64{7, 8}},
		{Workload: "echo", FaultSpec: "drop=0.1,dup=0.05,crash=0.5", Seeds: []uint64{3}},
		{Workload: "echo", FaultSpec: "swarm", Options: sim.Options{Variant: "no-seq-check"}, Seeds: []uint64{2}},
	} {
		s, err := c.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range s.Results {
			cmd := r.ReplayCommand()
			args, ok := strings.CutPrefix(cmd, "go run ./cmd/gray ")
			if !ok {
				t.Fatalf("replay command %q does not run ./cmd/gray", cmd)
			}
			stdout, _, err := runApp(t, strings.Fields(args)...)
			if r.Passed && err != nil || !r.Passed && exitCode(err) != exitFailed {
				t.Errorf("%s: error %v, want failure exactly when the campaign's run failed (passed=%v)", cmd, err, r.Passed)
			}
			if want := "hash: " + r.HashString() + "\n"; !strings.Contains(stdout, want) {
				t.Errorf("%s printed\n%s\nwant %q", cmd, stdout, want)
			}
			if !strings.Contains(stdout, r.String()) {
				t.Errorf("%s printed\n%s\nwant the campaign's result %s", cmd, stdout, r)
			}
		}
	}
}

func TestReplayUntilPrintsStates(t *testing.T) {
	stdout, _, err := runApp(t, "sim", "replay", "--workload", "echo", "--seed", "4", "--faults", "swarm", "--until", "50")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "stopped after event 50") || !strings.Contains(stdout, "\nstates:\n") {
		t.Fatalf("replay --until 50 printed no states:\n%s", stdout)
	}
	for _, addr := range []string{"echo", "client-1", "client-2", "client-3"} {
		if !strings.Contains(stdout, "\n  "+addr+" ") {
			t.Errorf("states lack process %s:\n%s", addr, stdout)
		}
	}
	if !strings.Contains(stdout, "served=") {
		t.Errorf("the echo server's state is missing:\n%s", stdout)
	}
}

func TestReplayWritesTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.txt")
	plain, _, err := runApp(t, "sim", "replay", "--workload", "echo", "--seed", "9", "--duration", "1s")
	if err != nil {
		t.Fatal(err)
	}
	traced, _, err := runApp(t, "sim", "replay", "--workload", "echo", "--seed", "9", "--duration", "1s", "--trace", path)
	if err != nil {
		t.Fatal(err)
	}
	if plain != traced {
		t.Fatalf("tracing changed the run:\n%s\nthen\n%s", plain, traced)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("echo.Request")) || bytes.Count(b, []byte("\n")) < 100 {
		t.Fatalf("trace has %d bytes and lacks echo requests", len(b))
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sim", "run", "--workload", "echo"}, "choose the seeds"},
		{[]string{"sim", "run", "--workload", "echo", "--seed", "1", "--seeds", "1..3"}, "cannot be combined"},
		{[]string{"sim", "run", "--workload", "echo", "--count", "3", "--seeds", "1..3"}, "cannot be combined"},
		{[]string{"sim", "run", "--workload", "nope", "--seed", "1"}, `unknown workload "nope"`},
		{[]string{"sim", "run", "--seed", "1"}, "--workload is required"},
		{[]string{"sim", "run", "--workload", "echo", "--seeds", "5..1"}, "ends before it starts"},
		{[]string{"sim", "run", "--workload", "echo", "--count", "0"}, "--count 0"},
		{[]string{"sim", "run", "--workload", "echo", "--seed", "18446744073709551615", "--count", "2"}, "past the largest seed"},
		{[]string{"sim", "run", "--workload", "echo", "--seed", "1", "--faults", "drop=2"}, "probability"},
		{[]string{"sim", "run", "--workload", "echo", "--seed", "1", "--variant", "nope"}, `no variant "nope"`},
		{[]string{"sim", "run", "--workload", "echo", "--seed", "1", "--bogus"}, "flag provided but not defined"},
		{[]string{"sim", "run", "--workload", "echo", "--seed", "x"}, "invalid value"},
		{[]string{"sim", "run", "--workload", "echo", "stray", "--seed", "1"}, `unexpected argument "stray"`},
		{[]string{"sim", "replay", "--workload", "echo"}, "--seed is required"},
		{[]string{"sim", "replay", "--workload", "echo", "--seed", "1", "--until", "-1"}, "--until -1"},
		{[]string{"sim", "replay", "--workload", "echo", "--seed", "1", "--trace", "-", "--chrome", "-"}, "cannot both write to stdout"},
		{[]string{"sim", "run", "--workload", "echo", "--for", "0s"}, "--for 0s"},
		{[]string{"sim", "run", "--workload", "echo", "--for", "-1s"}, "--for -1s"},
		{[]string{"sim", "run", "--workload", "echo", "--seeds", "1..3", "--for", "1s", "--seed", "2"}, "cannot be combined"},
		{[]string{"sim", "run", "--workload", "echo", "--seed", "1", "--out-traces", "-1"}, "--out-traces -1"},
		{[]string{"sim", "run", "--workload", "echo", "--seed", "1", "--seed-timeout", "0s"}, "--seed-timeout 0s"},
		{[]string{"sim", "run", "--workload", "echo", "--seed", "1", "--seed-memory", "lots"}, "--seed-memory"},
		{[]string{"sim", "shrink", "--workload", "echo"}, "--seed is required"},
		{[]string{"sim", "shrink", "--workload", "echo", "--seed", "1", "--attempts", "0"}, "--attempts 0"},
		{[]string{"sim", "shrink", "--seed", "1"}, "--workload is required"},
		{[]string{"sim", "bogus"}, `unknown command "bogus"`},
		{[]string{"bogus"}, `unknown command "bogus"`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"gray"}, tc.args...), &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("gray %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, stderr.String(), exitUsage, tc.want)
		}
		if stdout.Len() != 0 {
			t.Errorf("gray %s printed to stdout on a usage error:\n%s", strings.Join(tc.args, " "), stdout.String())
		}
	}
}

func TestHelpAndList(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"Ray rebuilt in Go", "sim"}},
		{[]string{"sim", "--help"}, []string{"list", "run", "replay", "shrink"}},
		{[]string{"sim", "run", "--help"}, []string{"--seeds A..B", "--check-determinism", "--json", "--for DURATION", "--out DIR", "--in-process", "--seed-timeout DURATION", "--seed-memory SIZE"}},
		{[]string{"sim", "replay", "--help"}, []string{"--trace FILE", "--until EVENT", "--chrome FILE"}},
		{[]string{"sim", "shrink", "--help"}, []string{"--seed N", "--attempts N", "--faults"}},
		{[]string{"sim", "list"}, []string{"echo", "no-seq-check"}},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append([]string{"gray"}, tc.args...), &stdout, &stderr); code != 0 {
			t.Errorf("gray %s: exit %d, stderr %q", strings.Join(tc.args, " "), code, stderr.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("gray %s printed\n%s\nwant it to mention %q", strings.Join(tc.args, " "), stdout.String(), w)
			}
		}
	}
	// The buggy variants exist to test the simulator; help does not offer them.
	stdout, _, _ := runApp(t, "sim", "run", "--help")
	if strings.Contains(stdout, "--variant") {
		t.Errorf("sim run --help shows the hidden --variant flag:\n%s", stdout)
	}
	// Nor the seed worker, which only sim run starts.
	if stdout, _, _ := runApp(t, "sim", "--help"); strings.Contains(stdout, "serve-seeds") {
		t.Errorf("sim --help shows the hidden serve-seeds command:\n%s", stdout)
	}
}
