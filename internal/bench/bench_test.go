package bench

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// peerEnv makes the test binary act as the libp2p peer process, as
// `gray bench peer` does for the gray binary.
const peerEnv = "GRAY_BENCH_TEST_PEER"

func TestMain(m *testing.M) {
	if os.Getenv(peerEnv) == "1" {
		if err := RunPeer(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// rayCases are the cases of Ray's microbenchmark.json that the suite must
// report, by Ray's names.
var rayCases = []string{
	"single_client_tasks_sync", "single_client_tasks_async", "multi_client_tasks_async",
	"1_1_actor_calls_sync", "1_1_actor_calls_async", "1_1_actor_calls_concurrent",
	"1_n_actor_calls_async", "n_n_actor_calls_async", "n_n_actor_calls_with_arg_async",
	"1_1_async_actor_calls_sync", "1_1_async_actor_calls_async", "1_1_async_actor_calls_with_args_async",
	"1_n_async_actor_calls_async", "n_n_async_actor_calls_async",
	"single_client_put_calls_Plasma_Store", "single_client_get_calls_Plasma_Store",
	"multi_client_put_calls_Plasma_Store", "single_client_put_gigabytes", "multi_client_put_gigabytes",
	"single_client_get_object_containing_10k_refs", "single_client_wait_1k_refs",
	"placement_group_create/removal",
}

// TestRunTiny runs every case once or twice with batches of one or a few
// items, the limits (the peer is this test binary) and no simulator, and
// checks the report's JSON: Ray's shape, every case present, the cases
// gray cannot run marked "not available", nothing failed. It asserts
// nothing about speed.
func TestRunTiny(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard, not a performance bound
	defer cancel()
	setting, err := SettingNamed("embedded")
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Setting: setting,
		Timing:  Timing{Rounds: 2},
		Shrink:  1000,
		// 32 MiB and 8 MiB puts become 256 KiB ones.
		ShrinkBytes: 1000,
		Peer: func(ctx context.Context) *exec.Cmd {
			cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), peerEnv+"=1")
			return cmd
		},
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	checkLimits(t, rep, setting)
	b, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	unavailable := map[string]bool{}
	for _, c := range cases() {
		if c.unavailable != "" {
			unavailable[c.name] = true
		}
	}
	names := CaseNames()
	for _, name := range rayCases {
		if !slices.Contains(names, name) {
			t.Errorf("case %s is missing from the suite", name)
		}
	}
	var metrics []perfMetric
	if err := json.Unmarshal(doc["perf_metrics"], &metrics); err != nil {
		t.Fatalf("perf_metrics: %v", err)
	}
	inMetrics := map[string]bool{}
	for _, m := range metrics {
		if m.Type != "THROUGHPUT" {
			t.Errorf("perf_metric %s has type %q, want THROUGHPUT", m.Name, m.Type)
		}
		inMetrics[m.Name] = true
	}
	for _, name := range names {
		raw, ok := doc[name]
		if !ok {
			t.Errorf("case %s is missing from the JSON", name)
			continue
		}
		if unavailable[name] {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil || s != NotAvailable {
				t.Errorf("%s = %s, want %q", name, raw, NotAvailable)
			}
			if inMetrics[name] {
				t.Errorf("%s is not available but in perf_metrics", name)
			}
			continue
		}
		var pair []float64
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
			t.Errorf("%s = %s, want [mean, std]", name, raw)
			continue
		}
		if pair[0] <= 0 {
			t.Errorf("%s mean = %v, want a measurement", name, pair[0])
		}
		if !inMetrics[name] {
			t.Errorf("%s is missing from perf_metrics", name)
		}
	}
	for _, name := range []string{"1_1_actor_calls_concurrent", "1_1_async_actor_calls_sync", "1_1_async_actor_calls_async",
		"1_1_async_actor_calls_with_args_async", "1_n_async_actor_calls_async", "n_n_async_actor_calls_async"} {
		if unavailable[name] {
			t.Errorf("%s is not available; concurrent actors (WithMaxConcurrency) measure it", name)
		}
	}
	for _, name := range []string{"placement_group_create/removal", groupCasePrefix + "1", groupCasePrefix + "40"} {
		if unavailable[name] {
			t.Errorf("%s is not available; placement groups measure it", name)
		}
	}
	if _, ok := doc["gray"]; !ok {
		t.Error("the JSON has no gray section")
	}
	var table strings.Builder
	rep.WriteTable(&table)
	for _, name := range names {
		if !strings.Contains(table.String(), "| "+name+" |") {
			t.Errorf("the table has no row for %s", name)
		}
	}
}

