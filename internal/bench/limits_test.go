package bench

import (
	"context"
	"crypto/rand"
	"math"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestSummarize checks the summary of a limit's rounds on fixed inputs:
// the best is the fastest round, the median the middle one (the mean of
// the middle two for an even count), whatever the order.
func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		rates []float64
		want  summary
	}{
		{nil, summary{}},
		{[]float64{3}, summary{Best: 3, Median: 3, Mean: 3, Rounds: 1}},
		{[]float64{5, 1, 4, 2, 3}, summary{Best: 5, Median: 3, Mean: 3, Std: math.Sqrt(2), Rounds: 5}},
		{[]float64{10, 40, 20, 30}, summary{Best: 40, Median: 25, Mean: 25, Std: math.Sqrt(125), Rounds: 4}},
		// One disturbed round drags the mean, not the best or the median.
		{[]float64{100, 98, 2, 99, 101}, summary{Best: 101, Median: 99, Mean: 80, Std: math.Sqrt(1522), Rounds: 5}},
	} {
		in := slices.Clone(tc.rates)
		got := summarize(tc.rates)
		if got.Best != tc.want.Best || got.Median != tc.want.Median || got.Rounds != tc.want.Rounds ||
			math.Abs(got.Mean-tc.want.Mean) > 1e-9 || math.Abs(got.Std-tc.want.Std) > 1e-9 {
			t.Errorf("summarize(%v) = %+v, want %+v", tc.rates, got, tc.want)
		}
		if !slices.Equal(tc.rates, in) {
			t.Errorf("summarize(%v) reordered its input to %v", in, tc.rates)
		}
	}
}

// TestLimitAdd checks that a limit summarizes the rounds of all its
// measurements and keeps a failed one without losing the others.
func TestLimitAdd(t *testing.T) {
	var l Limit
	l.add(Measurement{Before: "a", Rates: []float64{1, 2, 3}, Best: 3, Median: 2})
	l.add(Measurement{Before: "b", Rates: []float64{10, 20}, Best: 20, Median: 15})
	l.add(Measurement{Before: "c", Err: "boom"})
	if l.Best != 20 || l.Median != 3 || l.Rounds != 5 || l.Mean != 7.2 || l.Err != "" || len(l.Measurements) != 3 {
		t.Errorf("limit after three measurements = %+v, want best 20, median 3, mean 7.2, 5 rounds, no error, 3 measurements", l)
	}
	var failed Limit
	failed.add(Measurement{Err: "no peer"})
	if failed.Err != "no peer" || failed.Rounds != 0 {
		t.Errorf("limit after a failed measurement = %+v, want its error and no rounds", failed)
	}
}

// Case names used below.
const (
	getCalls   = "single_client_get_calls_Plasma_Store"
	putCalls   = "single_client_put_calls_Plasma_Store"
	singleGB   = "single_client_put_gigabytes"
	batch      = "single_client_tasks_and_get_batch"
	multiGB    = "multi_client_put_gigabytes"
	tenKRefs   = "single_client_get_object_containing_10k_refs"
	wait1k     = "single_client_wait_1k_refs"
	tasksSync  = "single_client_tasks_sync"
	placements = "placement_group_create/removal"
)

