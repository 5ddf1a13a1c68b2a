package bench

import (
	"context"
	"fmt"
)

// Names of the limits, as in the report and the JSON (gray's transport's
// two are in transport.go).
const (
	limitChan         = "chan_round_trip"
	limitMemcpy       = "memcpy_gigabytes"
	limitP2PRoundTrip = "libp2p_round_trip"
	limitP2PPipelined = "libp2p_pipelined_messages"
	limitP2PStream    = "libp2p_stream_gigabytes"
)

const (
	memcpyBytes        = 64 << 20
	chanRoundTripsCall = 1000
)

// Limit is one physical limit of the machine, timed like a case and
// measured once or more in a run: right before each block of consecutive
// cases it bounds, or once at the start when it bounds none (it is then
// shown for context). A case's ratio divides by the best round of the
// measurement right before its block (CaseResult.LimitBest).
type Limit struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Mean, Std, Best (the fastest round) and Median are over all Rounds
	// rounds of the run's measurements.
	Mean   float64 `json:"mean"`
	Std    float64 `json:"std"`
	Best   float64 `json:"best"`
	Median float64 `json:"median"`
	Rounds int     `json:"rounds"`
	// Measurements are the times the limit was measured, in order.
	Measurements []Measurement `json:"measurements,omitempty"`
	// What says what was measured.
	What string `json:"what"`
	// Err is set when no measurement succeeded: the first one's error.
	Err string `json:"error,omitempty"`
}

// Measurement is one measurement of a limit: a warm-up and rounds.
type Measurement struct {
	// Before is the first case of the block of cases the measurement was
	// taken for, right before it; empty for a limit that bounds no case
	// of the run, measured at the start.
	Before string  `json:"before,omitempty"`
	Best   float64 `json:"best"`
	Median float64 `json:"median"`
	// Rates are the rounds' figures, in the order they ran.
	Rates []float64 `json:"rates"`
	Err   string    `json:"error,omitempty"`
}

// add records m in l and summarizes all of l's rounds again.
func (l *Limit) add(m Measurement) {
	l.Measurements = append(l.Measurements, m)
	var all []float64
	for _, m := range l.Measurements {
		all = append(all, m.Rates...)
	}
	s := summarize(all)
	l.Mean, l.Std, l.Best, l.Median, l.Rounds = s.Mean, s.Std, s.Best, s.Median, s.Rounds
	l.Err = ""
	if s.Rounds == 0 {
		l.Err = l.Measurements[0].Err
	}
}

// limitDef is a limit and how to measure it once.
type limitDef struct {
	name, unit, what string
	// peer marks the limits measured against the peer process
	// (Config.Peer): measure then gets the connection to it, else nil.
	peer    bool
	measure func(p *peerConn, ctx context.Context, t Timing) ([]float64, error)
}

// limitDefs are the limits, in the report's order.
func limitDefs() []limitDef {
	return []limitDef{
		{name: limitChan, unit: "round trips/s", what: "ping-pong between two goroutines over unbuffered channels",
			measure: func(_ *peerConn, ctx context.Context, t Timing) ([]float64, error) { return chanRoundTrip(ctx, t) }},
		{name: limitMemcpy, unit: "GB/s", what: "copy() of a 64 MiB buffer",
			measure: func(_ *peerConn, ctx context.Context, t Timing) ([]float64, error) { return memcpy(ctx, t) }},
		{name: limitP2PRoundTrip, unit: "round trips/s", peer: true,
			what:    fmt.Sprintf("%d-byte echo over one libp2p stream to another process (TCP, PSK, Noise, yamux on loopback), one at a time", p2pMessageBytes),
			measure: (*peerConn).roundTrip},
		{name: limitP2PPipelined, unit: "messages/s", peer: true,
			what:    fmt.Sprintf("%d %d-byte messages written back to back (batched in 64 KiB writes) on that stream while their echoes are read", p2pPipelinedCall, p2pMessageBytes),
			measure: (*peerConn).pipelined},
		{name: limitP2PStream, unit: "GB/s", peer: true,
			what:    fmt.Sprintf("%d MiB writes on one libp2p stream to the peer process (TCP, PSK, Noise, yamux on loopback), counted when it has read them all", streamBytes>>20),
			measure: (*peerConn).stream},
		{name: limitGrayRoundTrip, unit: "round trips/s", peer: true,
			what:    fmt.Sprintf("a %d-byte ping and its pong between processes of two net.Hosts over net.P2P (the peer process), one at a time", p2pMessageBytes),
			measure: (*peerConn).grayRoundTrip},
		{name: limitGrayPipelined, unit: "messages/s", peer: true,
			what:    fmt.Sprintf("the same with %d pings in flight; counts pings", grayPipelineWindow),
			measure: (*peerConn).grayPipelined},
	}
}

// chanRoundTrip measures ping-pong between two goroutines over unbuffered
// channels: the cheapest hand-off between two event loops in one
// process, which is what every embedded task or actor call needs at
// least twice.
func chanRoundTrip(ctx context.Context, t Timing) ([]float64, error) {
	ping, pong := make(chan int), make(chan int)
	done := make(chan struct{})
	go func() { // exits when done is closed, on return
		for {
			select {
			case v := <-ping:
				pong <- v
			case <-done:
				return
			}
		}
	}()
	defer close(done)
	return timeit(ctx, t, chanRoundTripsCall, func() error {
		for i := range chanRoundTripsCall {
			ping <- i
			<-pong
		}
		return nil
	})
}

// memcpy measures copy() between two 64 MiB buffers, counting bytes
// copied: the bound of any put or get that copies its data once.
func memcpy(ctx context.Context, t Timing) ([]float64, error) {
	src, dst := make([]byte, memcpyBytes), make([]byte, memcpyBytes)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src) // fault the pages in
	return timeit(ctx, t, float64(memcpyBytes)/1e9, func() error {
		copy(dst, src)
		return nil
	})
}