// checkLimits checks the limits of a run of every case: each measured in
// at least limitRoundsMin rounds with a best and a median, before the
// cases the plan says, and each case's ratio against the best round of
// its limit's measurement before its block.
func checkLimits(t *testing.T, rep *Report, setting Setting) {
	t.Helper()
	if got, want := len(rep.Limits), len(limitDefs()); got != want {
		t.Errorf("%d limits, want %d", got, want)
	}
	latest := map[string]map[string]float64{} // limit → case before → best
	for _, l := range rep.Limits {
		if l.Err != "" {
			t.Errorf("limit %s: %s", l.Name, l.Err)
			continue
		}
		if !(l.Best > 0) || l.Median > l.Best || l.Rounds < limitRoundsMin*len(l.Measurements) || len(l.Measurements) == 0 {
			t.Errorf("limit %s: best %v, median %v, %d rounds in %d measurements; want best ≥ median > 0, at least %d rounds each",
				l.Name, l.Best, l.Median, l.Rounds, len(l.Measurements), limitRoundsMin)
		}
		latest[l.Name] = map[string]float64{}
		for _, m := range l.Measurements {
			if m.Err != "" || len(m.Rates) < limitRoundsMin || m.Best != summarize(m.Rates).Best {
				t.Errorf("limit %s before %q: %+v, want %d rounds or more, best the fastest", l.Name, m.Before, m, limitRoundsMin)
			}
			latest[l.Name][m.Before] = m.Best
		}
	}
	steps := plan(cases(), setting, nil)
	best := map[string]float64{}
	for i, st := range steps {
		if st.measure {
			b, ok := latest[st.limit][st.c.name]
			if !ok {
				t.Errorf("%s was not measured before %s", st.limit, st.c.name)
			}
			best[st.limit] = b
		}
		r := rep.Cases[i]
		if r.Name != st.c.name || r.Limit != st.limit {
			t.Errorf("case %d is %s compared with %q, want %s compared with %q", i, r.Name, r.Limit, st.c.name, st.limit)
			continue
		}
		if st.limit == "" || r.Err != "" {
			continue
		}
		if want := ratio(r.Mean, st.c, best[st.limit]); r.LimitBest != best[st.limit] || math.Abs(r.Ratio-want) > 1e-9*want {
			t.Errorf("%s: ratio %v to best %v, want %v to best %v", r.Name, r.Ratio, r.LimitBest, want, best[st.limit])
		}
	}
}

// TestSettings checks the setting names: cluster says what it needs.
func TestSettings(t *testing.T) {
	if _, err := SettingNamed("cluster"); !errors.Is(err, ErrClusterNeedsNode) {
		t.Errorf("SettingNamed(cluster) = %v, want ErrClusterNeedsNode", err)
	}
	if _, err := SettingNamed("moon"); err == nil {
		t.Error("SettingNamed(moon) = nil error, want one")
	}
}

// TestSimFigures runs the simulator figures with a tiny budget: each
// workload runs at least one seed.
func TestSimFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a seed of every workload")
	}
	// The budget is checked before each seed starts; 100 ms leaves room
	// for the first seed on a loaded machine.
	for _, f := range simFigures(context.Background(), 100*time.Millisecond) {
		if f.Err != "" || f.Seeds == 0 || f.Events == 0 {
			t.Errorf("%s: %+v, want at least one seed with events", f.Workload, f)
		}
	}
}
