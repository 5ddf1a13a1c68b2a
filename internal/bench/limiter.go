package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"runtime/pprof"
)

// step is one case of a run and the limit it is compared with.
type step struct {
	c caseDef
	// limit is the case's limit (caseLimit), "" for none.
	limit string
	// measure: the limit is measured right before the case, which starts
	// a block of consecutive cases compared with it.
	measure bool
}

// caseLimit names the limit that bounds case c in setting s: none for a
// case gray cannot run or no limit bounds, memcpy for a gigabyte case
// whose bytes stay on the node that makes them, the setting's bytes
// limit for the other gigabyte cases, its call limit for the rest.
func caseLimit(c caseDef, s Setting) string {
	switch {
	case c.unavailable != "" || c.noLimit:
		return ""
	case c.gigabytes && (c.onNode || s.BytesLimit == ""):
		return limitMemcpy
	case c.gigabytes:
		return s.BytesLimit
	default:
		return s.Limit
	}
}

// plan lists the cases of cs that sel selects (nil: all), in order, each
// with its limit, which is measured before the first case of every block
// of consecutive cases compared with it. A case with no limit ends a
// block: the limit is measured again after it.
func plan(cs []caseDef, s Setting, sel *regexp.Regexp) []step {
	var steps []step
	prev := ""
	for _, c := range cs {
		if sel != nil && !sel.MatchString(c.name) {
			continue
		}
		l := caseLimit(c, s)
		steps = append(steps, step{c: c, limit: l, measure: l != "" && l != prev})
		prev = l
	}
	return steps
}

// contextLimits are the limits that bound none of steps, in defs' order:
// measured once, at the start of the run, for context. The peer's are
// left out when there is no peer.
func contextLimits(defs []limitDef, steps []step, peer bool) []string {
	bound := map[string]bool{}
	for _, st := range steps {
		bound[st.limit] = true
	}
	var names []string
	for _, d := range defs {
		if !bound[d.name] && (peer || !d.peer) {
			names = append(names, d.name)
		}
	}
	return names
}

// errNoPeer: a limit that needs the peer process was asked for in a run
// without one.
var errNoPeer = errors.New("bench: no peer process (Config.Peer) to measure this limit against")

// limiter measures limits when asked and keeps every measurement. It
// starts the peer process on the first measurement that needs it and
// keeps it until closePeer, so that a limit can be measured again right
// before the cases it bounds.
type limiter struct {
	timing  Timing
	peerCmd func(ctx context.Context) *exec.Cmd // nil: no peer
	log     io.Writer
	defs    map[string]limitDef
	order   []string // the defs' names, in the report's order
	limits  map[string]*Limit
	latest  map[string]Measurement

	peer    *peerConn
	peerErr error // why the peer could not start; then every peer limit fails
}

func newLimiter(t Timing, peerCmd func(ctx context.Context) *exec.Cmd, log io.Writer) *limiter {
	l := &limiter{timing: t, peerCmd: peerCmd, log: log, defs: map[string]limitDef{},
		limits: map[string]*Limit{}, latest: map[string]Measurement{}}
	for _, d := range limitDefs() {
		l.defs[d.name] = d
		l.order = append(l.order, d.name)
	}
	return l
}

// measure measures the limit name once, right before the case before
// ("" at the start of the run), logs it and records it. Samples of the
// CPU profile taken meanwhile carry the label gray_bench=limit.
func (l *limiter) measure(ctx context.Context, name, before string) Measurement {
	d, ok := l.defs[name]
	if !ok {
		panic(fmt.Sprintf("bench: measure of unknown limit %q", name)) // a programmer error: plan names only defs
	}
	var rates []float64
	var err error
	pprof.Do(ctx, pprof.Labels("gray_bench", "limit"), func(ctx context.Context) {
		var p *peerConn
		if d.peer {
			if p, err = l.openPeer(ctx); err != nil {
				return
			}
		}
		rates, err = d.measure(p, ctx, l.timing)
	})
	s := summarize(rates)
	m := Measurement{Before: before, Best: s.Best, Median: s.Median, Rates: rates}
	if err != nil {
		m = Measurement{Before: before, Err: err.Error()}
	}
	lim := l.limits[name]
	if lim == nil {
		lim = &Limit{Name: name, Unit: d.unit, What: d.what}
		l.limits[name] = lim
	}
	lim.add(m)
	l.latest[name] = m
	fmt.Fprintf(l.log, "limit %-28s %s\n", name, measurementLine(m, d.unit))
	return m
}

// best is the best round of the latest measurement of the limit name, 0
// when there is none or it failed.
func (l *limiter) best(name string) float64 {
	return l.latest[name].Best
}

// report returns the limits measured so far, in the report's order.
func (l *limiter) report() []Limit {
	var out []Limit
	for _, name := range l.order {
		if lim := l.limits[name]; lim != nil {
			out = append(out, *lim)
		}
	}
	return out
}

func (l *limiter) openPeer(ctx context.Context) (*peerConn, error) {
	switch {
	case l.peer != nil:
		return l.peer, nil
	case l.peerErr != nil:
		return nil, l.peerErr
	case l.peerCmd == nil:
		return nil, errNoPeer
	}
	// ctx is the run's (with the profile's label): the peer process
	// ends with the run at the latest.
	l.peer, l.peerErr = dialPeer(ctx, l.peerCmd(ctx))
	return l.peer, l.peerErr
}

// closePeer stops the peer process, if it runs; a later peer limit
// starts it again.
func (l *limiter) closePeer() {
	if l.peer != nil {
		l.peer.close()
		l.peer = nil
	}
}

// measurementLine is a measurement as the log prints it.
func measurementLine(m Measurement, unit string) string {
	where := "at the start"
	if m.Before != "" {
		where = "before " + m.Before
	}
	if m.Err != "" {
		return fmt.Sprintf("%s: error: %s", where, m.Err)
	}
	s := summarize(m.Rates)
	return fmt.Sprintf("%s: best %s, median %s %s (%s ± %s over %d rounds)", where, sig(s.Best), sig(s.Median), unit, sig(s.Mean), sig(s.Std), s.Rounds)
}
