package bench

import (
	"context"
	"time"
)

// Names of the limits, as in the report and the JSON.
const (
	limitChan          = "chan_round_trip"
	limitMemcpy        = "memcpy_gigabytes"
	limitP2PRoundTrip  = "libp2p_round_trip"
	limitP2PPipelined  = "libp2p_pipelined_messages"
	memcpyBytes        = 64 << 20
	chanRoundTripsCall = 1000
)

// Limit is one physical limit of the machine, measured like a case.
type Limit struct {
	Name string  `json:"name"`
	Unit string  `json:"unit"`
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	// What says what was measured.
	What string `json:"what"`
	// Err is set when the limit could not be measured.
	Err string `json:"error,omitempty"`
}

// chanRoundTrip measures ping-pong between two goroutines over unbuffered
// channels: the cheapest hand-off between two event loops in one
// process, which is what every embedded task or actor call needs at
// least twice.
func chanRoundTrip(ctx context.Context, t Timing) Limit {
	ping, pong := make(chan int), make(chan int)
	done := make(chan struct{})
	go func() {
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
	s, err := timeit(ctx, t, chanRoundTripsCall, func() error {
		for i := range chanRoundTripsCall {
			ping <- i
			<-pong
		}
		return nil
	})
	return limit(limitChan, "round trips/s", "ping-pong between two goroutines over unbuffered channels", s, err)
}

// memcpy measures copy() between two 64 MiB buffers, counting bytes
// copied: the bound of any put or get that copies its data once.
func memcpy(ctx context.Context, t Timing) Limit {
	src, dst := make([]byte, memcpyBytes), make([]byte, memcpyBytes)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src) // fault the pages in
	s, err := timeit(ctx, t, float64(memcpyBytes)/1e9, func() error {
		copy(dst, src)
		return nil
	})
	return limit(limitMemcpy, "GB/s", "copy() of a 64 MiB buffer", s, err)
}

func limit(name, unit, what string, s stats, err error) Limit {
	l := Limit{Name: name, Unit: unit, Mean: s.Mean, Std: s.Std, What: what}
	if err != nil {
		l.Err = err.Error()
	}
	return l
}

// limitTiming is the timing of the limits: short, since they are steady.
func limitTiming(t Timing) Timing {
	return Timing{Warmup: min(t.Warmup, 200*time.Millisecond), Round: min(t.Round, 500*time.Millisecond), Rounds: t.Rounds}
}