// TestPlanLimits checks which limit each case is compared with in each
// setting, and before which cases each limit is measured.
func TestPlanLimits(t *testing.T) {
	embedded, err := SettingNamed("embedded")
	if err != nil {
		t.Fatal(err)
	}
	cluster := ClusterSetting(nil) // starts nothing until a case runs
	for _, tc := range []struct {
		setting Setting
		sel     string
		// limits are the limits of some cases; measured are the cases a
		// limit is measured right before, in order, with that limit.
		limits   map[string]string
		measured [][2]string
	}{
		{setting: embedded,
			limits:   map[string]string{getCalls: limitChan, singleGB: limitMemcpy, multiGB: limitMemcpy, batch: limitChan, tenKRefs: "", tasksSync: limitChan, placements: limitChan},
			measured: [][2]string{{getCalls, limitChan}, {singleGB, limitMemcpy}, {batch, limitChan}, {multiGB, limitMemcpy}, {wait1k, limitChan}}},
		// The driver's puts cross to the head over libp2p; the tasks of
		// multi_client_put_gigabytes put on the head, in its process.
		{setting: cluster,
			limits:   map[string]string{getCalls: limitP2PRoundTrip, singleGB: limitP2PStream, multiGB: limitMemcpy, batch: limitP2PRoundTrip, tenKRefs: "", tasksSync: limitP2PRoundTrip, placements: limitP2PRoundTrip},
			measured: [][2]string{{getCalls, limitP2PRoundTrip}, {singleGB, limitP2PStream}, {batch, limitP2PRoundTrip}, {multiGB, limitMemcpy}, {wait1k, limitP2PRoundTrip}}},
		{setting: cluster, sel: "gigabytes",
			limits:   map[string]string{singleGB: limitP2PStream, multiGB: limitMemcpy},
			measured: [][2]string{{singleGB, limitP2PStream}, {multiGB, limitMemcpy}}},
		// Selected alone, consecutive cases with one limit are one block.
		{setting: embedded, sel: "gigabytes",
			limits:   map[string]string{singleGB: limitMemcpy, multiGB: limitMemcpy},
			measured: [][2]string{{singleGB, limitMemcpy}}},
		{setting: embedded, sel: "^(single_client_put_calls|single_client_get_calls)",
			limits:   map[string]string{getCalls: limitChan, putCalls: limitChan},
			measured: [][2]string{{getCalls, limitChan}}},
	} {
		var sel *regexp.Regexp
		if tc.sel != "" {
			sel = regexp.MustCompile(tc.sel)
		}
		steps := plan(cases(), tc.setting, sel)
		got := map[string]string{}
		var measured [][2]string
		for _, st := range steps {
			got[st.c.name] = st.limit
			if st.limit != caseLimit(st.c, tc.setting) {
				t.Errorf("%s %s: plan's limit %q, caseLimit %q", tc.setting.Name, st.c.name, st.limit, caseLimit(st.c, tc.setting))
			}
			if st.measure {
				measured = append(measured, [2]string{st.c.name, st.limit})
			}
		}
		for name, want := range tc.limits {
			if l, ok := got[name]; !ok || l != want {
				t.Errorf("%s (cases %q): %s compared with %q (planned: %v), want %q", tc.setting.Name, tc.sel, name, l, ok, want)
			}
		}
		if !slices.Equal(measured, tc.measured) {
			t.Errorf("%s (cases %q): limits measured before %v, want %v", tc.setting.Name, tc.sel, measured, tc.measured)
		}
		if tc.sel != "" && len(steps) != len(tc.limits) {
			t.Errorf("%s (cases %q): %d cases planned, want %d", tc.setting.Name, tc.sel, len(steps), len(tc.limits))
		}
	}

	// The limits no case is compared with are measured at the start; the
	// peer's only when there is a peer.
	defs := limitDefs()
	for _, tc := range []struct {
		setting Setting
		peer    bool
		want    []string
	}{
		{embedded, true, []string{limitP2PRoundTrip, limitP2PPipelined, limitP2PStream, limitGrayRoundTrip, limitGrayPipelined}},
		{embedded, false, nil},
		{cluster, true, []string{limitChan, limitP2PPipelined, limitGrayRoundTrip, limitGrayPipelined}},
		{cluster, false, []string{limitChan}},
	} {
		if got := contextLimits(defs, plan(cases(), tc.setting, nil), tc.peer); !slices.Equal(got, tc.want) {
			t.Errorf("contextLimits(%s, peer %v) = %v, want %v", tc.setting.Name, tc.peer, got, tc.want)
		}
	}
}

// TestRatio: a case is compared with its limit's best round, per call
// for a batch.
func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		mean  float64
		c     caseDef
		best  float64
		ratio float64
	}{
		{500, caseDef{}, 1000, 0.5},
		{0.5, caseDef{gigabytes: true}, 2, 0.25},
		{2, caseDef{items: 1000}, 100_000, 0.02},
	} {
		if got := ratio(tc.mean, tc.c, tc.best); math.Abs(got-tc.ratio) > 1e-12 {
			t.Errorf("ratio(%v, items %d, %v) = %v, want %v", tc.mean, tc.c.items, tc.best, got, tc.ratio)
		}
	}
}

