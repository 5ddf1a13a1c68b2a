package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGCSCampaignFindsAPlantedBugAndLinCheckConfirmsIt runs the gcs
// workload with a planted stale-read bug, expects the failing seed's folder
// to hold porcupine's page and the history, and re-checks that history
// with gray lin check, which must call it illegal and write the page.
func TestGCSCampaignFindsAPlantedBugAndLinCheckConfirmsIt(t *testing.T) {
	out := t.TempDir()
	_, _, err := runApp(t, "sim", "run", "--workload", "gcs", "--seeds", "1..3", "--faults", "swarm", "--variant", "stale-read", "--out", out, "--quiet")
	if exitCode(err) != 1 {
		t.Fatalf("campaign with a planted stale read exited %d, want 1", exitCode(err))
	}
	seed := filepath.Join(out, "seed-1")
	for _, f := range []string{"linearizability-kv.html", "history-kv.json", "replay.txt"} {
		if st, err := os.Stat(filepath.Join(seed, f)); err != nil || st.Size() == 0 {
			t.Fatalf("failing seed lacks %s: %v", f, err)
		}
	}
	page := filepath.Join(t.TempDir(), "check.html")
	stdout, _, err := runApp(t, "lin", "check", filepath.Join(seed, "history-kv.json"), "--html", page)
	if exitCode(err) != 1 || !strings.Contains(stdout, "illegal") {
		t.Fatalf("lin check of the failing history: exit %d, output %q; want 1 and illegal", exitCode(err), stdout)
	}
	if st, err := os.Stat(page); err != nil || st.Size() == 0 {
		t.Fatalf("lin check wrote no visualization: %v", err)
	}
}

func TestLinCheckAcceptsALinearizableHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.json")
	hist := `{"model":"kv","operations":[
{"client":0,"call":0,"return":10,"input":{"op":"put","namespace":"a","key":"k","value":"v","overwrite":true},"output":{"added":true}},
{"client":1,"call":20,"return":30,"input":{"op":"get","namespace":"a","key":"k"},"output":{"found":true,"value":"v"}}]}`
	if err := os.WriteFile(path, []byte(hist), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runApp(t, "lin", "check", path)
	if err != nil || !strings.Contains(stdout, ": ok") {
		t.Fatalf("lin check of a linearizable history: err %v, stdout %q, stderr %q", err, stdout, stderr)
	}
	if _, _, err := runApp(t, "lin", "check"); exitCode(err) != 2 {
		t.Fatalf("lin check without a file exited %d, want 2", exitCode(err))
	}
}
