// Package gcs is a fixture: a default sans-IO package breaking every rule.
package gcs

import (
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func wallClock() time.Time {
	return time.Now() // want `detlint: time\.Now reads the wall clock; use env\.Now\(\) from the injected core\.Env`
}

func clocks(start time.Time) {
	_ = time.Since(start)           // want `detlint: time\.Since reads the wall clock`
	_ = time.Until(start)           // want `detlint: time\.Until reads the wall clock`
	time.Sleep(time.Second)         // want `detlint: time\.Sleep blocks on the wall clock`
	t := time.NewTimer(time.Second) // want `detlint: time\.NewTimer starts a wall-clock timer; use env\.AfterFunc`
	t.Stop()
	time.AfterFunc(time.Second, func() {}) // want `detlint: time\.AfterFunc starts a wall-clock timer`
	now := time.Now                        // want `detlint: time\.Now reads the wall clock`
	_ = now
}

func goroutine() {
	go func() {}() // want `detlint: go statement starts a goroutine; .*env\.Go`
}

func channels() {
	ch := make(chan int, 1) // want `detlint: make\(chan\) creates a channel; sans-IO code runs on a single event loop`
	ch <- 1                 // want `detlint: channel send`
	<-ch                    // want `detlint: channel receive`
	for range ch {          // want `detlint: range over a channel`
	}
	select { // want `detlint: select statement waits on channels`
	case v := <-ch:
		_ = v
	case ch <- 2:
	case <-time.After(time.Second): // want `detlint: time\.After starts a wall-clock timer`
	default:
	}
}

var done chan struct{} // want `detlint: channel type`

var nested chan chan int // want `detlint: channel type`

func locks() {
	var mu sync.Mutex // want `detlint: sync\.Mutex is for sharing state between goroutines; sans-IO code runs on a single event loop and needs no synchronization`
	mu.Lock()
	var n atomic.Int64 // want `detlint: atomic\.Int64 is for sharing state between goroutines`
	n.Add(1)
	var once sync.Once // want `detlint: sync\.Once`
	once.Do(func() {})
}

func globalRand() {
	_ = rand.IntN(10)                  // want `detlint: rand\.IntN draws from the global random source; use env\.Rand\(\) from the injected core\.Env`
	_ = rand.Float64()                 // want `detlint: rand\.Float64 draws from the global random source`
	_ = rand.N(time.Second)            // want `detlint: rand\.N draws from the global random source`
	rand.Shuffle(3, func(i, j int) {}) // want `detlint: rand\.Shuffle draws`
}

func mapRanges(m map[string]int) int {
	sum := 0
	for _, v := range m { // want `detlint: range over a map visits keys in random order; iterate over sorted keys, or mark the loop with //gray:unordered and say why order cannot matter`
		sum += v
	}
	for _, v := range m { //gray:unordered addition commutes
		sum += v
	}
	//gray:unordered addition commutes
	for _, v := range m {
		sum += v
	}
	//gray:unordered
	for _, v := range m { // want `detlint: //gray:unordered needs a reason; say why iteration order cannot matter`
		sum += v
	}
	for k := range maps.Keys(m) { // want `detlint: range over a map`
		sum += len(k)
	}
	return sum
}

// nestedRanges checks that marking an outer loop does not mark the loop on
// the next line.
func nestedRanges(mm map[string]map[string]int) int {
	sum := 0
	for _, m := range mm { //gray:unordered addition commutes
		for _, v := range m { // want `detlint: range over a map`
			sum += v
		}
	}
	return sum
}

// allowed uses what sans-IO code may use; nothing here is reported.
func allowed(m map[string]int, now time.Time) (time.Duration, int) {
	r := rand.New(rand.NewPCG(1, 2))
	n := r.IntN(10)
	var src rand.Source = rand.NewPCG(3, 4)
	_ = src
	z := rand.NewZipf(r, 2, 1, 10)
	_ = z.Uint64()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		n += m[k]
	}
	for _, x := range []int{1, 2} {
		n += x
	}
	_ = time.Unix(0, 0).After(now)
	var d time.Duration = 5 * time.Second
	return d, n
}