// TestWriteTableLimits checks that the table says what a ratio divides
// by and lists every measurement of a limit.
func TestWriteTableLimits(t *testing.T) {
	rt := Limit{Name: limitP2PRoundTrip, Unit: "round trips/s", What: "an echo"}
	rt.add(Measurement{Before: getCalls, Rates: []float64{20000, 25000, 22000, 24000, 23000}, Best: 25000, Median: 23000})
	rt.add(Measurement{Before: batch, Rates: []float64{15000, 16000, 14000, 18000, 17000}, Best: 18000, Median: 16000})
	stream := Limit{Name: limitP2PStream, Unit: "GB/s", What: "one stream"}
	stream.add(Measurement{Before: singleGB, Rates: []float64{1, 1.5, 1.2, 1.4, 1.3}, Best: 1.5, Median: 1.3})
	r := &Report{Setting: "cluster", LimitTiming: "warm-up 50ms, 5 rounds of 100ms",
		Cases: []CaseResult{
			{Name: getCalls, Unit: "ops/s", Mean: 5000, Std: 100, Limit: limitP2PRoundTrip, LimitBest: 25000, Ratio: 0.2},
			{Name: singleGB, Unit: "GB/s", Mean: 0.3, Std: 0.01, Limit: limitP2PStream, LimitBest: 1.5, Ratio: 0.2},
			{Name: batch, Unit: "ops/s", Mean: 9, Std: 1, Limit: limitP2PRoundTrip, LimitBest: 18000, Ratio: 0.5},
		},
		Limits: []Limit{rt, stream}}
	var b strings.Builder
	r.WriteTable(&b)
	for _, want := range []string{
		"ratio to the best round of its limit",
		"| " + getCalls + " | 5000 ± 100 ops/s | 20.0% of libp2p_round_trip (best 25000) |",
		"| " + singleGB + " | 0.3 ± 0.01 GB/s | 20.0% of libp2p_stream_gigabytes (best 1.50) |",
		"| " + batch + " | 9.00 ± 1.00 ops/s | 50.0% of libp2p_round_trip (best 18000) |",
		"| libp2p_round_trip | before " + getCalls + " | 25000 round trips/s | 23000 |",
		"| libp2p_round_trip | before " + batch + " | 18000 round trips/s | 16000 |",
		"| libp2p_round_trip | all 2 measurements | 25000 round trips/s | 19000 |",
		"| libp2p_stream_gigabytes | before " + singleGB + " | 1.50 GB/s | 1.30 |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the table has no %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "libp2p_stream_gigabytes | all") {
		t.Errorf("the table summarizes a limit measured once:\n%s", b.String())
	}
}

// TestSink checks the bulk limit's protocol over a pipe: every transfer
// is answered with its full count, and a short or oversized one is an
// error of the sink.
func TestSink(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	done := make(chan error, 1)
	go func() { done <- serveSink(server) }() // ends when client closes
	for _, n := range []int{0, 1, sinkBufferBytes + 7} {
		if err := sendBulk(client, make([]byte, n)); err != nil {
			t.Errorf("sendBulk(%d bytes) = %v", n, err)
		}
	}
	client.Close()
	if err := <-done; err != nil {
		t.Errorf("serveSink after the sender closed = %v, want nil", err)
	}

	for _, tc := range []struct {
		name   string
		header uint64
		body   int
		want   string
	}{
		{"short", 100, 50, "50 of 100 bytes"},
		{"oversized", streamBytesMax + 1, 0, "at most"},
	} {
		client, server := net.Pipe()
		go func() { done <- serveSink(server) }()
		go func() { // exits after its writes, or when the pipe closes
			var hdr [8]byte
			for i := range 8 {
				hdr[7-i] = byte(tc.header >> (8 * i))
			}
			_, _ = client.Write(hdr[:])
			_, _ = client.Write(make([]byte, tc.body))
			_ = client.Close()
		}()
		if err := <-done; err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serveSink of a %s transfer = %v, want an error with %q", tc.name, err, tc.want)
		}
		server.Close()
	}
}

// TestStreamGigabytes measures the bulk limit between two libp2p hosts of
// this process (the peer's sink on one): every round moves bytes. It
// asserts nothing about speed.
func TestStreamGigabytes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard, not a performance bound
	defer cancel()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	a, err := newLibp2pHost(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := newLibp2pHost(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.SetStreamHandler(sinkProtocol, handleSink)
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
	s, err := a.NewStream(ctx, b.ID(), sinkProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rates, err := streamGigabytes(ctx, Timing{Rounds: limitRoundsMin}, s, make([]byte, 3<<20+5))
	if err != nil {
		t.Fatalf("streamGigabytes = %v", err)
	}
	if len(rates) != limitRoundsMin {
		t.Errorf("streamGigabytes gave %d rounds, want %d", len(rates), limitRoundsMin)
	}
	for i, r := range rates {
		if !(r > 0) {
			t.Errorf("round %d: %v GB/s, want a positive figure", i, r)
		}
	}
}
