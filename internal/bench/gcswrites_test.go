package bench

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestGCSWrites times a few hundred puts against a single and a
// replicated GCS and checks that both produced figures, in the report's
// table and JSON, and that the temporary data dirs are gone. It asserts
// nothing about speed.
func TestGCSWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a GCS and a replicated GCS on the disk")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard, not a performance bound
	defer cancel()
	g := &GCSWrites{Single: measureGCSWrites(ctx, false, 0, 200), Replicated: measureGCSWrites(ctx, true, 0, 200)}
	for _, f := range []GCSWriteFigure{g.Single, g.Replicated} {
		if f.Err != "" || f.Puts != 200 || !(f.PutsPerSecond > 0) || !(f.MeanMs > 0) || !(f.P50Ms > 0) || f.P99Ms < f.P50Ms {
			t.Errorf("%s: %+v, want 200 puts with positive figures, p99 ≥ p50", f.Config, f)
		}
	}
	if g.Single.Config != "single" || g.Replicated.Config != "replicated-3" {
		t.Errorf("configs %q and %q, want single and replicated-3", g.Single.Config, g.Replicated.Config)
	}
	if g.Replicated.ServeSeconds <= 0 {
		t.Errorf("replicated: served after %v s, want a time", g.Replicated.ServeSeconds)
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
		t.Errorf("temporary dir holds %v (%v), want nothing", left, err)
	}

	rep := &Report{GCSWrites: g}
	var table strings.Builder
	rep.WriteTable(&table)
	for _, want := range []string{"| single |", "| replicated-3 |"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table has no row %q:\n%s", want, table.String())
		}
	}
	b, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Gray struct {
			GCSWrites *GCSWrites `json:"gcs_writes"`
		} `json:"gray"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if w := doc.Gray.GCSWrites; w == nil || w.Single.Puts != 200 || w.Replicated.Puts != 200 {
		t.Errorf("JSON gray.gcs_writes = %+v, want both configurations", w)
	}
}

// TestLatencyStats checks the mean and percentiles on known latencies.
func TestLatencyStats(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	mean, p50, p99 := latencyStats(lat)
	if mean != 50.5 || p50 != 51 || p99 != 100 {
		t.Errorf("latencyStats(1..100 ms) = %v, %v, %v; want 50.5, 51, 100", mean, p50, p99)
	}
	if m, a, b := latencyStats(nil); m != 0 || a != 0 || b != 0 {
		t.Errorf("latencyStats(nil) = %v, %v, %v; want zeros", m, a, b)
	}
}
