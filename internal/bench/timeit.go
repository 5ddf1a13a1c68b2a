package bench

import (
	"context"
	"math"
	"slices"
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

// Timings of one measurement of a limit in the full and quick runs: many
// short rounds rather than a few long ones, because a limit's best round
// is what the cases are compared with, and on a loaded machine a short
// round is likelier to run undisturbed than a long one. A measurement
// takes ~2 s in full runs, ~0.55 s in quick ones.
var (
	FullLimitTiming  = Timing{Warmup: 200 * time.Millisecond, Round: 250 * time.Millisecond, Rounds: 7}
	QuickLimitTiming = Timing{Warmup: 50 * time.Millisecond, Round: 100 * time.Millisecond, Rounds: limitRoundsMin}
)

// limitRoundsMin is the fewest rounds of a limit's measurement, so that
// its median is not just one round.
const limitRoundsMin = 5

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

// summary is a limit's rounds summarized: the best (fastest) round, the
// median round, the mean and std (as stats), and how many rounds.
type summary struct {
	Best, Median, Mean, Std float64
	Rounds                  int
}

// summarize summarizes rates, the figures of rounds (higher is faster);
// the median of an even count is the mean of the middle two. No rounds
// summarize to zeros.
func summarize(rates []float64) summary {
	if len(rates) == 0 {
		return summary{}
	}
	sorted := slices.Sorted(slices.Values(rates))
	n := len(sorted)
	median := sorted[n/2]
	if n%2 == 0 {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	s := meanStd(rates)
	return summary{Best: sorted[n-1], Median: median, Mean: s.Mean, Std: s.Std, Rounds: n}
}

// timeit runs fn as Ray's timeit does and returns each round's figure,
// multiplier × calls per second, in order. It stops at the first error of
// fn or ctx.
func timeit(ctx context.Context, t Timing, multiplier float64, fn func() error) ([]float64, error) {
	count := 0
	start := time.Now()
	for time.Since(start) < t.Warmup {
		if err := fn(); err != nil {
			return nil, err
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
			return nil, err
		}
		start := time.Now()
		n := 0
		for {
			for range step {
				if err := fn(); err != nil {
					return nil, err
				}
			}
			n += step
			if time.Since(start) >= t.Round {
				break
			}
		}
		rates = append(rates, multiplier*float64(n)/time.Since(start).Seconds())
	}
	return rates, nil
}
