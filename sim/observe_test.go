package sim

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func observeEcho(t *testing.T, cfg Config) (Result, []TraceEvent) {
	t.Helper()
	var evs []TraceEvent
	cfg.Observer = func(ev TraceEvent) { evs = append(evs, ev) }
	wl, err := NewWorkload("echo", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Run(cfg, wl, "echo"), evs
}

// TestObserverSeesTheRunWithoutChangingIt checks that the Observer does
// not change the run, that message ids pair each receipt or drop with its
// send, and that the structured events agree with the text trace.
func TestObserverSeesTheRunWithoutChangingIt(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		cfg := Config{Seed: seed, FaultSpec: "swarm", FaultPhase: 2 * time.Second}
		plain := runEcho(t, seed, "swarm", "")
		var text bytes.Buffer
		cfg.Trace = &text
		r, evs := observeEcho(t, cfg)
		if r.Hash != plain.Hash || r.Events != plain.Events {
			t.Fatalf("seed %d: observed run hash %s (%d events), unobserved %s (%d events)", seed, r.HashString(), r.Events, plain.HashString(), plain.Events)
		}
		sends := map[uint64]TraceEvent{}
		ended := map[uint64]bool{}
		kinds := map[string]int{}
		var lastIndex int64
		for _, ev := range evs {
			kinds[ev.Kind]++
			if ev.Index < lastIndex {
				t.Fatalf("seed %d: event index went back from %d to %d: %+v", seed, lastIndex, ev.Index, ev)
			}
			lastIndex = ev.Index
			switch ev.Kind {
			case "send":
				if _, dup := sends[ev.MsgID]; dup || ev.MsgID == 0 {
					t.Fatalf("seed %d: send with id %d used before: %+v", seed, ev.MsgID, ev)
				}
				sends[ev.MsgID] = ev
			case "recv", "drop":
				s, ok := sends[ev.MsgID]
				if !ok || ended[ev.MsgID] {
					t.Fatalf("seed %d: %s of message %d without a send, or twice: %+v", seed, ev.Kind, ev.MsgID, ev)
				}
				ended[ev.MsgID] = true
				if ev.Kind == "recv" && (s.Proc != ev.Peer || s.Peer != ev.Proc || s.Message != ev.Message || s.Time > ev.Time) {
					t.Fatalf("seed %d: receipt %+v does not match its send %+v", seed, ev, s)
				}
			}
		}
		if lastIndex != r.Events {
			t.Errorf("seed %d: last event index %d, run had %d events", seed, lastIndex, r.Events)
		}
		for _, k := range []string{"send", "recv", "timer", "start", "action", "heal"} {
			if kinds[k] == 0 {
				t.Errorf("seed %d: no %q events among %v", seed, k, kinds)
			}
		}
		// The text trace prints the same receipts and timers.
		for _, k := range []string{"recv", "timer"} {
			if got := strings.Count(text.String(), " "+k+" "); got != kinds[k] {
				t.Errorf("seed %d: text trace has %d %s lines, observer saw %d", seed, got, k, kinds[k])
			}
		}
	}
}

func TestObserverSeesFaults(t *testing.T) {
	kinds := map[string]int{}
	faults := map[string]int{}
	for seed := uint64(1); seed <= 5; seed++ {
		_, evs := observeEcho(t, Config{Seed: seed, FaultSpec: "partition=2,clog=2,crash=2,drop=0.1", FaultPhase: 3 * time.Second})
		for _, ev := range evs {
			kinds[ev.Kind]++
			if ev.Kind == "fault" {
				faults[ev.Message]++
			}
		}
	}
	for _, k := range []string{"fault", "heal", "crash", "drop"} {
		if kinds[k] == 0 {
			t.Errorf("no %q events among %v", k, kinds)
		}
	}
	for _, f := range []string{"partition", "clog"} {
		if faults[f] == 0 {
			t.Errorf("no %q faults among %v", f, faults)
		}
	}
}

func TestObserverStopsWithUntilEvent(t *testing.T) {
	r, evs := observeEcho(t, Config{Seed: 2, UntilEvent: 57})
	if !r.Stopped || evs[len(evs)-1].Index != 57 {
		t.Fatalf("UntilEvent 57: stopped=%v, last observed index %d", r.Stopped, evs[len(evs)-1].Index)
	}
}

// chromeDoc is the object form of a Chrome trace.
type chromeDoc struct {
	TraceEvents []struct {
		Name string         `json:"name"`
		Ph   string         `json:"ph"`
		Ts   float64        `json:"ts"`
		Tid  int            `json:"tid"`
		ID   uint64         `json:"id"`
		S    string         `json:"s"`
		Args map[string]any `json:"args"`
	} `json:"traceEvents"`
}

func TestChromeTraceIsValidTraceEventJSON(t *testing.T) {
	var buf bytes.Buffer
	ct := NewChromeTrace(&buf, "echo seed 3")
	wl, _ := NewWorkload("echo", Options{})
	r := Run(Config{Seed: 3, FaultSpec: "crash=1,partition=1,drop=0.05", FaultPhase: 2 * time.Second, Observer: ct.Observe}, wl, "echo")
	if err := ct.Close(); err != nil {
		t.Fatal(err)
	}
	if !r.Passed {
		t.Fatal(r)
	}
	var doc chromeDoc
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("chrome trace is not JSON: %v\n%.500s", err, buf.String())
	}
	threads := map[string]bool{}
	starts, finishes := map[uint64]int{}, map[uint64]int{}
	global := 0
	for _, e := range doc.TraceEvents {
		switch e.Ph {
		case "M":
			if e.Name == "thread_name" {
				threads[e.Args["name"].(string)] = true
			}
		case "s":
			starts[e.ID]++
		case "f":
			finishes[e.ID]++
		case "i":
			if e.S == "g" {
				global++
			}
		}
	}
	for _, name := range []string{"kernel", "echo", "client-1", "client-3"} {
		if !threads[name] {
			t.Errorf("no thread_name for %q in %v", name, threads)
		}
	}
	pairs := 0
	for id, n := range finishes {
		if n != 1 || starts[id] != 1 {
			t.Errorf("flow %d: %d starts, %d finishes", id, starts[id], n)
		}
		pairs++
	}
	if pairs < 100 || global == 0 {
		t.Fatalf("%d flow pairs and %d global instants, want many flows and some faults", pairs, global)
	}
}

func TestChromeTraceLimit(t *testing.T) {
	var buf bytes.Buffer
	ct := NewChromeTrace(&buf, "limited")
	ct.Limit = 10
	wl, _ := NewWorkload("echo", Options{})
	Run(Config{Seed: 1, FaultPhase: time.Second, Observer: ct.Observe}, wl, "echo")
	if err := ct.Close(); err != nil {
		t.Fatal(err)
	}
	var doc chromeDoc
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if last := doc.TraceEvents[len(doc.TraceEvents)-1]; !strings.HasPrefix(last.Name, "trace truncated") || len(doc.TraceEvents) > 40 {
		t.Fatalf("limited trace has %d events ending in %q", len(doc.TraceEvents), last.Name)
	}
}
