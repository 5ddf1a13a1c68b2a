package main

import (
	"encoding/csv"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRLlibTrainWritesTheLearningCurve trains CartPole for two iterations
// with two actor runners, which cannot reach the stop reward (exit 1), and
// checks the CSV and PNG written.
func TestRLlibTrainWritesTheLearningCurve(t *testing.T) {
	out := t.TempDir()
	stdout, stderr, err := runApp(t, "rllib", "train", "--algo", "ppo", "--env", "CartPole-v1", "--env-runners", "2",
		"--stop-reward", "450", "--seed", "3", "--max-iters", "2", "--out", out)
	if exitCode(err) != 1 {
		t.Fatalf("exit %d (err %v), want 1; stdout %q stderr %q", exitCode(err), err, stdout, stderr)
	}
	if !strings.Contains(stdout, "iter   2  timesteps    4096") {
		t.Errorf("progress lacks iteration 2 at 4096 timesteps:\n%s", stdout)
	}
	f, err := os.Open(filepath.Join(out, "learning_curve.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rows[0][0] != "iteration" || rows[0][2] != "episode_return_mean" {
		t.Fatalf("csv rows %q", rows)
	}
	if rows[1][0] != "1" || rows[1][1] != "2048" || rows[2][0] != "2" || rows[2][1] != "4096" {
		t.Errorf("csv iterations/timesteps %q %q", rows[1][:2], rows[2][:2])
	}
	p, err := os.Open(filepath.Join(out, "learning_curve.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	img, err := png.Decode(p)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 400 {
		t.Errorf("png %v", b)
	}
}

func TestRLlibTrainUsage(t *testing.T) {
	if _, _, err := runApp(t, "rllib", "train", "--algo", "dqn"); exitCode(err) != 2 {
		t.Fatalf("unknown algo exited %d, want 2", exitCode(err))
	}
}
