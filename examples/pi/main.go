// Command pi estimates π by Monte Carlo with gray tasks: each task throws
// darts at the unit square and counts those inside the quarter circle.
//
//	go run ./examples/pi -tasks 16 -samples 1000000
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/grayrt/gray"
)

// sample counts, out of n random points of the unit square, those inside
// the quarter circle. It is registered at init, as every task must be.
var sample = gray.Task2("pi.sample", func(_ context.Context, seed uint64, n int) (int, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	in := 0
	for range n {
		x, y := r.Float64(), r.Float64()
		if x*x+y*y <= 1 {
			in++
		}
	}
	return in, nil
})

func main() {
	tasks := flag.Int("tasks", 16, "number of tasks")
	samples := flag.Int("samples", 1_000_000, "samples per task")
	flag.Parse()
	pi, err := estimate(context.Background(), *tasks, *samples)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("π ≈ %.6f (%d samples in %d tasks)\n", pi, *tasks**samples, *tasks)
}

// estimate starts an embedded cluster and throws samples darts in each
// of tasks tasks.
func estimate(ctx context.Context, tasks, samples int) (float64, error) {
	rt, err := gray.Init(ctx)
	if err != nil {
		return 0, err
	}
	defer rt.Shutdown()

	refs := make([]gray.Ref[int], tasks)
	for i := range refs {
		refs[i] = sample.Remote(ctx, gray.V(uint64(i+1)), gray.V(samples))
	}
	counts, err := gray.GetAll(ctx, refs)
	if err != nil {
		return 0, err
	}
	in := 0
	for _, c := range counts {
		in += c
	}
	return 4 * float64(in) / float64(tasks*samples), nil
}
