package bench

import (
	"context"
	"math"
	"time"
)

// Timing is how long Ray's timeit warms up and measures: a warm-up of
// Warmup, then Rounds rounds of at least Round each. Every round runs
// whole steps of calls (a step is a tenth of the warm-up's call count,
// plus one) and at least one step, so a zero Timing runs each case a few
// times and measures nothing meaningful (for tests).
type Timing struct {
	Warmup time.Duration
	Round  time.Duration
	Rounds int
	// Budget, when positive, ends the rounds early once they have taken
	// that long (after at least one): quick runs bound the cases whose
	// single call takes seconds. Ray's timing has none.
	Budget time.Duration
}

// Timings of the full and quick runs. Full is Ray's own (without its 10 s
// pause before each case).
var (
	FullTiming  = Timing{Warmup: time.Second, Round: 2 * time.Second, Rounds: 4}
	QuickTiming = Timing{Warmup: 150 * time.Millisecond, Round: 300 * time.Millisecond, Rounds: 4, Budget: 2 * time.Second}
)

// stats is a [mean, std] pair, population standard deviation as numpy's
// np.std.
type stats struct {
	Mean, Std float64
}

func meanStd(xs []float64) stats {
	if len(xs) == 0 {
		return stats{}
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	m := s / float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return stats{Mean: m, Std: math.Sqrt(v / float64(len(xs)))}
}

// timeit runs fn as Ray's timeit does and returns multiplier × calls per
// second over the rounds. It stops at the first error of fn or ctx.
func timeit(ctx context.Context, t Timing, multiplier float64, fn func() error) (stats, error) {
	count := 0
	start := time.Now()
	for time.Since(start) < t.Warmup {
		if err := fn(); err != nil {
			return stats{}, err
		}
		count++
	}
	step := count/10 + 1
	rates := make([]float64, 0, t.Rounds)
	begin := time.Now()
	for range max(t.Rounds, 1) {
		if t.Budget > 0 && len(rates) > 0 && time.Since(begin) >= t.Budget {
			break
		}
		if err := ctx.Err(); err != nil {
			return stats{}, err
		}
		start := time.Now()
		n := 0
		for {
			for range step {
				if err := fn(); err != nil {
					return stats{}, err
				}
			}
			n += step
			if time.Since(start) >= t.Round {
				break
			}
		}
		rates = append(rates, multiplier*float64(n)/time.Since(start).Seconds())
	}
	return meanStd(rates), nil
}
